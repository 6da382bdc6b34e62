/**
 * Unpacking a layer into a directory overlayfs can use as a lower dir. The
 * OCI rules: `.wh.NAME` deletes NAME and `.wh..wh..opq` makes a directory
 * opaque, as overlay whiteouts (0/0 char devices, `trusted.overlay.opaque`).
 * Nothing is ever written outside the target: node-tar refuses `..`, absolute
 * paths and writing through symlinks, and berth refuses the entries it places
 * itself when their parent resolves outside the root. The uncompressed stream
 * is hashed on the way, so a layer whose diff ID does not match is refused.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, lchown, lstat, mkdir, rm, symlink } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import { Decompress as ZstdDecompress } from 'fzstd';
import { InvalidParameterError, SystemError } from '../errors/index.js';
import { run } from '../host/index.js';

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
  if (c === 'gzip') return createGunzip();
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
  if (err?.tarCode === 'TAR_BAD_ARCHIVE' || err?.tarCode === 'TAR_ENTRY_INVALID') {
    return new InvalidParameterError(`refused layer: not a valid tar stream (${err.message.replace(/^TAR_[A-Z_]+: /, '')})`);
  }
  return e;
}

interface Deferred {
  symlinks: { path: string; target: string }[];
  modes: { path: string; mode: number }[];
  devices: { path: string; type: 'c' | 'b' | 'p'; major: number; minor: number; mode: number; uid: number; gid: number }[];
  whiteouts: string[];
  opaque: string[];
}

/** The process umask, read without changing it (process.umask() with no argument is deprecated). */
function processUmask(): number {
  const m = /^Umask:\s*([0-7]+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? parseInt(m[1]!, 8) : 0o022;
}

/**
 * Unpacks `source` (compressed as `compression`) into `target`. With
 * `diffId`, the uncompressed tar must hash to it.
 */
export async function unpackStream(source: Readable, compression: Compression, target: string, diffId?: string): Promise<void> {
  await mkdir(target, { recursive: true });
  const umask = processUmask();
  const d: Deferred = { symlinks: [], modes: [], devices: [], whiteouts: [], opaque: [] };
  const refused: string[] = [];
  const extractor = tar.x({
    cwd: target,
    preserveOwner: true,
    chmod: true,
    processUmask: umask,
    unlink: true,
    strict: false,
    onwarn: (code: string, message: string) => { if (code === 'TAR_ENTRY_ERROR' || code === 'TAR_BAD_ARCHIVE') refused.push(message); },
    filter: (path: string, entry: unknown) => {
      const e = entry as { type?: string; linkpath?: string; mode?: number; uid?: number; gid?: number; header?: { devmaj?: number; devmin?: number } };
      const norm = posix.normalize(path).replace(/^(\.\/)+/, '');
      const base = posix.basename(norm);
      if (base === '.wh..wh..opq') { d.opaque.push(posix.dirname(norm)); return false; }
      if (base.startsWith('.wh.')) { d.whiteouts.push(posix.join(posix.dirname(norm), base.slice(4))); return false; }
      // node-tar rewrites absolute and upward symlink targets, which are normal inside an image
      // (/etc/localtime -> /usr/share/zoneinfo/UTC): berth makes them afterwards, each checked to land inside the root.
      if (e.type === 'SymbolicLink' && e.linkpath) { d.symlinks.push({ path: norm, target: e.linkpath }); return false; }
      // node-tar skips device nodes and FIFOs.
      if (e.type === 'CharacterDevice' || e.type === 'BlockDevice' || e.type === 'FIFO') {
        d.devices.push({
          path: norm, type: e.type === 'CharacterDevice' ? 'c' : e.type === 'BlockDevice' ? 'b' : 'p',
          major: e.header?.devmaj ?? 0, minor: e.header?.devmin ?? 0, mode: (e.mode ?? 0o644) & 0o7777, uid: e.uid ?? 0, gid: e.gid ?? 0,
        });
        return false;
      }
      // node-tar creates under the process umask and chowns afterwards, which also clears setuid/setgid:
      // entries whose mode that would change are chmod-ed again at the end.
      if (typeof e.mode === 'number' && (e.mode & (umask | 0o7000)) !== 0 && (e.type === 'File' || e.type === 'Directory' || e.type === 'OldFile')) {
        d.modes.push({ path: norm, mode: e.mode & 0o7777 });
      }
      return true;
    },
  } as Parameters<typeof tar.x>[0]) as unknown as NodeJS.WritableStream;

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
  try {
    await pipeline([source, count, ...(dec ? [dec] : []), tap, extractor as unknown as NodeJS.WritableStream]);
  } catch (e) {
    throw streamError(e, compression);
  }
  const full = refused.find((m) => /ENOSPC|EDQUOT/.test(m));
  if (full) throw new SystemError(`unpacking the layer failed: no space left on device (${full})`);
  if (refused.length) throw new InvalidParameterError(`refused layer entries: ${refused.slice(0, 3).join('; ')}`);
  if (diffId && `sha256:${hash.digest('hex')}` !== diffId) {
    throw new InvalidParameterError(`layer does not match its diff ID ${diffId}`);
  }
  await applyDeferred(target, d);
}

/**
 * What node-tar skipped, in an order that never writes through a link: modes first (node-tar made
 * those paths, and no symlink exists yet), then devices, whiteouts and opaque markers, symlinks last.
 * Each path is walked from the root one component at a time with lstat: a missing directory is made
 * there, a component that is a symlink is refused, so nothing (not even an empty directory, a mode
 * or an xattr) can land outside the root.
 */
async function applyDeferred(target: string, d: Deferred): Promise<void> {
  for (const m of d.modes) {
    const p = await insideRoot(target, m.path, { create: false });
    const st = p ? await lstat(p).catch(() => undefined) : undefined;
    if (st && !st.isSymbolicLink()) await chmod(p!, m.mode);
  }
  for (const dev of d.devices) {
    const abs = (await insideRoot(target, dev.path))!;
    await rm(abs, { recursive: true, force: true });
    await run('mknod', ['-m', dev.mode.toString(8), abs, dev.type, ...(dev.type === 'p' ? [] : [String(dev.major), String(dev.minor)])]);
    await lchown(abs, dev.uid, dev.gid);
  }
  for (const w of d.whiteouts) {
    const abs = (await insideRoot(target, w))!;
    await rm(abs, { recursive: true, force: true });
    await run('mknod', [abs, 'c', '0', '0']);
  }
  for (const o of d.opaque) {
    const abs = (await insideRoot(target, o === '.' ? '' : o, { allowRoot: true }))!;
    const st = await lstat(abs).catch(() => undefined);
    if (st?.isSymbolicLink()) throw new InvalidParameterError(`layer entry ${o}/.wh..wh..opq would mark a symlink opaque`);
    if (!st) await mkdir(abs);
    else if (!st.isDirectory()) throw new InvalidParameterError(`layer entry ${o}/.wh..wh..opq is inside a non-directory`);
    await run('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', abs]);
  }
  for (const l of d.symlinks) {
    const abs = (await insideRoot(target, l.path))!;
    const existing = await lstat(abs).catch(() => undefined);
    if (existing) await rm(abs, { recursive: true, force: true });
    await symlink(l.target, abs);
  }
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
