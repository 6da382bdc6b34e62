/**
 * A private dockerd for the comparisons (`node bench/run.mjs --dockerd`): Debian's docker.io (installed with
 * apt-get when missing), on a temporary data root, exec root and socket of its own, so that a machine with no
 * Docker engine gets the "berth at most 1/5 of dockerd" reading too and a machine with one keeps it untouched.
 *
 * A dockerd that already answers on /var/run/docker.sock is used instead (run.mjs): a second one would share its docker0
 * bridge and its addresses.
 *
 * `--iptables=false`: dockerd would otherwise set the host's FORWARD policy to DROP and leave its chains behind,
 * which cuts berth's own bridge traffic off until the next reboot. Measured on this project's 2-core VM, dockerd
 * 20.10's `run --rm busybox true` took 0.28 s with and without it; the bridge, veth and namespace are still made.
 * The busybox image comes from berth (`berth save | docker load`): there is no Docker Hub here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree, spawnService } from './service.mjs';

/** Debian's services start from a package's scripts unless this says no: docker.io's would run a system dockerd. */
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

const DOCKERD = '/usr/sbin/dockerd';

/** Starts it and waits until it answers; `stop` ends it and removes everything it made. `say` prints progress. */
export async function startPrivateDockerd(say) {
  if (!existsSync(DOCKERD)) {
    say('installing Debian\'s docker.io for the dockerd comparison (apt-get; its services are not started)');
    // Exit 101 is "action forbidden": the package installs without starting dockerd or containerd (a system dockerd
    // would set the host's FORWARD policy to DROP and outlive the bench).
    const policy = !existsSync(POLICY_RC_D);
    if (policy) writeFileSync(POLICY_RC_D, '#!/bin/sh\n# berth bench/dockerd.mjs: no service starts while docker.io installs\nexit 101\n', { mode: 0o755 });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'docker.io'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (policy) rmSync(POLICY_RC_D, { force: true });
    if (r.status !== 0) throw new Error(`apt-get install docker.io failed: ${r.stderr.toString().trim().split('\n').slice(-3).join('\n')}`);
  }
  const bridgeWasThere = existsSync('/sys/class/net/docker0');
  const dir = mkdtempSync('/tmp/bb-dockerd-');
  const sock = join(dir, 'docker.sock');
  // An empty configuration: the host's /etc/docker/daemon.json (hosts, data-root, iptables) must not clash with the flags.
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  const dockerd = spawnService('the private dockerd', DOCKERD, ['--config-file', join(dir, 'daemon.json'), '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'), '-H', `unix://${sock}`, '--pidfile', join(dir, 'dockerd.pid'), '--iptables=false'], { graceMs: 20_000 });
  const stop = async () => {
    await dockerd.stop(); // dockerd stops its containers and its own containerd
    removeTree(dir); // a mount dockerd left (a container's root) is detached first
    if (!bridgeWasThere) spawnSync('ip', ['link', 'delete', 'docker0'], { stdio: 'ignore' });
  };
  try { await dockerd.ready(sock, 60_000, 100); } catch (e) { await stop(); throw e; }
  return { sock, stop };
}
