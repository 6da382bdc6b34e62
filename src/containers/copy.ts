/**
 * `docker cp` on the daemon side (`/containers/{id}/archive`): the stat of a path as docker's
 * X-Docker-Container-Path-Stat header, a tar of a path, and a tar extracted into a directory. Paths are
 * resolved as the container sees them (rootpath.ts): symlinks never lead out of its root, and volumes
 * and bind mounts show their host directories. node-tar refuses entries with `..`, absolute names and
 * writes through a symlink, so a hostile archive cannot reach outside the target directory either.
 * File capabilities and `user.*` attributes go both ways as `SCHILY.xattr.*` records (tar-xattrs.ts).
 */
import { lstatSync, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { create as tarCreate } from 'tar';
import { extractTar } from '../common/tar-extract.js';
import { applyXattrs, collectXattrs, copiedXattr, injectXattrs, readXattrs, type Runner } from '../common/tar-xattrs.js';
import { run } from '../host/index.js';
import { InvalidParameterError, NotFoundError } from '../errors/index.js';
import { resolveInContainer, type RootMount } from '../common/rootpath.js';

export interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

/** Go's os.FileMode bits, which the docker CLI decodes from the stat header. */
const GO_MODE = { dir: 2 ** 31, symlink: 2 ** 27, device: 2 ** 26, pipe: 2 ** 25, socket: 2 ** 24, setuid: 2 ** 23, setgid: 2 ** 22, char: 2 ** 21, sticky: 2 ** 20 };

function goMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += GO_MODE.dir;
  if (st.isSymbolicLink()) m += GO_MODE.symlink;
  if (st.isBlockDevice()) m += GO_MODE.device;
  if (st.isCharacterDevice()) m += GO_MODE.device + GO_MODE.char;
  if (st.isFIFO()) m += GO_MODE.pipe;
  if (st.isSocket()) m += GO_MODE.socket;
  if (st.mode & 0o4000) m += GO_MODE.setuid;
  if (st.mode & 0o2000) m += GO_MODE.setgid;
  if (st.mode & 0o1000) m += GO_MODE.sticky;
  return m;
}

export function isGoDir(mode: number): boolean {
  return Math.floor(mode / GO_MODE.dir) % 2 === 1;
}

export interface CopyTarget { root: string; mounts: RootMount[]; name: string }

/** `path/` and `path/.` name the directory itself, followed if it is a link; otherwise the last component is not followed. */
async function locate(t: CopyTarget, path: string) {
  if (!path) throw new InvalidParameterError('Path cannot be empty');
  const follow = /\/\.?$/.test(path);
  const { host, inside } = await resolveInContainer(t.root, path, { keepLast: !follow, mounts: t.mounts });
  const st = await lstat(host).catch(() => undefined);
  if (!st) throw new NotFoundError(`Could not find the file ${path} in container ${t.name}`);
  return { host, inside, st };
}

export async function statPath(t: CopyTarget, path: string): Promise<PathStat> {
  const { st } = await locate(t, path);
  let linkTarget = '';
  if (st.isSymbolicLink()) linkTarget = (await resolveInContainer(t.root, path, { mounts: t.mounts })).inside;
  const name = path.endsWith('/.') ? '.' : basename(path.replace(/\/+$/, '')) || '/';
  return { name, size: st.size, mode: goMode(st), mtime: st.mtime.toISOString(), linkTarget };
}

export function encodeStat(s: PathStat): string {
  return Buffer.from(JSON.stringify(s)).toString('base64');
}

/** A tar of `path`, its top entry named as the path's last component (`.` for `dir/.`), as dockerd sends it. */
export async function archivePath(t: CopyTarget, path: string): Promise<{ stat: PathStat; tar: Readable }> {
  const s = await statPath(t, path);
  const { host } = await locate(t, path);
  const top = s.name === '/' ? '.' : s.name;
  const base = basename(host);
  const rename = (p: string) => (p === base ? top : p.startsWith(`${base}/`) ? `${top}/${p.slice(base.length + 1)}` : p);
  const onWriteEntry = (e: { path: string }) => { e.path = rename(e.path); };
  const tar = host === t.root
    ? tarCreate({ cwd: host, portable: false, follow: false }, ['.'])
    : tarCreate({ cwd: dirname(host), portable: false, follow: false, onWriteEntry }, [base]);
  const xattrs = host === t.root
    ? readXattrs(runner, host, host, { keep: copiedXattr })
    : readXattrs(runner, dirname(host), host, { keep: copiedXattr, nameOf: rename });
  const withXattrs = (tar as unknown as Readable).pipe(injectXattrs(xattrs));
  (tar as unknown as Readable).on('error', (e: Error) => withXattrs.destroy(e));
  return { stat: s, tar: withXattrs };
}

/** Extracts a tar into the directory `path` of the container. */
export async function extractInto(t: CopyTarget, path: string, body: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean; readonlyRootfs: boolean }): Promise<void> {
  const { host, st } = await locate(t, /\/\.?$/.test(path) ? path : `${path}/`).catch((e: unknown) => {
    if (e instanceof NotFoundError) throw new NotFoundError(`Could not find the file ${path} in container ${t.name}`);
    throw e;
  });
  if (!st.isDirectory()) throw new InvalidParameterError('extraction point is not a directory');
  if (opts.readonlyRootfs && !t.mounts.some((m) => host.startsWith(m.source))) {
    throw new InvalidParameterError('container rootfs is marked read-only');
  }
  let refused: Error | undefined;
  const xattrs = collectXattrs(copiedXattr);
  body.on('error', (e) => xattrs.destroy(e));
  await extractTar(body.pipe(xattrs), host, {
    preserveOwner: opts.copyUIDGID,
    filter: (p, type) => {
      if (refused) return false;
      if (!opts.noOverwriteDirNonDir) return true;
      const existing = statSyncSafe(`${host}/${p}`);
      const isDir = type === 'Directory';
      if (existing && existing.isDirectory() && !isDir) refused = new InvalidParameterError(`cannot overwrite directory "${p}" with non-directory "${p}"`);
      if (existing && !existing.isDirectory() && isDir) refused = new InvalidParameterError(`cannot overwrite non-directory "${p}" with directory "${p}"`);
      return !refused;
    },
  });
  if (refused) throw refused;
  await applyXattrs(runner, host, xattrs.collected);
}

const runner: Runner = (cmd, args, input) => run(cmd, args, { input, allowFailure: true });

function statSyncSafe(p: string): Stats | undefined {
  try { return lstatSync(p); } catch { return undefined; }
}
