/**
 * Extended attributes through `cp` (both ways, `-a`, and to `-`), COPY of a build context file,
 * `commit` and `export`, driven by berth's CLI and the docker CLI. The file is a copy of the static
 * busybox named `grep` with `cap_net_raw+ep` and `user.test=hi`: a uid-1000 process running it gets
 * CAP_NET_RAW (bit 13) in CapEff only if the capability arrived, which is what a user of ping sees.
 * On the host the real getcap and getfattr read what arrived.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exec, hasDocker, startDaemon, teardown, type Result, type TestDaemon } from './harness.js';

const CAP = 'CapEff:\t0000000000002000';
const NONE = 'CapEff:\t0000000000000000';

/** A copy of busybox as `dir/grep` with the capability and the user attribute. */
async function capFile(dir: string, name = 'grep'): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const f = join(dir, name);
  copyFileSync('/bin/busybox', f);
  assert.equal((await exec('setcap', ['cap_net_raw+ep', f])).code, 0);
  assert.equal((await exec('setfattr', ['-n', 'user.test', '-v', 'hi', f])).code, 0);
  return f;
}

/** What the host's tools read of `f`: its capability (getcap's words) and its user.test. */
async function hostAttrs(f: string): Promise<{ cap: string; user: string }> {
  const cap = (await exec('getcap', [f])).stdout.trim().replace(/^\S+\s*/, '');
  const user = (await exec('getfattr', ['--only-values', '-n', 'user.test', f])).stdout;
  return { cap, user };
}

const ok = (r: Result, what: string) => assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);

