/**
 * `push -a` and `pull -a` through the real distribution registry, with berth's CLI and the docker
 * CLI: every local tag of a repository goes up, every tag the registry lists comes down into an
 * empty daemon, the refusals and failures read as docker's, and a pull that fails part way leaves
 * the tags it finished and nothing half-written.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type Result, type TestDaemon } from './harness.js';
import { startRegistry, type TestRegistry } from './registry-fixture.js';

/** Each daemon in its own directory; the harness names its bridge (bt-bpl…) and its /20 after it. */
const daemon = (busybox = false) => startDaemon({ busybox, dir: mkdtempSync('/tmp/bt-bpl') });

const lines = (r: Result) => r.stdout.split('\n').filter(Boolean);
const count = (r: Result, re: RegExp) => lines(r).filter((l) => re.test(l)).length;

async function tagsInRegistry(reg: TestRegistry, repo: string): Promise<string[] | number> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  if (!res.ok) { await res.arrayBuffer(); return res.status; }
  return ((await res.json()) as { tags: string[] }).tags;
}

/** Repository:tag of every tagged image, sorted. */
async function localTags(d: TestDaemon): Promise<string[]> {
  return lines(await d.berth(['images', '--format', '{{.Repository}}:{{.Tag}}'])).filter((l) => !l.endsWith(':<none>')).sort();
}

/** What an interrupted download or unpack would leave: temporary blobs, half-unpacked layer directories. */
function halfWritten(d: TestDaemon): string[] {
  const tmp = join(d.dataRoot, 'image', 'blobs', 'tmp');
  const layers = join(d.dataRoot, 'image', 'layers');
  return [
    ...(existsSync(tmp) ? readdirSync(tmp).map((n) => `blobs/tmp/${n}`) : []),
    ...(existsSync(layers) ? readdirSync(layers).filter((n) => n.includes('.tmp-')).map((n) => `layers/${n}`) : []),
  ];
}

