/** Images made by bootstrap and import are real OCI images: verified blobs, a complete config, runnable. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { cleanup, startDaemon, type TestDaemon } from './harness.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('images', () => {
  let d: TestDaemon;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(async () => { await cleanup(d); });

  const blob = (digest: string) => readFileSync(join(d.dataRoot, 'image/blobs/sha256', digest.slice(7)));

  test('bootstrap busybox makes a complete OCI image in a verified content store', async () => {
    const [img] = JSON.parse((await d.berth(['inspect', 'busybox'])).stdout) as { Id: string }[];
    const configBytes = blob(img!.Id);
    assert.equal(sha(configBytes), img!.Id, 'the image ID is the config digest');
    const config = JSON.parse(configBytes.toString());
    assert.equal(config.architecture, 'amd64');
    assert.equal(config.os, 'linux');
    assert.deepEqual(config.config.Cmd, ['sh']);
    assert.ok(config.config.Env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'));
    assert.equal(config.history.length, 1);
    assert.match(config.history[0].comment, /busybox-static/);
    // The manifest that names this config, and its layer.
    const manifests = readdirSync(join(d.dataRoot, 'image/blobs/sha256')).map((h) => blob(`sha256:${h}`))
      .filter((b) => b.length < 4096).map((b) => { try { return JSON.parse(b.toString()); } catch { return undefined; } })
      .filter((m) => m?.config?.digest === img!.Id);
    assert.equal(manifests.length, 1);
    const m = manifests[0];
    assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.layers.length, 1);
    const layer = blob(m.layers[0].digest);
    assert.equal(sha(layer), m.layers[0].digest);
    assert.equal(layer.length, m.layers[0].size);
    assert.equal(sha(gunzipSync(layer)), config.rootfs.diff_ids[0], 'diff_id is the digest of the uncompressed layer');
    const ls = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'ls -l /bin/sh; ls -ld /tmp']);
    assert.match(ls.stdout, /\/bin\/sh -> \/bin\/busybox/);
    assert.match(ls.stdout, /^drwxrwxrwt/m);
  });

  test('import takes a plain or gzip tarball, from a file or stdin, with --change', async () => {
    const root = join(d.dir, 'rootfs');
    mkdirSync(join(root, 'bin'), { recursive: true });
    execFileSync('cp', ['/bin/busybox', join(root, 'bin/busybox')]);
    writeFileSync(join(root, 'hello.txt'), 'imported\n');
    execFileSync('ln', ['-s', 'busybox', join(root, 'bin/cat')]);
    const tarPath = join(d.dir, 'root.tar');
    execFileSync('tar', ['-C', root, '-cf', tarPath, '.']);
    execFileSync('gzip', ['-k', tarPath]);

    const a = await d.berth(['import', '-c', 'CMD ["/bin/cat", "/hello.txt"]', '-m', 'from a file', tarPath, 'mine:plain']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^sha256:[a-f0-9]{64}\n$/);
    assert.equal((await d.berth(['run', '--rm', 'mine:plain'])).stdout, 'imported\n');

    const b = await d.berth(['import', '-c', 'ENTRYPOINT ["/bin/cat"]', '-c', 'LABEL query=a=b', '-', 'mine:gz'], { input: readFileSync(`${tarPath}.gz`) });
    assert.equal(b.code, 0, b.stderr);
    // A label's value may hold `=`: the filter splits at the first one, as dockerd's.
    assert.equal((await d.berth(['images', '--filter', 'label=query=a=b', '--format', '{{.Tag}}'])).stdout, 'gz\n');
    assert.equal((await d.berth(['images', '--filter', 'label=query=a', '-q'])).stdout, '');
    assert.equal((await d.berth(['run', '--rm', 'mine:gz', '/hello.txt'])).stdout, 'imported\n');

    const hist = JSON.parse((await d.berth(['inspect', 'mine:plain'])).stdout)[0];
    assert.equal(hist.Comment, 'from a file');
    const imgs = await d.berth(['images']);
    assert.match(imgs.stdout, /^mine +plain +[a-f0-9]{12} /m);
    assert.match(imgs.stdout, /^mine +gz +[a-f0-9]{12} /m);
  });

  test('rmi untags, then deletes and collects the layer; an image in use needs -f', async () => {
    await d.berth(['tag', 'mine:plain', 'mine:other']);
    const untag = await d.berth(['rmi', 'mine:other']);
    assert.equal(untag.stdout, 'Untagged: mine:other\n');
    const used = (await d.berth(['create', 'mine:plain'])).stdout.trim();
    const busy = await d.berth(['rmi', 'mine:plain']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /container [a-f0-9]{12} is using its referenced image/);
    await d.berth(['rm', used]);
    const before = readdirSync(join(d.dataRoot, 'image/layers')).length;
    const del = await d.berth(['rmi', 'mine:plain']);
    assert.match(del.stdout, /^Untagged: mine:plain\nDeleted: sha256:[a-f0-9]{64}\n$/);
    assert.equal(readdirSync(join(d.dataRoot, 'image/layers')).length, before, 'the layer is shared with mine:gz (same diff ID)');
    assert.equal((await d.berth(['rmi', 'mine:gz'])).code, 0);
    assert.equal(readdirSync(join(d.dataRoot, 'image/layers')).length, before - 1, 'the last user gone, the layer is collected');
    const missing = await d.berth(['rmi', 'mine:plain']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error response from daemon: No such image: mine:plain\n');
  });

  test('import --platform records the platform; another OS is refused, even before a large upload ends', async () => {
    const dir = join(d.dir, 'plat');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'f'), 'x');
    writeFileSync(join(dir, 'big'), Buffer.alloc(16 * 2 ** 20));
    const tar = join(d.dir, 'plat.tar');
    execFileSync('tar', ['-C', dir, '-cf', tar, '.']);
    assert.equal((await d.berth(['import', '--platform', 'linux/arm/v7', tar, 'plat:arm'])).code, 0);
    assert.equal((await d.berth(['inspect', '-f', '{{.Os}}/{{.Architecture}}/{{.Variant}}', 'plat:arm'])).stdout, 'linux/arm/v7\n');
    assert.equal((await d.berth(['import', '--platform', 'x86_64', tar, 'plat:x86'])).code, 0);
    assert.equal((await d.berth(['inspect', '-f', '{{.Os}}/{{.Architecture}}', 'plat:x86'])).stdout, 'linux/amd64\n', 'containerd\'s alias, normalized');
    // Refused when the request arrives; the CLI still gets the answer, not a broken pipe, while its 16 MiB go up.
    const win = await d.berth(['import', '--platform', 'windows/amd64', tar, 'plat:win']);
    assert.deepEqual([win.code, win.stderr], [1, 'Error response from daemon: operating system is not supported\n']);
    assert.doesNotMatch((await d.berth(['images'])).stdout, /win/);
    // Flags the docker CLI sends only to a newer API than berth's: refused as it refuses them against berth.
    for (const [args, why] of [
      [['save', '--platform', 'linux/amd64', 'plat:arm'], '"--platform" requires API version 1.48, but the Docker daemon API version is 1.45'],
      [['images', '--tree'], '"--tree" requires API version 1.47, but the Docker daemon API version is 1.45'],
      [['start', '--checkpoint', 'c1', 'x'], '"--checkpoint" is only supported on a Docker daemon with experimental features enabled'],
    ] as [string[], string][]) {
      const r = await d.berth(args);
      assert.deepEqual([r.code, r.stderr], [1, `${why}\n`], args.join(' '));
    }
    // A container of it: dockerd's warning when no platform was asked for, its "not found" when another one was.
    const made = await d.berth(['create', 'plat:arm', '/f']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stderr, "WARNING: The requested image's platform (linux/arm/v7) does not match the detected host platform (linux/amd64) and no specific platform was requested\n");
    assert.equal((await d.berth(['rm', made.stdout.trim()])).code, 0);
    const wrong = await d.berth(['create', '--platform', 'linux/arm64', 'plat:x86', '/f']);
    assert.deepEqual([wrong.code, wrong.stderr.split('\n')[0]], [125, 'berth: Error response from daemon: image with reference plat:x86 was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64']);
    assert.equal((await d.berth(['create', '--platform', 'amd64', '--name', 'plat-ok', 'plat:x86', '/f'])).code, 0);
    assert.equal((await d.berth(['rm', 'plat-ok'])).code, 0);
    assert.equal((await d.berth(['rmi', 'plat:arm', 'plat:x86'])).code, 0);
  });

  test('a bad tarball is rejected and leaves no image', async () => {
    const r = await d.berth(['import', '-', 'broken:1'], { input: '' });
    assert.notEqual(r.code, 0);
    const imgs = await d.berth(['images', '-q']);
    assert.doesNotMatch((await d.berth(['images'])).stdout, /broken/);
    assert.ok(imgs.stdout.length > 0);
  });
});
