/**
 * conmon must start with only the descriptors berth hands it. Node opens its own files close-on-exec,
 * but not everything in the daemon is: node-unix-socket's attach sockets lack SOCK_CLOEXEC, and the
 * daemon may have inherited descriptors from whatever started it. Anything left open would pass
 * through conmon to runc (the leaked-descriptor class of CVE-2024-21626) and would keep other
 * containers' attach connections open after the daemon closed them. Node has no closefrom, so conmon
 * is started through bash, which closes every descriptor above `keep` and then execs it (same PID).
 */
const SCRIPT = 'keep=$1; shift; for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt "$keep" ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null; fi; done; exec "$@"';

/** The command line that runs `cmd args` with descriptors 0..keep only. */
export function withOnlyFds(keep: number, cmd: string, args: string[]): [string, string[]] {
  return ['/bin/bash', ['-c', SCRIPT, 'berth-conmon', String(keep), cmd, ...args]];
}
