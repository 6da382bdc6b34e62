/**
 * `berth cp`: files between a container and the host, with docker's rules for where they land
 * (into an existing directory, or renamed to a path that does not exist yet; `dir/.` copies contents).
 */
import { lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ApiError, type Client } from '../client.js';
import { clientOf, ExitError } from '../context.js';
import { humanSize } from '../format.js';

interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;
const isDir = (s: PathStat) => Math.floor(s.mode / GO_DIR) % 2 === 1;
const isLink = (s: PathStat) => Math.floor(s.mode / GO_SYMLINK) % 2 === 1;

/** `CONTAINER:PATH` as docker splits it: a colon before any slash, and not a path that starts with `.` or `/`. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  const slash = arg.indexOf('/');
  if (slash >= 0 && slash < i) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

function decodeStat(header: string | string[] | undefined): PathStat | undefined {
  if (typeof header !== 'string' || !header) return undefined;
  return JSON.parse(Buffer.from(header, 'base64').toString()) as PathStat;
}

async function statInContainer(client: Client, ctr: string, path: string): Promise<PathStat | undefined> {
  try {
    const res = await client.raw('HEAD', `/containers/${encodeURIComponent(ctr)}/archive`, { query: { path } });
    res.resume();
    return decodeStat(res.headers['x-docker-container-path-stat']);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

/**
 * A tar of `src` whose top entry is named `top` (`.` puts the directory's contents at the top).
 * tar is loaded here, not at the top: every other command would pay for it at start-up.
 */
async function tarOf(src: string, top: string, follow: boolean): Promise<Readable> {
  const { create: tarCreate } = await import('tar');
  const { copiedXattr, injectXattrs, readXattrs, spawnRunner } = await import('../../common/tar-xattrs.js');
  // File capabilities and user.* attributes go along as SCHILY.xattr records, which node-tar cannot write itself.
  const withXattrs = (tar: Readable, xattrs: ReturnType<typeof readXattrs>) => {
    const out = tar.pipe(injectXattrs(xattrs));
    tar.on('error', (e: Error) => out.destroy(e));
    return out;
  };
  if (top === '.') {
    return withXattrs(tarCreate({ cwd: src, portable: false, follow }, ['.']) as unknown as Readable,
      readXattrs(spawnRunner, src, src, { keep: copiedXattr, follow }));
  }
  const base = basename(src);
  const rename = (p: string) => (p === base ? top : p.startsWith(`${base}/`) ? `${top}/${p.slice(base.length + 1)}` : p);
  const onWriteEntry = (e: { path: string }) => { e.path = rename(e.path); };
  return withXattrs(tarCreate({ cwd: dirname(src), portable: false, follow, onWriteEntry }, [base]) as unknown as Readable,
    readXattrs(spawnRunner, dirname(src), src, { keep: copiedXattr, follow, nameOf: rename }));
}

function counted(stream: Readable, onBytes: (n: number) => void): Readable {
  stream.on('data', (b: Buffer) => onBytes(b.length));
  return stream;
}

async function toContainer(client: Client, src: string, ctr: string, dest: string, o: CpFlags): Promise<number> {
  let bytes = 0;
  const put = async (dir: string, body: Readable) => {
    await client.call('PUT', `/containers/${encodeURIComponent(ctr)}/archive`, {
      query: { path: dir, noOverwriteDirNonDir: true, copyUIDGID: !!o.archive }, stream: counted(body, (n) => { bytes += n; }),
      headers: { 'Content-Type': 'application/x-tar' },
    });
  };
  if (src === '-') { await put(dest, process.stdin); return bytes; }
  let st: Stats;
  try { st = o.followLink ? statSync(src) : lstatSync(src); } catch {
    throw new ExitError(1, `lstat ${resolve(src)}: no such file or directory`);
  }
  const contents = /\/\.$/.test(src);
  const target = await statInContainer(client, ctr, dest);
  if (target && isDir(target)) {
    await put(dest, await tarOf(resolve(src), contents ? '.' : basename(resolve(src)), !!o.followLink));
    return bytes;
  }
  if (!target && /\/$/.test(dest)) throw new ExitError(1, `Error response from daemon: Could not find the file ${dest} in container ${ctr}`);
  if (target && st.isDirectory()) throw new ExitError(1, `Error response from daemon: cannot overwrite non-directory "${dest}" with directory "${src}"`);
  const parent = dirname(dest.replace(/\/+$/, '')) || '/';
  await put(parent, await tarOf(resolve(src), basename(dest.replace(/\/+$/, '')), !!o.followLink));
  return bytes;
}

