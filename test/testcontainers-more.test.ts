/**
 * testcontainers (npm) against berth, beyond test/testcontainers.test.ts: the rest of GenericContainer's
 * options (copies, mounts, user, entrypoint, limits, hosts, network mode, reuse), the started container's
 * archive, restart, stop and exec options, the remaining wait strategies, the classic builder through
 * GenericContainer.fromDockerfile, and a pull from a local registry.
 * Ryuk is off (TESTCONTAINERS_RYUK_DISABLED=true): its image can't be pulled here.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { teardown, type TestDaemon } from './harness.js';
import { testcontainersDaemon, type TC } from './testcontainers-daemon.js';
import { startRegistry } from './registry-fixture.js';

async function readStream(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of s) parts.push(Buffer.from(b as Buffer));
  return Buffer.concat(parts);
}

/** Reads a following stream until `re` matches what came, then lets it go. */
async function readUntil(s: NodeJS.ReadableStream & { destroy?: () => void }, re: RegExp, ms = 10_000): Promise<string> {
  let seen = '';
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`timed out waiting for ${re} in ${JSON.stringify(seen)}`)), ms);
    s.on('data', (b: Buffer | string) => { seen += b; if (re.test(seen)) { clearTimeout(t); res(); } });
    s.on('end', () => { clearTimeout(t); res(); });
  });
  s.destroy?.();
  return seen;
}