describe('push -a and pull -a', () => {
  let reg: TestRegistry;
  let source: TestDaemon;
  let fresh: TestDaemon;
  let viaDocker: TestDaemon;
  /** A second image, so the repository's tags are not all the same one. */
  let other: string;
  before(async () => {
    [reg, source, fresh, viaDocker] = await Promise.all([startRegistry(), daemon(true), daemon(), daemon()]);
    const root = join(source.dir, 'rootfs');
    mkdirSync(root);
    writeFileSync(join(root, 'hello.txt'), 'a second image\n');
    execFileSync('tar', ['-C', root, '-cf', join(source.dir, 'rootfs.tar'), '.']);
    const imported = await source.berth(['import', join(source.dir, 'rootfs.tar'), 'second:1']);
    assert.equal(imported.code, 0, imported.stderr);
    other = imported.stdout.trim();
  });
  after(async () => {
    await Promise.all([teardown(source), teardown(fresh), teardown(viaDocker), reg?.stop()]);
  });

  test('push -a pushes every local tag of the repository, in tag order, under one "refers to" line', async () => {
    const repo = `${reg.host}/all/bb`;
    for (const [image, ref] of [['busybox', `${repo}:1`], [other, `${repo}:2`], ['busybox', `${reg.host}/all/bbx:1`]]) {
      assert.equal((await source.berth(['tag', image!, ref!])).code, 0);
    }
    const push = await source.berth(['push', '-a', repo]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal(lines(push)[0], `The push refers to repository [${repo}]`);
    assert.equal(count(push, /^The push refers to repository/), 1);
    assert.doesNotMatch(push.stdout, /Using default tag/);
    const digests = lines(push).filter((l) => /^\w+: digest: sha256:[a-f0-9]{64} size: \d+$/.test(l)).map((l) => l.split(':')[0]);
    assert.deepEqual(digests, ['1', '2']);
    assert.deepEqual((await tagsInRegistry(reg, 'all/bb') as string[]).sort(), ['1', '2']);
    assert.equal(await tagsInRegistry(reg, 'all/bbx'), 404, 'a repository whose name starts the same is not pushed');
  });

  test('pull -a into an empty daemon brings every tag, the same images; again, it is up to date', async () => {
    const repo = `${reg.host}/all/bb`;
    const pull = await fresh.berth(['pull', '-a', repo]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(count(pull, /^1: Pulling from all\/bb$/), 1);
    assert.equal(count(pull, /^2: Pulling from all\/bb$/), 1);
    assert.equal(count(pull, /^Digest: sha256:[a-f0-9]{64}$/), 2);
    assert.deepEqual(lines(pull).filter((l) => l.startsWith('Status: ')), [`Status: Downloaded newer image for ${repo}`]);
    assert.equal(lines(pull).at(-1), repo, 'the last line names the repository, without a tag');
    assert.doesNotMatch(pull.stdout, /Using default tag/);
    assert.deepEqual(await localTags(fresh), [`${repo}:1`, `${repo}:2`]);
    const id = (d: TestDaemon, r: string) => d.berth(['inspect', '-f', '{{.Id}}', r]).then((x) => x.stdout);
    assert.equal(await id(fresh, `${repo}:1`), await id(source, 'busybox'));
    assert.equal(await id(fresh, `${repo}:2`), await id(source, other));
    const again = await fresh.berth(['pull', '-a', repo]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(lines(again).filter((l) => l.startsWith('Status: ')), [`Status: Image is up to date for ${repo}`]);
    // The daemon logged one pull event for the repository, as dockerd does.
    const events = await fresh.berth(['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'event=pull', '--format', '{{.Actor.ID}}']);
    assert.deepEqual(lines(events), [repo, repo]);
  });

  test('the docker CLI: push -a and pull -a against berth\'s socket', { skip: !hasDocker }, async () => {
    const repo = `${reg.host}/dk/bb`;
    assert.equal((await source.docker(['tag', 'busybox', `${repo}:a`])).code, 0);
    assert.equal((await source.docker(['tag', other, `${repo}:b`])).code, 0);
    const push = await source.docker(['push', '-a', repo]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal(lines(push)[0], `The push refers to repository [${repo}]`);
    assert.match(push.stdout, /^a: digest: sha256:[a-f0-9]{64} size: \d+$/m);
    assert.match(push.stdout, /^b: digest: sha256:[a-f0-9]{64} size: \d+$/m);
    const pull = await viaDocker.docker(['pull', '-a', repo]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /^a: Pulling from dk\/bb$/m);
    assert.match(pull.stdout, /^b: Pulling from dk\/bb$/m);
    assert.deepEqual(lines(pull).filter((l) => l.startsWith('Status: ')), [`Status: Downloaded newer image for ${repo}`]);
    assert.equal(lines(pull).at(-1), repo);
    const listed = lines(await viaDocker.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).sort();
    assert.deepEqual(listed, [`${repo}:a`, `${repo}:b`]);
  });

  test('push without a tag is :latest, said out loud; a tag not here fails after the "refers to" line, as with docker', async () => {
    const repo = `${reg.host}/all/bb`;
    const berth = await source.berth(['push', repo]);
    assert.deepEqual(berth, {
      code: 1,
      stdout: `Using default tag: latest\nThe push refers to repository [${repo}]\n`,
      stderr: `tag does not exist: ${repo}:latest\n`,
    });
    if (hasDocker) assert.deepEqual(await source.docker(['push', repo]), berth);
    // -q says nothing of the default, and names what it pushed.
    const quiet = await source.berth(['push', '-q', `${repo}:1`]);
    assert.deepEqual(quiet, { code: 0, stdout: `${repo}:1\n`, stderr: '' });
  });

  test('refusals in docker\'s words: a tag with -a, a repository the registry does not know, nothing here to push', async () => {
    const clis: [string, (d: TestDaemon, a: string[]) => Promise<Result>][] = [['berth', (d, a) => d.berth(a)]];
    if (hasDocker) clis.push(['docker', (d, a) => d.docker(a)]);
    for (const [cli, run] of clis) {
      for (const verb of ['pull', 'push']) {
        assert.deepEqual(await run(source, [verb, '-a', `${reg.host}/all/bb:1`]), { code: 1, stdout: '', stderr: "tag can't be used with --all-tags/-a\n" }, `${cli} ${verb}`);
      }
      assert.deepEqual(await run(fresh, ['pull', '-a', `${reg.host}/all/nope`]), {
        code: 1, stdout: '',
        stderr: `Error response from daemon: repository ${reg.host}/all/nope not found: name unknown: repository name not known to registry\n`,
      }, cli);
      assert.deepEqual(await run(source, ['push', '-a', `${reg.host}/none/x`]), {
        code: 1, stdout: `The push refers to repository [${reg.host}/none/x]\n`, stderr: `An image does not exist locally with the tag: ${reg.host}/none/x\n`,
      }, cli);
    }
    assert.equal((await fresh.berth(['images', '-q', `${reg.host}/all/nope`])).stdout, '');
    assert.deepEqual(halfWritten(fresh), []);
  });

  test('a tag that fails part way: the tags pulled before it stay, the failed one leaves nothing half-written', async () => {
    // dockerd pulls the tags in the registry's order and stops at the first failure: the last one's only layer is spoiled.
    const order = await tagsInRegistry(reg, 'all/bb') as string[];
    const last = order.at(-1)!;
    const restore = await reg.corruptLayer('all/bb', last);
    const d = await daemon();
    try {
      const r = await d.berth(['pull', '-a', `${reg.host}/all/bb`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^failed to verify blob sha256:[a-f0-9]{64}: digest mismatch/, 'inside the stream, so not an "Error response from daemon"');
      assert.match(r.stdout, new RegExp(`^${last}: Pulling from all/bb$`, 'm'));
      assert.doesNotMatch(r.stdout, /^Status: /m);
      assert.deepEqual(await localTags(d), order.slice(0, -1).map((t) => `${reg.host}/all/bb:${t}`));
      assert.deepEqual(halfWritten(d), []);
      const check = await d.berth(['system', 'check']);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      restore();
      const retry = await d.berth(['pull', '-a', `${reg.host}/all/bb`]);
      assert.equal(retry.code, 0, retry.stderr);
      assert.deepEqual(await localTags(d), [`${reg.host}/all/bb:1`, `${reg.host}/all/bb:2`]);
    } finally {
      restore();
      await teardown(d);
    }
  });
});
