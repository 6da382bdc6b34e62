/**
 * Extended attributes through a layer made from a container's changes: the upper dir as `commit`
 * and build steps tar it, then unpacked again as pull and load do.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { upperAsLayer } from '../containers/changes.js';
import { unpackStream } from './unpack.js';
import { keepXattr } from './xattrs.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync('/tmp/berth-xattr-');
  dirs.push(d);
  return d;
}
const xattrsOf = (p: string) => execFileSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', p], { encoding: 'utf8' });

test('which attributes a layer keeps', () => {
  for (const n of ['security.capability', 'user.test', 'user.mime_type', 'trusted.x']) assert.equal(keepXattr(n), true, n);
  for (const n of ['trusted.overlay.opaque', 'trusted.overlay.redirect', 'user.overlay.origin', 'security.selinux', 'system.posix_acl_access', 'security.ima']) {
    assert.equal(keepXattr(n), false, n);
  }
});

test('a container\'s changes keep their attributes through commit and unpack; overlay\'s own stay behind', async () => {
  const upper = tmp();
  execFileSync('sh', ['-c', `
    mkdir -p bin opq etc2
    cp /bin/true bin/ping && setcap cap_net_raw+ep bin/ping && setfattr -n user.test -v hi bin/ping
    setfattr -n trusted.overlay.opaque -v y opq && echo new > opq/only
    setfattr -n trusted.overlay.origin -v 0123 etc2 && setfattr -n trusted.note -v kept etc2
    mknod gone c 0 0
    ln -s bin/ping l && setfattr -h -n trusted.sym -v 1 l`], { cwd: upper });

  const chunks: Buffer[] = [];
  for await (const c of await upperAsLayer(upper)) chunks.push(c as Buffer);
  const layer = Buffer.concat(chunks);
  assert.ok(layer.includes('SCHILY.xattr.security.capability='), 'the capability is a PAX record');
  assert.ok(layer.includes('SCHILY.xattr.user.test=hi'));
  assert.ok(!layer.includes('trusted.overlay'), 'overlay\'s bookkeeping is not in the layer');

  const dir = tmp();
  await unpackStream(Readable.from([layer]), 'none', dir);
  assert.match(execFileSync('getcap', [join(dir, 'bin/ping')], { encoding: 'utf8' }), /cap_net_raw[=+]ep/);
  assert.match(xattrsOf(join(dir, 'bin/ping')), /user\.test="hi"/);
  assert.match(xattrsOf(join(dir, 'etc2')), /trusted\.note="kept"/);
  assert.doesNotMatch(xattrsOf(join(dir, 'etc2')), /origin/);
  assert.match(xattrsOf(join(dir, 'l')), /trusted\.sym="1"/);
  // The whiteout and the opaque directory come back as overlay's markers, from the layer's .wh. entries.
  assert.equal(lstatSync(join(dir, 'gone')).rdev, 0);
  assert.ok(lstatSync(join(dir, 'gone')).isCharacterDevice());
  assert.match(xattrsOf(join(dir, 'opq')), /trusted\.overlay\.opaque="y"/);
});
