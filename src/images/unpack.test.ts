/** Unpacking by the OCI layer rules, on hand-made tarballs: whiteouts, links, devices, modes, and escapes refused. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { compressionOf, unpackStream } from './unpack.js';

interface Entry { path: string; type?: string; body?: string; linkpath?: string; mode?: number; devmaj?: number; devmin?: number; uid?: number; gid?: number }

/** A tarball with exactly these headers, which no well-behaved archiver would write for some of them. */
function tarball(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const h = new Header({
      path: e.path, type: (e.type ?? 'File') as never, size: body.length, mode: e.mode ?? (e.type === 'Directory' ? 0o755 : 0o644),
      linkpath: e.linkpath, devmaj: e.devmaj, devmin: e.devmin, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: new Date(0),
    });
    const hb = Buffer.alloc(512);
    h.encode(hb);
    blocks.push(hb, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync('/tmp/berth-unpack-');
  dirs.push(d);
  return d;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('media types name their compression', () => {
  assert.equal(compressionOf('application/vnd.oci.image.layer.v1.tar+gzip'), 'gzip');
  assert.equal(compressionOf('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  assert.equal(compressionOf('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  assert.equal(compressionOf('application/vnd.oci.image.layer.v1.tar'), 'none');
  assert.throws(() => compressionOf('application/x-rar'), /unsupported layer media type/);
});

test('files, modes, owners, hard links, absolute symlinks and device nodes', async () => {
  const t = tarball([
    { path: 'etc/', type: 'Directory' },
    { path: 'etc/hostname', body: 'box\n', uid: 1000, gid: 1000 },
    { path: 'tmp/', type: 'Directory', mode: 0o1777 },
    { path: 'usr/bin/', type: 'Directory' },
    { path: 'usr/bin/passwd', body: '#!/bin/sh\n', mode: 0o4755 },
    { path: 'usr/bin/again', type: 'Link', linkpath: 'usr/bin/passwd' },
    { path: 'etc/localtime', type: 'SymbolicLink', linkpath: '/usr/share/zoneinfo/UTC' },
    { path: 'dev/', type: 'Directory' },
    { path: 'dev/null', type: 'CharacterDevice', devmaj: 1, devmin: 3, mode: 0o666 },
    { path: 'run/fifo', type: 'FIFO', mode: 0o600 },
  ]);
  const dir = tmp();
  await unpackStream(Readable.from([gzipSync(t)]), 'gzip', dir, sha(t));
  assert.equal(readFileSync(join(dir, 'etc/hostname'), 'utf8'), 'box\n');
  assert.equal(statSync(join(dir, 'etc/hostname')).uid, 1000);
  assert.equal(statSync(join(dir, 'tmp')).mode & 0o7777, 0o1777);
  assert.equal(statSync(join(dir, 'usr/bin/passwd')).mode & 0o7777, 0o4755, 'setuid survives the chown');
  assert.equal(statSync(join(dir, 'usr/bin/again')).ino, statSync(join(dir, 'usr/bin/passwd')).ino, 'a hard link, not a copy');
  assert.equal(readlinkSync(join(dir, 'etc/localtime')), '/usr/share/zoneinfo/UTC', 'absolute target kept as it is');
  const dev = lstatSync(join(dir, 'dev/null'));
  assert.ok(dev.isCharacterDevice());
  assert.equal(dev.rdev, (1 << 8) | 3);
  assert.ok(lstatSync(join(dir, 'run/fifo')).isFIFO());
});

test('whiteouts and opaque directories become overlay whiteouts', async () => {
  const t = tarball([
    { path: 'etc/', type: 'Directory' },
    { path: 'etc/.wh.motd' },
    { path: 'var/cache/', type: 'Directory' },
    { path: 'var/cache/.wh..wh..opq' },
  ]);
  const dir = tmp();
  await unpackStream(Readable.from([t]), 'none', dir);
  const wh = lstatSync(join(dir, 'etc/motd'));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  assert.equal(existsSync(join(dir, 'etc/.wh.motd')), false);
  assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(dir, 'var/cache')]).toString(), 'y');
});

test('a diff ID that does not match is refused', async () => {
  const t = tarball([{ path: 'a', body: 'x' }]);
  await assert.rejects(unpackStream(Readable.from([t]), 'none', tmp(), `sha256:${'0'.repeat(64)}`), /does not match its diff ID/);
});

test('paths that climb out of the root are refused and nothing lands outside', async () => {
  const outside = tmp();
  const dir = join(tmp(), 'root');
  const cases: Entry[][] = [
    [{ path: '../escape', body: 'x' }],
    [{ path: `${outside}/abs`, body: 'x' }],
    [{ path: 'link', type: 'SymbolicLink', linkpath: outside }, { path: 'link/through', body: 'x' }],
    [{ path: 'hard', type: 'Link', linkpath: '../../etc/passwd' }],
  ];
  for (const c of cases) {
    await unpackStream(Readable.from([tarball(c)]), 'none', dir).then(
      () => {},
      (e: Error) => assert.match(e.message, /refused|outside/),
    );
    assert.equal(existsSync(join(dir, '..', 'escape')), false);
    assert.equal(existsSync(join(outside, 'abs')), false);
    assert.equal(existsSync(join(outside, 'through')), false);
  }
});

/** A PAX `x` header whose records hold raw bytes (a file capability is binary, with NULs). */
function paxBlock(records: [string, Buffer | string][]): Buffer {
  const body = Buffer.concat(records.map(([k, v]) => {
    const rest = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
    let n = rest.length + 1;
    while (String(n).length + rest.length !== n) n = String(n).length + rest.length;
    return Buffer.concat([Buffer.from(String(n)), rest]);
  }));
  const h = new Header({ path: 'PaxHeaders/x', type: 'ExtendedHeader' as never, size: body.length, mode: 0o644, mtime: new Date(0) });
  const hb = Buffer.alloc(512);
  h.encode(hb);
  return Buffer.concat([hb, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

/** cap_net_raw+ep as the kernel stores it (VFS_CAP_REVISION_2), what `setcap cap_net_raw+ep` writes. */
const CAP_NET_RAW = Buffer.from('AQAAAgAgAAAAAAAAAAAAAAAAAAA=', 'base64');
const xattrsOf = (p: string) => execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names', p], { encoding: 'utf8' });

test('extended attributes from a layer written by GNU tar: file capabilities, user.* and trusted.*, after the chown', async () => {
  const src = tmp();
  execFileSync('sh', ['-c', `
    cp /bin/true ping && chown 1000:1000 ping && setcap cap_net_raw+ep ping && setfattr -n user.test -v hi ping
    mkdir d && setfattr -n trusted.mark -v t d && setfattr -n user.dir -v 1 d`], { cwd: src });
  const t = execFileSync('tar', ['-c', '-C', src, '--format=posix', '--xattrs', '--xattrs-include=*', 'ping', 'd'], { maxBuffer: 64 << 20 });
  const dir = tmp();
  await unpackStream(Readable.from([gzipSync(t)]), 'gzip', dir, sha(t));
  const ping = join(dir, 'ping');
  assert.equal(statSync(ping).uid, 1000);
  assert.match(execFileSync('getcap', [ping], { encoding: 'utf8' }), /cap_net_raw[=+]ep/, 'the capability survives the owner being set');
  assert.match(xattrsOf(ping), /user\.test=0saGk=/);
  assert.match(xattrsOf(join(dir, 'd')), /trusted\.mark=0sdA==/);
  assert.match(xattrsOf(join(dir, 'd')), /user\.dir=0sMQ==/);
});

test('overlay\'s own attributes in a layer are not applied; a symlink keeps trusted.*', async () => {
  const t = Buffer.concat([
    paxBlock([['SCHILY.xattr.trusted.overlay.opaque', 'y'], ['SCHILY.xattr.trusted.overlay.redirect', '/etc'], ['SCHILY.xattr.user.overlay.opaque', 'y'],
      ['SCHILY.xattr.security.selinux', 'system_u:object_r:etc_t:s0'], ['SCHILY.xattr.user.kept', 'yes']]),
    tarball([{ path: 'dir/', type: 'Directory' }]).subarray(0, 512),
    paxBlock([['SCHILY.xattr.security.capability', CAP_NET_RAW]]),
    tarball([{ path: 'dir/ping', body: 'x', mode: 0o755 }]).subarray(0, 1024),
    paxBlock([['SCHILY.xattr.trusted.link', 'l'], ['SCHILY.xattr.user.not-on-links', 'n']]),
    tarball([{ path: 'dir/link', type: 'SymbolicLink', linkpath: 'ping' }]),
  ]);
  const dir = tmp();
  await unpackStream(Readable.from([t]), 'none', dir, sha(t));
  const d = xattrsOf(join(dir, 'dir'));
  assert.match(d, /user\.kept=0seWVz/);
  assert.doesNotMatch(d, /overlay|selinux/, 'no whiteout, redirect or label smuggled in');
  assert.match(xattrsOf(join(dir, 'dir/ping')), new RegExp(`security\\.capability=0s${CAP_NET_RAW.toString('base64').replace(/[+/=]/g, '\\$&')}`));
  assert.ok(lstatSync(join(dir, 'dir/link')).isSymbolicLink());
  assert.match(xattrsOf(join(dir, 'dir/link')), /trusted\.link=0sbA==/, 'lsetxattr on the link itself');
  assert.doesNotMatch(xattrsOf(join(dir, 'dir/link')), /user\./, 'the kernel refuses user.* on symlinks: skipped, not an error');
  assert.doesNotMatch(xattrsOf(join(dir, 'dir/ping')), /trusted\.link/, 'the link\'s attribute is not set on its target');
});

test('a header that claims data it cannot have is read as tar reads it: the next block is a header, and it is checked', async () => {
  // A directory (like a symlink or device) has no data whatever its size field says, as Go's archive/tar reads it.
  const dirWithSize = (next: Buffer) => {
    const h = new Header({ path: 'd/', type: 'Directory', size: 512, mode: 0o755, mtime: new Date(0), uid: 0, gid: 0 });
    const hb = Buffer.alloc(512);
    h.encode(hb);
    return Buffer.concat([hb, next, Buffer.alloc(1024)]);
  };
  const smuggled = tarball([{ path: 'smuggled', body: '' }]).subarray(0, 512);
  const dir = tmp();
  await unpackStream(Readable.from([dirWithSize(smuggled)]), 'none', dir);
  assert.ok(existsSync(join(dir, 'smuggled')), 'berth and tar both read the block after the directory as a header');
  const evil = tarball([{ path: '../../evil', body: '' }]).subarray(0, 512);
  await assert.rejects(unpackStream(Readable.from([dirWithSize(evil)]), 'none', join(tmp(), 'root')), /path contains '\.\.'/);
});

test('long names, non-UTF-8 names and hard links from GNU tar come out byte for byte', async () => {
  const src = tmp();
  const long = `${'long-directory-name/'.repeat(8)}file`;
  execFileSync('sh', ['-c', `mkdir -p "$(dirname "${long}")" && echo long > "${long}" && printf 'latin1' > "$(printf 'caf\\351')" && ln "${long}" hard`], { cwd: src });
  for (const format of ['gnu', 'posix']) {
    const t = execFileSync('tar', ['-c', '-C', src, `--format=${format}`, '.']);
    const dir = tmp();
    await unpackStream(Readable.from([t]), 'none', dir, sha(t));
    assert.equal(readFileSync(join(dir, long), 'utf8'), 'long\n', format);
    assert.equal(readFileSync(Buffer.from(`${dir}/caf\xe9`, 'latin1'), 'utf8'), 'latin1', `${format}: the name's bytes kept`);
    assert.equal(statSync(join(dir, 'hard')).ino, statSync(join(dir, long)).ino, format);
  }
});

test('a damaged header is refused with its position', async () => {
  const bad = Buffer.concat([tarball([{ path: 'a', body: 'x' }]).subarray(0, 1024), Buffer.alloc(512, 0x41), Buffer.alloc(1024)]);
  await assert.rejects(unpackStream(Readable.from([bad]), 'none', tmp()), /not a valid tar stream \(a header with a bad checksum at byte 1024\)/);
});

test('a layer of many whiteouts, some in directories it does not hold, makes each an overlay whiteout', async () => {
  const names = Array.from({ length: 300 }, (_, i) => `usr/share/doc/pkg${i}/.wh.copyright`);
  const t = tarball([{ path: 'etc/.wh.removed' }, { path: 'etc/kept', body: 'k' }, ...names.map((path) => ({ path })), { path: `${'deep/'.repeat(30)}.wh.x` }]);
  const dir = tmp();
  await unpackStream(Readable.from([t]), 'none', dir, sha(t));
  for (const p of ['etc/removed', 'usr/share/doc/pkg0/copyright', 'usr/share/doc/pkg299/copyright', `${'deep/'.repeat(30)}x`]) {
    const st = lstatSync(join(dir, p));
    assert.ok(st.isCharacterDevice() && st.rdev === 0, `${p} is a whiteout`);
  }
  assert.equal(readFileSync(join(dir, 'etc/kept'), 'utf8'), 'k');
  assert.equal(execFileSync('find', [dir, '-name', '.wh.*']).toString(), '', 'no .wh. file left as such');
});
