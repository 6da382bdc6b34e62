/**
 * Unpacking a layer into a directory overlayfs can use as a lower dir. The
 * OCI rules: `.wh.NAME` deletes NAME and `.wh..wh..opq` makes a directory
 * opaque, as overlay whiteouts (0/0 char devices, `trusted.overlay.opaque`).
 *
 * The stream is decompressed and hashed here, then passes LayerScanner
 * (tar-scan.ts), which checks every header and hands GNU tar (`tar -x`, a
 * child process: about 3 times node-tar's speed) only entries it can write
 * without leaving the target: relative paths without `..`, no symlinks. The
 * symlinks, whiteouts and opaque markers it held back are made afterwards,
 * each refused when its parent resolves outside the root. A layer whose diff
 * ID does not match, or that unpacks to a decompression bomb, is refused.
 * Extended attributes (file capabilities, user.*, trusted.*) are kept.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, rm, symlink } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { InvalidParameterError, SystemError } from '../errors/index.js';
import { run } from '../host/index.js';
import { runSink, type Sink } from '../host/stream.js';
import { END_OF_ARCHIVE, LayerScanner, paxHeader, paxRecord, type Collected } from './tar-scan.js';
import { Header } from 'tar';
import { restoreXattrs, TAR_XATTR_ARGS } from './xattrs.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** The compression a layer media type declares (OCI and Docker schema 2 names). */
export function compressionOf(mediaType: string): Compression {
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.zstd')) return 'zstd';
  if (mediaType.endsWith('gzip') || mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip') return 'gzip';
  if (mediaType.endsWith('.tar') || mediaType === 'application/vnd.oci.image.layer.v1.tar') return 'none';
  throw new InvalidParameterError(`unsupported layer media type ${mediaType}`);
}

function zstdStream(): Transform {
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      try { dec.push(chunk); cb(); } catch (e) { cb(e as Error); }
    },
    flush(cb) {
      try { dec.push(new Uint8Array(0), true); cb(); } catch (e) { cb(e as Error); }
    },
  });
  const dec = new ZstdDecompress((data) => { t.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength)); });
  return t;
}

export function decompressor(c: Compression): Transform | undefined {
  if (c === 'gzip') return createGunzip({ chunkSize: 256 * 1024 });
  if (c === 'zstd') return zstdStream();
  return undefined;
}

/** Below this many unpacked bytes no layer counts as a decompression bomb, whatever its ratio. */
const BOMB_FLOOR = 64 * 1024 * 1024;

/**
 * How many times its compressed size a layer may unpack to. Real layers unpack to 2-10 times; a gzip
 * stream of zeros reaches 1030 times, zstd far more. `BERTH_MAX_LAYER_EXPANSION` raises it.
 */
function maxExpansion(): number {
  const n = Number(process.env.BERTH_MAX_LAYER_EXPANSION);
  return Number.isFinite(n) && n > 0 ? n : 200;
}

/** Errors of the stream itself in words a user can act on; a full disk keeps its ENOSPC message. */
function streamError(e: unknown, compression: Compression): unknown {
  const err = e as NodeJS.ErrnoException & { tarCode?: string };
  if (err instanceof InvalidParameterError) return err;
  if (typeof err?.code === 'string' && /^Z_/.test(err.code) || /zstd|invalid (block|magic|window)/i.test(err?.message ?? '')) {
    return new InvalidParameterError(`refused layer: its ${compression} stream is damaged or lies about its content (${err.message})`);
  }
  return e;
}


/** GNU tar's words for the errors a layer entry can meet, as the errno names node-tar reported. */
const ERRNO: [RegExp, string][] = [
  [/No such file or directory/, 'ENOENT'], [/No space left on device/, 'ENOSPC'], [/Disk quota exceeded/, 'EDQUOT'],
  [/File exists/, 'EEXIST'], [/Directory not empty/, 'ENOTEMPTY'], [/Not a directory/, 'ENOTDIR'], [/Is a directory/, 'EISDIR'],
  [/Operation not permitted/, 'EPERM'], [/Permission denied/, 'EACCES'], [/File name too long/, 'ENAMETOOLONG'], [/Too many links/, 'EMLINK'],
];

