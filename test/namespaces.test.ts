/**
 * `--pid`, `--ipc`, `--uts`, `--domainname` and the run flags around them (`--cidfile`, `--pull`, `--log-driver`):
 * what the container sees of the host's namespaces, and docker's refusals, through berth and the docker CLI.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

describe('namespace modes and run flags', () => {
  let d: TestDaemon;
  let work: string;
  const seen: string[] = [];
  before(async () => {
    d = await startDaemon({ busybox: true });
    work = mkdtempSync('/tmp/bt-ns-');
  });
  after(async () => {
    await teardown(d, seen);
    rmSync(work, { recursive: true, force: true });
  });

  test('--pid host sees the host\'s processes; the default and --pid container:NAME do not', async () => {
    const mine = `test -d /proc/${process.pid}`;
    assert.equal((await d.berth(['run', '--rm', '--pid', 'host', 'busybox', 'sh', '-c', mine])).code, 0);
    assert.equal((await d.berth(['run', '--rm', 'busybox', 'sh', '-c', mine])).code, 1);
    // Without a PID namespace of its own, what the container left running dies with it all the same.
    const marker = `${4000 + (process.pid % 1000)}.5`;
    assert.equal((await d.berth(['run', '--rm', '--pid', 'host', 'busybox', 'sh', '-c', `sleep ${marker} & exit 0`])).code, 0);
    assert.equal(spawnSync('pgrep', ['-f', `sleep ${marker}`]).status, 1, 'the background sleep is gone');
    const run = await d.berth(['run', '-d', '--name', 'pidsrc', 'busybox', 'sleep', '300']);
    assert.equal(run.code, 0, run.stderr);
    seen.push(run.stdout.trim());
    const joined = await d.berth(['run', '--rm', '--pid', 'container:pidsrc', 'busybox', 'ps', '-o', 'comm']);
    assert.deepEqual(joined.stdout.trim().split('\n'), ['COMMAND', 'sleep', 'ps'], joined.stderr);
    assert.equal((await d.berth(['rm', '-f', 'pidsrc'])).code, 0);
    const gone = await d.berth(['run', '--rm', '--pid', 'container:pidsrc', 'busybox', 'true']);
    assert.equal(gone.code, 125);
    assert.match(gone.stderr, /No such container: pidsrc/);
    const bad = await d.berth(['run', '--rm', '--pid', 'bogus', 'busybox', 'true']);
    assert.deepEqual([bad.code, bad.stderr.split('\n')[0]], [125, 'berth: --pid: invalid PID mode']);
  });

  test('--uts host has the host\'s hostname and refuses -h; --domainname sets the NIS domain', async () => {
    assert.equal((await d.berth(['run', '--rm', '--uts', 'host', 'busybox', 'hostname'])).stdout, `${hostname()}\n`);
    const both = await d.berth(['run', '--rm', '--uts', 'host', '-h', 'x', 'busybox', 'true']);
    assert.equal(both.code, 125);
    assert.match(both.stderr, /conflicting options: hostname and the UTS mode/);
    assert.equal((await d.berth(['run', '--rm', '--domainname', 'example.org', 'busybox', 'cat', '/proc/sys/kernel/domainname'])).stdout, 'example.org\n');
    assert.notEqual(readFileSync('/proc/sys/kernel/domainname', 'utf8'), 'example.org\n', 'the host keeps its own');
  });

  test('--ipc host shares the host\'s /dev/shm; the default has its own', async () => {
    const name = `berth-test-${process.pid}`;
    writeFileSync(join('/dev/shm', name), 'x');
    try {
      assert.equal((await d.berth(['run', '--rm', '--ipc', 'host', 'busybox', 'test', '-e', `/dev/shm/${name}`])).code, 0);
      assert.equal((await d.berth(['run', '--rm', 'busybox', 'test', '-e', `/dev/shm/${name}`])).code, 1);
    } finally {
      rmSync(join('/dev/shm', name), { force: true });
    }
  });

  test('--cidfile writes the ID and refuses a file that is there; --pull never does not pull; --log-driver is recorded', async () => {
    const cid = join(work, 'cid');
    const r = await d.berth(['run', '-d', '--cidfile', cid, '--log-driver', 'json-file', '--log-opt', 'max-size=1m', 'busybox', 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    seen.push(r.stdout.trim());
    assert.equal(readFileSync(cid, 'utf8'), r.stdout.trim());
    assert.equal((await d.berth(['inspect', '-f', '{{json .HostConfig.LogConfig}}', r.stdout.trim()])).stdout, '{"Type":"json-file","Config":{"max-size":"1m"}}\n');
    const again = await d.berth(['run', '--rm', '--cidfile', cid, 'busybox', 'true']);
    assert.equal(again.code, 125);
    assert.match(again.stderr, /container ID file found, make sure the other container isn't running or delete /);
    assert.equal((await d.berth(['rm', '-f', r.stdout.trim()])).code, 0);
    const never = await d.berth(['run', '--rm', '--pull', 'never', 'nope:1', 'true']);
    assert.equal(never.code, 125);
    assert.doesNotMatch(never.stderr, /Unable to find image/);
    assert.match(never.stderr, /No such image: nope:1/);
  });

  test('--sysctl, --oom-score-adj and --label-file reach the container; docker\'s refusals', async () => {
    const r = await d.berth(['run', '--rm', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmni=2048', '--oom-score-adj', '500', 'busybox',
      'cat', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/kernel/shmmni', '/proc/self/oom_score_adj']);
    assert.equal(r.stdout, '1\n2048\n500\n', r.stderr);
    const bad = await d.berth(['run', '--rm', '--sysctl', 'kernel.hostname=x', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /^invalid argument "kernel.hostname=x" for "--sysctl" flag: sysctl 'kernel.hostname=x' is not allowed\n/);
    const range = await d.berth(['run', '--rm', '--oom-score-adj', '5000', 'busybox', 'true']);
    assert.equal(range.code, 125);
    assert.match(range.stderr, /Invalid value 5000, range for oom score adj is \[-1000, 1000\]/);
    const file = join(work, 'labels');
    writeFileSync(file, 'tier=web\n# a comment\nbare\n');
    const l = await d.berth(['run', '-d', '--label-file', file, '-l', 'x=1', 'busybox', 'true']);
    assert.equal(l.code, 0, l.stderr);
    seen.push(l.stdout.trim());
    assert.equal((await d.berth(['inspect', '-f', '{{json .Config.Labels}}', l.stdout.trim()])).stdout, '{"tier":"web","x":"1"}\n');
    assert.equal((await d.berth(['rm', '-f', l.stdout.trim()])).code, 0);
  });

  test('--sig-proxy=false leaves Ctrl-C to the CLI: it ends, the container runs on', async () => {
    const cli = spawn(BERTH, ['run', '--name', 'noproxy', '--sig-proxy=false', 'busybox', 'sh', '-c', 'trap "exit 5" INT; echo ready; while :; do sleep 0.1; done'],
      { env: { ...process.env, BERTH_HOST: d.host }, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => cli.stdout!.on('data', (b: Buffer) => { if (b.includes('ready')) resolve(); }));
    cli.kill('SIGINT');
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => cli.on('exit', (c, s) => resolve([c, s])));
    assert.ok(code === 130 || signal === 'SIGINT', `the CLI ended by the signal (${code}, ${signal})`);
    assert.equal((await d.berth(['inspect', '-f', '{{.State.Running}}', 'noproxy'])).stdout, 'true\n');
    seen.push((await d.berth(['inspect', '-f', '{{.Id}}', 'noproxy'])).stdout.trim());
    assert.equal((await d.berth(['rm', '-f', 'noproxy'])).code, 0);
  });

  test('the docker CLI gets the same', { skip: hasDocker ? false : 'no docker CLI' }, async () => {
    assert.equal((await d.docker(['run', '--rm', '--pid', 'host', 'busybox', 'sh', '-c', `test -d /proc/${process.pid}`])).code, 0);
    assert.equal((await d.docker(['run', '--rm', '--uts', 'host', 'busybox', 'hostname'])).stdout, `${hostname()}\n`);
    assert.equal((await d.docker(['run', '--rm', '--domainname', 'example.org', 'busybox', 'cat', '/proc/sys/kernel/domainname'])).stdout, 'example.org\n');
  });
});