async function fromContainer(client: Client, ctr: string, src: string, dest: string, o: CpFlags): Promise<number> {
  let path = src;
  if (o.followLink) {
    const s = await statInContainer(client, ctr, src);
    if (s && isLink(s) && s.linkTarget) path = s.linkTarget;
  }
  const res = await client.raw('GET', `/containers/${encodeURIComponent(ctr)}/archive`, { query: { path } });
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  let bytes = 0;
  const body = counted(res, (n) => { bytes += n; });
  if (dest === '-') { await pipeline(body, process.stdout); return bytes; }
  const destStat = (() => {
    try { return statSync(dest); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new ExitError(1, `stat ${resolve(dest)}${dest.endsWith('/') ? '/' : ''}: not a directory`);
      return undefined;
    }
  })();
  const { extractTar } = await import('../../common/tar-extract.js');
  const { applyXattrs, collectXattrs, copiedXattr, spawnRunner } = await import('../../common/tar-xattrs.js');
  const extract = async (cwd: string) => {
    const xattrs = collectXattrs(copiedXattr);
    body.on('error', (e) => xattrs.destroy(e));
    await extractTar(body.pipe(xattrs), cwd, { preserveOwner: !!o.archive });
    await applyXattrs(spawnRunner, cwd, xattrs.collected);
  };
  if (destStat?.isDirectory()) { await extract(dest); return bytes; }
  if (!destStat && /\/$/.test(dest)) throw new ExitError(1, 'no such directory');
  if (destStat && stat && isDir(stat)) throw new ExitError(1, `cannot overwrite non-directory "${dest}" with directory "${src}"`);
  try { statSync(dirname(resolve(dest))); } catch { throw new ExitError(1, `invalid output path: directory "${dirname(dest)}" does not exist`); }
  if (!destStat && stat?.name === '.') { mkdirSync(dest); await extract(dest); return bytes; }
  // Renamed on the way: unpack next to the destination, then move the one top entry into place.
  const tmp = mkdtempSync(join(dirname(resolve(dest)), '.berth-cp-'));
  try {
    await extract(tmp);
    const top = stat?.name && stat.name !== '.' && stat.name !== '/' ? stat.name : undefined;
    if (!top) throw new ExitError(1, `cannot copy the contents of ${src} to ${dest}, which is not a directory`);
    if (destStat) rmSync(dest, { force: true });
    renameSync(join(tmp, top), resolve(dest));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bytes;
}

interface CpFlags { archive?: boolean; followLink?: boolean; quiet?: boolean }

export function registerCp(program: Command): void {
  program.command('cp').description('Copy files/folders between a container and the local filesystem')
    .usage('[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH')
    .argument('<src>').argument('<dest>')
    .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'Suppress progress output during copy')
    .action(async (srcArg: string, destArg: string, o: CpFlags, cmd: Command) => {
      const src = splitCpArg(srcArg); const dest = splitCpArg(destArg);
      if (src.container && dest.container) throw new ExitError(1, 'copying between containers is not supported');
      if (!src.container && !dest.container) throw new ExitError(1, 'must specify at least one container source');
      if (!(src.container ? src.path : dest.path)) throw new ExitError(1, 'Error response from daemon: Path cannot be empty');
      const client = clientOf(cmd);
      try {
        const bytes = src.container
          ? await fromContainer(client, src.container, src.path, dest.path, o)
          : await toContainer(client, src.path, dest.container!, dest.path, o);
        const to = dest.container ? destArg : dest.path;
        // As the docker CLI: said only to a terminal.
        if (!o.quiet && process.stderr.isTTY && to !== '-') process.stderr.write(`Successfully copied ${humanSize(bytes)} to ${to}\n`);
      } catch (e) {
        if (e instanceof ApiError) throw new ExitError(1, `Error response from daemon: ${e.message || (e.status === 404 ? `Could not find the file ${src.container ? src.path : dest.path} in container ${src.container ?? dest.container}` : `status ${e.status}`)}`);
        throw e;
      }
    });
}
