/**
 * Faults (issue #10, part 2): the daemon is killed with SIGKILL in the middle of a pull, a push, a
 * build, a commit, a run and an rm, then started again on the same data root. `berth system check
 * --repair` must leave a store that `berth system check` passes, earlier images must still run, and
 * a container running under conmon must survive the kill. "In the middle" is made exact by a proxy
 * in front of the registry that stalls a transfer once it has moved its first megabyte, and by
 * waiting for the build's or run's container. A data root on a 64 MiB tmpfs that fills up during a
 * pull gives "no space left on device" and loses no earlier image.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { cleanup, settledLeftovers, startDaemon, teardown, waitFor, type TestDaemon } from '../harness.js';
import { startRegistry, type TestRegistry } from '../registry-fixture.js';
import { RegistryClient } from '../../src/registry/index.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tar of one file of random bytes (incompressible), and its gzip. */
function randomLayer(bytes: number): { tar: Buffer; gz: Buffer } {
  const h = new Header({ path: 'random', type: 'File', size: bytes, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 });
  h.encode();
  const tar = Buffer.concat([h.block!, randomBytes(bytes), Buffer.alloc((512 - (bytes % 512)) % 512), Buffer.alloc(1024)]);
  return { tar, gz: gzipSync(tar, { level: 1 }) };
}

/** Pushes a one-layer image straight to the registry. */
async function pushRandomImage(reg: TestRegistry, repo: string, bytes: number): Promise<void> {
  const client = new RegistryClient({ timeoutMs: 30_000 });
  const { tar, gz } = randomLayer(bytes);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/random'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
  const { Readable } = await import('node:stream');
  for (const b of [config, gz]) await client.pushBlob(reg.host, repo, sha(b), b.length, () => Readable.from([b]));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length }],
  }));
  await client.putManifest(reg.host, repo, '1', manifest, 'application/vnd.oci.image.manifest.v1+json');
}

/**
 * A proxy in front of the registry: a blob body (download, or upload by PATCH/PUT) that has moved
 * its first megabyte is stalled there, and `stalled` resolves. Everything else passes through.
 */
