import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveUser } from './user.js';

const rootfs = await mkdtemp(join(tmpdir(), 'berth-user-'));
after(() => rm(rootfs, { recursive: true, force: true }));
await mkdir(join(rootfs, 'etc'));
await writeFile(join(rootfs, 'etc/passwd'), [
  'root:x:0:0:root:/root:/bin/sh',
  '# a comment',
  'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
  'daemon:x:2:2:daemon:/sbin:/bin/false',
  'nohome:x:1001:1001::',
  '',
].join('\n'));
await writeFile(join(rootfs, 'etc/group'), [
  'root:x:0:',
  'wheel:x:10:root,alice',
  'alice:x:1000:',
  'staff:x:50:bob,alice',
  'audio:x:63:',
  'nohome:x:1001:',
  '',
].join('\n'));

test('an empty user is root with root\'s home', async () => {
  assert.deepEqual(await resolveUser(rootfs, ''), { uid: 0, gid: 0, additionalGids: [10], home: '/root' });
});

test('a name takes uid, primary gid, home and supplementary groups from the image', async () => {
  assert.deepEqual(await resolveUser(rootfs, 'alice'), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: '/home/alice' });
  assert.deepEqual(await resolveUser(rootfs, 'daemon'), { uid: 2, gid: 2, additionalGids: [], home: '/sbin' });
});

test('a uid found in passwd resolves like its name', async () => {
  assert.deepEqual(await resolveUser(rootfs, '1000'), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: '/home/alice' });
});

test('a uid not in passwd is used as is, with gid 0 and home /', async () => {
  assert.deepEqual(await resolveUser(rootfs, '4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
  assert.deepEqual(await resolveUser(rootfs, '4242:4343'), { uid: 4242, gid: 4343, additionalGids: [], home: '/' });
});

test('an explicit group by name or number replaces the primary group and drops supplementary ones', async () => {
  assert.deepEqual(await resolveUser(rootfs, 'alice:staff'), { uid: 1000, gid: 50, additionalGids: [], home: '/home/alice' });
  assert.deepEqual(await resolveUser(rootfs, '1000:63'), { uid: 1000, gid: 63, additionalGids: [], home: '/home/alice' });
  assert.deepEqual(await resolveUser(rootfs, 'alice:777'), { uid: 1000, gid: 777, additionalGids: [], home: '/home/alice' });
});

test('an empty group part means no explicit group', async () => {
  assert.deepEqual(await resolveUser(rootfs, 'alice:'), await resolveUser(rootfs, 'alice'));
});

test('an empty home field falls back to /', async () => {
  assert.equal((await resolveUser(rootfs, 'nohome')).home, '/');
});

test('unknown names fail with docker\'s messages', async () => {
  await assert.rejects(resolveUser(rootfs, 'nope'), (e: Error & { status?: number }) => {
    assert.equal(e.message, 'unable to find user nope: no matching entries in passwd file');
    assert.equal(e.status, 400);
    return true;
  });
  await assert.rejects(resolveUser(rootfs, 'alice:nogroup'), { message: 'unable to find group nogroup: no matching entries in group file' });
});

test('without /etc/passwd only numeric users work', async () => {
  const empty = join(rootfs, 'empty');
  await mkdir(empty);
  assert.deepEqual(await resolveUser(empty, '123:456'), { uid: 123, gid: 456, additionalGids: [], home: '/' });
  await assert.rejects(resolveUser(empty, 'alice'), /unable to find user alice: no matching entries in passwd file/);
});
