/**
 * Layers: a filesystem tree or a tarball in, a gzip blob plus its diff ID
 * out; and a blob unpacked into a directory overlayfs can use as a lowerdir,
 * with OCI whiteouts turned into overlay's own (0/0 char devices and the
 * `trusted.overlay.opaque` xattr).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, realpath, rm, symlink } from 'node:fs/promises';
import { dirname, join, posix, sep } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import * as tar from 'tar';
import { run } from '../host/index.js';
import { InvalidParameterError } from '../errors/index.js';

/** node-tar's create, typed for the one way berth calls it: options and paths in, a tar stream out. */
export const createTar = tar.c as unknown as (opts: Record<string, unknown>, files: string[]) => Readable;
import type { ContentStore } from './content-store.js';

export interface LayerBlob {
  digest: string;   // of the gzip blob
  diffId: string;   // of the uncompressed tar
  size: number;     // compressed size
  uncompressedSize: number;
}

export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** Compresses an uncompressed tar stream into the store, hashing both sides. */
export async function storeTarStream(content: ContentStore, tarStream: Readable): Promise<LayerBlob> {
  const diffHash = createHash('sha256');
  let uncompressedSize = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) { diffHash.update(chunk); uncompressedSize += chunk.length; cb(null, chunk); },
  });
  const gz = createGzip({ level: 6 });
  tarStream.on('error', (e) => gz.destroy(e));
  tap.on('error', (e) => gz.destroy(e));
  tarStream.pipe(tap).pipe(gz);
  const { digest, size } = await content.putStream(gz);
  return { digest, size, diffId: `sha256:${diffHash.digest('hex')}`, uncompressedSize };
}

/** Tars `dir` (owner root, fixed mtimes, sorted) into a layer blob. */
export async function layerFromDirectory(content: ContentStore, dir: string): Promise<LayerBlob> {
  const entries = (await readdir(dir)).sort();
  // Not `portable`: node-tar then drops group and other write bits (/tmp would lose its 1777).
  const stream = createTar({ cwd: dir, mtime: new Date(0) }, entries);
  return storeTarStream(content, stream);
}

/** Accepts a tarball, plain or gzip-compressed, as `docker import` does. */
export async function layerFromTarball(content: ContentStore, input: Readable): Promise<LayerBlob> {
  const peek = new PassThrough();
  let out: Readable = peek;
  const first = await new Promise<Buffer>((resolve, reject) => {
    input.once('error', reject);
    input.once('end', () => resolve(Buffer.alloc(0)));
    input.once('readable', () => resolve((input.read() as Buffer | null) ?? Buffer.alloc(0)));
  });
  if (first.length === 0) throw new InvalidParameterError('the tarball is empty');
  if (first[0] === 0x1f && first[1] === 0x8b) {
    const gunzip = createGunzip();
    peek.pipe(gunzip);
    gunzip.on('error', (e) => peek.destroy(e));
    out = gunzip;
  } else if (first[0] === 0x28 && first[1] === 0xb5) {
    throw new InvalidParameterError('zstd-compressed tarballs are not supported by import yet');
  }
  peek.write(first);
  input.pipe(peek);
  return storeTarStream(content, out);
}

/**
 * Unpacks a gzip layer blob into `target`. node-tar refuses `..` paths,
 * absolute paths and writing through symlinks; whiteouts are collected and
 * turned into overlay whiteouts after the tree is written.
 */
export async function unpackLayer(content: ContentStore, blobDigest: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  const whiteouts: string[] = [];
  const opaque: string[] = [];
  const symlinks: { path: string; target: string }[] = [];
  // node-tar creates with open()/mkdir() under the process umask and chowns afterwards, which also clears
  // setuid/setgid: entries whose mode that would change are chmod-ed again at the end.
  const umask = processUmask();
  const modes: { path: string; mode: number }[] = [];
  const extractor = tar.x({
    cwd: target,
    preserveOwner: true,
    chmod: true,
    processUmask: 0,
    unlink: true,
    strict: false,
    filter: (path: string, entry: unknown) => {
      const norm = posix.normalize(path);
      const e = entry as { type?: string; linkpath?: string };
      // node-tar rewrites absolute and upward symlink targets, which are normal inside an image
      // (/etc/localtime -> /usr/share/zoneinfo/UTC): they are made afterwards, each checked to land inside the root.
      if (e.type === 'SymbolicLink' && e.linkpath) { symlinks.push({ path: norm, target: e.linkpath }); return false; }
      const mode = (entry as { mode?: number }).mode;
      if (typeof mode === 'number' && (mode & (umask | 0o7000)) !== 0 && (e.type === 'File' || e.type === 'Directory' || e.type === 'OldFile')) {
        modes.push({ path: norm, mode: mode & 0o7777 });
      }
      const base = posix.basename(norm);
      if (base === '.wh..wh..opq') { opaque.push(posix.dirname(norm)); return false; }
      if (base.startsWith('.wh.')) { whiteouts.push(posix.join(posix.dirname(norm), base.slice(4))); return false; }
      return true;
    },
  } as Parameters<typeof tar.x>[0]) as unknown as NodeJS.WritableStream;
  const source = content.stream(blobDigest);
  const gunzip = createGunzip();
  await new Promise<void>((resolve, reject) => {
    source.on('error', reject);
    gunzip.on('error', reject);
    (extractor as unknown as NodeJS.EventEmitter).on('error', reject);
    (extractor as unknown as NodeJS.EventEmitter).on('close', () => resolve());
    source.pipe(gunzip).pipe(extractor);
  });
  for (const l of symlinks) await placeSymlink(target, l.path, l.target);
  for (const m of modes) {
    const p = join(target, m.path);
    // Only what the extraction itself made: never follow a symlink out of the root.
    const st = await lstat(p).catch(() => undefined);
    if (st && !st.isSymbolicLink()) await chmod(p, m.mode);
  }
  for (const w of whiteouts) {
    const p = join(target, w);
    await mkdir(dirname(p), { recursive: true });
    await rm(p, { recursive: true, force: true });
    await run('mknod', [p, 'c', '0', '0']);
  }
  for (const d of opaque) {
    const p = join(target, d);
    await mkdir(p, { recursive: true });
    await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', p]);
  }
}

/** Creates `root/path -> target` unless its parent resolves outside `root` (a symlinked parent pointing out). */
async function placeSymlink(root: string, path: string, target: string): Promise<void> {
  const rel = posix.normalize(path).replace(/^\/+/, '');
  if (!rel || rel === '.' || rel.split('/').includes('..')) throw new InvalidParameterError(`invalid symlink path in layer: ${path}`);
  const abs = join(root, rel);
  await mkdir(dirname(abs), { recursive: true });
  const parent = await realpath(dirname(abs));
  const realRoot = await realpath(root);
  if (parent !== realRoot && !parent.startsWith(realRoot + sep)) {
    throw new InvalidParameterError(`layer entry ${path} would be written outside the image root`);
  }
  const existing = await lstat(abs).catch(() => undefined);
  if (existing) await rm(abs, { recursive: true, force: true });
  await symlink(target, abs);
}

/** The process umask, read without changing it (process.umask() with no argument is deprecated). */
function processUmask(): number {
  const m = /^Umask:\s*([0-7]+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? parseInt(m[1]!, 8) : 0o022;
}
