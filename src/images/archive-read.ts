/**
 * Reading an image archive (`docker save` output or an OCI image layout, as a
 * tar stream, plain or compressed) into a staging directory before anything
 * reaches the store. Each regular file is hashed while it is written; a file
 * under `blobs/sha256/` must match its name. Absolute names, names with `..`,
 * links that lead out of the archive and special files are refused: an image
 * archive never needs them, so one that has them is damaged or hostile.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { InvalidParameterError } from '../errors/index.js';
import { decompressor } from './unpack.js';

export interface StagedFile {
  path: string;    // inside the archive
  file: string;    // on disk, in the staging directory
  digest: string;
  size: number;
}

/** Metadata files (manifest.json, index.json, configs, manifests) are read whole; real ones are kilobytes. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;
const MAX_LINK_HOPS = 40;
const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;

export class ArchiveError extends InvalidParameterError {
  constructor(message: string) { super(`invalid image archive: ${message}`); }
}

/** A name inside the archive, normalized (`./a//b/` is `a/b`); names that climb out are refused. */
export function archivePath(raw: string): string {
  if (raw.startsWith('/')) throw new ArchiveError(`refused entry ${JSON.stringify(raw)}: absolute path`);
  const parts = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new ArchiveError(`refused entry ${JSON.stringify(raw)}: path leads out of the archive`);
  return parts.join('/');
}

/** A symlink's target as a name from the archive's root, refused when it leads outside. */
function symlinkTarget(path: string, target: string): string {
  if (target.startsWith('/')) throw new ArchiveError(`refused symlink ${path} -> ${target}: absolute target`);
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === '..' || resolved.startsWith('../')) throw new ArchiveError(`refused symlink ${path} -> ${target}: target leads out of the archive`);
  return archivePath(resolved);
}

export class StagedArchive {
  private constructor(
    readonly dir: string,
    private readonly files: Map<string, StagedFile>,
    private readonly links: Map<string, string>,
  ) {}

  /**
   * Stages `input` under `dir` (created here). On any failure the directory
   * is removed before the error is thrown; on success the caller removes it.
   */
  static async read(input: Readable, dir: string): Promise<StagedArchive> {
    await mkdir(dir, { recursive: true });
    const files = new Map<string, StagedFile>();
    const links = new Map<string, string>();
    const inFlight = new Set<ReadEntry>();
    const writes: Promise<void>[] = [];
    let failure: Error | undefined;
    let onFailure = () => {};
    const failed = new Promise<void>((resolve) => { onFailure = resolve; });
    const fail = (e: unknown) => { failure ??= e instanceof Error ? e : new Error(String(e)); onFailure(); };
    let count = 0;

    const parser = new Parser({ strict: true });
    parser.on('entry', (entry: ReadEntry) => {
      if (failure) { entry.resume(); return; }
      try {
        const path = archivePath(entry.path);
        switch (entry.type) {
          case 'File': case 'OldFile': case 'ContiguousFile': {
            const file = join(dir, String(count++));
            inFlight.add(entry);
            writes.push(stageFile(entry, file).then(({ digest, size }) => {
              if (size !== entry.size) throw new ArchiveError(`the archive is truncated: ${path} has ${size} of ${entry.size} bytes`);
              const hex = BLOB_PATH.exec(path)?.[1];
              if (hex && digest !== `sha256:${hex}`) throw new ArchiveError(`${path} does not match its digest (its content is ${digest})`);
              files.set(path, { path, file, digest, size });
              links.delete(path);
            }).catch(fail).finally(() => inFlight.delete(entry)));
            return;
          }
          case 'Directory':
            break;
          case 'SymbolicLink':
            links.set(path, symlinkTarget(path, entry.linkpath ?? ''));
            files.delete(path);
            break;
          case 'Link':
            links.set(path, archivePath(entry.linkpath ?? ''));
            files.delete(path);
            break;
          default:
            throw new ArchiveError(`refused entry ${path}: a ${entry.type} has no place in an image archive`);
        }
      } catch (e) {
        fail(e);
      }
      entry.resume();
    });
    const parsed = new Promise<void>((resolve) => {
      parser.on('end', resolve);
      parser.on('error', (e: Error) => { fail(tarError(e)); resolve(); });
      parser.on('abort', (e: Error) => { fail(tarError(e)); resolve(); });
    });

    let received = 0;
    try {
      for await (const chunk of withoutZstd(input)) {
        received += (chunk as Buffer).length;
        // After a failure the rest is still read, so a client that is still sending gets the answer.
        if (failure) continue;
        if (!parser.write(chunk as Buffer)) await Promise.race([once(parser, 'drain').catch(() => {}), parsed, failed]);
      }
      if (!failure && received === 0) fail(new ArchiveError('the archive is empty'));
      if (!failure) parser.end();
    } catch (e) {
      fail(new ArchiveError(`reading the archive failed: ${(e as Error).message}`));
    }
    // A write that fails stops consuming its entry, and then the parser never ends: hence the race.
    if (!failure) await Promise.race([parsed, failed]);
    if (failure) for (const e of inFlight) e.destroy();
    await Promise.allSettled(writes);
    if (failure) {
      await rm(dir, { recursive: true, force: true });
      throw failure;
    }
    return new StagedArchive(dir, files, links);
  }

