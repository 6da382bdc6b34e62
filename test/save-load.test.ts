/**
 * save, load and export against independent tools: skopeo reads what berth
 * saves and writes what berth loads, the docker CLI drives the same
 * endpoints, and damaged or hostile archives change nothing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { Header } from 'tar';
import { BERTH, DOCKER, exec, hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

const SKOPEO = '/usr/bin/skopeo';
const hasSkopeo = existsSync(SKOPEO);
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Entry { path: string; data?: Buffer | string; type?: 'File' | 'Directory' | 'SymbolicLink'; linkpath?: string }

/** A tar made by hand, so a test can put in it what no honest tool would. */
function tarOf(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? 'File';
    const h = new Header({ path: e.path, type, size: type === 'File' ? data.length : 0, mode: type === 'Directory' ? 0o755 : 0o644, mtime: new Date(0), linkpath: e.linkpath });
    h.encode();
    parts.push(h.block!);
    if (type === 'File') parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A docker-archive in the pre-25 shape (`<id>.json`, `<n>/layer.tar`) with the given layer tars. */
function dockerArchive(layers: Buffer[], tag: string, extra: Entry[] = []): Buffer {
  const config = JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) },
  });
  const configName = `${sha(config).slice(7)}.json`;
  return tarOf([
    { path: configName, data: config },
    ...layers.map((l, i) => ({ path: `${i}/layer.tar`, data: l })),
    { path: 'manifest.json', data: JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: layers.map((_, i) => `${i}/layer.tar`) }]) },
    ...extra,
  ]);
}

