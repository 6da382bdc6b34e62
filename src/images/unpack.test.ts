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
