/**
 * Content-addressed blobs under `blobs/sha256/<hex>`. Writes go to a temporary
 * file, are hashed while they stream and only renamed into place when the
 * digest is right, so a blob that exists is always complete and correct.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { InvalidParameterError, NotFoundError } from '../errors/index.js';

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export class ContentStore {
  /**
   * Blobs and temporary paths made since the daemon started whose operation may still be going on
   * (a pull has its blobs before it records the image): `system check` does not take them for orphans.
   */
  readonly recent = new Set<string>();

  constructor(readonly root: string) {}

  async init(): Promise<void> {
    await mkdir(join(this.root, 'sha256'), { recursive: true });
    await mkdir(join(this.root, 'tmp'), { recursive: true });
  }

  path(digest: string): string {
    const [alg, hex] = digest.split(':');
    if (alg !== 'sha256' || !hex || !/^[a-f0-9]{64}$/.test(hex)) throw new InvalidParameterError(`invalid digest: ${digest}`);
    return join(this.root, 'sha256', hex);
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.path(digest)).then(() => true, () => false);
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  async read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest)).catch(() => { throw new NotFoundError(`blob ${digest} not found`); });
  }

  async readJson<T>(digest: string): Promise<T> {
    return JSON.parse((await this.read(digest)).toString()) as T;
  }

  stream(digest: string): Readable {
    return createReadStream(this.path(digest));
  }

  async put(data: Buffer | string): Promise<{ digest: string; size: number }> {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const digest = sha256(buf);
    if (!(await this.has(digest))) {
      const tmp = this.tempPath();
      const { writeFile } = await import('node:fs/promises');
      await writeFile(tmp, buf);
      await rename(tmp, this.path(digest));
      this.recent.delete(tmp);
    }
    this.recent.add(digest);
    return { digest, size: buf.length };
  }

  /**
   * Streams `source` into the store. With `expected`, a mismatching digest is
   * rejected and nothing is kept.
   */
  async putStream(source: Readable, expected?: string): Promise<{ digest: string; size: number }> {
    const tmp = this.tempPath();
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) { hash.update(chunk); size += chunk.length; cb(null, chunk); },
    });
    try {
      await pipeline(source, tap, createWriteStream(tmp));
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected && digest !== expected) throw new InvalidParameterError(`digest mismatch: expected ${expected}, got ${digest}`);
      await rename(tmp, this.path(digest));
      this.recent.add(digest);
      return { digest, size };
    } finally {
      await rm(tmp, { force: true });
      this.recent.delete(tmp);
    }
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  tempPath(): string {
    const p = join(this.root, 'tmp', randomBytes(8).toString('hex'));
    this.recent.add(p);
    return p;
  }
}
