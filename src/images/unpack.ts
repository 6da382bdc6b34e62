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
import { chmod, chown, lstat, mkdir, realpath, rm, symlink } from 'node:fs/promises';
import { dirname, join, posix, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import { Decompress as ZstdDecompress } from 'fzstd';
import { InvalidParameterError } from '../errors/index.js';
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
  const tap = new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } });
  const dec = decompressor(compression);
  await pipeline([source, ...(dec ? [dec] : []), tap, extractor as unknown as NodeJS.WritableStream]);
  if (refused.length) throw new InvalidParameterError(`refused layer entries: ${refused.slice(0, 3).join('; ')}`);
  if (diffId && `sha256:${hash.digest('hex')}` !== diffId) {
    throw new InvalidParameterError(`layer does not match its diff ID ${diffId}`);
  }
  await applyDeferred(target, d);
}

async function applyDeferred(target: string, d: Deferred): Promise<void> {
  for (const l of d.symlinks) {
    const abs = await insideRoot(target, l.path);
    const existing = await lstat(abs).catch(() => undefined);
    if (existing) await rm(abs, { recursive: true, force: true });
    await symlink(l.target, abs);
  }
  for (const m of d.modes) {
    const p = join(target, m.path);
    // Only what the extraction itself made: never follow a symlink out of the root.
    const st = await lstat(p).catch(() => undefined);
    if (st && !st.isSymbolicLink()) await chmod(p, m.mode);
  }
  for (const dev of d.devices) {
    const abs = await insideRoot(target, dev.path);
    await rm(abs, { recursive: true, force: true });
    await run('mknod', ['-m', dev.mode.toString(8), abs, dev.type, ...(dev.type === 'p' ? [] : [String(dev.major), String(dev.minor)])]);
    await chown(abs, dev.uid, dev.gid);
  }
  for (const w of d.whiteouts) {
    const abs = await insideRoot(target, w);
    await rm(abs, { recursive: true, force: true });
    await run('mknod', [abs, 'c', '0', '0']);
  }
  for (const o of d.opaque) {
    const abs = await insideRoot(target, o === '.' ? '' : o, true);
    await mkdir(abs, { recursive: true });
    await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', abs]);
  }
}

/**
 * The absolute path of `path` under `root`, with its parent created and
 * checked: a parent that resolves outside the root (a symlink pointing out)
 * is refused.
 */
async function insideRoot(root: string, path: string, allowRoot = false): Promise<string> {
  const rel = posix.normalize(`/${path}`).slice(1);
  if ((!rel && !allowRoot) || rel.split('/').includes('..')) throw new InvalidParameterError(`invalid path in layer: ${path}`);
  const abs = join(root, rel);
  await mkdir(dirname(abs), { recursive: true });
  const parent = await realpath(dirname(abs));
  const realRoot = await realpath(root);
  if (parent !== realRoot && !parent.startsWith(realRoot + sep)) {
    throw new InvalidParameterError(`layer entry ${path} would be written outside the image root`);
  }
  return abs;
}
