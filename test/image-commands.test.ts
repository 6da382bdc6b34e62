/**
 * The image commands end to end: `images` with its filters and columns, `history`, docker's
 * management spellings (`image ls`, `container ls`…), `image prune [-a]` and `system df`; through
 * berth and, where it is installed, the real docker CLI against the same daemon.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { OCI_MANIFEST, RegistryClient } from '../src/registry/index.js';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';
import { startRegistry, type TestRegistry } from './registry-fixture.js';
import { pushBytes } from './registry-images.js';

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const AGE = /(Less than a second|About a minute|About an hour|\d+ (second|minute|hour|day|week|month|year)s?) ago/g;
/**
 * A table with its ages made equal and its padding squeezed: two listings taken a second apart
 * still compare. Trailing blanks go too: the docker CLI pads a row whose last cell is empty, berth
 * does not.
 */
const norm = (s: string) => s.replace(AGE, 'AGO').replace(/ +$/gm, '').replace(/ {2,}/g, '  ');
/** A table's rows (header dropped) as cells; columns are at least three spaces apart. */
const rows = (s: string) => s.trimEnd().split('\n').slice(1).map((l) => l.split(/ {3,}/));
/**
 * The same listing, rows in any order: the docker CLI walks an image's repositories in Go's map
 * order, so the rows of an image with several repositories come in no fixed order.
 */
const sameTable = (a: string, b: string, what?: string) => {
  const sorted = (s: string) => { const [head, ...rest] = norm(s).split('\n'); return [head, ...rest.sort()]; };
  assert.deepEqual(sorted(a), sorted(b), what);
};
const lines = (s: string) => s.split('\n').filter(Boolean);

