/**
 * The build context: the tar the client sends (plain or gzip, as the docker
 * CLI sends it), unpacked into a private temporary directory. Entries that
 * would land outside it are refused by node-tar; owners are dropped, since
 * COPY makes files root's unless told otherwise. Extended attributes the tar
 * carries (`SCHILY.xattr.*`: the docker CLI sends file capabilities, berth's
 * also `user.*`) are set on the unpacked files, for COPY to take along.
 */
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import { resolveInContainer } from '../common/rootpath.js';
import { applyXattrs, collectXattrs, type Runner } from '../common/tar-xattrs.js';
import { run } from '../host/index.js';
import { keepXattr } from '../images/xattrs.js';

/** getfattr and setfattr through the host layer, their failures left to the caller to judge. */
export const runner: Runner = (cmd, args, input) => run(cmd, args, { input, allowFailure: true });

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
    // Symlinks are made after every file is written, as they are, whatever they point at (a context may hold
    // links out of it, as docker's may): nothing is ever written through one, and COPY never follows one out.
    const links: { path: string; target: string }[] = [];
    const x = tar.x({
      cwd: dir, preserveOwner: false, strict: true,
      filter: (path: string, entry: unknown) => {
        const e = entry as { type?: string; linkpath?: string };
        if (e.type !== 'SymbolicLink') return true;
        links.push({ path, target: e.linkpath ?? '' });
        return false;
      },
    } as Parameters<typeof tar.x>[0]) as unknown as NodeJS.WritableStream;
    const xattrs = collectXattrs(keepXattr);
    await pipeline([peek, ...(gz ? [createGunzip()] : []), xattrs, x]);
    await applyXattrs(runner, dir, xattrs.collected);
    for (const l of links) await placeLink(dir, l.path, l.target);
    return { dir, dispose };
  } catch (e) {
    await dispose();
    throw new Error(`the build context is not a valid tar archive: ${(e as Error).message}`);
  }
}

/** A context symlink at `path`, only where every parent is a real directory inside `dir`. */
async function placeLink(dir: string, path: string, target: string): Promise<void> {
  const parts = path.split('/').filter((p) => p && p !== '.');
  if (!parts.length || parts.includes('..') || path.startsWith('/')) throw new Error(`refused symlink ${path}: its name leads out of the context`);
  let at = dir;
  for (const part of parts.slice(0, -1)) {
    at = join(at, part);
    const st = await lstat(at).catch(() => undefined);
    if (!st) await mkdir(at);
    else if (!st.isDirectory()) throw new Error(`refused symlink ${path}: ${part} is not a directory`);
  }
  const dest = join(at, parts.at(-1)!);
  const st = await lstat(dest).catch(() => undefined);
  if (st?.isDirectory()) throw new Error(`refused symlink ${path}: a directory of that name is in the context`);
  if (st) await rm(dest, { force: true });
  await symlink(target, dest);
}

/**
 * `rel` under `root` with every symlink followed inside the root, as the kernel would inside a
 * container (an absolute target restarts at the root, `..` stops there): COPY sources, from the
 * context or another image, never lead to the host's files. The walk is the one container paths take.
 */
export async function resolveInScope(root: string, rel: string): Promise<string> {
  return (await resolveInContainer(root, rel)).inside.slice(1);
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
