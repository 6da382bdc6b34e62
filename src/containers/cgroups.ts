/**
 * Reading a container's cgroup (its cgroupsPath is `/berth/<id>`, or `<--cgroup-parent>/<id>`): per
 * controller under cgroup v1 (this machine's hybrid layout), one directory under v2. runc writes the
 * limits; berth only reads (stats, the OOM kill count) until `runc delete` removes the cgroup.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseProcCgroup } from '../common/proc-cgroup.js';

const ROOT = '/sys/fs/cgroup';

export const cgroupV2 = (): boolean => existsSync(join(ROOT, 'cgroup.controllers'));

/**
 * The spec's cgroupsPath, as dockerd's cgroupfs driver makes it: the parent joined with the ID. A relative
 * parent stays relative: runc places it under its own cgroup, which is the daemon's (conmon inherits it).
 */
export function cgroupsPath(c: { Id: string; HostConfig: Record<string, unknown> }): string {
  const parent = c.HostConfig.CgroupParent;
  return typeof parent === 'string' && parent ? posix.join(parent, c.Id) : `/berth/${c.Id}`;
}

/** The daemon's own cgroup in one hierarchy (`0::/x` under v2, `N:memory:/x` under v1), where runc roots a relative path. */
function ownCgroup(controller: string): string {
  const entries = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
  const entry = entries.find((e) => (cgroupV2() ? e.controllers.length === 0 : e.controllers.includes(controller)));
  return entry?.path || '/';
}

/** The directory of one v1 controller (`memory`, `cpu,cpuacct`, …) or the v2 directory. */
export function cgroupDir(path: string, controller: string): string {
  const abs = path.startsWith('/') ? path : posix.join(ownCgroup(controller), path);
  return cgroupV2() ? join(ROOT, abs) : join(ROOT, controller, abs);
}

/**
 * A file of the container's cgroup; `path` is its cgroupsPath. Read synchronously: the kernel makes these few bytes
 * up on the read, in microseconds, where an awaited read is four threadpool round trips (an exit's, on its way to
 * the client's `wait`, among them).
 */
export async function readCgroup(path: string, controller: string, file: string): Promise<string | undefined> {
  try { return readFileSync(join(cgroupDir(path, controller), file), 'utf8'); } catch { return undefined; }
}

/** `key value` lines (memory.stat, cpu.stat, memory.oom_control, memory.events) as numbers. */
export function keyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Whether the kernel's OOM killer ended a process of the container (read before `runc delete`). */
export async function oomKilled(path: string): Promise<boolean> {
  const text = cgroupV2() ? await readCgroup(path, 'memory', 'memory.events') : await readCgroup(path, 'memory', 'memory.oom_control');
  return (keyValues(text).oom_kill ?? 0) > 0;
}