describe('save, load and export', () => {
  let d: TestDaemon;
  let files: string;
  let busyboxId: string;
  const containers: string[] = [];
  before(async () => {
    d = await startDaemon({ busybox: true });
    files = join(d.dir, 'files');
    mkdirSync(files);
    busyboxId = (await d.berth(['inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
  });
  after(() => teardown(d, containers));

  const file = (name: string) => join(files, name);
  const skopeo = (args: string[]) => exec(SKOPEO, ['--insecure-policy', ...args]);
  /** What a failed load must not change: the images and tags, the blobs, the layers, and no staging left. */
  const storeState = async () => ({
    images: (JSON.parse((await d.api('GET', '/images/json')).body) as { Id: string; RepoTags: string[] }[]).map((i) => `${i.Id} ${i.RepoTags}`).sort(),
    blobs: readdirSync(join(d.dataRoot, 'image/blobs/sha256')).sort(),
    layers: readdirSync(join(d.dataRoot, 'image/layers')).sort(),
    tmp: readdirSync(join(d.dataRoot, 'image/blobs/tmp')),
  });

  test('save, rmi, load gives back the same image byte for byte, and it runs', async () => {
    const s = await d.berth(['save', '-o', file('busybox.tar'), 'busybox']);
    assert.equal(s.code, 0, s.stderr);
    const names = execFileSync('tar', ['-tf', file('busybox.tar')]).toString().split('\n').filter(Boolean);
    assert.deepEqual(names.filter((n) => !n.startsWith('blobs/')), ['index.json', 'manifest.json', 'oci-layout', 'repositories']);
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', file('busybox.tar'), 'manifest.json']).toString());
    assert.deepEqual(manifest[0].RepoTags, ['busybox:latest']);
    assert.equal(manifest[0].Config, `blobs/sha256/${busyboxId.slice(7)}`);
    const index = JSON.parse(execFileSync('tar', ['-xOf', file('busybox.tar'), 'index.json']).toString());
    assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'docker.io/library/busybox:latest');

    assert.equal((await d.berth(['rmi', 'busybox'])).code, 0);
    const l = await d.berth(['load', '-i', file('busybox.tar')]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, 'Loaded image: busybox:latest\n');
    assert.equal((await d.berth(['inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim(), busyboxId);
    // Config, manifest and layer blobs all the same: saving again gives the same bytes.
    assert.equal((await d.berth(['save', '-o', file('again.tar'), 'busybox'])).code, 0);
    assert.ok(readFileSync(file('again.tar')).equals(readFileSync(file('busybox.tar'))), 'the second save is byte-identical');
    assert.equal((await d.berth(['run', '--rm', 'busybox', 'echo', 'loaded'])).stdout, 'loaded\n');
    // Loading what is already there only tags it again; stdin works as -i does.
    const again = await d.berth(['load'], { input: readFileSync(file('busybox.tar')) });
    assert.equal(again.stdout, 'Loaded image: busybox:latest\n');
    assert.deepEqual((await storeState()).tmp, []);
  });

  test('skopeo reads berth\'s save output as a docker-archive and as an OCI archive', { skip: !hasSkopeo }, async () => {
    const raw = await skopeo(['inspect', '--raw', `docker-archive:${file('busybox.tar')}`]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(JSON.parse(raw.stdout).config.digest, busyboxId, 'skopeo sees the same config digest');
    const info = JSON.parse((await skopeo(['inspect', `docker-archive:${file('busybox.tar')}`])).stdout);
    const diffIds = JSON.parse((await d.berth(['inspect', '-f', '{{json .RootFS.Layers}}', 'busybox'])).stdout);
    assert.deepEqual(info.Layers, diffIds, 'skopeo decompresses the gzip layers and finds the diff IDs');
    const oci = await skopeo(['inspect', '--raw', `oci-archive:${file('busybox.tar')}`]);
    assert.equal(oci.code, 0, oci.stderr);
    const index = JSON.parse(execFileSync('tar', ['-xOf', file('busybox.tar'), 'index.json']).toString());
    assert.equal(sha(oci.stdout), index.manifests[0].digest, 'the OCI side is the image\'s own manifest');
    assert.equal(JSON.parse(oci.stdout).config.digest, busyboxId);
  });

  test('an OCI layout written by skopeo copy loads and runs, named or not', { skip: !hasSkopeo }, async () => {
    const named = await skopeo(['copy', `docker-archive:${file('busybox.tar')}`, `oci-archive:${file('oci.tar')}:localhost/skopeo/busybox:copied`]);
    assert.equal(named.code, 0, named.stderr);
    const l = await d.berth(['load', '-i', file('oci.tar')]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, 'Loaded image: localhost/skopeo/busybox:copied\n');
    assert.equal((await d.berth(['run', '--rm', 'localhost/skopeo/busybox:copied', 'echo', 'from skopeo'])).stdout, 'from skopeo\n');

    // `oci:DIR:TAG` names only a tag, which names no repository: the image loads untagged, by ID.
    assert.equal((await skopeo(['copy', `docker-archive:${file('busybox.tar')}`, `oci:${file('ocidir')}:bare`])).code, 0);
    execFileSync('tar', ['-C', file('ocidir'), '-cf', file('ocidir.tar'), '.']);
    const bare = await d.berth(['load', '-i', file('ocidir.tar')]);
    assert.equal(bare.code, 0, bare.stderr);
    const id = /^Loaded image ID: (sha256:[a-f0-9]{64})\n$/.exec(bare.stdout)?.[1];
    assert.ok(id, bare.stdout);
    assert.equal((await d.berth(['run', '--rm', id, 'echo', 'by id'])).stdout, 'by id\n');
    assert.equal((await d.berth(['rmi', 'localhost/skopeo/busybox:copied'])).code, 0);
  });

  test('an OCI layout loads this platform\'s images and skips the others', async () => {
    const dir = file('layout');
    mkdirSync(dir);
    execFileSync('tar', ['-C', dir, '-xf', file('busybox.tar')]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const amd64 = { ...index.manifests[0], annotations: { 'org.opencontainers.image.ref.name': 'localhost/multi:1' } };
    const arm64 = { ...amd64, digest: sha('not here'), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } };
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ ...index, manifests: [arm64, amd64] }));
    execFileSync('tar', ['-C', dir, '-cf', file('layout.tar'), 'index.json', 'oci-layout', 'blobs']);
    const l = await d.berth(['load', '-i', file('layout.tar')]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, 'Loaded image: localhost/multi:1\n');
    assert.equal((await d.berth(['inspect', '-f', '{{.Id}}', 'localhost/multi:1'])).stdout.trim(), busyboxId);
    assert.equal((await d.berth(['rmi', 'localhost/multi:1'])).code, 0);
  });

  test('a docker-archive with plain layers, as skopeo writes it, loads and runs', { skip: !hasSkopeo }, async () => {
    const c = await skopeo(['copy', `docker-archive:${file('busybox.tar')}`, `docker-archive:${file('plain.tar')}:plain/busybox:1`]);
    assert.equal(c.code, 0, c.stderr);
    // The same image (same config): only when it is gone does the load make it from these layers.
    assert.equal((await d.berth(['rmi', 'busybox'])).code, 0);
    const l = await d.berth(['load', '-i', file('plain.tar')]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, 'Loaded image: plain/busybox:1\n');
    assert.equal((await d.berth(['run', '--rm', 'plain/busybox:1', 'echo', 'plain'])).stdout, 'plain\n');
    // berth wrote the manifest: the layer is the archive's plain tar, named as such.
    const saved = await d.berth(['save', '-o', file('plain-again.tar'), 'plain/busybox:1']);
    assert.equal(saved.code, 0, saved.stderr);
    const raw = JSON.parse((await skopeo(['inspect', '--raw', `oci-archive:${file('plain-again.tar')}`])).stdout);
    assert.equal(raw.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(raw.config.digest, busyboxId);
    assert.equal((await d.berth(['rmi', 'plain/busybox:1'])).code, 0);
    assert.equal((await d.berth(['load', '-i', file('busybox.tar')])).code, 0);
  });

  test('the docker CLI saves and loads through berth', { skip: !hasDocker }, async () => {
    const s = await d.docker(['save', '-o', file('docker.tar'), 'busybox']);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(readFileSync(file('docker.tar')).equals(readFileSync(file('busybox.tar'))), 'docker save gets what berth save gets');
    assert.equal((await d.docker(['rmi', 'busybox'])).code, 0);
    const l = await d.docker(['load', '-i', file('docker.tar')]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, 'Loaded image: busybox:latest\n');
    assert.equal((await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim(), busyboxId);
    const piped = await exec('sh', ['-c', `${DOCKER} save busybox | ${DOCKER} load`], { env: { ...process.env, DOCKER_HOST: d.host } });
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /Loaded image: busybox:latest/);
    const bad = await d.docker(['load'], { input: 'not an archive' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid image archive/);
  });

  test('save takes several names: a repository saves all its tags, an ID saves the image untagged', async () => {
    assert.equal((await d.berth(['tag', 'busybox', 'busybox:second'])).code, 0);
    assert.equal((await d.berth(['import', '-', 'mine:1'], { input: tarOf([{ path: 'hello', data: 'mine' }]) })).code, 0);
    const mineId = (await d.berth(['inspect', '-f', '{{.Id}}', 'mine:1'])).stdout.trim();
    assert.equal((await d.berth(['save', '-o', file('multi.tar'), 'busybox', 'mine:1', 'busybox:latest'])).code, 0);
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', file('multi.tar'), 'manifest.json']).toString());
    assert.deepEqual(manifest.map((m: { RepoTags: string[] }) => m.RepoTags), [['busybox:latest', 'busybox:second'], ['mine:1']]);
    const index = JSON.parse(execFileSync('tar', ['-xOf', file('multi.tar'), 'index.json']).toString());
    assert.deepEqual(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']), ['latest', 'second', '1']);

    assert.equal((await d.berth(['rmi', 'busybox:second', 'mine:1'])).code, 0);
    // Compressed as a whole, through stdin.
    const l = await d.berth(['load'], { input: gzipSync(readFileSync(file('multi.tar'))) });
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, 'Loaded image: busybox:latest\nLoaded image: busybox:second\nLoaded image: mine:1\n');
    assert.equal((await d.berth(['inspect', '-f', '{{.Id}}', 'mine:1'])).stdout.trim(), mineId);

    const byId = await d.berth(['save', '-o', file('byid.tar'), mineId.slice(7, 19)]);
    assert.equal(byId.code, 0, byId.stderr);
    assert.deepEqual(JSON.parse(execFileSync('tar', ['-xOf', file('byid.tar'), 'manifest.json']).toString())[0].RepoTags, null);
    assert.equal(JSON.parse(execFileSync('tar', ['-xOf', file('byid.tar'), 'index.json']).toString()).manifests[0].annotations, undefined);
    assert.equal((await d.berth(['rmi', 'busybox:second', 'mine:1'])).code, 0);
    assert.equal((await d.berth(['load', '-i', file('byid.tar')])).stdout, `Loaded image ID: ${mineId}\n`);
    assert.equal((await d.berth(['rmi', mineId])).code, 0);

    const api = await d.api('GET', '/v1.45/images/busybox/get');
    assert.equal(api.status, 200);
    assert.equal(api.headers['content-type'], 'application/x-tar');
  });

  test('save refuses a terminal, and a failed save leaves no file', async () => {
    const driver = join(import.meta.dirname, 'pty-drive.py');
    const r = await exec('python3', [driver, '24', '80', '--', BERTH, 'save', 'busybox'], { env: { ...process.env, BERTH_HOST: d.host } });
    const out = JSON.parse(r.stdout) as { output: string; code: number };
    assert.equal(out.code, 1);
    assert.match(out.output, /cowardly refusing to save to a terminal. Use the -o flag or redirect/);
    const missing = await d.berth(['save', '-o', file('missing.tar'), 'busybox', 'nope:1']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error response from daemon: No such image: nope:1\n');
    assert.deepEqual(readdirSync(files).filter((f) => f.includes('missing')), []);
  });

  test('export holds what the container wrote, stopped or running', async () => {
    const id = (await d.berth(['create', 'busybox', 'sh', '-c', 'echo written > /hello.txt; rm /bin/ls; sleep 60'])).stdout.trim();
    containers.push(id);
    assert.equal((await d.berth(['start', id])).code, 0);
    await new Promise((r) => setTimeout(r, 500));
    const live = await d.berth(['export', '-o', file('live.tar'), id]);
    assert.equal(live.code, 0, live.stderr);
    assert.equal(execFileSync('tar', ['-xOf', file('live.tar'), 'hello.txt']).toString(), 'written\n');
    assert.equal((await d.berth(['stop', '-t', '0', id])).code, 0);
    const e = await d.berth(['export', '-o', file('stopped.tar'), id]);
    assert.equal(e.code, 0, e.stderr);
    const names = execFileSync('tar', ['-tf', file('stopped.tar')]).toString().split('\n');
    assert.ok(names.includes('hello.txt') && names.includes('bin/busybox'));
    assert.ok(!names.includes('bin/ls'), 'a file the container deleted is not there');
    assert.ok(!names.some((n) => n.startsWith('./') || n.startsWith('/')), 'names as docker writes them');
    assert.equal(execFileSync('tar', ['-xOf', file('stopped.tar'), 'hello.txt']).toString(), 'written\n');
    // Through stdout, and through the docker CLI.
    const piped = await exec('sh', ['-c', `${BERTH} export ${id} | tar -xOf - hello.txt`], { env: { ...process.env, BERTH_HOST: d.host } });
    assert.equal(piped.stdout, 'written\n');
    if (hasDocker) {
      const dk = await d.docker(['export', '-o', file('docker-export.tar'), id]);
      assert.equal(dk.code, 0, dk.stderr);
      assert.equal(execFileSync('tar', ['-xOf', file('docker-export.tar'), 'hello.txt']).toString(), 'written\n');
    }
    // An export can be imported again.
    const imp = await d.berth(['import', file('stopped.tar'), 'exported:1']);
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal((await d.berth(['run', '--rm', 'exported:1', 'cat', '/hello.txt'])).stdout, 'written\n');
    assert.equal((await d.berth(['rmi', 'exported:1'])).code, 0);
    const none = await d.berth(['export', '-o', file('none.tar'), 'nope']);
    assert.equal(none.stderr, 'Error response from daemon: No such container: nope\n');
    assert.equal(existsSync(file('none.tar')), false);
  });

  test('truncated, hostile and inconsistent archives fail, name the problem and change nothing', async () => {
    const layerOk = tarOf([{ path: 'ok.txt', data: 'fine' }]);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', readFileSync(file('busybox.tar')).subarray(0, 600_000), /invalid image archive: the archive is truncated/],
      ['cut between entries', readFileSync(file('busybox.tar')).subarray(0, 1024), /neither manifest.json \(docker save\) nor index.json/],
      ['../evil entry', dockerArchive([layerOk], 'evil:1', [{ path: '../evil', data: 'x' }]), /refused entry "\.\.\/evil": path leads out of the archive/],
      ['absolute entry', dockerArchive([layerOk], 'evil:2', [{ path: '/tmp/evil', data: 'x' }]), /refused entry "\/tmp\/evil": absolute path/],
      ['symlink out', dockerArchive([layerOk], 'evil:3', [{ path: 'x', type: 'SymbolicLink', linkpath: '../../../etc/passwd' }]), /refused symlink x -> /],
      ['layer with ../evil', dockerArchive([layerOk, tarOf([{ path: '../evil', data: 'x' }])], 'evil:4'), /refused layer entries/],
      ['layer not its diff ID', Buffer.from(dockerArchive([layerOk], 'evil:5').toString('latin1').replace('fine', 'FINE'), 'latin1'), /does not match its diff ID/],
      ['missing layer', tarOf([{ path: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l.tar'] }]) }, { path: 'c.json', data: '{"rootfs":{"type":"layers","diff_ids":["' + sha('') + '"]}}' }]), /the layer l.tar is not in the archive/],
      ['not an archive', Buffer.from('hello'), /invalid image archive/],
      ['empty', Buffer.alloc(0), /the archive is empty/],
    ];
    const beforeState = await storeState();
    for (const [what, archive, message] of cases) {
      const r = await d.berth(['load'], { input: archive });
      assert.equal(r.code, 1, `${what}: ${r.stdout}`);
      assert.match(r.stderr, message, what);
      assert.deepEqual(await storeState(), beforeState, `${what} left the store as it was`);
    }
    assert.equal(existsSync(join(d.dataRoot, 'image/blobs/evil')), false);
    assert.equal(existsSync(join(d.dataRoot, 'image/evil')), false);
    // The same through the API, as docker sends it.
    const res = await d.api('POST', '/images/load?quiet=1', 'garbage');
    assert.equal(res.status, 400);
    assert.match(JSON.parse(res.body).message, /invalid image archive/);
  });
});
