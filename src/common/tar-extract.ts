/**
 * Unpacking a tar into a directory the way `cp` needs on both sides: node-tar's guards (no `..`, no
 * absolute names, no writing through a symlink), but symlinks keep absolute targets, which are normal
 * in a container (node-tar would strip the leading slash). Those links are made after every file is
 * written, so no later entry can be written through one.
 */
import { lstatSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { extract } from 'tar';

export interface ExtractOptions {
  preserveOwner?: boolean;
  /** Called for each entry before it is written; return false to skip it. */
  filter?: (path: string, type: string) => boolean;
}

export async function extractTar(body: Readable, cwd: string, opts: ExtractOptions = {}): Promise<void> {
  const links: { path: string; target: string }[] = [];
  const unpack = extract({
    cwd,
    preserveOwner: !!opts.preserveOwner,
    filter: (p: string, entry: unknown) => {
      const e = entry as { type?: string; linkpath?: string };
      if (opts.filter && !opts.filter(p, e.type ?? '')) return false;
      if (e.type === 'SymbolicLink' && e.linkpath?.startsWith('/')) {
        links.push({ path: p, target: e.linkpath });
        return false;
      }
      return true;
    },
  });
  await new Promise<void>((resolve, reject) => {
    unpack.on('error', reject);
    unpack.on('close', () => resolve());
    body.on('error', reject);
    body.pipe(unpack as unknown as NodeJS.WritableStream);
  });
  for (const { path, target } of links) {
    const parts = path.split('/').filter((x) => x && x !== '.');
    if (!parts.length || parts.includes('..') || path.startsWith('/')) continue;
    // Only where every parent is a real directory under cwd.
    let ok = true;
    for (let i = 1; i < parts.length && ok; i++) {
      try { ok = lstatSync(join(cwd, ...parts.slice(0, i))).isDirectory(); } catch { ok = false; }
    }
    if (!ok) continue;
    const dest = join(cwd, ...parts);
    try { if (!lstatSync(dest).isDirectory()) rmSync(dest, { force: true }); else continue; } catch { /* not there */ }
    symlinkSync(target, dest);
  }
}