  /** The file at `path`, following links inside the archive, or undefined. */
  get(path: string): StagedFile | undefined {
    let p = archivePath(path);
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const parts = p.split('/');
      let next: string | undefined;
      for (let i = 1; i <= parts.length && next === undefined; i++) {
        const link = this.links.get(parts.slice(0, i).join('/'));
        if (link !== undefined) next = [link, ...parts.slice(i)].filter(Boolean).join('/');
      }
      if (next === undefined) return this.files.get(p);
      p = next;
    }
    throw new ArchiveError(`too many levels of links at ${path}`);
  }

  require(path: string, what: string): StagedFile {
    const f = this.get(path);
    if (!f) throw new ArchiveError(`${what} ${path} is not in the archive`);
    return f;
  }

  /** The blob with this digest, as an OCI layout stores it. */
  blob(digest: string): StagedFile | undefined {
    const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
    return m ? this.get(`blobs/sha256/${m[1]}`) : undefined;
  }

  async bytes(f: StagedFile): Promise<Buffer> {
    if (f.size > MAX_JSON_BYTES) throw new ArchiveError(`${f.path} is too large for a metadata file (${f.size} bytes)`);
    return readFile(f.file);
  }

  async json<T>(f: StagedFile): Promise<T> {
    try {
      return JSON.parse((await this.bytes(f)).toString()) as T;
    } catch (e) {
      if (e instanceof ArchiveError) throw e;
      throw new ArchiveError(`${f.path} is not valid JSON`);
    }
  }

  /** The first bytes of a file, to tell its compression. */
  async head(f: StagedFile, n = 6): Promise<Buffer> {
    const h = await open(f.file, 'r');
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await h.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await h.close();
    }
  }

  stream(f: StagedFile): Readable {
    return createReadStream(f.file);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * node-tar unwraps a gzip archive itself, and a zstd one only where Node's
 * zlib has zstd (Node 22.15+); on Node 20 berth unwraps it with fzstd.
 */
async function* withoutZstd(input: Readable): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  while (head.length < 4) {
    const next = await it.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  const rest = async function* () {
    if (head.length) yield head;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  };
  if (!(head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)) {
    yield* rest();
    return;
  }
  const zstd = decompressor('zstd')!;
  const source = Readable.from(rest());
  source.on('error', (e) => zstd.destroy(e));
  source.pipe(zstd);
  for await (const chunk of zstd) yield chunk as Buffer;
}

async function stageFile(entry: ReadEntry, file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) { hash.update(chunk); size += chunk.length; cb(null, chunk); },
  });
  await pipeline(entry as unknown as AsyncIterable<Buffer>, tap, createWriteStream(file));
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** node-tar's codes, in words. */
function tarError(e: Error): ArchiveError {
  if (e instanceof ArchiveError) return e;
  const code = (e as { tarCode?: string }).tarCode;
  const text = e.message.replace(/^TAR_[A-Z_]+: /, '');
  if (code === 'TAR_BAD_ARCHIVE' && /truncated/i.test(text)) return new ArchiveError(`the archive is truncated: ${text.replace(/^Truncated input \((.*)\)$/, '$1')}`);
  if (code === 'TAR_ENTRY_INVALID') return new ArchiveError(`not a tar archive, or a damaged one (${text})`);
  return new ArchiveError(text);
}
