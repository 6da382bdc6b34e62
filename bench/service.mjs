/**
 * The daemons the bench starts and stops (berth's, a private dockerd): an answer on their socket, the run of one,
 * and the tree one leaves.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';

const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Whether an Engine API answers `/_ping` on the Unix socket. */
export function ping(socketPath) {
  return new Promise((res) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (r) => { r.resume(); res(r.statusCode === 200); });
    req.on('error', () => res(false));
    req.on('timeout', () => { req.destroy(); res(false); });
    req.end();
  });
}

/**
 * Starts a daemon in a process group of its own (a terminal's Ctrl-C reaches only the bench, which then stops it in
 * order). `ready` waits until its socket answers; `stop` sends SIGTERM, then SIGKILL after `graceMs`. A program that
 * cannot be spawned counts as ended, so neither waits for it.
 */
export function spawnService(name, cmd, args, { graceMs }) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let log = '';
  proc.stderr.on('data', (b) => { log = (log + b).slice(-8000); });
  let failed = false;
  const exited = new Promise((r) => { proc.on('exit', r); proc.on('error', (e) => { failed = true; log += e.message; r(); }); });
  const alive = () => !failed && proc.exitCode === null && proc.signalCode === null;
  return {
    pid: proc.pid,
    alive,
    async ready(socket, timeoutMs, pollMs) {
      for (let end = Date.now() + timeoutMs; !(await ping(socket));) {
        if (!alive() || Date.now() > end) throw new Error(`${name} did not come up:\n${log}`);
        await sleep(pollMs);
      }
    },
    async stop() {
      if (!alive()) return;
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(graceMs)]);
      if (alive()) { console.error(`cleanup: ${name} ${proc.pid} ignored SIGTERM, killing it`); proc.kill('SIGKILL'); await exited; }
    },
  };
}

const mountsUnder = (dir) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${dir}/`));

/** A mount left behind would make rm -rf descend into (and delete) the mounted tree, so detach first. */
export function removeTree(dir) {
  for (const m of mountsUnder(dir).reverse()) { console.error(`cleanup: unmounting leftover ${m}`); spawnSync('umount', ['-l', m]); }
  rmSync(dir, { recursive: true, force: true });
}
