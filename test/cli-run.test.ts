/** `berth run` and friends end to end, against a private daemon with real runc, conmon and overlayfs. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, settledLeftovers, startDaemon, teardown, type TestDaemon, waitFor } from './harness.js';

describe('berth run', () => {
  let d: TestDaemon;
  const seen: string[] = [];
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, seen));

  test('prints the output and exits 0', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.code, 0);
  });

  test('propagates the exit code', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('-i passes stdin and closes it at EOF', async () => {
    const r = await d.berth(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'hi\nthere\n' });
    assert.equal(r.stdout, 'hi\nthere\n');
    assert.equal(r.code, 0);
  });

  test('a large output arrives whole and in order', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', 'seq', '1', '50000']);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 50000);
    assert.equal(lines[49999], '50000');
  });

  test('-e, --env-file, -w, -u, -h, --entrypoint and --label shape the process', async () => {
    const envFile = join(d.dir, 'env.list');
    writeFileSync(envFile, '# comment\nFROM_FILE=yes\n\nPASSED\n');
    const r = await d.berth([
      'run', '--rm', '-e', 'A=1', '-e', 'PASSED', '--env-file', envFile, '-w', '/tmp/work', '-u', 'nobody', '-h', 'boat',
      '--entrypoint', 'sh', 'busybox', '-c', 'echo $A $FROM_FILE $PASSED; pwd; id -u; hostname; echo $HOME',
    ], { env: { PASSED: 'from-client' } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n'), ['1 yes from-client', '/tmp/work', '65534', 'boat', '/home', '']);
    const c = await d.berth(['create', '--label', 'tier=web', '-l', 'solo', 'busybox', 'true']);
    const labels = await d.berth(['inspect', '-f', '{{json .Config.Labels}}', c.stdout.trim()]);
    assert.deepEqual(JSON.parse(labels.stdout), { tier: 'web', solo: '' });
    await d.berth(['rm', c.stdout.trim()]);
  });

  test('runs in its own namespaces with docker\'s defaults', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', 'sh', '-c',
      'echo pid=$$; cat /proc/timer_list 2>&1 | wc -c; echo 1 2>&1 >/proc/sys/vm/drop_caches | grep -c Read-only; ip link 2>/dev/null | grep -c ": lo"; grep CapBnd /proc/self/status']);
    assert.equal(r.code, 0, r.stderr);
    const [pid, kcore, roSys, lo, capBnd] = r.stdout.trim().split('\n');
    assert.equal(pid, 'pid=1');
    assert.equal(kcore, '0', '/proc/timer_list is masked');
    assert.equal(roSys, '1', '/proc/sys is read-only');
    assert.equal(lo, '1', 'only a loopback interface');
    // docker's 14 default capabilities
    assert.equal(capBnd, 'CapBnd:\t00000000a80425fb');
    // conmon is started by a shell, whose background jobs start with SIGINT and SIGQUIT ignored: none of that reaches
    // the workload (its own first process, not a shell, which may ignore some itself).
    const ignored = await d.berth(['run', '--rm', 'busybox', 'grep', 'SigIgn', '/proc/self/status']);
    assert.equal(ignored.stdout, 'SigIgn:\t0000000000000000\n');
  });

  test('-d, logs, ps, stop, wait and rm', async () => {
    const run = await d.berth(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'trap "echo bye; exit 7" TERM; echo started; while true; do sleep 0.1; done']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    seen.push(id);
    await waitFor(async () => (await d.berth(['logs', 'ticker'])).stdout.includes('started'), 10_000, 'log output');
    // berth starts the process through runc's exec FIFO, not `runc start`: runc must still see it running.
    const state = JSON.parse(execFileSync('runc', ['--root', join(d.execRoot, 'runc'), 'state', id], { encoding: 'utf8' })) as { status: string };
    assert.equal(state.status, 'running');
    const ps = await d.berth(['ps']);
    assert.match(ps.stdout, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\n/);
    const row = ps.stdout.split('\n')[1]!;
    assert.ok(row.startsWith(`${id.slice(0, 12)}   busybox   "sh -c 'trap \\"echo b…"   `), row);
    assert.match(row, /Up .* ticker$/);
    assert.equal((await d.berth(['ps', '-q'])).stdout, `${id.slice(0, 12)}\n`);
    const stop = await d.berth(['stop', '-t', '5', 'ticker']);
    assert.equal(stop.stdout, 'ticker\n');
    assert.equal((await d.berth(['wait', 'ticker'])).stdout, '7\n');
    const logs = await d.berth(['logs', 'ticker']);
    assert.equal(logs.stdout, 'started\nbye\n');
    const ts = await d.berth(['logs', '-t', '--tail', '1', 'ticker']);
    assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z bye\n$/);
    assert.match((await d.berth(['ps', '-a'])).stdout, /Exited \(7\) .* ticker/);
    assert.equal((await d.berth(['rm', 'ticker'])).code, 0);
    assert.equal((await d.berth(['ps', '-aq'])).stdout.includes(id.slice(0, 12)), false);
  });

  test('logs -f follows until the container exits', async () => {
    const run = await d.berth(['run', '-d', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done']);
    const id = run.stdout.trim();
    seen.push(id);
    const logs = await d.berth(['logs', '-f', id]);
    assert.equal(logs.stdout, 'line1\nline2\nline3\n');
    await d.berth(['rm', id]);
  });

  test('stop escalates to SIGKILL after -t, kill -s delivers a signal', async () => {
    const a = (await d.berth(['run', '-d', 'busybox', 'sleep', '60'])).stdout.trim();
    seen.push(a);
    const t0 = Date.now();
    await d.berth(['stop', '-t', '1', a]);
    assert.ok(Date.now() - t0 >= 900, 'waited for the grace period');
    assert.equal((await d.berth(['inspect', '-f', '{{.State.ExitCode}}', a])).stdout.trim(), '137');
    const b = (await d.berth(['run', '-d', 'busybox', 'sh', '-c', 'trap "exit 42" USR1; while true; do sleep 0.1; done'])).stdout.trim();
    seen.push(b);
    await waitFor(async () => (await d.berth(['inspect', '-f', '{{.State.Running}}', b])).stdout.trim() === 'true');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await d.berth(['kill', '-s', 'USR1', b])).code, 0);
    assert.equal((await d.berth(['wait', b])).stdout, '42\n');
    const notRunning = await d.berth(['kill', b]);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stderr, /is not running/);
    await d.berth(['rm', a, b]);
  });

  test('Ctrl-C on the CLI reaches the container as SIGINT, as docker\'s sig-proxy', async () => {
    const child = spawn(BERTH, ['run', '--rm', 'busybox', 'sh', '-c', 'trap "echo got INT; exit 9" INT; echo ready; while true; do sleep 0.1; done'],
      { env: { ...process.env, BERTH_HOST: d.host }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor(() => out.includes('ready'), 10_000, 'the container to start');
    child.kill('SIGINT');
    assert.equal(await exited, 9);
    assert.equal(out, 'ready\ngot INT\n');
  });

  test('create, start -a and the name conflict', async () => {
    const c = await d.berth(['create', '--name', 'twice', 'busybox', 'echo', 'from start']);
    assert.equal(c.code, 0, c.stderr);
    seen.push(c.stdout.trim());
    const dup = await d.berth(['create', '--name', 'twice', 'busybox', 'true']);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, /Conflict\. The container name "\/twice" is already in use by container/);
    const s = await d.berth(['start', '-a', 'twice']);
    assert.equal(s.stdout, 'from start\n');
    assert.equal(s.code, 0);
    assert.equal((await d.berth(['rm', 'twice'])).code, 0);
  });

  test('rm of a running container needs -f', async () => {
    const id = (await d.berth(['run', '-d', 'busybox', 'sleep', '60'])).stdout.trim();
    seen.push(id);
    const r = await d.berth(['rm', id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /container is running: stop the container before removing or force remove/);
    assert.equal((await d.berth(['rm', '-f', id])).code, 0);
  });

  test('inspect shows docker\'s shape', async () => {
    const id = (await d.berth(['create', '--name', 'shape', 'busybox'])).stdout.trim();
    seen.push(id);
    const [c] = JSON.parse((await d.berth(['inspect', 'shape'])).stdout) as Record<string, any>[];
    assert.equal(c!.Id, id);
    assert.equal(c!.Name, '/shape');
    assert.equal(c!.Path, 'sh');
    assert.equal(c!.State.Status, 'created');
    assert.equal(c!.Config.Image, 'busybox');
    assert.ok(c!.Config.Env.some((e: string) => e.startsWith('PATH=')));
    await d.berth(['rm', id]);
  });
});

describe('bad input', () => {
  let d: TestDaemon;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, [], { expectNone: true }));

  test('an unknown image', async () => {
    const r = await d.berth(['run', '--rm', 'nope']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^Unable to find image 'nope:latest' locally\n/);
  });

  test('an unknown flag is a usage error with exit 125', async () => {
    const r = await d.berth(['run', '--bogus', 'busybox']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "unknown flag: --bogus\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n");
  });

  test('a missing command exits 127 with docker\'s message', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', 'nope']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /exec: "nope": executable file not found in \$PATH/);
  });

  test('a file that is not executable exits 126', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', '/etc/passwd']);
    assert.equal(r.code, 126);
    assert.match(r.stderr, /permission denied/);
  });

  test('an unknown container', async () => {
    for (const verb of [['logs', 'x'], ['stop', 'x'], ['rm', 'x'], ['wait', 'x'], ['start', 'x']]) {
      const r = await d.berth(verb);
      assert.equal(r.code, 1, verb.join(' '));
      assert.equal(r.stderr, 'Error response from daemon: No such container: x\n', verb.join(' '));
    }
  });

  test('an unknown user', async () => {
    const r = await d.berth(['run', '--rm', '-u', 'ghost', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unable to find user ghost: no matching entries in passwd file/);
    // Found out once the root is mounted, with conmon already started and waiting for the spec: it goes too.
    assert.deepEqual(settledLeftovers(d), { mounts: [], processes: [], cgroups: [], veths: [], netns: [], leases: [], rules: [] });
  });
});