describe('image commands', () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  const containers: string[] = [];
  let busyboxId: string;
  let n = 0;

  before(async () => {
    [d, reg] = await Promise.all([startDaemon({ busybox: true }), startRegistry()]);
    busyboxId = (await d.berth(['inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
  });
  after(async () => { await Promise.all([teardown(d, containers), reg?.stop()]); });

  /** A tarball of these files. */
  function tarOf(files: Record<string, string>): string {
    const dir = join(d.dir, `rootfs-${n++}`);
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    execFileSync('tar', ['-C', dir, '-cf', `${dir}.tar`, ...Object.keys(files)]);
    return `${dir}.tar`;
  }
  async function importTar(tarPath: string, ref: string): Promise<string> {
    const r = await d.berth(['import', tarPath, ref]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }
  async function create(image: string, ...args: string[]): Promise<string> {
    const r = await d.berth(['create', image, ...args]);
    assert.equal(r.code, 0, r.stderr);
    containers.push(r.stdout.trim());
    return r.stdout.trim();
  }

  let dangling: string;
  let imp: string;

  test('images --filter dangling=true: re-importing a tag leaves the old image dangling', async () => {
    dangling = await importTar(tarOf({ a: 'a\n' }), 'imp:1');
    imp = await importTar(tarOf({ b: 'bb\n' }), 'imp:1');
    assert.notEqual(dangling, imp);
    assert.equal((await d.berth(['images', '--filter', 'dangling=true', '-q'])).stdout, `${short(dangling)}\n`);
    const t = await d.berth(['images', '--filter', 'dangling=true']);
    assert.match(t.stdout, new RegExp(`^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\\n<none> +<none> +${short(dangling)} +[^\\n]+ ago +2B\\n$`));
    const tagged = lines((await d.berth(['images', '-f', 'dangling=false', '-q'])).stdout);
    assert.ok(tagged.includes(short(imp)) && tagged.includes(short(busyboxId)) && !tagged.includes(short(dangling)), tagged.join(' '));
    assert.match((await d.berth(['images'])).stdout, new RegExp(`^imp +1 +${short(imp)} `, 'm'));
    if (hasDocker) assert.equal((await d.docker(['images', '--filter', 'dangling=true', '-q'])).stdout, `${short(dangling)}\n`);
  });

  test('images --filter reference=…: only the names that match, as dockerd narrows RepoTags', async () => {
    await d.berth(['tag', 'busybox', 'other/busybox:1']);
    await d.berth(['tag', 'busybox', 'busybox:extra']);
    const names = async (...args: string[]) => {
      const r = await d.berth(['images', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return rows(r.stdout).map((c) => `${c[0]}:${c[1]}`).sort();
    };
    // busybox's image is also other/busybox:1, which busy* does not match: that row is not listed.
    assert.deepEqual(await names('--filter', 'reference=busy*'), ['busybox:extra', 'busybox:latest']);
    assert.deepEqual(await names('busybox'), ['busybox:extra', 'busybox:latest']);
    assert.deepEqual(await names('-f', 'reference=busybox:ext*'), ['busybox:extra']);
    assert.deepEqual(await names('-f', 'reference=*/busybox'), ['other/busybox:1']);
    assert.deepEqual(await names('-f', 'reference=imp', '-f', 'reference=other/*'), ['imp:1', 'other/busybox:1']);
    assert.deepEqual(await names('-f', 'reference=nothing*'), []);
    if (hasDocker) {
      const r = await d.docker(['images', '--filter', 'reference=busy*']);
      assert.equal(r.code, 0, r.stderr);
      sameTable(r.stdout, (await d.berth(['images', '--filter', 'reference=busy*'])).stdout);
    }
  });

  test('images -q: short IDs, each image once; --no-trunc gives full IDs', async () => {
    const q = lines((await d.berth(['images', '-q'])).stdout);
    assert.ok(q.every((id) => /^[0-9a-f]{12}$/.test(id)), q.join(' '));
    assert.equal(new Set(q).size, q.length, 'busybox has four tags but is listed once');
    assert.deepEqual(new Set(q), new Set([busyboxId, imp, dangling].map(short)));
    const full = lines((await d.berth(['images', '-q', '--no-trunc'])).stdout);
    assert.deepEqual(new Set(full), new Set([busyboxId, imp, dangling]));
    if (hasDocker) {
      // The docker CLI prints a line per tag; the set of IDs is the same.
      assert.deepEqual(new Set(lines((await d.docker(['images', '-q'])).stdout)), new Set(q));
    }
  });

  test('images --digests: the DIGEST column shows the repository digest a push recorded', async () => {
    const ref = `${reg.host}/test/bb:1`;
    await d.berth(['tag', 'busybox', ref]);
    const push = await d.berth(['push', ref]);
    assert.equal(push.code, 0, push.stderr);
    const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(push.stdout)?.[1];
    assert.ok(digest, push.stdout);
    const out = (await d.berth(['images', '--digests'])).stdout;
    assert.match(out, /^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$/m);
    const byName = Object.fromEntries(rows(out).map((c) => [`${c[0]}:${c[1]}`, c]));
    assert.deepEqual(byName[ref]!.slice(2, 4), [digest, short(busyboxId)]);
    assert.equal(byName['busybox:latest']![2], '<none>', 'the digest belongs to the pushed repository only');
    assert.equal(byName['<none>:<none>']![2], '<none>');
    if (hasDocker) {
      const r = await d.docker(['images', '--digests']);
      assert.equal(r.code, 0, r.stderr);
      sameTable(r.stdout, (await d.berth(['images', '--digests'])).stdout);
    }
  });

  test('history: one row per history entry, newest first, each with its own layer\'s size', async () => {
    const bb = await d.berth(['history', 'busybox']);
    assert.equal(bb.code, 0, bb.stderr);
    assert.match(bb.stdout, new RegExp(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT\\n${short(busyboxId)} +[^\\n]+ ago +1\\.\\d\\dMB +berth bootstrap busybox \\(Debian busybox-static [^)]+\\)\\n$`));
    assert.equal((await d.berth(['history', '-q', 'busybox'])).stdout, `${short(busyboxId)}\n`);

    // Two layers and an entry without one, pushed by hand so that the sizes differ.
    const layerOf = (files: Record<string, string>) => {
      const tar = execFileSync('cat', [tarOf(files)]);
      return { diffId: sha(tar), gz: gzipSync(tar) };
    };
    const big = layerOf({ big: 'x'.repeat(3000) });
    const small = layerOf({ small: 'y'.repeat(500) });
    const client = new RegistryClient({ timeoutMs: 10_000 });
    const created = '2020-01-01T00:00:00Z';
    const addBy = '/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ';
    const config = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', created, config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [big.diffId, small.diffId] },
      history: [
        { created, created_by: addBy },
        { created, created_by: '/bin/sh -c #(nop)  ENV A=1', empty_layer: true },
        { created, created_by: '/bin/sh -c echo small', comment: 'the top' },
      ],
    }));
    const blobs = await Promise.all([config, big.gz, small.gz].map((b) => pushBytes(client, reg.host, 'test/layers', b)));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs[0]!.digest, size: config.length },
      layers: [big.gz, small.gz].map((b, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: blobs[i + 1]!.digest, size: b.length })),
    }));
    await client.putManifest(reg.host, 'test/layers', '1', manifest, OCI_MANIFEST);
    const ref = `${reg.host}/test/layers:1`;
    const pull = await d.berth(['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);

    const api = await d.api('GET', `/images/${ref}/history`);
    assert.equal(api.status, 200, api.body);
    const hist = JSON.parse(api.body) as { Id: string; CreatedBy: string; Size: number; Comment: string }[];
    assert.deepEqual(hist.map((h) => [h.Id, h.Size]), [[blobs[0]!.digest, 500], ['<missing>', 0], ['<missing>', 3000]]);
    assert.equal((await d.berth(['inspect', '-f', '{{.Size}}', ref])).stdout, '3500\n', 'the image is the sum of its layers');

    const h = await d.berth(['history', ref]);
    assert.deepEqual(rows(h.stdout).map((c) => c.filter((_, i) => i !== 1)), [
      [short(blobs[0]!.digest), '/bin/sh -c echo small', '500B', 'the top'],
      ['<missing>', '/bin/sh -c #(nop)  ENV A=1', '0B'],
      ['<missing>', '/bin/sh -c #(nop) ADD file:0123456789abcdef0…', '3kB'],
    ]);
    const full = await d.berth(['history', '--no-trunc', ref]);
    assert.ok(full.stdout.includes(blobs[0]!.digest) && full.stdout.includes(addBy.trim()), full.stdout);
    if (hasDocker) {
      for (const args of [['history', 'busybox'], ['history', ref], ['history', '-q', ref]]) {
        const r = await d.docker(args);
        assert.equal(r.code, 0, r.stderr);
        sameTable(r.stdout, (await d.berth(args)).stdout, args.join(' '));
      }
    }
  });

  test('docker\'s management spellings: image ls/rm/inspect, container ls/inspect', async () => {
    for (const [a, b] of [[['image', 'ls'], ['images']], [['image', 'list', '-q'], ['images', '-q']], [['image', 'ls', '-f', 'dangling=true'], ['images', '-f', 'dangling=true']]]) {
      const x = await d.berth(a!); const y = await d.berth(b!);
      assert.equal(x.code, 0, x.stderr);
      sameTable(x.stdout, y.stdout, a!.join(' '));
    }
    const id = await create('busybox', 'true');
    const ls = await d.berth(['container', 'ls']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.doesNotMatch(ls.stdout, new RegExp(short(id)), 'a created container is not running');
    const lsa = await d.berth(['container', 'ls', '-a']);
    assert.match(lsa.stdout, new RegExp(`^${short(id)} +busybox +"true" `, 'm'));
    sameTable(lsa.stdout, (await d.berth(['ps', '-a'])).stdout);
    assert.equal((await d.berth(['container', 'ls', '-aq', '--no-trunc'])).stdout, (await d.berth(['ps', '-aq', '--no-trunc'])).stdout);

    const inspect = await d.berth(['image', 'inspect', 'busybox']);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.equal((JSON.parse(inspect.stdout) as { Id: string }[])[0]!.Id, busyboxId);
    assert.equal((await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout, `${busyboxId}\n`);
    assert.equal((await d.berth(['container', 'inspect', '-f', '{{.Id}}', id])).stdout, `${id}\n`);
    // With a type, the daemon's own "No such image/container", as docker prints it.
    const noImage = await d.berth(['image', 'inspect', 'nope']);
    assert.deepEqual([noImage.code, noImage.stdout, noImage.stderr], [1, '[]\n', 'Error response from daemon: No such image: nope\n']);
    const noContainer = await d.berth(['container', 'inspect', 'busybox']);
    assert.deepEqual([noContainer.code, noContainer.stdout, noContainer.stderr], [1, '[]\n', 'Error response from daemon: No such container: busybox\n']);
    const untyped = await d.berth(['inspect', 'nope']);
    assert.deepEqual([untyped.code, untyped.stderr], [1, 'Error: No such object: nope\n']);
    if (hasDocker) {
      for (const args of [['image', 'inspect', 'nope'], ['container', 'inspect', 'busybox']]) {
        const r = await d.docker(args);
        const b = await d.berth(args);
        assert.deepEqual([b.code, b.stdout, b.stderr], [r.code, r.stdout, r.stderr], args.join(' '));
      }
    }

    const rm = await d.berth(['image', 'rm', 'other/busybox:1']);
    assert.deepEqual([rm.code, rm.stdout], [0, 'Untagged: other/busybox:1\n']);
    const missing = await d.berth(['image', 'rm', 'other/busybox:1']);
    assert.deepEqual([missing.code, missing.stderr], [1, 'Error response from daemon: No such image: other/busybox:1\n']);
  });

  test('image prune removes only dangling images; prune -a removes unused ones and keeps what containers use', async () => {
    const layers = () => readdirSync(join(d.dataRoot, 'image/layers')).length;
    // One more dangling image, for the docker CLI to prune.
    const tarPath = tarOf({ p: 'pp\n' });
    const old = await importTar(tarPath, 'p:1');
    await importTar(tarOf({ q: 'qqq\n' }), 'p:1');
    if (hasDocker) {
      const r = await d.docker(['image', 'prune', '-f']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Deleted Images:\n(deleted: sha256:[0-9a-f]{64}\n){2}\nTotal reclaimed space: 5B\n$/);
      assert.ok(r.stdout.includes(old) && r.stdout.includes(dangling));
    } else {
      const r = await d.berth(['image', 'prune', '-f']);
      assert.match(r.stdout, /^Deleted Images:\n(deleted: sha256:[0-9a-f]{64}\n){2}\nTotal reclaimed space: 5B\n$/);
      assert.ok(r.stdout.includes(old) && r.stdout.includes(dangling));
    }
    assert.equal((await d.berth(['images', '-f', 'dangling=true', '-q'])).stdout, '');
    const before = layers();
    const again = await importTar(tarPath, 'p:1'); // p:1 again: the image it replaces dangles
    const prune = await d.berth(['image', 'prune']);
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stdout, /^Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: 4B\n$/);
    assert.equal(layers(), before, 'the layer of the pruned image went; that of p:1 came back');
    assert.equal((await d.berth(['image', 'prune'])).stdout, 'Total reclaimed space: 0B\n');

    // prune -a: busybox is used by a container (created in an earlier test), imp:1 by this one.
    await create('imp:1', '/nothing');
    // --filter: no image has this label (until is the containers' test's; images here carry fixed dates).
    assert.equal((await d.berth(['image', 'prune', '-a', '-f', '--filter', 'label=nobody=1'])).stdout, 'Total reclaimed space: 0B\n');
    const badFilter = await d.berth(['image', 'prune', '-f', '--filter', 'bogus=1']);
    assert.deepEqual([badFilter.code, badFilter.stderr], [1, "Error response from daemon: invalid filter 'bogus'\n"]);
    const all = await d.berth(['image', 'prune', '-a', '-f']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^Deleted Images:\n/);
    assert.ok(all.stdout.includes(`untagged: p:1\ndeleted: ${again}\n`), all.stdout);
    assert.ok(all.stdout.includes(`untagged: ${reg.host}/test/layers:1\n`), all.stdout);
    assert.match(all.stdout, /\n\nTotal reclaimed space: 3\.5\d*kB\n$/);
    assert.deepEqual(new Set(lines((await d.berth(['images', '-q', '--no-trunc'])).stdout)), new Set([busyboxId, imp]));
    assert.equal(layers(), 2, 'only the layers of busybox and imp:1 are left');
    assert.equal((await d.berth(['image', 'prune', '-a', '-f'])).stdout, 'Total reclaimed space: 0B\n');
    if (hasDocker) assert.equal((await d.docker(['image', 'prune', '-a', '-f'])).stdout, 'Total reclaimed space: 0B\n');
  });

  test('system df: totals, active counts and what is reclaimable, as the docker CLI prints them', async () => {
    // Two images on one layer (the same tarball twice), neither used; a running container.
    const tarPath = tarOf({ s: 'sss\n' });
    await importTar(tarPath, 'spare:1');
    await importTar(tarPath, 'spare:2');
    const run = await d.berth(['run', '-d', 'busybox', 'sleep', '60']);
    assert.equal(run.code, 0, run.stderr);
    containers.push(run.stdout.trim());

    const api = await d.api('GET', '/system/df');
    const df = JSON.parse(api.body) as {
      LayersSize: number;
      Images: { Id: string; RepoTags: string[]; Size: number; SharedSize: number; Containers: number }[];
      Containers: { Id: string; State: string; SizeRw: number }[];
    };
    const byTag = (t: string) => df.Images.find((i) => i.RepoTags.includes(t))!;
    assert.deepEqual([byTag('spare:1').SharedSize, byTag('spare:2').SharedSize, byTag('busybox:latest').SharedSize, byTag('imp:1').SharedSize], [4, 4, 0, 0]);
    assert.deepEqual([byTag('busybox:latest').Containers, byTag('imp:1').Containers, byTag('spare:1').Containers], [2, 1, 0]);
    assert.equal(df.LayersSize, byTag('busybox:latest').Size + 3 + 4, 'the shared layer is counted once');
    assert.equal(df.Containers.length, 3);

    const out = await d.berth(['system', 'df']);
    assert.equal(out.code, 0, out.stderr);
    const hs = (b: number) => { let v = b; let i = 0; while (v >= 1000) { v /= 1000; i++; } return `${Number(v.toPrecision(4))}${['B', 'kB', 'MB', 'GB'][i]}`; };
    const rw = df.Containers.reduce((s, c) => s + c.SizeRw, 0);
    const stopped = df.Containers.filter((c) => c.State !== 'running').reduce((s, c) => s + c.SizeRw, 0);
    assert.deepEqual(rows(out.stdout), [
      // Images in use hold busybox's and imp:1's layers; the spares' shared layer (4 B) can go.
      ['Images', '4', '2', hs(df.LayersSize), '4B (0%)'],
      ['Containers', '3', '1', hs(rw), `${hs(stopped)}${rw ? ` (${Math.floor((stopped * 100) / rw)}%)` : ''}`],
      ['Local Volumes', '0', '0', '0B', '0B'],
      ['Build Cache', '0', '0', '0B', '0B'],
    ]);
    assert.match(out.stdout, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\n/);
    assert.match(hs(df.LayersSize), /^\d\.\d{3}MB$/, 'four significant digits, as units.HumanSize');
    if (hasDocker) {
      const r = await d.docker(['system', 'df']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, out.stdout);
    }
  });
});
