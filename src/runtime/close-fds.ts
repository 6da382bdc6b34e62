/**
 * conmon must start with only the descriptors berth hands it. Node opens its own files close-on-exec,
 * but not everything in the daemon is: node-unix-socket's attach sockets lack SOCK_CLOEXEC, and the
 * daemon may have inherited descriptors from whatever started it. Anything left open would pass
 * through conmon to runc (the leaked-descriptor class of CVE-2024-21626) and would keep other
 * containers' attach connections open after the daemon closed them. Node has no closefrom, so when
 * such a descriptor exists conmon is started through bash, which closes every descriptor above
 * `keep` and then execs it (same PID). When none does (the common case: no other container attached)
 * conmon is started directly, which saves bash's start-up on every container start.
 */
import { closeSync, readdirSync, readFileSync } from 'node:fs';
import { withFdsUpTo } from '../host/index.js';

const O_CLOEXEC = 0o2000000;

/** This process's descriptors above stderr that an exec'd child would inherit. */
function inheritable(): number[] {
  let fds: string[];
  try { fds = readdirSync('/proc/self/fd'); } catch { return [-1]; }
  const out: number[] = [];
  for (const fd of fds) {
    if (Number(fd) <= 2) continue;
    let info: string;
    // Gone meanwhile (the directory's own descriptor among them): nothing to inherit.
    try { info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'); } catch { continue; }
    const flags = /^flags:\s*([0-7]+)/m.exec(info);
    if (!flags || (parseInt(flags[1]!, 8) & O_CLOEXEC) === 0) out.push(Number(fd));
  }
  return out;
}

/** Whether this process holds a descriptor above stderr that an exec'd child would inherit. */
export function inheritableFds(): boolean {
  return inheritable().length > 0;
}

/**
 * Closes what the daemon inherited from whatever started it (a shell's or a supervisor's pipes):
 * at start-up every descriptor Node opened itself is close-on-exec, so one that is not came from
 * outside. Without them, conmon can start without the bash step until an attach socket is open.
 */
export function closeInheritedFds(): number[] {
  const fds = inheritable().filter((fd) => fd > 2);
  for (const fd of fds) { try { closeSync(fd); } catch { /* already gone */ } }
  return fds;
}

/** The command line that runs `cmd args` with descriptors 0..keep only. */
export function withOnlyFds(keep: number, cmd: string, args: string[]): [string, string[]] {
  return inheritableFds() ? withFdsUpTo(keep, cmd, args) : [cmd, args];
}
