/**
 * What a container changed, read from its overlay upper dir: `diff` lists it,
 * `commit` turns it into an OCI layer. Overlay marks a deletion with a 0/0
 * character device and a replaced directory with `trusted.overlay.opaque`;
 * an OCI layer says the same with `.wh.NAME` and `.wh..wh..opq` entries.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Header } from 'tar';
import { run } from '../host/index.js';
import { tarPaths } from '../images/layers.js';

export interface Change { Path: string; Kind: 0 | 1 | 2 } // 0 modified, 1 added, 2 deleted, as docker

interface UpperEntry { path: string; whiteout: boolean; opaque: boolean; dir: boolean }

async function opaqueDirs(upper: string): Promise<Set<string>> {
  // One getfattr over the tree: "# file: PATH" then the value, for each directory that has it.
  const dump = await run('getfattr', ['-R', '--absolute-names', '-n', 'trusted.overlay.opaque', upper], { allowFailure: true });
  const out = new Set<string>();
  let current: string | undefined;
  for (const line of dump.stdout.split('\n')) {
    if (line.startsWith('# file: ')) current = line.slice('# file: '.length);
    else if (current && /^trusted\.overlay\.opaque="y"/.test(line)) out.add(current.slice(upper.length + 1));
  }
  return out;
}

/**
 * Files runc creates as bind-mount targets for the ones the engine manages; dockerd keeps them in a
 * separate init layer, so they never show in `diff` or a committed image.
 */
const MOUNT_TARGETS = new Set(['etc/hostname', 'etc/hosts', 'etc/resolv.conf']);

/** Directories that hold mount targets: copied up only to make them, as dockerd's init layer does. */
const MOUNT_PARENTS = new Set([...MOUNT_TARGETS].map((p) => p.slice(0, p.lastIndexOf('/'))));

async function walkUpper(upper: string): Promise<{ entries: UpperEntry[]; hidden: Set<string> }> {
  const opaque = await opaqueDirs(upper);
  const out: UpperEntry[] = [];
  const hidden = new Set<string>();
  /** Walks `rel`; says whether anything in it was left out as a mount target (and nothing else is there). */
  const walk = async (rel: string): Promise<boolean> => {
    let onlyTargets = true; let any = false;
    for (const name of (await readdir(join(upper, rel))).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(upper, p));
      if (MOUNT_TARGETS.has(p) && st.isFile() && st.size === 0) { hidden.add(p); any = true; continue; }
      onlyTargets = false;
      const whiteout = st.isCharacterDevice() && st.rdev === 0;
      const at = out.length;
      out.push({ path: p, whiteout, opaque: opaque.has(p), dir: st.isDirectory() });
      // /etc copied up only to hold the mount targets is dockerd's init layer, not a change.
      if (st.isDirectory() && await walk(p) && MOUNT_PARENTS.has(p) && !opaque.has(p)) { out.splice(at, 1); hidden.add(p); }
    }
    return onlyTargets && any;
  };
  await walk('');
  return { entries: out, hidden };
}

async function existsBelow(lowerDirs: string[], path: string): Promise<boolean> {
  for (const d of lowerDirs) if (await lstat(join(d, path)).then(() => true, () => false)) return true;
  return false;
}

/** `docker diff`: A for added, C for changed (parents of changes too), D for deleted. */
export async function containerChanges(upper: string, lowerDirs: string[]): Promise<Change[]> {
  const changes: Change[] = [];
  for (const e of (await walkUpper(upper)).entries) {
    const kind = e.whiteout ? 2 : (await existsBelow(lowerDirs, e.path)) ? 0 : 1;
    changes.push({ Path: `/${e.path}`, Kind: kind });
  }
  return changes;
}

function emptyFile(path: string): Buffer {
  const h = new Header({ path, type: 'File', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) });
  h.encode();
  return h.block!;
}

/**
 * The upper dir as an uncompressed OCI layer tar: whiteout entries first
 * (they only ever hide lower layers), then everything else with its
 * extended attributes, without overlay's own markers and xattrs.
 */
export async function upperAsLayer(upper: string): Promise<Readable> {
  const { entries } = await walkUpper(upper);
  const markers: Buffer[] = [];
  for (const e of entries) {
    if (e.whiteout) {
      const slash = e.path.lastIndexOf('/');
      markers.push(emptyFile(`${e.path.slice(0, slash + 1)}.wh.${e.path.slice(slash + 1)}`));
    }
    if (e.opaque) markers.push(emptyFile(`${e.path}/.wh..wh..opq`));
  }
  // GNU tar, so the files' extended attributes (file capabilities, user.*, trusted.*) go with them.
  const pack = await tarPaths(upper, entries.filter((e) => !e.whiteout).map((e) => e.path));
  async function* all(): AsyncGenerator<Buffer> {
    for (const m of markers) yield m;
    for await (const chunk of pack) yield chunk as Buffer;
  }
  return Readable.from(all());
}