/** The entry errors in `tar -x`'s stderr ("tar: NAME: Cannot …: strerror"), each led by its errno name. */
function tarEntryErrors(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^tar: (.*)$/.exec(line.trim());
    if (!m || /Exiting with failure status|Error is not recoverable/.test(line)) continue;
    const code = ERRNO.find(([re]) => re.test(line))?.[1];
    out.push(code ? `${code}: ${m[1]}` : m[1]!);
  }
  return out;
}

/**
 * Feeds the scanned stream to tar's stdin. Tar may exit before it read the last zero blocks; the
 * rest of the layer is still read (and hashed) here, and tar's exit status says whether it failed.
 */
function feed(tar: Sink): Writable {
  let exited: number | undefined;
  let broken = false;
  void tar.done.then((r) => { exited = r.code; });
  tar.stdin.on('error', () => { broken = true; });
  const afterExit = (cb: (e?: Error | null) => void) => {
    void tar.done.then((r) => cb(r.code === 0 ? null : new Error('tar exited early')));
  };
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _e, cb) {
      if (exited !== undefined || broken) { afterExit(cb); return; }
      if (tar.stdin.write(chunk)) { cb(); return; }
      let done = false;
      const go = () => { if (!done) { done = true; tar.stdin.removeListener('drain', go); tar.stdin.removeListener('error', go); cb(); } };
      tar.stdin.once('drain', go);
      tar.stdin.once('error', go);
      void tar.done.then(go);
    },
    final(cb) { tar.stdin.end(); cb(); },
  });
}

/** tar's options: owners by number, exact modes, directory times set at the end, the xattrs berth keeps. */
const TAR_ARGS = [
  '-x', '-f', '-', '--numeric-owner', '--same-owner', '--same-permissions', '--delay-directory-restore',
  '--warning=no-unknown-keyword', '--warning=no-timestamp', '--blocking-factor=128', ...TAR_XATTR_ARGS,
];

/**
 * Unpacks `source` (compressed as `compression`) into `target`. With
 * `diffId`, the uncompressed tar must hash to it.
 */