async function stallingProxy(reg: TestRegistry): Promise<{ host: string; stalled: () => Promise<void>; close: () => void }> {
  let onStall = () => {};
  let stalled = new Promise<void>((r) => { onStall = r; });
  const server: Server = createServer((req, res) => {
    const big = /\/blobs\//.test(req.url ?? '') || req.method === 'PATCH' || (req.method === 'PUT' && /uploads/.test(req.url ?? ''));
    const up = request({ host: '127.0.0.1', port: Number(reg.host.split(':')[1]), method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      let n = 0;
      r.on('data', (c: Buffer) => {
        if (big && req.method === 'GET' && (n += c.length) > 1 << 20) { r.pause(); onStall(); return; }
        res.write(c);
      });
      r.on('end', () => res.end());
    });
    up.on('error', () => res.destroy());
    let sent = 0;
    req.on('data', (c: Buffer) => {
      if (big && req.method !== 'GET' && (sent += c.length) > 1 << 20) { req.pause(); onStall(); return; }
      up.write(c);
    });
    req.on('end', () => up.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stalled: () => stalled.then(() => { stalled = new Promise<void>((r) => { onStall = r; }); }),
    close: () => { server.closeAllConnections(); server.close(); },
  };
}

describe('faults', () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  const dir = mkdtempSync('/tmp/bt-');
  const seen: string[] = [];

  before(async () => {
    [d, reg] = await Promise.all([startDaemon({ busybox: true, dir }), startRegistry()]);
  });
  after(async () => {
    await reg?.stop();
    await teardown(d, seen);
  });

  /** SIGKILL now, start again on the same directories, repair, and check that all is consistent and busybox runs. */
  const killAndRecover = async (what: string) => {
    d.proc.kill('SIGKILL');
    await d.stop();
    d = await startDaemon({ dir });
    const rep = await d.berth(['system', 'check', '--repair']);
    assert.equal(rep.code, 0, `${what}: repair\n${rep.stdout}${rep.stderr}`);
    process.stderr.write(`# after kill -9 during ${what}: ${rep.stdout.trim().replace(/\n/g, '\n#   ')}\n`);
    const chk = await d.berth(['system', 'check']);
    assert.equal(chk.code, 0, `${what}: check after repair\n${chk.stdout}${chk.stderr}`);
    assert.match(chk.stdout, /the store is consistent/);
    const run = await d.berth(['run', '--rm', 'busybox', 'echo', 'alive']);
    assert.equal(run.stdout, 'alive\n', `${what}: busybox still runs`);
    return rep.stdout;
  };

  test('kill -9 during a pull and a push', async () => {
    await pushRandomImage(reg, 'faults/big', 8 << 20);
    const proxy = await stallingProxy(reg);
    try {
      const pulling = d.berth(['pull', `${proxy.host}/faults/big:1`], { timeoutMs: 120_000 });
      await proxy.stalled();
      await killAndRecover('pull');
      await pulling;
      // Pulled again, all the way, it runs.
      const again = await d.berth(['pull', `${reg.host}/faults/big:1`], { timeoutMs: 120_000 });
      assert.equal(again.code, 0, again.stderr);

      // A push of an image with a big layer, stalled after its first megabyte went up.
      assert.equal((await d.berth(['tag', `${reg.host}/faults/big:1`, `${proxy.host}/faults/pushed:1`])).code, 0);
      const pushing = d.berth(['push', `${proxy.host}/faults/pushed:1`], { timeoutMs: 120_000 });
      await proxy.stalled();
      await killAndRecover('push');
      await pushing;
      assert.equal((await d.berth(['tag', `${reg.host}/faults/big:1`, `${reg.host}/faults/pushed:1`])).code, 0);
      const pushed = await d.berth(['push', `${reg.host}/faults/pushed:1`], { timeoutMs: 120_000 });
      assert.equal(pushed.code, 0, pushed.stderr);
    } finally {
      proxy.close();
    }
  });

  test('kill -9 during a build and a commit', async () => {
    const ctx = join(dir, 'ctx');
    mkdirSync(ctx, { recursive: true });
    execFileSync('sh', ['-c', `printf 'FROM busybox\\nRUN touch /started; sleep 60\\n' > ${ctx}/Dockerfile`]);
    const building = d.berth(['build', '-t', 'faults/built:1', ctx], { timeoutMs: 120_000 });
    await waitFor(async () => (await d.berth(['ps', '-q'])).stdout.trim() !== '', 30_000, 'the build step to run');
    seen.push(...(await d.berth(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean));
    await killAndRecover('build');
    await building;
    assert.equal((await d.berth(['images', '-q', 'faults/built:1'])).stdout.trim(), '', 'a build cut short tagged nothing');

    // A commit of a container with 40 MiB of new data: killed while its layer is being written.
    const c = await d.berth(['run', '--name', 'tocommit', 'busybox', 'sh', '-c', 'head -c 41943040 /dev/urandom > /data']);
    assert.equal(c.code, 0, c.stderr);
    const committing = d.berth(['commit', 'tocommit', 'faults/committed:1'], { timeoutMs: 120_000 });
    await waitFor(async () => { try { return execFileSync('ls', [join(d.dataRoot, 'image/blobs/tmp')], { encoding: 'utf8' }).trim() !== ''; } catch { return false; } }, 30_000, 'the commit to write its layer');
    const out = await killAndRecover('commit');
    await committing;
    assert.match(out + (await d.berth(['images', '-q', 'faults/committed:1'])).stdout, /./, 'the repair listed the partial layer or the commit finished');
    assert.equal((await d.berth(['rm', 'tocommit'])).code, 0);
  });

  test('kill -9 during a run and an rm; a running container survives', async () => {
    const keeper = await d.berth(['run', '-d', '--name', 'keeper', 'busybox', 'sh', '-c', 'while true; do sleep 1; done']);
    assert.equal(keeper.code, 0, keeper.stderr);
    seen.push(keeper.stdout.trim());
    const running = d.berth(['run', '--name', 'inflight', 'busybox', 'sh', '-c', 'echo started; sleep 60']);
    await waitFor(async () => /inflight/.test((await d.berth(['ps'])).stdout), 30_000, 'the run to start');
    await killAndRecover('run');
    await running;
    assert.match((await d.berth(['inspect', '-f', '{{.State.Status}}', 'keeper'])).stdout, /running/, 'keeper survived the kill');

    const rm = d.berth(['rm', '-f', 'inflight']);
    await new Promise((r) => setTimeout(r, 50));
    const out = await killAndRecover('rm');
    await rm;
    // Gone, or still there and removable: never half of each.
    const ps = (await d.berth(['ps', '-a', '--format', '{{.Names}}'])).stdout;
    if (/inflight/.test(ps)) assert.equal((await d.berth(['rm', '-f', 'inflight'])).code, 0, out);
    assert.match((await d.berth(['inspect', '-f', '{{.State.Status}}', 'keeper'])).stdout, /running/, 'keeper survived again');
    assert.equal((await d.berth(['rm', '-f', 'keeper'])).code, 0);
  });
});

describe('a full disk', () => {
  test('a pull that fills a 64 MiB data root fails with "no space left on device" and loses no image', async () => {
    const reg = await startRegistry();
    const dir = mkdtempSync('/tmp/bt-');
    const data = join(dir, 'data');
    mkdirSync(data);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', data]);
    let d: TestDaemon | undefined;
    try {
      d = await startDaemon({ busybox: true, dir });
      await pushRandomImage(reg, 'faults/huge', 80 << 20);
      const r = await d.berth(['pull', `${reg.host}/faults/huge:1`], { timeoutMs: 120_000 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no space left on device/);
      assert.equal((await d.berth(['run', '--rm', 'busybox', 'echo', 'kept'])).stdout, 'kept\n');
      const rep = await d.berth(['system', 'check', '--repair']);
      assert.equal(rep.code, 0, rep.stdout + rep.stderr);
      assert.equal((await d.berth(['system', 'check'])).code, 0);
      // The space comes back: a smaller image pulls now.
      await pushRandomImage(reg, 'faults/small', 4 << 20);
      assert.equal((await d.berth(['pull', `${reg.host}/faults/small:1`])).code, 0);
      const left = settledLeftovers(d, [], (l) => l.mounts.every((m) => m === data));
      assert.deepEqual(left.mounts.filter((m) => m !== data), [], 'no mount left but the tmpfs itself');
    } finally {
      await d?.stop();
      try { execFileSync('umount', [data]); } catch { /* never mounted */ }
      if (d) await cleanup(d);
      await reg.stop();
      assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(data), false, 'the tmpfs is gone');
    }
  });
});
