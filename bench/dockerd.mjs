/**
 * A private dockerd for the comparisons (`node bench/run.mjs --dockerd`): Debian's docker.io (installed with
 * apt-get when missing), on a temporary data root, exec root and socket of its own, so that a machine with no
 * Docker engine gets the "berth at most 1/5 of dockerd" reading too and a machine with one keeps it untouched.
 *
 * `--iptables=false`: dockerd would otherwise set the host's FORWARD policy to DROP and leave its chains behind,
 * which cuts berth's own bridge traffic off until the next reboot. Measured on this project's 2-core VM, dockerd
 * 20.10's `run --rm busybox true` took 0.28 s with and without it; the bridge, veth and namespace are still made.
 * The busybox image comes from berth (`berth save | docker load`): there is no Docker Hub here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';

const DOCKERD = '/usr/sbin/dockerd';

/** Starts it and waits until it answers; `stop` ends it and removes everything it made. The helpers are run.mjs's. */
export async function startPrivateDockerd({ ping, say, removeTree }) {
  if (!existsSync(DOCKERD)) {
    say('installing Debian\'s docker.io for the dockerd comparison (apt-get)');
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'docker.io'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`apt-get install docker.io failed: ${r.stderr.toString().trim().split('\n').slice(-3).join('\n')}`);
  }
  const bridgeWasThere = existsSync('/sys/class/net/docker0');
  const dir = mkdtempSync('/tmp/bb-dockerd-');
  const sock = join(dir, 'docker.sock');
  const proc = spawn(DOCKERD, ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '-H', `unix://${sock}`,
    '--pidfile', join(dir, 'dockerd.pid'), '--iptables=false'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let log = '';
  proc.stderr.on('data', (b) => { log = (log + b).slice(-4000); });
  proc.on('error', () => {});
  const exited = new Promise((r) => proc.on('exit', r));
  const alive = () => proc.exitCode === null && proc.signalCode === null;

  const stop = async () => {
    if (alive()) {
      proc.kill('SIGTERM'); // dockerd stops its containers and its own containerd
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (alive()) { proc.kill('SIGKILL'); await exited; }
    }
    removeTree(dir); // a mount dockerd left (a container's root) is detached first
    if (!bridgeWasThere) spawnSync('ip', ['link', 'delete', 'docker0'], { stdio: 'ignore' });
  };
  for (let end = Date.now() + 60_000; !(await ping(sock));) {
    if (!alive() || Date.now() > end) { await stop(); throw new Error(`the private dockerd did not come up:\n${log}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { sock, stop };
}
