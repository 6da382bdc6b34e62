/**
 * Hostile images (issue #10, part 1): layers that try to write outside the root (`..`, absolute
 * names, symlinks and hard links out, chains of a symlink and an entry through it), device nodes,
 * setuid files, huge headers, decompression bombs, gzip streams that lie, manifests whose digests
 * or sizes do not match, and a manifest naming another repository's blob, through `load`,
 * `import`, `pull` from a real registry, `build` contexts and `cp`. Each one fails with a message
 * (or, where docker accepts it, succeeds harmlessly); a canary directory outside the data root
 * stays exactly as it was, and `berth system check` finds the store consistent after every case.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { Header } from 'tar';
import { RegistryClient } from '../../src/registry/index.js';
import { startDaemon, teardown, type TestDaemon } from '../harness.js';
import { startRegistry, type TestRegistry } from '../registry-fixture.js';
import { pushBytes } from '../registry-images.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Entry { path: string; type?: string; data?: Buffer | string; linkpath?: string; mode?: number; devmaj?: number; devmin?: number; size?: number; pax?: Record<string, string> }

/** A tar with exactly these headers, which no honest archiver writes for most of them. */
function tarOf(entries: Entry[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? 'File';
    if (e.pax) {
      const body = Buffer.from(Object.entries(e.pax).map(([k, v]) => {
        const rest = ` ${k}=${v}\n`;
        let n = rest.length + String(rest.length).length;
        if (String(n).length !== String(n - 1).length) n++;
        return `${n}${rest}`;
      }).join(''));
      const ph = new Header({ path: 'PaxHeader/x', type: 'ExtendedHeader' as never, size: body.length, mode: 0o644, mtime: new Date(0) });
      ph.encode();
      parts.push(ph.block!, body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
    const h = new Header({
      path: e.path, type: type as never, size: e.size ?? (type === 'File' ? data.length : 0), mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      mtime: new Date(0), linkpath: e.linkpath, devmaj: e.devmaj, devmin: e.devmin, uid: 0, gid: 0,
    });
    h.encode();
    parts.push(h.block!);
    if (type === 'File') parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A docker-archive (`docker save` before 25) of one image with these layer blobs; diff IDs given or computed from plain tars. */
function dockerArchive(layers: Buffer[], tag: string, diffIds = layers.map((l) => sha(l))): Buffer {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: diffIds } });
  const configName = `${sha(config).slice(7)}.json`;
  return tarOf([
    { path: configName, data: config },
    ...layers.map((l, i) => ({ path: `${i}/layer.tar`, data: l })),
    { path: 'manifest.json', data: JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: layers.map((_, i) => `${i}/layer.tar`) }]) },
  ]);
}

/** gzip of a tar holding one file of `bytes` zeros, streamed so the test never holds it whole. */
const bombs = new Map<number, Promise<{ gz: Buffer; diffId: string }>>();
function zeroBomb(bytes: number): Promise<{ gz: Buffer; diffId: string }> {
  if (!bombs.has(bytes)) bombs.set(bytes, makeZeroBomb(bytes));
  return bombs.get(bytes)!;
}
async function makeZeroBomb(bytes: number): Promise<{ gz: Buffer; diffId: string }> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((r) => gzip.on('end', r));
  const hash = createHash('sha256');
  const put = async (b: Buffer) => { hash.update(b); if (!gzip.write(b)) await new Promise((r) => gzip.once('drain', r)); };
  const h = new Header({ path: 'zeros', type: 'File', size: bytes, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 });
  h.encode();
  await put(h.block!);
  const chunk = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) await put(left >= chunk.length ? chunk : chunk.subarray(0, left));
  await put(Buffer.alloc(1024));
  gzip.end();
  await done;
  return { gz: Buffer.concat(out), diffId: `sha256:${hash.digest('hex')}` };
}

/** POST /build with a raw tar context, as `docker build - < ctx.tar` sends it; the progress stream's text back. */
function buildApi(socket: string, tag: string, context: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'POST', path: `/build?t=${encodeURIComponent(tag)}`, headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(context);
  });
}

