/**
 * /proc/PID/stat, for the runtime's looks at its own children. The command name comes second, in
 * parentheses, and may hold spaces and parentheses itself: the fields are counted from after the last `)`.
 */
import { readFile } from 'node:fs/promises';

/** Fields 3 on of /proc/PID/stat ([0] the state, [1] the parent's PID, [11] and [12] utime and stime); [] once the process is gone. */
export async function procStat(pid: number): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => '');
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : [];
}
