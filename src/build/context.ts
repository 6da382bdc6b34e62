/**
 * The build context: the tar the client sends (plain or gzip, as the docker
 * CLI sends it), unpacked into a private temporary directory. Entries that
 * would land outside it are refused by node-tar; owners are dropped, since
 * COPY makes files root's unless told otherwise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';

export interface Context {
  dir: string;
  dispose(): Promise<void>;
}

export async function unpackContext(body: Readable, tmpRoot: string): Promise<Context> {
  const dir = await mkdtemp(join(tmpRoot, 'ctx-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const peek = new PassThrough();
    const first = await new Promise<Buffer>((resolve, reject) => {
      body.once('error', reject);
      body.once('end', () => resolve(Buffer.alloc(0)));
      body.once('readable', () => resolve((body.read() as Buffer | null) ?? Buffer.alloc(0)));
    });
    if (first.length === 0) return { dir, dispose };
    peek.write(first);
    body.pipe(peek);
    const gz = first[0] === 0x1f && first[1] === 0x8b;
    const x = tar.x({ cwd: dir, preserveOwner: false, strict: true } as Parameters<typeof tar.x>[0]) as unknown as NodeJS.WritableStream;
    await pipeline([peek, ...(gz ? [createGunzip()] : []), x]);
    return { dir, dispose };
  } catch (e) {
    await dispose();
    throw new Error(`the build context is not a valid tar archive: ${(e as Error).message}`);
  }
}
