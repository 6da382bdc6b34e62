/**
 * The build context: the tar the client sends (plain or gzip, as the docker
 * CLI sends it), unpacked into a private temporary directory. Entries that
 * would land outside it are refused by node-tar; owners are dropped, since
 * COPY makes files root's unless told otherwise.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
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

/** Builds running now: while there is one, its temporary directories are not orphans. */
let active = 0;

export async function trackBuild<T>(fn: () => Promise<T>): Promise<T> {
  active++;
  try { return await fn(); } finally { active--; }
}

export interface BuildCheckProblem { kind: string; subject: string; message: string; repaired?: string }

/**
 * `system check` of the build part's temporary directory (contexts, COPY staging, COPY --from
 * mounts): anything there while no build runs is left from a build that was cut short.
 */
export async function checkBuildDir(tmpRoot: string, opts: { repair: boolean; unmount: (target: string) => Promise<void> }): Promise<BuildCheckProblem[]> {
  if (active > 0) return [];
  const problems: BuildCheckProblem[] = [];
  const mounted = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${tmpRoot}/`));
  for (const m of mounted.reverse()) {
    problems.push({ kind: 'mount', subject: m, message: 'a mount of a build that was cut short is left' });
    if (opts.repair) { await opts.unmount(m); problems.at(-1)!.repaired = 'unmounted'; }
  }
  for (const name of await readdir(tmpRoot).catch(() => [] as string[])) {
    problems.push({ kind: 'temp', subject: join(tmpRoot, name), message: 'a temporary directory of a build that was cut short' });
    if (opts.repair) {
      const still = (await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${join(tmpRoot, name)}`);
      if (!still) { await rm(join(tmpRoot, name), { recursive: true, force: true }); problems.at(-1)!.repaired = 'removed'; }
    }
  }
  return problems;
}
