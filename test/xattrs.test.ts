/**
 * Extended attributes in images, end to end: a build step that gives a file a capability
 * (`setcap cap_net_raw+ep`) and a `user.*` attribute, a commit on top, then save → rmi → load and
 * push → pull into an empty data root through the CNCF registry; each time the attributes are read
 * inside a container with the real getfattr and getcap, and the capability really takes effect for
 * a non-root user, as it does for Debian's ping.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, teardown, type TestDaemon } from './harness.js';
import { startRegistry, type TestRegistry } from './registry-fixture.js';

/** The host's attr and libcap tools with the libraries they need, to COPY into a busybox image. */
function toolsContext(dir: string): void {
  const files = ['/usr/sbin/setcap', '/usr/sbin/getcap', '/usr/bin/setfattr', '/usr/bin/getfattr',
    '/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libcap.so.2', '/lib64/ld-linux-x86-64.so.2'];
  for (const f of files) {
    mkdirSync(join(dir, 'tools', f, '..'), { recursive: true });
    cpSync(realpathSync(f), join(dir, 'tools', f));
  }
  writeFileSync(join(dir, 'Dockerfile'), [
    'FROM busybox',
    'COPY tools/ /',
    // Named after an applet, so the copy of busybox runs as grep.
    'RUN mkdir -p /opt && cp /bin/busybox /opt/grep && setcap cap_net_raw+ep /opt/grep && setfattr -n user.test -v hi /opt/grep',
    '',
  ].join('\n'));
}

describe('extended attributes through build, commit, save/load and push/pull', () => {
  let d: TestDaemon;
  let fresh: TestDaemon;
  let reg: TestRegistry;
  const containers: string[] = [];
  before(async () => {
    [d, fresh, reg] = await Promise.all([startDaemon({ busybox: true }), startDaemon(), startRegistry()]);
  });
  after(async () => {
    await Promise.all([teardown(d, containers), teardown(fresh), reg?.stop()]);
  });

  /** What a container of `image` sees: the attributes of /opt/grep, its capability, and what a non-root process of it gets. */
  const inside = async (daemon: TestDaemon, image: string) => {
    const r = await daemon.berth(['run', '--rm', image, 'sh', '-c', 'getfattr -d /opt/grep; getcap /opt/grep']);
    assert.equal(r.code, 0, r.stderr);
    const eff = await daemon.berth(['run', '--rm', '--user', '1000', image, '/opt/grep', 'CapEff', '/proc/self/status']);
    assert.equal(eff.code, 0, eff.stderr);
    return { attrs: r.stdout, capEff: eff.stdout.trim() };
  };
  const expectAttrs = (got: { attrs: string; capEff: string }, what: string, extra: RegExp[] = []) => {
    assert.match(got.attrs, /user\.test="hi"/, what);
    assert.match(got.attrs, /^\/opt\/grep cap_net_raw=ep$/m, what);
    // CAP_NET_RAW is bit 13: a uid-1000 process gets it from the file, as ping does.
    assert.equal(got.capEff, 'CapEff:\t0000000000002000', what);
    for (const re of extra) assert.match(got.attrs, re, what);
  };

  test('a build step\'s setcap and setfattr are in the image, and a commit on top keeps them', async () => {
    const ctx = join(d.dir, 'ctx');
    mkdirSync(ctx);
    toolsContext(ctx);
    const b = await d.berth(['build', '-t', 'xattr:1', ctx], { timeoutMs: 180_000 });
    assert.equal(b.code, 0, `${b.stdout}${b.stderr}`);
    expectAttrs(await inside(d, 'xattr:1'), 'built');
    // Without the attribute the same binary gives a non-root user nothing: the check above can fail.
    const plain = await d.berth(['run', '--rm', '--user', '1000', 'xattr:1', '/bin/grep', 'CapEff', '/proc/self/status']);
    assert.equal(plain.stdout.trim(), 'CapEff:\t0000000000000000');

    const c = await d.berth(['run', '--name', 'xattr-c', 'xattr:1', 'setfattr', '-n', 'user.second', '-v', 'two', '/opt/grep']);
    assert.equal(c.code, 0, c.stderr);
    containers.push('xattr-c');
    const commit = await d.berth(['commit', 'xattr-c', 'xattr:2']);
    assert.equal(commit.code, 0, commit.stderr);
    assert.equal((await d.berth(['rm', 'xattr-c'])).code, 0);
    expectAttrs(await inside(d, 'xattr:2'), 'committed', [/user\.second="two"/]);
  });

  test('save, rmi, load keeps them', async () => {
    const file = join(d.dir, 'xattr.tar');
    assert.equal((await d.berth(['save', '-o', file, 'xattr:2'])).code, 0);
    assert.equal((await d.berth(['rmi', 'xattr:2'])).code, 0);
    const l = await d.berth(['load', '-i', file]);
    assert.equal(l.code, 0, l.stderr);
    expectAttrs(await inside(d, 'xattr:2'), 'loaded', [/user\.second="two"/]);
  });

  test('push, then pull into an empty data root, keeps them', async () => {
    const ref = `${reg.host}/test/xattr:2`;
    assert.equal((await d.berth(['tag', 'xattr:2', ref])).code, 0);
    const push = await d.berth(['push', ref]);
    assert.equal(push.code, 0, push.stderr);
    const pull = await fresh.berth(['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    expectAttrs(await inside(fresh, ref), 'pulled', [/user\.second="two"/]);
  });
});
