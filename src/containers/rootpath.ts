/**
 * Paths inside a container's root filesystem, resolved on the host the way the kernel would resolve
 * them inside the container: symlinks (absolute ones too) and `..` never leave the root. Every host-side
 * access to a path the container controls (the working directory made before start, `cp` both ways)
 * goes through here, so a symlink in an image cannot point berth at the host's own files.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors/index.js';

const MAX_LINKS = 40;

/**
 * The host path of `path` inside `root`, every symlink followed within the root (as moby's
 * FollowSymlinkInScope). With `keepLast` the final component is not followed (cp copies a link as a link).
 * Components that do not exist are kept as they are.
 */
export async function resolveInRoot(root: string, path: string, opts: { keepLast?: boolean } = {}): Promise<string> {
  const parts = path.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') { done.pop(); continue; }
    if (opts.keepLast && parts.length === 0) { done.push(part); break; }
    const host = join(root, ...done, part);
    const st = await lstat(host).catch(() => undefined);
    if (!st?.isSymbolicLink()) { done.push(part); continue; }
    if (++links > MAX_LINKS) throw new InvalidParameterError(`too many levels of symbolic links: ${path}`);
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    parts.unshift(...target.split('/').filter((p) => p && p !== '.'));
  }
  return join(root, ...done);
}

/** The in-container path of a host path under `root` (for messages and stat headers). */
export function insidePath(root: string, host: string): string {
  const rel = host.slice(root.length).replace(/^\/+/, '');
  return `/${rel}`;
}
