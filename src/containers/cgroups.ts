/**
 * Reading a container's cgroup (its cgroupsPath is `/berth/<id>`): per controller under cgroup v1
 * (this machine's hybrid layout), one directory under v2. runc writes the limits; berth only reads
 * (stats, the OOM kill count) until `runc delete` removes the cgroup.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

export const cgroupV2 = (): boolean => existsSync(join(ROOT, 'cgroup.controllers'));

export function cgroupsPath(id: string): string {
  return `/berth/${id}`;
}

/** The directory of one v1 controller (`memory`, `cpu,cpuacct`, …) or the v2 directory. */
export function cgroupDir(id: string, controller: string): string {
  return cgroupV2() ? join(ROOT, cgroupsPath(id)) : join(ROOT, controller, cgroupsPath(id));
}

export async function readCgroup(id: string, controller: string, file: string): Promise<string | undefined> {
  return readFile(join(cgroupDir(id, controller), file), 'utf8').catch(() => undefined);
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
export async function oomKilled(id: string): Promise<boolean> {
  const text = cgroupV2() ? await readCgroup(id, 'memory', 'memory.events') : await readCgroup(id, 'memory', 'memory.oom_control');
  return (keyValues(text).oom_kill ?? 0) > 0;
}