describe('extended attributes through cp, build COPY, commit and export', () => {
  let d: TestDaemon;
  const seen: string[] = [];
  let n = 0;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, seen));

  /** A fresh running container of `image` for one test. */
  const container = async (image = 'busybox') => {
    const name = `xc${n++}`;
    const r = await d.berth(['run', '-d', '--name', name, image, 'sleep', '1d']);
    ok(r, 'run');
    seen.push(r.stdout.trim());
    return name;
  };
  /** CapEff of a uid-1000 process running `path` in the container. */
  const capEff = async (name: string, path: string) => {
    const r = await d.berth(['exec', '-u', '1000', name, path, 'CapEff', '/proc/self/status']);
    ok(r, 'exec');
    return r.stdout.trim();
  };
  /** The container's file, as a GNU tar `--xattrs` unpacks `cp CONTAINER:PATH -` on the host. */
  const viaStdout = async (cli: 'berth' | 'docker', name: string, path: string) => {
    const out = mkdtempSync(join(d.dir, 'out-'));
    const r = await exec('sh', ['-c', `"$0" cp "$1" - | tar --xattrs --xattrs-include='*' -xf - -C "$2"`, cli === 'berth' ? 'berth' : 'docker', `${name}:${path}`, out],
      { env: { ...process.env, PATH: `${join(import.meta.dirname, '..', 'bin')}:/usr/local/bin:${process.env.PATH}`, BERTH_HOST: d.host, DOCKER_HOST: d.host } });
    ok(r, `${cli} cp to -`);
    return join(out, path.split('/').at(-1)!);
  };

  test('cp HOST→CONTAINER keeps the capability and user.*, from berth\'s CLI and the docker CLI', async () => {
    const name = await container();
    const f = await capFile(join(d.dir, 'in'));
    ok(await d.berth(['exec', name, 'mkdir', '/opt']), 'mkdir');
    ok(await d.berth(['cp', f, `${name}:/opt/grep`]), 'berth cp');
    assert.equal(await capEff(name, '/opt/grep'), CAP);
    // The copy that came without attributes gives nothing: the check above can fail.
    ok(await d.berth(['exec', name, 'sh', '-c', 'mkdir /opt/plain && cp /opt/grep /opt/plain/grep']), 'cp inside');
    assert.equal(await capEff(name, '/opt/plain/grep'), NONE);
    assert.deepEqual(await hostAttrs(await viaStdout('berth', name, '/opt/grep')), { cap: 'cap_net_raw=ep', user: 'hi' });
    if (hasDocker) {
      // `-a` too, into a directory.
      ok(await d.docker(['cp', '-a', f, `${name}:/tmp/`]), 'docker cp');
      assert.equal(await capEff(name, '/tmp/grep'), CAP);
    }
  });

  test('cp CONTAINER→HOST and to - keep them, with and without -a', async () => {
    const name = await container();
    ok(await d.berth(['cp', await capFile(join(d.dir, 'src')), `${name}:/grep`]), 'cp in');
    const out = join(d.dir, 'back');
    mkdirSync(out);
    ok(await d.berth(['cp', `${name}:/grep`, join(out, 'berth')]), 'berth cp');
    ok(await d.berth(['cp', '-a', `${name}:/grep`, join(out, 'berth-a')]), 'berth cp -a');
    const want = { cap: 'cap_net_raw=ep', user: 'hi' };
    assert.deepEqual(await hostAttrs(join(out, 'berth')), want);
    assert.deepEqual(await hostAttrs(join(out, 'berth-a')), want);
    // A directory: the file inside keeps them.
    ok(await d.berth(['exec', name, 'sh', '-c', 'mkdir /d && cp -p /grep /d/ 2>/dev/null; true']), 'mkdir');
    ok(await d.berth(['cp', join(out, 'berth'), `${name}:/d/grep`]), 'cp in again');
    ok(await d.berth(['cp', `${name}:/d`, join(out, 'dir')]), 'cp dir');
    assert.deepEqual(await hostAttrs(join(out, 'dir', 'grep')), want);
    if (hasDocker) {
      ok(await d.docker(['cp', `${name}:/grep`, join(out, 'docker')]), 'docker cp');
      ok(await d.docker(['cp', '-a', `${name}:/grep`, join(out, 'docker-a')]), 'docker cp -a');
      assert.deepEqual(await hostAttrs(join(out, 'docker')), want);
      assert.deepEqual(await hostAttrs(join(out, 'docker-a')), want);
      assert.deepEqual(await hostAttrs(await viaStdout('docker', name, '/grep')), want);
    }
  });

  test('COPY of a context file keeps them in the layer; a new attribute is a new step, not the cache', async () => {
    const ctx = join(d.dir, 'ctx');
    mkdirSync(ctx);
    copyFileSync('/bin/busybox', join(ctx, 'grep'));
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY grep /opt/grep\n');
    ok(await d.berth(['build', '-t', 'xcp:plain', ctx]), 'build plain');
    await capFile(ctx);
    const b = await d.berth(['build', '-t', 'xcp:berth', ctx]);
    ok(b, 'build');
    assert.doesNotMatch(b.stdout, /Using cache/);
    const c = await container('xcp:berth');
    assert.equal(await capEff(c, '/opt/grep'), CAP);
    assert.deepEqual(await hostAttrs(await viaStdout('berth', c, '/opt/grep')), { cap: 'cap_net_raw=ep', user: 'hi' });
    if (hasDocker) {
      // The docker CLI's context tar carries the capability alone (moby's archive reads no other attribute).
      const db = await d.docker(['build', '-t', 'xcp:docker', ctx], { env: { DOCKER_BUILDKIT: '0' } });
      ok(db, 'docker build');
      const dc = await container('xcp:docker');
      assert.equal(await capEff(dc, '/opt/grep'), CAP);
      assert.deepEqual(await hostAttrs(await viaStdout('docker', dc, '/opt/grep')), { cap: 'cap_net_raw=ep', user: '' });
    }
  });

  test('commit and export keep them', async () => {
    const name = await container();
    ok(await d.berth(['cp', await capFile(join(d.dir, 'ce')), `${name}:/grep`]), 'cp in');
    ok(await d.berth(['commit', name, 'xcp:commit']), 'commit');
    const c = await container('xcp:commit');
    assert.equal(await capEff(c, '/grep'), CAP);
    const out = mkdtempSync(join(d.dir, 'export-'));
    const r = await exec('sh', ['-c', `"$0" export "$1" | tar --xattrs --xattrs-include='*' -xf - -C "$2" grep`, join(import.meta.dirname, '..', 'bin', 'berth'), name, out],
      { env: { ...process.env, BERTH_HOST: d.host } });
    ok(r, 'export');
    assert.deepEqual(await hostAttrs(join(out, 'grep')), { cap: 'cap_net_raw=ep', user: 'hi' });
  });
});
