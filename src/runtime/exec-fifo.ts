/**
 * Starting a created runc container without starting runc. `runc create` leaves the container's init
 * blocked opening `<root>/<id>/exec.fifo` for writing. `runc start` opens it for reading, reads the
 * byte the init then writes, waits for the end of file (the init's descriptor is close-on-exec, so
 * that is the workload's exec) and removes the FIFO, which is how runc tells a created container from
 * a running one afterwards. Doing the same here saves starting runc, a Go program: 7-10 ms of every
 * start. The FIFO is runc's convention (crun keeps the same one), not its command line, so when it is
 * not where runc 1.x puts it the caller runs `runc start` instead.
 */
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { procStat } from './proc-stat.js';
import { SystemError } from '../errors/index.js';

/** How often a start that waits for the init checks that the init still lives, as runc's own start does. */
const LIVENESS_MS = 100;

/**
 * Lets the init blocked on the FIFO at `path` run its workload. False when there is no FIFO there (the
 * caller falls back to `runc start`). `initPid` is the init's PID: when it dies before opening its end,
 * the wait ends with runc's "container process is already dead".
 */
export async function startThroughFifo(path: string, initPid: number): Promise<boolean> {
  let dead = false;
  // An open for reading blocks (in libuv's thread pool) until the init opens its end. An init that died
  // first never will: then a writer of our own, opened and closed, ends the wait with nothing to read.
  const watch = setInterval(() => {
    void alive(initPid).then(async (yes) => {
      if (yes) return;
      dead = true;
      // ENXIO while our reader's open has not reached the kernel yet: the next tick tries again.
      await open(path, constants.O_WRONLY | constants.O_NONBLOCK).then((h) => h.close(), () => {});
    });
  }, LIVENESS_MS);
  try {
    let fifo;
    try {
      fifo = await open(path, constants.O_RDONLY);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    const data = await fifo.readFile().finally(() => fifo.close());
    if (data.length === 0) throw new SystemError(dead ? 'container process is already dead' : 'cannot start an already running container');
    await rm(path, { force: true });
    return true;
  } finally {
    clearInterval(watch);
  }
}

/** Whether `pid` is a process that has not exited (a zombie has). */
async function alive(pid: number): Promise<boolean> {
  const state = (await procStat(pid))[0] ?? '';
  return state !== '' && state !== 'Z' && state !== 'X';
}