/** The names and contents of the regular files in an uncompressed tar. */
function tarFiles(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (let off = 0; off + 512 <= buf.length;) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const name = h.subarray(0, 100).toString().replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString().replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    if (type === '0' || type === '\0') out[name] = buf.subarray(off + 512, off + 512 + size).toString();
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('testcontainers, more', () => {
  let d: TestDaemon;
  let tc: TC;
  let work: string;
  const started: { stop: () => Promise<unknown> }[] = [];

  before(async () => {
    ({ d, tc } = await testcontainersDaemon({ TESTCONTAINERS_REUSE_ENABLE: 'true' }));
    work = mkdtempSync(join(tmpdir(), 'tc-more-'));
  });
  after(async () => {
    for (const c of started) await c.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    await teardown(d);
  });

  async function keep<T extends { stop: () => Promise<unknown> }>(p: Promise<T>): Promise<T> {
    const c = await p;
    started.push(c);
    return c;
  }
  async function done(c: { stop: () => Promise<unknown> }): Promise<void> {
    await c.stop();
    started.splice(started.indexOf(c), 1);
  }

  test('withCopyContentToContainer, withCopyDirectoriesToContainer, withCopyFilesToContainer (with mode)', async () => {
    const { GenericContainer } = tc;
    const src = join(work, 'dir');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'A\n');
    writeFileSync(join(src, 'sub', 'b.txt'), 'B\n');
    writeFileSync(join(work, 'run.sh'), '#!/bin/sh\necho ran\n');
    const c = await keep(new GenericContainer('busybox:latest')
      .withCopyContentToContainer([{ content: Buffer.from('bytes\n'), target: '/etc/c.txt', mode: 0o600 }])
      .withCopyDirectoriesToContainer([{ source: src, target: '/data' }])
      .withCopyFilesToContainer([{ source: join(work, 'run.sh'), target: '/usr/local/bin/run.sh', mode: 0o755 }])
      .withCommand(['sleep', '300'])
      .start());
    const r = await c.exec(['sh', '-c', 'cat /etc/c.txt /data/a.txt /data/sub/b.txt; stat -c %a /etc/c.txt; /usr/local/bin/run.sh']);
    assert.equal(r.stdout, 'bytes\nA\nB\n600\nran\n');
    await c.copyDirectoriesToContainer([{ source: src, target: '/later' }]);
    assert.equal((await c.exec(['cat', '/later/sub/b.txt'])).stdout, 'B\n');
    await done(c);
  });

  test('copyArchiveFromContainer: a file and a directory as tar', async () => {
    const { GenericContainer } = tc;
    const c = await keep(new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'mkdir -p /out/d && echo one > /out/one && echo two > /out/d/two && exec sleep 300'])
      .withWaitStrategy(tc.Wait.forSuccessfulCommand('test -f /out/d/two'))
      .start());
    const one = tarFiles(await readStream(await c.copyArchiveFromContainer('/out/one')));
    assert.deepEqual(one, { one: 'one\n' });
    const dir = tarFiles(await readStream(await c.copyArchiveFromContainer('/out')));
    assert.equal(dir['out/one'], 'one\n');
    assert.equal(dir['out/d/two'], 'two\n');
    await assert.rejects(c.copyArchiveFromContainer('/nope'));
    await done(c);
  });

  test('withBindMounts, withTmpFs', async () => {
    const { GenericContainer } = tc;
    const host = join(work, 'bind');
    mkdirSync(host);
    writeFileSync(join(host, 'in.txt'), 'from-host\n');
    const c = await keep(new GenericContainer('busybox:latest')
      .withBindMounts([{ source: host, target: '/bind', mode: 'rw' }, { source: host, target: '/ro', mode: 'ro' }])
      .withTmpFs({ '/scratch': 'rw,size=4m' })
      .withCommand(['sleep', '300'])
      .start());
    const r = await c.exec(['sh', '-c', 'cat /bind/in.txt; echo out > /bind/out.txt; touch /ro/x 2>/dev/null || echo ro-refused; grep " /scratch " /proc/mounts | cut -d" " -f3']);
    assert.equal(r.stdout, 'from-host\nro-refused\ntmpfs\n');
    assert.equal(readFileSync(join(host, 'out.txt'), 'utf8'), 'out\n');
    await done(c);
  });

  test('withUser, withWorkingDir, withEntrypoint, withLabels, withName, withPrivilegedMode', async () => {
    const { GenericContainer } = tc;
    const name = `tc-named-${process.pid}`;
    const c = await keep(new GenericContainer('busybox:latest')
      .withUser('1234:5678')
      .withWorkingDir('/tmp')
      .withEntrypoint(['sh', '-c'])
      .withCommand(['echo "$(id -u):$(id -g) $(pwd)"; exec sleep 300'])
      .withLabels({ 'tc.test': 'yes' })
      .withName(name)
      .withPrivilegedMode()
      .withWaitStrategy(tc.Wait.forLogMessage(/\d+:\d+ /))
      .start());
    assert.equal(c.getName(), `/${name}`);
    assert.equal(c.getLabels()['tc.test'], 'yes');
    // logs() follows, as docker logs -f: read until the line is there.
    assert.match(await readUntil(await c.logs(), /\d+:\d+ \S+\n/), /^1234:5678 \/tmp$/m);
    const ins = JSON.parse((await d.berth(['inspect', name])).stdout)[0];
    assert.equal(ins.HostConfig.Privileged, true);
    assert.deepEqual(ins.Config.Entrypoint, ['sh', '-c']);
    await done(c);
  });

  test('withResourcesQuota, withExtraHosts, withStartupTimeout, custom withHealthCheck', async () => {
    const { GenericContainer, Wait } = tc;
    const c = await keep(new GenericContainer('busybox:latest')
      .withResourcesQuota({ memory: 0.25, cpu: 0.5 })
      .withExtraHosts([{ host: 'db.example', ipAddress: '10.9.8.7' }])
      .withHealthCheck({ test: ['CMD', 'true'], interval: 300, timeout: 1000, retries: 3 })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(20_000)
      .withCommand(['sleep', '300'])
      .start());
    const ins = JSON.parse((await d.berth(['inspect', c.getId()])).stdout)[0];
    assert.equal(ins.HostConfig.Memory, 0.25 * 1024 ** 3);
    assert.equal(ins.HostConfig.NanoCpus, 0.5e9);
    assert.equal(ins.State.Health.Status, 'healthy');
    const hosts = (await c.exec(['cat', '/etc/hosts'])).stdout;
    assert.match(hosts, /^10\.9\.8\.7\s+db\.example$/m);
    // cgroup v2 or v1, whichever the host has.
    const mem = (await c.exec(['sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'])).stdout.trim();
    assert.equal(mem, String(0.25 * 1024 ** 3));
    await done(c);
  });

  test('withNetworkMode: host and none', async () => {
    const { GenericContainer } = tc;
    const c = await keep(new GenericContainer('busybox:latest').withNetworkMode('none').withCommand(['sleep', '300']).start());
    assert.equal((await c.exec(['sh', '-c', 'ls /sys/class/net'])).stdout.trim(), 'lo');
    assert.equal(c.getNetworkNames().includes('none'), true);
    await done(c);
    const h = await keep(new GenericContainer('busybox:latest').withNetworkMode('host').withCommand(['sleep', '300']).start());
    assert.equal((await h.exec(['hostname'])).stdout.trim(), (await import('node:os')).hostname());
    await done(h);
  });

  test('withReuse: a second start with the same options finds the first container by its hash label', async () => {
    const { GenericContainer } = tc;
    const make = () => new GenericContainer('busybox:latest').withReuse().withLabels({ 'tc.reuse': String(process.pid) }).withCommand(['sleep', '300']);
    const a = await keep(make().start());
    const b = await make().start();
    assert.equal(b.getId(), a.getId());
    // A stopped one is started again.
    await d.berth(['stop', '-t', '0', a.getId()]);
    const c = await make().start();
    assert.equal(c.getId(), a.getId());
    await done(a);
  });

  test('restart, stop with a timeout, streaming logs', async () => {
    const { GenericContainer } = tc;
    const c = await keep(new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'trap "echo got-term; exit 0" TERM; echo started; while true; do sleep 0.1; done'])
      .withWaitStrategy(tc.Wait.forLogMessage('started'))
      .start());
    const logs = await c.logs({ since: 0 });
    let seen = '';
    logs.on('data', (b: Buffer | string) => { seen += b; });
    const ended = new Promise((r) => logs.on('end', r));
    const before = (await d.berth(['inspect', '-f', '{{.State.StartedAt}}', c.getId()])).stdout;
    await c.restart({ timeout: 5_000 });
    const after2 = (await d.berth(['inspect', '-f', '{{.State.StartedAt}}', c.getId()])).stdout;
    assert.notEqual(after2, before);
    // As with dockerd, a following log stream ends when the container stops; a new one sees both runs.
    await ended;
    assert.match(seen, /started\ngot-term\n$/);
    assert.match(await readUntil(await c.logs(), /started[^]*started/), /^started\ngot-term\nstarted\n$/);
    const t0 = Date.now();
    const stopped = await c.stop({ timeout: 5_000 });
    started.splice(started.indexOf(c), 1);
    assert.ok(Date.now() - t0 < 5_000);
    assert.match(stopped.getId(), /^[0-9a-f]{64}$/);
  });

  test('exec with env, workingDir and user', async () => {
    const { GenericContainer } = tc;
    const c = await keep(new GenericContainer('busybox:latest').withCommand(['sleep', '300']).start());
    const r = await c.exec(['sh', '-c', 'echo "$FOO $(pwd) $(id -u)"'], { env: { FOO: 'bar' }, workingDir: '/etc', user: '42' });
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'bar /etc 42\n');
    assert.equal(r.output, 'bar /etc 42\n');
    await done(c);
  });

  test('Wait.forOneShotStartup', async () => {
    const { GenericContainer, Wait } = tc;
    const c = await keep(new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'sleep 0.5; echo finished'])
      .withWaitStrategy(Wait.forOneShotStartup())
      .withStartupTimeout(20_000)
      .start());
    const st = JSON.parse((await d.berth(['inspect', c.getId()])).stdout)[0].State;
    assert.equal(st.Running, false);
    assert.equal(st.ExitCode, 0);
    await done(c);
  });

  test('Wait.forSuccessfulCommand and Wait.forHttp (busybox httpd)', async () => {
    const { GenericContainer, Wait } = tc;
    const c = await keep(new GenericContainer('busybox:latest')
      .withExposedPorts(8080)
      .withCommand(['sh', '-c', 'sleep 1; mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8080 -h /www'])
      .withWaitStrategy(Wait.forAll([Wait.forSuccessfulCommand('test -f /www/health'), Wait.forHttp('/health', 8080).forStatusCode(200)]))
      .withStartupTimeout(30_000)
      .start());
    const res = await fetch(`http://${c.getHost()}:${c.getMappedPort(8080)}/health`);
    assert.equal(await res.text(), 'ok\n');
    await done(c);
  });

  test('GenericContainer.fromDockerfile(...).build(): the classic builder', async () => {
    const { GenericContainer } = tc;
    const ctx = join(work, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nARG WHO=nobody\nCOPY hello.txt /hello.txt\nRUN echo "$WHO" > /who\nCMD ["sh", "-c", "cat /hello.txt /who; exec sleep 300"]\n');
    writeFileSync(join(ctx, 'hello.txt'), 'hello-build\n');
    const image = await GenericContainer.fromDockerfile(ctx).withBuildArgs({ WHO: 'tc' }).withCache(false).build('localhost/tc-built:1', { deleteOnExit: false });
    const c = await keep(image.withWaitStrategy(tc.Wait.forLogMessage('tc')).start());
    assert.equal((await c.exec(['cat', '/hello.txt', '/who'])).stdout, 'hello-build\ntc\n');
    await done(c);
  });

  test('withAutoRemove, capabilities, hostname, IPC mode, ulimits, shm size, security options, log driver, log consumer', async () => {
    const { GenericContainer } = tc;
    let consumed = '';
    const c = await keep(new GenericContainer('busybox:latest')
      .withAutoRemove(true)
      .withAddedCapabilities('NET_ADMIN')
      .withDroppedCapabilities('CHOWN')
      .withHostname('tc-host')
      .withIpcMode('private')
      .withUlimits({ nofile: { hard: 2048, soft: 1024 } })
      .withSharedMemorySize(32 * 1024 * 1024)
      .withSecurityOpt('no-new-privileges')
      .withDefaultLogDriver()
      .withLogConsumer((s) => s.on('data', (b: string) => { consumed += b; }))
      .withCommand(['sh', '-c', 'echo consumer-line; exec sleep 300'])
      .start());
    // The ulimits as the container's own process has them: an exec's soft nofile limit is racy in runc before 1.1.13
    // (Debian's is 1.1.5), which sometimes leaves it at the hard one (opencontainers/runc#4195).
    const r = await c.exec(['sh', '-c', 'hostname; awk \'/Max open files/ {print $4; print $5}\' /proc/1/limits; df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2; grep NoNewPrivs /proc/self/status | tr -d "\\t"; ip addr add 10.1.2.3/32 dev lo && echo net-admin; chown 1 /tmp 2>/dev/null || echo no-chown']);
    assert.equal(r.stdout, 'tc-host\n1024\n2048\n32768\nNoNewPrivs:1\nnet-admin\nno-chown\n');
    assert.equal(c.getHostname(), 'tc-host');
    for (let i = 0; i < 50 && !consumed; i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(consumed, 'consumer-line\n');
    const id = c.getId();
    await done(c);
    // AutoRemove: stop() removes it, as dockerd's --rm does.
    assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);
  });

  test('commit(): the container as an image, with changes and labels', async () => {
    const { GenericContainer } = tc;
    const c = await keep(new GenericContainer('busybox:latest').withCommand(['sh', '-c', 'echo committed > /marker; exec sleep 300']).withWaitStrategy(tc.Wait.forSuccessfulCommand('test -f /marker')).start());
    const imageId = await c.commit({ repo: 'localhost/tc-commit', tag: '1', changes: ['ENV COMMITTED=yes'], deleteOnExit: false });
    assert.match(imageId, /^sha256:[0-9a-f]{64}$/);
    await done(c);
    const i = await keep(new GenericContainer('localhost/tc-commit:1').withCommand(['sleep', '300']).start());
    assert.equal((await i.exec(['sh', '-c', 'cat /marker; echo $COMMITTED'])).stdout, 'committed\nyes\n');
    await done(i);
  });

  test('getIpAddress, getNetworkId on a user network; copyArchiveToContainer', async () => {
    const { GenericContainer, Network } = tc;
    const net = await new Network().start();
    try {
      const c = await keep(new GenericContainer('busybox:latest').withNetwork(net).withCommand(['sleep', '300']).start());
      const ip = c.getIpAddress(net.getName());
      assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
      assert.equal(c.getNetworkId(net.getName()), net.getId());
      assert.match((await c.exec(['ip', '-4', 'addr'])).stdout, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
      // The engine's /etc/hostname and /etc/hosts, as the container sees them, not the image's empty files.
      const tar = await readStream(await c.copyArchiveFromContainer('/etc/hostname'));
      assert.deepEqual(tarFiles(tar), { hostname: `${c.getHostname()}\n` });
      assert.match(tarFiles(await readStream(await c.copyArchiveFromContainer('/etc/hosts'))).hosts ?? '', new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`, 'm'));
      await c.copyArchiveToContainer(Readable.from([tar]), '/tmp');
      assert.equal((await c.exec(['cat', '/tmp/hostname'])).stdout, `${c.getHostname()}\n`);
      await done(c);
    } finally {
      // A failed assertion leaves the container on the network: stop it first, so the failure is the one reported.
      for (const x of started.splice(0)) await x.stop().catch(() => undefined);
      await net.stop();
    }
  });

  test('a wait strategy that times out: start() rejects and the container is not left running', async () => {
    const { GenericContainer, Wait } = tc;
    await assert.rejects(new GenericContainer('busybox:latest')
      .withLabels({ 'tc.timeout': 'yes' })
      .withCommand(['sleep', '300'])
      .withWaitStrategy(Wait.forLogMessage('never'))
      .withStartupTimeout(1_500)
      .start(), /Log message "never" not received after 1500ms/);
    const left = JSON.parse((await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['tc.timeout=yes'] }))}`)).body);
    for (const x of left) {
      assert.notEqual(x.State, 'running');
      await d.api('DELETE', `/containers/${x.Id}?force=1`);
    }
  });

  test('fromDockerfile: withTarget on a multi-stage Dockerfile, a named Dockerfile, and withBuildkit() (POST /session, then the classic builder)', async () => {
    const { GenericContainer } = tc;
    const ctx = join(work, 'ctx2');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Other.dockerfile'), 'FROM busybox:latest AS base\nRUN echo base > /stage\nFROM base AS final\nRUN echo final > /stage\n');
    const image = await GenericContainer.fromDockerfile(ctx, 'Other.dockerfile').withTarget('base').build('localhost/tc-target:1', { deleteOnExit: false });
    const c = await keep(image.withCommand(['sleep', '300']).start());
    assert.equal((await c.exec(['cat', '/stage'])).stdout, 'base\n');
    await done(c);
    // withBuildkit() asks for version=2 with no session: berth has no BuildKit and builds it with the classic
    // builder, which is all testcontainers needs (it waits for the stream to end, then looks for the image).
    // A session that asks for no upgrade is refused in BuildKit's words.
    const plain = await d.api('POST', '/session');
    assert.equal(plain.status, 400);
    assert.equal(JSON.parse(plain.body).message, 'no upgrade proto in request');
    const bk = await GenericContainer.fromDockerfile(ctx, 'Other.dockerfile').withBuildkit().build('localhost/tc-buildkit:1', { deleteOnExit: false });
    const k = await keep(bk.withCommand(['sleep', '300']).start());
    assert.equal((await k.exec(['cat', '/stage'])).stdout, 'final\n');
    await done(k);
  });

  test('the pull path: an image only in a local registry', async () => {
    const { GenericContainer } = tc;
    const reg = await startRegistry();
    try {
      const ref = `${reg.host}/tc/busybox:pulled`;
      assert.equal((await d.berth(['tag', 'busybox:latest', ref])).code, 0);
      const p = await d.berth(['push', ref]);
      assert.equal(p.code, 0, p.stderr);
      assert.equal((await d.berth(['rmi', ref])).code, 0);
      const c = await keep(new GenericContainer(ref).withCommand(['sleep', '300']).start());
      assert.equal((await c.exec(['echo', 'pulled'])).stdout, 'pulled\n');
      await done(c);
      // PullPolicy.alwaysPull(): pulled again although it is there now.
      const a = await keep(new GenericContainer(ref).withPullPolicy(tc.PullPolicy.alwaysPull()).withCommand(['sleep', '300']).start());
      await done(a);
    } finally {
      await reg.stop();
    }
  });
});
