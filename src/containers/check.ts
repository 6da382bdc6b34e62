/**
 * `berth system check` for the containers part: every container directory belongs to a record,
 * every record has its directory, and a root filesystem is mounted only while its container runs
 * (or a `cp` holds it). With `repair`, a directory no record knows is removed (unmounted first), a
 * stray mount is unmounted, and a record whose directory is gone (a removal cut short) is removed.
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckProblem } from '../images/index.js';
import type { ContainerRecord } from './types.js';

export interface ContainerCheckContext {
  root: string;
  records: () => ContainerRecord[];
  /** Runs `fn` holding the container's lock (so no start, cp or removal runs beside it). */
  locked: <T>(id: string, fn: () => Promise<T>) => Promise<T>;
  unmount: (target: string) => Promise<void>;
  /** Finishes the removal of a container whose directory is gone. */
  forget: (id: string) => Promise<void>;
  imageExists: (id: string) => Promise<boolean>;
}

/** Mount points at or under `dir`, from this process's mount table. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').map((l) => l.split(' ')[4] ?? '')
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m.startsWith(`${dir}/`));
}

const exists = (p: string) => stat(p).then(() => true, () => false);
const isActive = (c: ContainerRecord) => c.State.Running || c.State.Paused || c.State.Restarting;

export async function checkContainers(ctx: ContainerCheckContext, opts: { repair: boolean }): Promise<{ problems: CheckProblem[]; counts: Record<string, number> }> {
  const problems: CheckProblem[] = [];
  const byId = new Map(ctx.records().map((c) => [c.Id, c]));

  // Directories without a record (a create cut short before it was recorded).
  for (const name of await readdir(ctx.root).catch(() => [] as string[])) {
    if (byId.has(name)) continue;
    problems.push({ kind: 'container', subject: name, message: 'a container directory no record knows' });
    if (!opts.repair) continue;
    await ctx.locked(name, async () => {
      if (ctx.records().some((c) => c.Id === name)) return;
      for (const m of (await mountsUnder(join(ctx.root, name))).reverse()) await ctx.unmount(m);
      if ((await mountsUnder(join(ctx.root, name))).length) return;
      await rm(join(ctx.root, name), { recursive: true, force: true });
      problems.at(-1)!.repaired = 'removed';
    });
  }

  for (const c of byId.values()) {
    // Records without their directory: a removal cut short after it deleted the files.
    if (!(await exists(join(ctx.root, c.Id, 'upper')))) {
      problems.push({ kind: 'container', subject: c.Id, message: `container ${c.Name.slice(1)} has lost its directory (a removal was interrupted)` });
      if (opts.repair && !isActive(c)) { await ctx.forget(c.Id); problems.at(-1)!.repaired = 'removal finished'; }
      continue;
    }
    if (!(await ctx.imageExists(c.Image))) {
      problems.push({ kind: 'container', subject: c.Id, message: `container ${c.Name.slice(1)} uses image ${c.Image.slice(7, 19)}, which is gone (it can still be removed)` });
    }
  }

  // Mounts: only a running container's root filesystem stays mounted; under the lock, a cp's mount is not seen.
  for (const m of await mountsUnder(ctx.root)) {
    const id = m.slice(ctx.root.length + 1).split('/')[0]!;
    const c = byId.get(id);
    if (c && isActive(c)) continue;
    if (!c && problems.some((p) => p.subject === id && p.repaired)) continue;
    await (c ? ctx.locked(id, async () => {
      const cur = ctx.records().find((r) => r.Id === id);
      if (cur && isActive(cur)) return;
      if (!(await mountsUnder(ctx.root)).includes(m)) return;
      problems.push({ kind: 'mount', subject: m, message: `a mount of ${cur ? `stopped container ${cur.Name.slice(1)}` : 'a container that no longer exists'} is left` });
      if (opts.repair) { await ctx.unmount(m); problems.at(-1)!.repaired = 'unmounted'; }
    }) : Promise.resolve().then(() => { problems.push({ kind: 'mount', subject: m, message: 'a mount of a container that no longer exists is left' }); }));
  }

  return { problems, counts: { containers: byId.size } };
}
