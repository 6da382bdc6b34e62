/**
 * Node has no closefrom: a child that must start with only some descriptors goes through bash, which closes
 * every descriptor above `keep` and then execs the command (same PID). dash could not: it names only 0-9.
 */
const SCRIPT = 'keep=$1; shift; for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt "$keep" ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null; fi; done; exec "$@"';

/** The command line that runs `cmd args` with descriptors 0..keep only. */
export function withFdsUpTo(keep: number, cmd: string, args: string[]): [string, string[]] {
  return ['/bin/bash', ['-c', SCRIPT, 'berth-close-fds', String(keep), cmd, ...args]];
}
