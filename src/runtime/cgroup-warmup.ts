/**
 * Keeps the kernel's cgroup-migration lock ready while a container or an exec session starts.
 *
 * Every migration into a cgroup (`runc create` and `runc exec` write the new process's PID into cgroup.procs)
 * takes `cgroup_threadgroup_rwsem` for writing. That percpu rwsem is guarded by an rcu_sync: the first writer
 * after a quiet spell waits for a full RCU grace period before it has the lock, and the rcu_sync stays in its
 * writer-ready state for one more grace period after the last writer left. Measured here (cgroup v1, 2 vCPUs):
 * a migration after a quiet spell takes 7.5 ms, one within about 20 ms of another 0.05 ms, and `runc run` of
 * the bench's floor bundle 35 ms cold against 25 ms with the lock kept warm beside it.
 *
 * So while a start is under way, the daemon rewrites its own PID into its own cgroup.procs (a migration that
 * moves nothing but takes the lock like any other) every few milliseconds: the first grace period is waited for
 * in the threadpool while the bundle is written and conmon and runc start up, and runc's migration, 20 ms or so
 * later, finds the lock warm. Readers of the rwsem (fork and exit) take its slower path meanwhile: a shared
 * counter instead of a per-CPU one, for the few tens of milliseconds a start takes. A kernel whose cgroups are
 * mounted with `favordynmods` keeps the lock in that state for good, and these writes cost nothing more.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseProcCgroup } from '../common/proc-cgroup.js';

/** Under the grace period's after-life measured here (about 20 ms), with room for a busy threadpool. */
const INTERVAL_MS = 5;

let procsFile: string | null | undefined;
let holders = 0;
let running = false;

/**
 * Where the process whose /proc/self/cgroup is `text` may find its own cgroup.procs, best first: the unified
 * hierarchy's (`0::`, at /sys/fs/cgroup/unified in a hybrid layout, /sys/fs/cgroup under v2 alone), then each
 * v1 controller's. The rwsem is one for all hierarchies, so any that exists will do.
 */
export function cgroupProcsCandidates(text: string): string[] {
  const entries = parseProcCgroup(text).map((e) => ({ ...e, path: e.path.replace(/\/$/, '') }));
  const unified = entries.filter((e) => e.controllers.length === 0).flatMap((e) => [`/sys/fs/cgroup/unified${e.path}`, `/sys/fs/cgroup${e.path}`]);
  const v1 = entries.filter((e) => e.controllers.length > 0).map((e) => `/sys/fs/cgroup/${e.controllers.join(',').replace(/^name=/, '')}${e.path}`);
  return [...unified, ...v1].map((dir) => `${dir}/cgroup.procs`);
}

/** null when no candidate exists (no cgroupfs in this mount namespace). */
function ownCgroupProcs(): string | null {
  let text = '';
  try { text = readFileSync('/proc/self/cgroup', 'utf8'); } catch { return null; }
  return cgroupProcsCandidates(text).find((f) => existsSync(f)) ?? null;
}

async function keepWarm(file: string): Promise<void> {
  running = true;
  try {
    while (holders > 0) {
      // A refusal (EBUSY for a v2 cgroup with controllers in its subtree) comes after the lock was taken: as good.
      await writeFile(file, String(process.pid)).catch(() => {});
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
    }
  } finally {
    running = false;
  }
}

/**
 * Holds the lock warm until the returned function is called (once per start; the starts of several containers
 * at a time share one loop). Never throws: without a cgroup.procs to write, starts are only slower.
 */
export function holdCgroupAttachWarm(): () => void {
  if (procsFile === undefined) procsFile = ownCgroupProcs(); // null, once found missing, stays so
  if (!procsFile) return () => {};
  holders += 1;
  if (!running) void keepWarm(procsFile);
  let released = false;
  return () => {
    if (!released) { released = true; holders -= 1; }
  };
}
