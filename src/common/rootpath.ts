/**
 * Paths inside a root filesystem (a container's, or the image or context a build copies from),
 * resolved on the host the way the kernel would resolve them inside the container: symlinks
 * (absolute ones too) and `..` never leave the root. Every host-side access to a path the container
 * or image controls (the working directory made before start, `cp` both ways, COPY sources) goes
 * through here, so a symlink in an image cannot point berth at the host's own files.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors/index.js';

const MAX_LINKS = 40;

/** A bind mount or volume in the container's view: `destination` inside shows `source` on the host. */
export interface RootMount { destination: string; source: string }

/**
 * The host path of `path` inside `root`, every symlink followed within the root (as moby's
 * FollowSymlinkInScope). With `keepLast` the final component is not followed (cp copies a link as a link).
 * Components that do not exist are kept as they are. `mounts` (volumes, bind mounts) lay other host
 * directories over parts of the tree, as the container sees them.
 */
export async function resolveInRoot(root: string, path: string, opts: { keepLast?: boolean; mounts?: RootMount[] } = {}): Promise<string> {
  return (await resolveInContainer(root, path, opts)).host;
}

/** The same, also giving the path as the container sees it. */
export async function resolveInContainer(root: string, path: string, opts: { keepLast?: boolean; mounts?: RootMount[] } = {}): Promise<{ host: string; inside: string }> {
  const mounts = [...(opts.mounts ?? [])].sort((a, b) => b.destination.length - a.destination.length);
  const hostOf = (done: string[]): string => {
    const inside = `/${done.join('/')}`;
    const m = mounts.find((x) => inside === x.destination || inside.startsWith(`${x.destination.replace(/\/$/, '')}/`));
    return m ? join(m.source, inside.slice(m.destination.length)) : join(root, inside);
  };
  const parts = path.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') { done.pop(); continue; }
    if (opts.keepLast && parts.length === 0) { done.push(part); break; }
    const host = hostOf([...done, part]);
    const st = await lstat(host).catch(() => undefined);
    if (!st?.isSymbolicLink()) { done.push(part); continue; }
    if (++links > MAX_LINKS) throw new InvalidParameterError(`too many levels of symbolic links: ${path}`);
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    parts.unshift(...target.split('/').filter((p) => p && p !== '.'));
  }
  return { host: hostOf(done), inside: `/${done.join('/')}` };
}
