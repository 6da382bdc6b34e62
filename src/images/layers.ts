/**
 * Making layers: a filesystem tree or a tarball in, a gzip blob and its diff
 * ID out. Unpacking is in unpack.ts.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { PassThrough, Readable, Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import * as tar from 'tar';
import { InvalidParameterError } from '../errors/index.js';
import { runStream } from '../host/index.js';
import type { ContentStore } from './content-store.js';
import { END_OF_ARCHIVE } from './tar-writer.js';
import { TAR_XATTR_ARGS } from './xattrs.js';

/** node-tar's create, typed for the one way berth calls it: options and paths in, a tar stream out. */
export const createTar = tar.c as unknown as (opts: Record<string, unknown>, files: string[]) => Readable;

export interface LayerBlob {
  digest: string;   // of the gzip blob
  diffId: string;   // of the uncompressed tar
  size: number;     // compressed size
  uncompressedSize: number;
  /** As the blob is labelled in its manifest; berth's own layers are OCI gzip. */
  mediaType?: string;
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

/**
 * A layer tar of exactly `paths` (relative to `cwd`, in this order; directories are not descended
 * into), by GNU tar: POSIX format, owners as numbers, and the extended attributes berth keeps as
 * `SCHILY.xattr.*` records (file capabilities, user.*, trusted.* but overlay's own), which node-tar
 * cannot write. No atime, ctime or process ID in the PAX headers, so the same tree gives the same bytes.
 */
export async function tarPaths(cwd: string, paths: string[]): Promise<Readable> {
  if (!paths.length) return Readable.from([END_OF_ARCHIVE]);
  // The names go in on stdin, NUL-separated: no list file to clean up after the stream.
  return runStream('tar', [
    '-c', '-f', '-', '-C', cwd, '--format=posix', '--numeric-owner', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    ...TAR_XATTR_ARGS, '--no-recursion', '--null', '--no-unquote', '--verbatim-files-from', '-T', '-',
  ], { input: Buffer.concat(paths.flatMap((p) => [Buffer.from(p), Buffer.alloc(1)])) });
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

