/** /proc/PID/cgroup, read by the parts that find their own process's cgroup (containers for stats, runtime for its warm-up). */

/** One line, `ID:CONTROLLERS:PATH`: no controllers for the unified (v2) hierarchy; the path may hold colons. */
export interface CgroupEntry {
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): CgroupEntry[] {
  const out: CgroupEntry[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    out.push({ controllers: controllers ? controllers.split(',') : [], path: line.slice(second + 1) });
  }
  return out;
}