export async function unpackStream(source: Readable, compression: Compression, target: string, diffId?: string): Promise<void> {
  await mkdir(target, { recursive: true });
  const hash = createHash('sha256');
  let compressed = 0;
  let unpacked = 0;
  const ratio = maxExpansion();
  const count = new Transform({ transform(chunk: Buffer, _e, cb) { compressed += chunk.length; cb(null, chunk); } });
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      unpacked += chunk.length;
      // A decompression bomb: stopped while it streams, before it fills the disk.
      if (dec && unpacked > BOMB_FLOOR && unpacked > ratio * compressed) {
        cb(new InvalidParameterError(`refused layer: it unpacks to more than ${ratio} times its compressed size (${unpacked} bytes from ${compressed}), a decompression bomb`));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const dec = decompressor(compression);
  const scanner = new LayerScanner();
  const tar = runSink('tar', [...TAR_ARGS, '-C', target], { ...process.env, LC_ALL: 'C' });
  let failed: unknown;
  try {
    await pipeline([source, count, ...(dec ? [dec] : []), tap, scanner, feed(tar)]);
  } catch (e) {
    failed = e;
    tar.kill();
  }
  const status = await tar.done;
  if (failed !== undefined && !(status.code !== 0 && /tar exited early/.test((failed as Error).message))) throw streamError(failed, compression);
  if (status.code === 127) throw new SystemError(`tar -x could not start: ${status.stderr.trim()} (GNU tar unpacks layers)`);
  const problems = [...scanner.refused, ...(status.code !== 0 ? tarEntryErrors(status.stderr) : [])];
  const full = problems.find((m) => /^(ENOSPC|EDQUOT)/.test(m));
  if (full) throw new SystemError(`unpacking the layer failed: no space left on device (${full})`);
  if (problems.length) throw new InvalidParameterError(`refused layer entries: ${problems.slice(0, 3).join('; ')}`);
  if (status.code !== 0) throw new SystemError(`tar -x failed (exit ${status.code}): ${status.stderr.trim()}`);
  if (diffId && `sha256:${hash.digest('hex')}` !== diffId) {
    throw new InvalidParameterError(`layer does not match its diff ID ${diffId}`);
  }
  await applyCollected(target, scanner.collected);
}

/** A whiteout as a tar entry: a 0/0 character device, mode 0, as dockerd makes them; its name comes in a PAX header. */
const WHITEOUT_HEADER = (() => {
  const h = new Header({ path: 'whiteout', type: 'CharacterDevice', devmaj: 0, devmin: 0, mode: 0, uid: 0, gid: 0, size: 0, mtime: new Date(0) });
  const b = Buffer.alloc(512);
  h.encode(b);
  return b;
})();

/**
 * What the scanner held back, in an order that never writes through a link: whiteouts and opaque
 * markers, symlinks last. Each path is walked from the root one component at a time with lstat: a
 * missing directory is made there, a component that is a symlink is refused, so nothing (not even
 * an empty directory or an xattr) can land outside the root.
 */
async function applyCollected(target: string, d: Collected): Promise<void> {
  if (d.whiteouts.length) {
    // All of them in one `tar -x` of 0/0 character devices (no symlink exists yet), not a mknod each.
    const entries: Buffer[] = [];
    for (const w of d.whiteouts) {
      const abs = (await insideRoot(target, w))!;
      await rm(abs, { recursive: true, force: true });
      entries.push(paxHeader([paxRecord('path', Buffer.from(relative(target, abs)))]), WHITEOUT_HEADER);
    }
    const r = await run('tar', [...TAR_ARGS, '-C', target], { input: Buffer.concat([...entries, END_OF_ARCHIVE]), allowFailure: true, env: { ...process.env, LC_ALL: 'C' } });
    if (r.code !== 0) throw new SystemError(`making the layer's whiteouts failed: ${r.stderr.trim()}`);
  }
  for (const o of d.opaque) {
    const abs = (await insideRoot(target, o === '.' ? '' : o, { allowRoot: true }))!;
    const st = await lstat(abs).catch(() => undefined);
    if (st?.isSymbolicLink()) throw new InvalidParameterError(`layer entry ${o}/.wh..wh..opq would mark a symlink opaque`);
    if (!st) await mkdir(abs);
    else if (!st.isDirectory()) throw new InvalidParameterError(`layer entry ${o}/.wh..wh..opq is inside a non-directory`);
    await run('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', abs]);
  }
  const withXattrs: { path: string; xattrs: [string, Buffer][] }[] = [];
  for (const l of d.symlinks) {
    const abs = (await insideRoot(target, l.path))!;
    const existing = await lstat(abs).catch(() => undefined);
    if (existing) await rm(abs, { recursive: true, force: true });
    await symlink(l.target, abs);
    if (l.xattrs.length) withXattrs.push({ path: abs, xattrs: l.xattrs });
  }
  await restoreXattrs(withXattrs);
}

/**
 * The absolute path of `path` under `root`. Its parent directories are walked from the root with
 * lstat: missing ones are made one at a time (unless `create` is false: then undefined), and one
 * that is a symlink or not a directory refuses the entry, so the result's parent is a real directory
 * inside the root.
 */
async function insideRoot(root: string, path: string, opts: { allowRoot?: boolean; create?: boolean } = {}): Promise<string | undefined> {
  const rel = posix.normalize(`/${path}`).slice(1).replace(/\/$/, '');
  if ((!rel && !opts.allowRoot) || rel.split('/').includes('..')) throw new InvalidParameterError(`invalid path in layer: ${path}`);
  if (!rel) return root;
  const parts = rel.split('/');
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstat(dir).catch(() => undefined);
    if (!st) {
      if (opts.create === false) return undefined;
      await mkdir(dir);
    } else if (st.isSymbolicLink()) {
      throw new InvalidParameterError(`layer entry ${path} would be written through the symlink ${posix.relative('/', `/${relative(root, dir)}`)}, outside the image root`);
    } else if (!st.isDirectory()) {
      throw new InvalidParameterError(`layer entry ${path} is inside a non-directory`);
    }
  }
  return join(dir, parts.at(-1)!);
}