describe('hostile images', () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  let canary: string;
  let files: string;
  let tried = 0;
  const containers: string[] = [];
  const client = new RegistryClient({ timeoutMs: 20_000 });

  before(async () => {
    [d, reg] = await Promise.all([startDaemon({ busybox: true }), startRegistry()]);
    canary = join(d.dir, 'canary');
    mkdirSync(join(canary, 'sub'), { recursive: true });
    writeFileSync(join(canary, 'f'), 'canary\n');
    files = join(d.dir, 'files');
    mkdirSync(files);
  });
  after(async () => {
    process.stderr.write(`hostile inputs tried: ${tried}\n`);
    await reg?.stop();
    await teardown(d, containers);
  });

  /** Everything about the canary tree a write through a hostile entry could change: names, modes, contents, xattrs. */
  const canaryState = () => {
    const walk = (dir: string): string[] => readdirSync(dir).sort().flatMap((n) => {
      const p = join(dir, n);
      const st = lstatSync(p);
      const line = `${p.slice(canary.length)} ${st.mode.toString(8)} ${st.isFile() ? readFileSync(p, 'utf8') : ''}`;
      return st.isDirectory() ? [line, ...walk(p)] : [line];
    });
    const xattrs = execFileSync('getfattr', ['-R', '-d', '-m', '-', '--absolute-names', canary], { encoding: 'utf8' });
    return { tree: walk(canary), xattrs, rootMode: lstatSync(canary).mode.toString(8), outside: readdirSync(d.dir).sort() };
  };
  let pristine: ReturnType<typeof canaryState>;

  const storeState = async () => ({
    images: (JSON.parse((await d.api('GET', '/images/json?all=1')).body) as { Id: string; RepoTags: string[] }[]).map((i) => `${i.Id} ${i.RepoTags}`).sort(),
    blobs: readdirSync(join(d.dataRoot, 'image/blobs/sha256')).sort(),
    layers: readdirSync(join(d.dataRoot, 'image/layers')).sort(),
    tmp: readdirSync(join(d.dataRoot, 'image/blobs/tmp')),
  });

  /** After every case: nothing changed outside the data root, and the store checks out. */
  const assertClean = async (what: string) => {
    assert.deepEqual(canaryState(), pristine, `${what}: nothing changed outside the data root`);
    const c = await d.berth(['system', 'check']);
    assert.equal(c.code, 0, `${what}: system check\n${c.stdout}${c.stderr}`);
  };

  type Expect = RegExp | 'ok';
  /** Loads one layer as an image; a failure must name the problem and leave the store as it was. */
  const viaLoad = async (what: string, layer: Buffer, expect: Expect, diffId?: string) => {
    tried++;
    const tag = `hostile/load:${tried}`;
    const beforeState = await storeState();
    const r = await d.berth(['load'], { input: dockerArchive([layer], tag, diffId ? [diffId] : undefined), timeoutMs: 120_000 });
    if (expect === 'ok') assert.equal(r.code, 0, `${what} (load): ${r.stderr}`);
    else {
      assert.equal(r.code, 1, `${what} (load) should fail: ${r.stdout}`);
      assert.match(r.stderr, expect, `${what} (load)`);
      assert.deepEqual(await storeState(), beforeState, `${what} (load) left the store as it was`);
    }
    await assertClean(`${what} (load)`);
    return tag;
  };

  test('layers that try to reach outside the root, loaded with berth load', async () => {
    pristine = canaryState();
    const rel = `../../../../../../../../..${canary}`;
    const cases: [string, Entry[], Expect][] = [
      ['../ path', [{ path: '../../evil', data: 'x' }], /refused layer entries: path contains '\.\.'/],
      ['absolute path into the canary', [{ path: `${canary}/abs`, data: 'x' }], 'ok'],
      ['symlink out, then a file through it', [{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/through', data: 'x' }], 'ok'],
      ['relative symlink up, then a file through it', [{ path: 'a/up', type: 'SymbolicLink', linkpath: rel }, { path: 'a/up/through', data: 'x' }], 'ok'],
      ['symlink out, then a setuid file through it', [{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/f', data: 'x', mode: 0o4755 }], 'ok'],
      ['symlink out, then a directory mode through it', [{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/sub', type: 'Directory', mode: 0o1777 }], 'ok'],
      ['symlink out, then a whiteout through it', [{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/newdir/.wh.x' }], 'ok'],
      ['symlink out, then an opaque marker through it', [{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/.wh..wh..opq' }], 'ok'],
      ['symlink out, then a device through it', [{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/devdir/null', type: 'CharacterDevice', devmaj: 1, devmin: 3 }], 'ok'],
      ['symlink out, then a symlink under it', [{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/newdir/l', type: 'SymbolicLink', linkpath: 'x' }], /would be written through the symlink out/],
      ['hard link to an absolute host file', [{ path: 'h', type: 'Link', linkpath: join(canary, 'f') }], /refused layer entries: ENOENT/],
      ['hard link up and out', [{ path: 'h', type: 'Link', linkpath: '../../../../etc/passwd' }], /linkpath contains '\.\.'/],
      ['hard link through a symlink', [{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'h', type: 'Link', linkpath: 'out/f' }], /refused layer entries: ENOENT/],
      ['pax path climbing out', [{ path: 'innocent', data: 'x', pax: { path: '../../pax-evil' } }], /path contains '\.\.'/],
      ['pax linkpath climbing out', [{ path: 'h', type: 'Link', pax: { linkpath: '../../../etc/shadow' } }], /linkpath contains '\.\.'/],
      ['a 3 MiB pax header', [{ path: 'big-pax', data: 'x', pax: { comment: 'A'.repeat(3 << 20) } }], 'ok'],
      ['a 4096-level deep path', [{ path: 'deep', data: 'x', pax: { path: 'd/'.repeat(4096) + 'f' } }], /refused layer entries: path excessively deep/],
      ['a header declaring a 1 TiB file with no data', [{ path: 'huge', size: 2 ** 40 }], /not a valid tar stream \(Truncated input/],
    ];
    for (const [what, entries, expect] of cases) {
      const layer = what.includes('1 TiB') ? tarOf(entries, false) : tarOf(entries);
      await viaLoad(what, layer, expect);
    }
  });

  test('device nodes and setuid files are kept as docker keeps them, and stay harmless', async () => {
    tried++;
    const layer = tarOf([
      { path: 'bin/su-evil', data: '#!/bin/sh\nid\n', mode: 0o4755 },
      { path: 'dev-evil/sda', type: 'BlockDevice', devmaj: 8, devmin: 0, mode: 0o666 },
      { path: 'dev-evil/mem', type: 'CharacterDevice', devmaj: 1, devmin: 1, mode: 0o666 },
      { path: 'dev-evil/fifo', type: 'FIFO', mode: 0o666 },
    ]);
    // On top of busybox's own layer, so the image runs.
    const save = join(files, 'busybox.tar');
    assert.equal((await d.berth(['save', '-o', save, 'busybox'])).code, 0);
    const items = JSON.parse(execFileSync('tar', ['-xOf', save, 'manifest.json'], { encoding: 'utf8' })) as { Layers: string[] }[];
    const bbGz = execFileSync('tar', ['-xOf', save, items[0]!.Layers[0]!], { maxBuffer: 64 << 20 });
    const bbDiff = sha(execFileSync('gzip', ['-dc'], { input: bbGz, maxBuffer: 64 << 20 }));
    const r0 = await d.berth(['load'], { input: dockerArchive([bbGz, layer], 'hostile/devices:1', [bbDiff, sha(layer)]) });
    assert.equal(r0.code, 0, r0.stderr);
    const r = await d.berth(['run', '--rm', 'hostile/devices:1', 'sh', '-c', 'stat -c "%a %F" /bin/su-evil /dev-evil/sda /dev-evil/mem /dev-evil/fifo; head -c1 /dev-evil/sda; head -c1 /dev-evil/mem; echo end']);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^4755 regular file\n666 block special file\n666 character special file\n666 fifo\nend\n$/);
    // The devices cgroup keeps the container from the host's disk and memory.
    assert.match(r.stderr, /sda: Operation not permitted/);
    assert.match(r.stderr, /mem: Operation not permitted/);
    await assertClean('devices and setuid');
  });

  test('decompression bombs, gzip streams that lie and layers that are not their diff ID', async () => {
    const plain = tarOf([{ path: 'ok.txt', data: 'fine' }]);
    const gz = gzipSync(plain);
    const isizeLie = Buffer.from(gz); isizeLie.writeUInt32LE(123456789, isizeLie.length - 4);
    const crcLie = Buffer.from(gz); crcLie.writeUInt32LE(1, crcLie.length - 8);
    const trailing = Buffer.concat([gz, Buffer.from('and then some garbage')]);
    const bomb = await zeroBomb(1 << 30);
    assert.ok(bomb.gz.length < 2 << 20, 'the bomb is small');
    await viaLoad(`a gzip bomb (${bomb.gz.length} bytes that unpack to 1 GiB)`, bomb.gz, /decompression bomb/, bomb.diffId);
    await viaLoad('gzip whose size trailer lies', isizeLie, /gzip stream is damaged or lies about its content \(incorrect length check\)/, sha(plain));
    await viaLoad('gzip whose CRC lies', crcLie, /gzip stream is damaged .*incorrect data check/, sha(plain));
    await viaLoad('gzip with trailing garbage', trailing, /gzip stream is damaged/, sha(plain));
    await viaLoad('truncated gzip', gz.subarray(0, gz.length - 12), /gzip stream is damaged .*unexpected end of file/, sha(plain));
    await viaLoad('layer that is not its diff ID', plain, /does not match its diff ID/, sha('something else'));
  });

  test('berth import refuses the same layers', async () => {
    const bomb = await zeroBomb(1 << 30);
    const cases: [string, Buffer, Expect][] = [
      ['../ path', tarOf([{ path: '../../evil', data: 'x' }]), /refused layer entries/],
      ['symlink out, then a setuid file through it', tarOf([{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/f', data: 'x', mode: 0o4755 }]), 'ok'],
      ['symlink out, then an opaque marker through it', tarOf([{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/.wh..wh..opq' }]), 'ok'],
      ['hard link up and out', tarOf([{ path: 'h', type: 'Link', linkpath: '../../../../etc/passwd' }]), /linkpath contains '\.\.'/],
      ['a gzip bomb', bomb.gz, /decompression bomb/],
      ['truncated gzip', gzipSync(tarOf([{ path: 'a', data: 'b' }])).subarray(0, 30), /unexpected end of file/],
    ];
    for (const [what, input, expect] of cases) {
      tried++;
      const beforeState = await storeState();
      const r = await d.berth(['import', '-', `hostile/import:${tried}`], { input, timeoutMs: 120_000 });
      if (expect === 'ok') assert.equal(r.code, 0, `${what} (import): ${r.stderr}`);
      else {
        assert.equal(r.code, 1, `${what} (import) should fail`);
        assert.match(r.stderr, expect, `${what} (import)`);
        const after = await storeState();
        assert.deepEqual(after.images, beforeState.images, `${what} (import) made no image`);
        assert.deepEqual(after.layers, beforeState.layers, `${what} (import) left no layer`);
      }
      // A failed import may leave its blob (as a failed pull leaves its downloads); a repair takes it, then all is clean.
      const rep = await d.berth(['system', 'check', '--repair']);
      assert.equal(rep.code, 0, `${what} (import): ${rep.stdout}${rep.stderr}`);
      await assertClean(`${what} (import)`);
    }
  });

  describe('pulled from a real registry', () => {
    const pushLayerImage = async (repo: string, tag: string, layer: Buffer, opts: { diffId?: string; declaredSize?: number; configBytes?: Buffer } = {}) => {
      const config = opts.configBytes ?? Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [opts.diffId ?? sha(layer)] } }));
      const c = await pushBytes(client, reg.host, repo, config);
      const l = await pushBytes(client, reg.host, repo, layer);
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: opts.declaredSize ?? layer.length }],
      }));
      await client.putManifest(reg.host, repo, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
      return { config: c.digest, layer: l.digest, manifest };
    };
    const pull = async (what: string, ref: string, expect: Expect) => {
      tried++;
      const beforeState = await storeState();
      const r = await d.berth(['pull', ref], { timeoutMs: 120_000 });
      if (expect === 'ok') assert.equal(r.code, 0, `${what} (pull): ${r.stderr}`);
      else {
        assert.equal(r.code, 1, `${what} (pull) should fail: ${r.stdout}`);
        assert.match(r.stderr, expect, `${what} (pull)`);
        assert.deepEqual((await storeState()).images, beforeState.images, `${what} (pull) made no image`);
      }
      const rep = await d.berth(['system', 'check', '--repair']);
      assert.equal(rep.code, 0, `${what} (pull): ${rep.stdout}${rep.stderr}`);
      await assertClean(`${what} (pull)`);
    };

    test('hostile layers, a bomb, and digests or sizes that do not match', async () => {
      const escape = gzipSync(tarOf([{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/f', data: 'x', mode: 0o4755 }, { path: 'out/.wh..wh..opq' }]));
      await pushLayerImage('hostile/escape', '1', escape, { diffId: sha(tarOf([{ path: 'out', type: 'SymbolicLink', linkpath: canary }, { path: 'out/f', data: 'x', mode: 0o4755 }, { path: 'out/.wh..wh..opq' }])) });
      await pull('symlink out with a setuid file and an opaque marker through it', `${reg.host}/hostile/escape:1`, 'ok');

      const dotdot = tarOf([{ path: '../../evil', data: 'x' }]);
      await pushLayerImage('hostile/dotdot', '1', gzipSync(dotdot), { diffId: sha(dotdot) });
      await pull('../ path', `${reg.host}/hostile/dotdot:1`, /refused layer entries/);

      const bomb = await zeroBomb(1 << 30);
      await pushLayerImage('hostile/bomb', '1', bomb.gz, { diffId: bomb.diffId });
      await pull('a gzip bomb', `${reg.host}/hostile/bomb:1`, /decompression bomb/);

      const plain = tarOf([{ path: 'ok.txt', data: 'fine' }]);
      const gz = gzipSync(plain);
      const lie = Buffer.from(gz); lie.writeUInt32LE(99, lie.length - 4);
      await pushLayerImage('hostile/isize', '1', lie, { diffId: sha(plain) });
      await pull('gzip whose size trailer lies', `${reg.host}/hostile/isize:1`, /lies about its content/);

      // The registry serves what its storage holds: a blob changed there no longer matches its digest.
      const tampered = await pushLayerImage('hostile/layer-digest', '1', gzipSync(tarOf([{ path: 'a', data: 'layer digest' }])));
      const blob = readFileSync(reg.blobDataPath(tampered.layer));
      blob[blob.length - 9] ^= 0xff;
      writeFileSync(reg.blobDataPath(tampered.layer), blob);
      await pull('layer blob not matching its digest', `${reg.host}/hostile/layer-digest:1`, /digest mismatch|failed to verify/);

      const cfg = await pushLayerImage('hostile/config-digest', '1', gzipSync(tarOf([{ path: 'a', data: 'config digest' }])));
      const cb = readFileSync(reg.blobDataPath(cfg.config));
      writeFileSync(reg.blobDataPath(cfg.config), Buffer.from(cb.toString().replace('/bin/sh', '/bin/xx')));
      await pull('config blob not matching its digest', `${reg.host}/hostile/config-digest:1`, /digest mismatch|failed to verify/);

      // A manifest that declares a smaller layer than the registry sends: cut off at the declared size.
      const big = gzipSync(tarOf([{ path: 'big', data: Buffer.alloc(200_000, 7) }]));
      await pushLayerImage('hostile/size', '1', big, { declaredSize: 100, diffId: sha(tarOf([{ path: 'big', data: Buffer.alloc(200_000, 7) }])) })
        .then(() => pull('layer larger than its declared size', `${reg.host}/hostile/size:1`, /larger than the 100 bytes its manifest declares|size/),
          (e: Error) => { tried++; assert.match(e.message, /size|invalid/i, 'the registry itself refused the lying manifest'); });
    });

    test('a manifest naming a blob of another repository', async () => {
      // Pushed to repo A; its manifest is then linked into repo B in the registry's storage, without B's layer links,
      // as a registry that forgot to check would hold it. B's blobs are unknown to the registry, and the pull says so.
      const layer = gzipSync(tarOf([{ path: 'secret', data: 'of repository A' }]));
      const a = await pushLayerImage('hostile/repo-a', '1', layer, { diffId: sha(tarOf([{ path: 'secret', data: 'of repository A' }])) });
      const repos = join(reg.storageDir, 'docker/registry/v2/repositories/hostile');
      mkdirSync(join(repos, 'repo-b'), { recursive: true });
      cpSync(join(repos, 'repo-a', '_manifests'), join(repos, 'repo-b', '_manifests'), { recursive: true });
      const m = await fetch(`${reg.url}/v2/hostile/repo-b/manifests/1`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(m.status, 200, 'the registry serves the manifest in repo B');
      assert.equal(sha(Buffer.from(await m.arrayBuffer())), sha(a.manifest));
      await pull('manifest naming another repository\'s blob', `${reg.host}/hostile/repo-b:1`, /blob unknown|not found|404/i);
      assert.equal(existsSync(join(d.dataRoot, 'image/blobs/sha256', a.layer.slice(7))), false, 'the other repository\'s layer was not fetched');
    });
  });

  test('build contexts: a symlink out of the context is copied as a link, never followed', async () => {
    const ctx = join(files, 'ctx');
    mkdirSync(ctx);
    symlinkSync(canary, join(ctx, 'out'));
    symlinkSync('../../../../../../../..' + canary, join(ctx, 'up'));
    const tarCtx = (dockerfile: string) => {
      writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
      return execFileSync('tar', ['-C', ctx, '-c', '.']);
    };
    const cases: [string, string, Expect][] = [
      ['COPY of a file through a symlink out', 'FROM busybox\nCOPY out/f /stolen\n', /file not found in build context/],
      ['COPY of a file through a relative symlink up', 'FROM busybox\nCOPY up/f /stolen\n', /file not found in build context/],
      ['COPY of a glob through a symlink out', 'FROM busybox\nCOPY out/* /stolen/\n', /file not found in build context/],
      ['COPY of the symlink itself', 'FROM busybox\nCOPY out /link\nRUN test -L /link && ! test -e /link/f\n', 'ok'],
      ['ADD of a file through a symlink out', 'FROM busybox\nADD out/f /stolen\n', /file not found in build context/],
    ];
    for (const [what, dockerfile, expect] of cases) {
      tried++;
      const r = await buildApi(d.socket, `hostile/build:${tried}`, tarCtx(dockerfile));
      if (expect === 'ok') assert.doesNotMatch(r.body, /"error/, `${what}: ${r.body}`);
      else { assert.match(r.body, /"error/, `${what} should fail`); assert.match(r.body, expect, what); }
      await assertClean(`build: ${what}`);
    }
    // A context tar with entries that climb out, or write through a symlink it made.
    for (const [what, entries] of [
      ['context with a ../ entry', [{ path: 'Dockerfile', data: 'FROM busybox\n' }, { path: '../../ctx-evil', data: 'x' }]],
      ['context writing through its own symlink', [{ path: 'Dockerfile', data: 'FROM busybox\n' }, { path: 'l', type: 'SymbolicLink', linkpath: canary }, { path: 'l/ctx-evil', data: 'x' }]],
    ] as [string, Entry[]][]) {
      tried++;
      const r = await buildApi(d.socket, `hostile/build:${tried}`, tarOf(entries));
      assert.match(r.body, /the build context is not a valid tar archive/, `${what}: ${r.body}`);
      await assertClean(`build: ${what}`);
    }
    // COPY --from an image whose layer holds an absolute symlink: followed inside that image, never on the host.
    const linkImg = await viaLoad('image with an absolute symlink out', tarOf([{ path: 'lnk', type: 'SymbolicLink', linkpath: canary }, { path: 'lnk2', type: 'SymbolicLink', linkpath: '/' }]), 'ok');
    for (const [what, src] of [['COPY --from through an absolute symlink', `/lnk/f`], ['COPY --from through a symlink to /', `/lnk2${canary}/f`]]) {
      tried++;
      const r = await buildApi(d.socket, `hostile/build:${tried}`, tarCtx(`FROM busybox\nCOPY --from=${linkImg} ${src} /stolen\n`));
      if (!/"error/.test(r.body)) {
        const cat = await d.berth(['run', '--rm', `hostile/build:${tried}`, 'cat', '/stolen']);
        assert.notEqual(cat.stdout, 'canary\n', `${what}: the host's file must not end up in the image`);
      }
      assert.match(r.body, /file not found/, `${what}: ${r.body}`);
      await assertClean(`build: ${what}`);
    }
  });

  test('cp into and out of a container whose files point at the host', async () => {
    const name = 'hostile-cp';
    const r = await d.berth(['run', '-d', '--name', name, 'busybox', 'sh', '-c', `ln -s ${canary} /out; ln -s ../../../../../../..${canary} /up; mkdir -p ${canary}; sleep 1000`]);
    assert.equal(r.code, 0, r.stderr);
    containers.push(r.stdout.trim());
    await new Promise((res) => setTimeout(res, 300));
    const src = join(files, 'cp-in.txt');
    writeFileSync(src, 'from the host\n');
    const cases: [string, string[], Expect][] = [
      ['cp a file into a symlink out', ['cp', src, `${name}:/out/`], 'ok'],
      ['cp a file onto a path through a relative symlink up', ['cp', src, `${name}:/up/g`], 'ok'],
      ['cp out a host file through a symlink', ['cp', `${name}:/out/f`, join(files, 'stolen')], /Could not find the file|No such/],
    ];
    for (const [what, args, expect] of cases) {
      tried++;
      const c = await d.berth(args);
      if (expect === 'ok') assert.equal(c.code, 0, `${what}: ${c.stderr}`);
      else { assert.notEqual(c.code, 0, what); assert.match(c.stderr, expect, what); }
      await assertClean(`cp: ${what}`);
    }
    assert.equal(existsSync(join(files, 'stolen')), false);
    // What went in stayed in the container, under its own /out target.
    assert.equal((await d.berth(['exec', name, 'cat', `${canary}/cp-in.txt`, `${canary}/g`])).stdout, 'from the host\nfrom the host\n');
    // Hostile archives sent to cp: names that climb out, links out, writes through the container's symlinks.
    for (const [what, entries] of [
      ['../ entry', [{ path: '../../../cp-evil', data: 'x' }]],
      ['absolute entry', [{ path: `${canary}/cp-abs`, data: 'x' }]],
      ['entry through the container\'s symlink', [{ path: 'out/cp-through', data: 'x' }]],
      ['hard link up and out', [{ path: 'h', type: 'Link', linkpath: '../../../../etc/passwd' }]],
      ['hard link through the container\'s symlink', [{ path: 'h2', type: 'Link', linkpath: 'out/f' }]],
      ['symlink then a file through it', [{ path: 'l2', type: 'SymbolicLink', linkpath: canary }, { path: 'l2/cp-chain', data: 'x' }]],
    ] as [string, Entry[]][]) {
      tried++;
      await d.berth(['cp', '-', `${name}:/`], { input: tarOf(entries) });
      await assertClean(`cp archive: ${what}`);
    }
    assert.equal((await d.berth(['rm', '-f', name])).code, 0);
    await assertClean('cp: container removed');
  });
});
