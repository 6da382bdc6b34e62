/**
 * The docker CLI's everyday set (v28, /usr/local/bin/docker) against berth's socket, the commands
 * docker-cli.test.ts and the feature suites do not already drive through the docker CLI: the
 * container verbs, images through a build, save/load, import and a registry with login, networks,
 * volumes, `system info|df|prune|events`, `--format` templates, and the endpoints the CLI asks for.
 * What is asserted is what the docker CLI prints and its exit codes, as against dockerd.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, waitFor, type Result, type RunOpts, type TestDaemon } from './harness.js';
import { startRegistry, type TestRegistry } from './registry-fixture.js';

const lines = (s: string) => s.split('\n').filter(Boolean);

describe('docker CLI everyday set against berth', { skip: hasDocker ? false : 'no /usr/local/bin/docker here' }, () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  let work: string;
  const seen: string[] = [];
  const docker = (args: string[], opts: RunOpts = {}) => d.docker(args, { timeoutMs: 120_000, ...opts, env: { DOCKER_CONFIG: join(work, 'docker-config'), ...(opts.env ?? {}) } });
  /** The docker CLI, which must succeed: its stdout. */
  const ok = async (args: string[], opts: RunOpts = {}) => {
    const r = await docker(args, opts);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const fails = async (args: string[], code: number, stderr: RegExp | string): Promise<Result> => {
    const r = await docker(args);
    assert.equal(r.code, code, `docker ${args.join(' ')}: exit ${r.code}, ${r.stdout} ${r.stderr}`);
    if (typeof stderr === 'string') assert.equal(r.stderr, stderr, `docker ${args.join(' ')}`);
    else assert.match(r.stderr, stderr, `docker ${args.join(' ')}`);
    return r;
  };
  const since = Math.floor(Date.now() / 1000) - 1;

  before(async () => {
    work = mkdtempSync('/tmp/bt-dcm-');
    [d, reg] = await Promise.all([startDaemon({ busybox: true }), startRegistry({ auth: 'htpasswd' })]);
  });
  after(async () => {
    await Promise.all([teardown(d, seen), reg?.stop()]);
    execFileSync('rm', ['-rf', work]);
  });

  test('create, start, stop, restart, kill, wait, rm: output, states and exit codes', async () => {
    const id = (await ok(['create', '--name', 'lc', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'])).trim();
    seen.push(id);
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(await ok(['ps', '-a', '--filter', 'name=lc', '--format', '{{.Names}} {{.State}} {{.Status}}']), 'lc created Created\n');
    assert.equal(await ok(['start', 'lc']), 'lc\n');
    const tbl = lines(await ok(['ps', '--format', 'table {{.Names}}\t{{.Status}}']));
    assert.match(tbl[0]!, /^NAMES +STATUS$/);
    assert.match(tbl[1]!, /^lc +Up /);
    assert.equal(await ok(['stop', 'lc']), 'lc\n');
    assert.equal(await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'lc']), 'exited 0\n', 'TERM ran the trap');
    assert.equal(await ok(['restart', '-t', '1', 'lc']), 'lc\n');
    assert.equal(await ok(['inspect', '-f', '{{.State.Running}}', 'lc']), 'true\n');
    assert.equal(await ok(['kill', 'lc']), 'lc\n');
    assert.equal(await ok(['wait', 'lc']), '137\n');
    await fails(['kill', 'lc'], 1, `Error response from daemon: Cannot kill container: lc: Container ${id} is not running\n`);
    await fails(['stop', 'lc', 'ghost'], 1, 'Error response from daemon: No such container: ghost\n');
    assert.equal(await ok(['rm', 'lc']), 'lc\n');
    await fails(['rm', 'lc'], 1, 'Error response from daemon: No such container: lc\n');
  });

  test('attach, start -ai, logs --tail, exec with -w -e -u; attach shows in events', async () => {
    seen.push((await ok(['run', '-d', '-i', '--name', 'att', 'busybox', 'sh', '-c', 'read x; echo got $x; exit 5'])).trim());
    const a = await docker(['attach', 'att'], { input: 'hi\n' });
    assert.deepEqual([a.code, a.stdout], [5, 'got hi\n'], a.stderr);
    seen.push((await ok(['create', '-i', '--name', 'sai', 'busybox', 'sh', '-c', 'read x; echo got $x; exit 4'])).trim());
    const s = await docker(['start', '-ai', 'sai'], { input: 'hello\n' });
    assert.deepEqual([s.code, s.stdout], [4, 'got hello\n'], s.stderr);
    const until = (Date.now() / 1000 + 0.001).toFixed(3);
    assert.deepEqual(lines(await ok(['events', '--since', String(since), '--until', until, '--filter', 'container=att', '--format', '{{.Action}}'])),
      ['create', 'start', 'attach', 'die']);
    await ok(['rm', 'att', 'sai']);

    seen.push((await ok(['run', '-d', '--name', 'web', '-p', '80', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done; exec sleep 300'])).trim());
    await waitFor(async () => (await docker(['logs', 'web'])).stdout.includes('line5'), 30_000, 'the logs');
    assert.equal(await ok(['logs', '--tail', '2', 'web']), 'line4\nline5\n');
    assert.equal(await ok(['exec', '-w', '/tmp', '-e', 'A=b', '-u', '1000', 'web', 'sh', '-c', 'pwd; echo $A; id -u']), '/tmp\nb\n1000\n');
    const e = await docker(['exec', 'web', 'sh', '-c', 'exit 9']);
    assert.equal(e.code, 9);
  });

  test('cp both ways, top with ps options, stats --no-stream --format, port, rename, pause and unpause', async () => {
    writeFileSync(join(work, 'in.txt'), 'into the container\n');
    assert.equal((await docker(['cp', join(work, 'in.txt'), 'web:/tmp/in.txt'])).code, 0);
    assert.equal(await ok(['exec', 'web', 'cat', '/tmp/in.txt']), 'into the container\n');
    assert.equal((await docker(['cp', 'web:/tmp/in.txt', join(work, 'out.txt')])).code, 0);
    assert.equal(readFileSync(join(work, 'out.txt'), 'utf8'), 'into the container\n');
    const tar = await docker(['cp', 'web:/tmp/in.txt', '-']);
    assert.match(tar.stdout, /^in\.txt\0/, 'a tar on stdout');

    const top = lines(await ok(['top', 'web']));
    assert.match(top[0]!, /^UID +PID +PPID +C +STIME +TTY +TIME +CMD$/);
    assert.match(top[1]!, / sleep 300$/);
    const topO = lines(await ok(['top', 'web', '-o', 'pid,comm']));
    assert.match(topO[0]!, /^PID +COMMAND$/);
    assert.match(topO[1]!, /^\d+ +sleep$/);
    assert.match(lines(await ok(['top', 'web', 'aux']))[0]!, /^USER +PID +%CPU +%MEM +VSZ +RSS +TTY +STAT +START +TIME +COMMAND$/);

    assert.equal(await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'web']), 'web 1\n');
    const st = JSON.parse(await ok(['stats', '--no-stream', '--format', '{{json .}}', 'web'])) as Record<string, string>;
    assert.deepEqual(Object.keys(st), ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);
    assert.match(st.MemUsage!, /^[\d.]+[KMG]iB \/ [\d.]+[KMG]iB$/);
    assert.match(await ok(['stats', '--no-stream', '--format', 'table {{.Name}}\t{{.CPUPerc}}', 'web']), /^NAME +CPU %\nweb +\d+\.\d\d%\n$/);

    const port = await ok(['port', 'web']);
    const m = /^80\/tcp -> 0\.0\.0\.0:(\d+)\n$/.exec(port);
    assert.ok(m, port);
    assert.equal(await ok(['port', 'web', '80']), `0.0.0.0:${m[1]}\n`);
    await fails(['port', 'web', '81'], 1, /^Error: No public port '81' published for web\n$/);

    assert.equal(await ok(['rename', 'web', 'web2']), '');
    assert.equal(await ok(['pause', 'web2']), 'web2\n');
    assert.match(await ok(['ps', '--filter', 'name=web2', '--format', '{{.State}} {{.Status}}']), /^paused Up .* \(Paused\)\n$/);
    await fails(['pause', 'web2'], 1, /is already paused/);
    assert.equal(await ok(['unpause', 'web2']), 'web2\n');
    assert.equal(await ok(['inspect', '-f', '{{.Name}} {{.State.Status}}', 'web2']), '/web2 running\n');
    await ok(['rm', '-f', 'web2']);
  });

  test('diff, commit, history and export', async () => {
    seen.push((await ok(['run', '-d', '--name', 'fresh', 'busybox', 'sleep', '300'])).trim());
    assert.equal(await ok(['diff', 'fresh']), '', 'a new container changed nothing (no /etc for the mount targets)');
    await ok(['rm', '-f', 'fresh']);
    seen.push((await ok(['run', '--name', 'changed', 'busybox', 'sh', '-c', 'echo x > /new; rm /etc/group'])).trim());
    assert.equal(await ok(['diff', 'changed']), 'C /etc\nD /etc/group\nA /new\n');
    const img = (await ok(['commit', '-m', 'a message', '-a', 'me', '-c', 'CMD ["cat", "/new"]', 'changed', 'mine:c'])).trim();
    assert.match(img, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await ok(['run', '--rm', 'mine:c']), 'x\n');
    const busybox = (await ok(['inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    assert.deepEqual(lines(await ok(['history', '--format', '{{.ID}}|{{.Size}}|{{.Comment}}', 'mine:c'])).map((l) => l.replace(/\|berth bootstrap .*/, '|bootstrap')),
      [`${img.slice(7, 19)}|2B|a message`, `${busybox.slice(7, 19)}|1.98MB|bootstrap`], 'the parent\'s ID on its row, as dockerd');
    const h = lines(await ok(['history', 'mine:c']));
    assert.match(h[0]!, /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
    assert.equal(await ok(['inspect', '-f', '{{.Author}} {{.Comment}} {{json .Config.Cmd}}', 'mine:c']), 'me a message ["cat","/new"]\n');
    assert.equal((await docker(['export', '-o', join(work, 'changed.tar'), 'changed'])).code, 0);
    assert.match(execFileSync('tar', ['tf', join(work, 'changed.tar')], { encoding: 'utf8' }), /^new$/m);
    await ok(['rm', 'changed']);
  });

  test('build (DOCKER_BUILDKIT=0), tag, rmi, save, load, import', async () => {
    const ctx = join(work, 'ctx');
    execFileSync('mkdir', ['-p', ctx]);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /b\nENV A=1\nCMD ["cat", "/b"]\n');
    const b = await ok(['build', '-t', 'built:1', ctx], { env: { DOCKER_BUILDKIT: '0' } });
    assert.match(b, /^Step 1\/4 : FROM busybox$/m);
    assert.match(b, /^Successfully tagged built:1$/m);
    assert.equal(await ok(['run', '--rm', 'built:1']), 'built\n');
    const hist = lines(await ok(['history', '--no-trunc', '--format', '{{.ID}} {{.CreatedBy}}', 'built:1']));
    assert.equal(hist.length, 4);
    assert.match(hist[0]!, /^sha256:[0-9a-f]{64} \/bin\/sh -c #\(nop\)  CMD \["cat" "\/b"\]$/, 'dockerd\'s %q');
    assert.match(hist[1]!, /^sha256:[0-9a-f]{64} \/bin\/sh -c #\(nop\)  ENV A=1$/, 'the intermediate image\'s ID');
    assert.match(hist[2]!, /^sha256:[0-9a-f]{64} \/bin\/sh -c echo built > \/b$/);
    const q = await ok(['build', '-q', '-t', 'built:1', ctx], { env: { DOCKER_BUILDKIT: '0' } });
    assert.match(q, /^sha256:[0-9a-f]{64}\n$/, 'cached and quiet');

    assert.equal(await ok(['tag', 'built:1', 'other/built:2']), '');
    assert.deepEqual(lines(await ok(['images', '--filter', 'reference=*/built', '--format', '{{.Repository}}:{{.Tag}}'])), ['other/built:2']);
    assert.equal(await ok(['rmi', 'other/built:2']), 'Untagged: other/built:2\n');
    await fails(['rmi', 'nope:1'], 1, 'Error response from daemon: No such image: nope:1\n');

    assert.equal(await ok(['save', '-o', join(work, 'built.tar'), 'built:1']), '');
    const rmi = lines(await ok(['rmi', 'built:1']));
    assert.equal(rmi[0], 'Untagged: built:1');
    assert.ok(rmi.slice(1).every((l) => /^Deleted: sha256:[0-9a-f]{64}$/.test(l)) && rmi.length === 4, rmi.join('\n'));
    assert.equal(await ok(['load', '-i', join(work, 'built.tar')]), 'Loaded image: built:1\n');
    assert.equal(await ok(['run', '--rm', 'built:1']), 'built\n');

    assert.equal((await docker(['export', '-o', join(work, 'root.tar'), (await ok(['create', 'built:1'])).trim()])).code, 0);
    const imp = (await ok(['import', '-c', 'CMD ["cat", "/b"]', '-m', 'imported here', join(work, 'root.tar'), 'imp:1'])).trim();
    assert.match(imp, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await ok(['run', '--rm', 'imp:1']), 'built\n');
    assert.equal(await ok(['history', '--format', '{{.Comment}}', 'imp:1']), 'imported here\n');
    const fromStdin = await ok(['import', '-', 'imp:2'], { input: readFileSync(join(work, 'root.tar')) });
    assert.match(fromStdin, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(await ok(['run', '--rm', 'imp:2', 'cat', '/b']), 'built\n');
    await ok(['container', 'prune', '-f']);
    await ok(['rmi', 'imp:1', 'imp:2', 'built:1', 'mine:c']);
  });

  test('login, push and pull against a registry that wants a password', async () => {
    const ref = `${reg.host}/team/bb:1`;
    await ok(['tag', 'busybox', ref]);
    await fails(['push', ref], 1, /authentication required|no basic auth credentials/);
    const bad = await docker(['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'nope\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error response from daemon: .*(unauthorized|401)/m);
    const good = await docker(['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'wonderland\n' });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^Login Succeeded$/m);
    const push = await ok(['push', ref]);
    assert.match(push, new RegExp(`^The push refers to repository \\[${reg.host}/team/bb\\]$`, 'm'));
    const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(push)?.[1];
    assert.ok(digest, push);
    assert.equal(await ok(['rmi', ref]), `Untagged: ${ref}\nUntagged: ${reg.host}/team/bb@${digest}\n`);
    const pull = await ok(['pull', ref]);
    assert.match(pull, new RegExp(`^Digest: ${digest}$`, 'm'));
    assert.match(pull, new RegExp(`^Status: Downloaded newer image for ${reg.host}/team/bb:1$`, 'm'), 'the tag was new, so "newer", as dockerd');
    assert.match(await ok(['pull', ref]), /^Status: Image is up to date for /m);
    assert.equal(await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}', `${reg.host}/team/bb`]), `${reg.host}/team/bb:1 ${digest}\n`);
    assert.match(await ok(['logout', reg.host]), /Removing login credentials/);
    await ok(['rmi', ref]);
  });

  test('network create, ls, inspect, connect, disconnect, prune, rm', async () => {
    const id = (await ok(['network', 'create', '--subnet', d.subnet(9), '--label', 'k=v', 'n1'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(await ok(['network', 'ls', '--filter', 'name=n1', '--format', '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}']), `${id.slice(0, 12)} n1 bridge local k=v\n`);
    assert.match(lines(await ok(['network', 'ls']))[0]!, /^NETWORK ID +NAME +DRIVER +SCOPE$/);
    assert.equal(await ok(['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}', 'n1']), `n1 bridge ${d.subnet(9)}\n`);
    seen.push((await ok(['run', '-d', '--name', 'netc', 'busybox', 'sleep', '300'])).trim());
    assert.equal(await ok(['network', 'connect', '--alias', 'svc', 'n1', 'netc']), '');
    assert.match(await ok(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}', 'n1']), /^netc 10\.\d+\.\d+\.\d+\/24\n$/);
    assert.equal(await ok(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'netc']), 'bridge n1 \n');
    // ps --filter network= by name or ID prefix, before= and since= by another container's creation.
    seen.push((await ok(['create', '--name', 'netlater', 'busybox', 'true'])).trim());
    assert.equal(await ok(['ps', '-a', '--filter', 'network=n1', '--format', '{{.Names}}']), 'netc\n');
    assert.equal(await ok(['ps', '-a', '--filter', `network=${id.slice(0, 8)}`, '--format', '{{.Names}}']), 'netc\n');
    assert.match(await ok(['ps', '-a', '--filter', 'since=netc', '--format', '{{.Names}}']), /^netlater\n$/);
    assert.doesNotMatch(await ok(['ps', '-a', '--filter', 'before=netlater', '--format', '{{.Names}}']), /netlater/);
    assert.match(await ok(['ps', '-a', '--filter', 'before=netlater', '--format', '{{.Names}}']), /^netc$/m);
    await fails(['ps', '--filter', 'before=nope'], 1, 'Error response from daemon: No such container: nope\n');
    await ok(['rm', 'netlater']);
    assert.equal(await ok(['network', 'disconnect', 'n1', 'netc']), '');
    assert.equal(await ok(['network', 'prune', '-f', '--filter', 'label=k=v']), 'Deleted Networks:\nn1\n\n');
    await fails(['network', 'rm', 'n1'], 1, /^Error response from daemon: network n1 not found\n/);
    await ok(['network', 'create', 'n2']);
    assert.equal(await ok(['network', 'rm', 'n2']), 'n2\n');
    await ok(['rm', '-f', 'netc']);
  });

  test('ps --filter publish=, expose=, is-task=, isolation=: what dockerd matches, and its errors', async () => {
    seen.push((await ok(['create', '--name', 'pfa', '-p', '127.0.0.1::7071/udp', '--expose', '7172-7174', 'busybox', 'true'])).trim());
    seen.push((await ok(['create', '--name', 'pfb', '-p', '7075:7075', 'busybox', 'true'])).trim());
    const names = async (...filters: string[]) =>
      lines(await ok(['ps', '-a', '--filter', 'name=^pf', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Names}}'])).sort().join(' ');
    assert.equal(await names('publish=7071/udp'), 'pfa');
    assert.equal(await names('publish=7071'), '', 'tcp when no protocol is given');
    assert.equal(await names('publish=7070-7080'), 'pfb', 'a range; 7071 is published for udp only');
    assert.equal(await names('publish=7071/udp', 'publish=7075'), 'pfa pfb', 'values of one key are alternatives');
    assert.equal(await names('expose=7173'), 'pfa');
    assert.equal(await names('expose=7075/tcp'), 'pfb', 'the CLI exposes what it publishes');
    assert.equal(await names('is-task=false'), 'pfa pfb');
    assert.equal(await names('is-task=true'), '', 'no swarm tasks here');
    assert.equal(await names('is-task=false', 'is-task=true'), '', 'true wins, as with dockerd');
    assert.equal(await names('isolation=default'), 'pfa pfb');
    assert.equal(await names('isolation=hyperv'), 'pfa pfb', 'a Windows filter: dockerd on Linux lists every container');
    await fails(['ps', '--filter', 'publish=80:80'], 1, "Error response from daemon: filter for 'publish' should not contain ':': 80:80\n");
    await fails(['ps', '--filter', 'expose=90-80'], 1, 'Error response from daemon: error while looking up for expose 90-80: Invalid range specified for the Port: 90-80\n');
    await fails(['ps', '--filter', 'expose=70000'], 1, 'Error response from daemon: error while looking up for expose 70000: strconv.ParseUint: parsing "70000": value out of range\n');
    await fails(['ps', '--filter', 'is-task=maybe'], 1, "Error response from daemon: invalid filter 'is-task=[maybe]'\n");
    await ok(['rm', 'pfa', 'pfb']);
  });

  test('volume create, ls, inspect, rm, prune; system df counts volumes', async () => {
    assert.equal(await ok(['volume', 'create', '--label', 'k=v', 'v1']), 'v1\n');
    const anon = (await ok(['volume', 'create'])).trim();
    assert.match(anon, /^[0-9a-f]{64}$/);
    assert.deepEqual(new Set(lines(await ok(['volume', 'ls', '-q']))), new Set(['v1', anon]));
    assert.equal(await ok(['volume', 'ls', '--filter', 'name=v1', '--format', 'table {{.Name}}\t{{.Driver}}\t{{.Labels}}']), 'VOLUME NAME   DRIVER    LABELS\nv1            local     k=v\n');
    assert.equal(await ok(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}', 'v1']), 'v1 local local map[k:v]\n');
    seen.push((await ok(['run', '-d', '--name', 'volc', '-v', 'v1:/data', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /data/f; exec sleep 300'])).trim());
    await waitFor(async () => (await docker(['exec', 'volc', 'ls', '/data'])).stdout.includes('f'), 30_000, 'the file');
    assert.equal(await ok(['ps', '--filter', 'volume=v1', '--format', '{{.Names}}']), 'volc\n');
    assert.equal(await ok(['ps', '--filter', 'volume=/data', '--format', '{{.Names}}']), 'volc\n');
    assert.equal(await ok(['ps', '--filter', 'volume=other', '--format', '{{.Names}}']), '');
    assert.match(await ok(['system', 'df', '--format', '{{.Type}}: {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}']), /^Local Volumes: 2 1 5kB 0B \(0%\)$/m);
    const v = await ok(['system', 'df', '-v']);
    assert.match(v, /^v1 +1 +5kB$/m, v);
    await fails(['volume', 'rm', 'v1'], 1, /^Error response from daemon: remove v1: volume is in use - \[[0-9a-f]{64}\]\n$/);
    await fails(['volume', 'rm', 'nope'], 1, 'Error response from daemon: get nope: no such volume\n');
    assert.equal(await ok(['volume', 'prune', '-f']), `Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 0B\n`);
    await ok(['rm', '-f', 'volc']);
    assert.equal(await ok(['volume', 'prune', '-af']), 'Deleted Volumes:\nv1\n\nTotal reclaimed space: 5kB\n');
    assert.equal(await ok(['volume', 'ls', '-q']), '');
  });

  test('system events, and every endpoint these flows asked for is one berth serves', async () => {
    const until = (Date.now() / 1000 + 0.001).toFixed(3);
    const net = lines(await ok(['system', 'events', '--since', String(since), '--until', until, '--filter', 'network=n1', '--format', '{{.Type}} {{.Action}}']));
    assert.deepEqual(net, ['network create', 'network connect', 'network disconnect', 'network destroy']);
    const json = JSON.parse(lines(await ok(['events', '--since', String(since), '--until', until, '--filter', 'type=volume', '--filter', 'volume=v1', '--format', '{{json .}}']))[0]!);
    assert.deepEqual([json.Type, json.Action, json.Actor.ID], ['volume', 'create', 'v1']);
    // Everything the docker CLI asked for so far was implemented: the daemon logs each route it does not know.
    assert.deepEqual(lines(d.log()).filter((l) => l.includes('not implemented')), []);
    // One that berth does not have: a JSON 404 that names it, and a line in the daemon's log.
    const r = await d.api('GET', '/v1.45/swarm');
    assert.equal(r.status, 404);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(r.body), { message: 'page not found: berth does not implement GET /swarm' });
    await waitFor(() => d.log().includes('api: not implemented: GET /swarm\n'), 10_000, 'the daemon to log the endpoint');
    await fails(['swarm', 'leave'], 1, /berth does not implement POST \/swarm\/leave/);
  });

  test('system info, df, prune; version', async () => {
    assert.equal(await ok(['system', 'info', '--format', '{{.Driver}} {{.OSType}} {{.Swarm.LocalNodeState}}']), 'overlay linux inactive\n');
    const info = await ok(['info']);
    assert.match(info, /^ Server Version: /m);
    assert.match(info, /^  seccomp\n   Profile: builtin$/m);
    // The commit `runc --version` names, as dockerd shows it.
    const commit = /^commit: (.+)$/m.exec(execFileSync('runc', ['--version'], { encoding: 'utf8' }))?.[1];
    assert.ok(commit);
    assert.match(info, new RegExp(`^ runc version: ${commit.replace(/[.+]/g, '\\$&')}$`, 'm'));
    assert.match(await ok(['version', '--format', '{{.Server.Os}}/{{.Server.Arch}} {{.Client.Version}}']), /^linux\/amd64 28\./);

    const stale = (await ok(['create', '--name', 'stale', 'busybox', 'true'])).trim();
    seen.push(stale);
    await ok(['network', 'create', 'unused']);
    writeFileSync(join(work, 'Dockerfile'), 'FROM busybox\nLABEL x=1\n');
    const first = (await ok(['build', '-q', '-t', 'dangling:1', work], { env: { DOCKER_BUILDKIT: '0' } })).trim();
    writeFileSync(join(work, 'Dockerfile'), 'FROM busybox\nLABEL x=2\n');
    await ok(['build', '-q', '-t', 'dangling:1', work], { env: { DOCKER_BUILDKIT: '0' } });
    const df = lines(await ok(['system', 'df']));
    assert.match(df[0]!, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$/);
    assert.deepEqual(df.slice(1).map((l) => l.split(/ {2,}/)[0]), ['Images', 'Containers', 'Local Volumes', 'Build Cache']);
    const p = await ok(['system', 'prune', '-f']);
    assert.match(p, new RegExp(`^Deleted Containers:\n${stale}\n\nDeleted Networks:\nunused\n\nDeleted Images:\ndeleted: ${first}\n\nTotal reclaimed space: 0B\n$`));
    assert.equal(await ok(['ps', '-aq']), '');
    assert.deepEqual(lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).sort(), ['busybox:latest', 'dangling:1']);
    const all = await ok(['system', 'prune', '-af']);
    assert.match(all, /^Deleted Images:\n/);
    assert.match(all, /^untagged: dangling:1$/m);
    assert.match(all, /^untagged: busybox:latest$/m);
    assert.match(all, /\n\nTotal reclaimed space: 1\.98\dMB\n$/);
    assert.equal(await ok(['images', '-aq']), '');
  });
});
