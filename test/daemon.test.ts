/** The daemon's life: one per data root, clean SIGTERM, a clear CLI message when none answers, live restore. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, watch } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { Firewall } from '../src/network/index.js';
import { BERTH, cleanup, daemonNet, exec, leftovers, settledLeftovers, startDaemon, waitFor } from './harness.js';

test('the CLI says in one line that no daemon answers', async () => {
  const dir = mkdtempSync('/tmp/bt-');
  const r = await exec(BERTH, ['-H', `unix://${dir}/none.sock`, 'ps']);
  await rm(dir, { recursive: true, force: true });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `Cannot connect to the berth daemon at unix://${dir}/none.sock. Is the berth daemon running?\n`);
});

test('a second daemon on the same data root refuses to start', async () => {
  const d = await startDaemon();
  try {
    const r = await exec(BERTH, ['daemon', '-H', `unix://${d.dir}/other.sock`, '--data-root', d.dataRoot, '--exec-root', `${d.dir}/run2`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`another berth daemon \\(pid ${d.proc.pid}\\) is already using the data root ${d.dataRoot}`));
    assert.ok(existsSync(d.socket), 'the first daemon still serves');
  } finally {
    await cleanup(d);
  }
});

test('SIGTERM stops the daemon cleanly', async () => {
  const d = await startDaemon();
  const code = await d.stop();
  assert.equal(code, 0, d.log());
  assert.equal(existsSync(d.socket), false, 'socket removed');
  assert.equal(existsSync(`${d.dataRoot}/berth.pid`), false, 'lock released');
  assert.match(d.log(), /shutting down/);
  await rm(d.dir, { recursive: true, force: true });
});

test('a SIGTERM the moment the socket appears still stops the daemon cleanly, not by the signal', async () => {
  // The socket answers a little before the daemon is wholly up (its mode, its owner, the log line); a SIGTERM then
  // killed it with Node's default action, with its lock and bridge left behind.
  const dir = mkdtempSync('/tmp/bt-');
  const socket = join(dir, 'berth.sock');
  const net = daemonNet(dir);
  const proc = spawn(BERTH, ['daemon', '-H', `unix://${socket}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), ...net.flags],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  try {
    // At once: a watch on the directory, not a poll, so that the signal lands inside that window.
    await new Promise<void>((resolve, reject) => {
      const w = watch(dir, (_e, name) => { if (name === 'berth.sock') { proc.kill('SIGTERM'); w.close(); resolve(); } });
      setTimeout(() => { w.close(); reject(new Error(`no socket after 15 s:\n${log}`)); }, 15_000).unref();
    });
    assert.deepEqual(await exited, { code: 0, signal: null }, log);
    assert.match(log, /shutting down/);
    assert.equal(existsSync(socket), false, 'socket removed');
    assert.equal(existsSync(join(dir, 'data', 'berth.pid')), false, 'lock released');
  } finally {
    // What a killed daemon leaves: its bridge and its firewall chains.
    proc.kill('SIGKILL');
    if (existsSync(`/sys/class/net/${net.bridge}`)) spawnSync('ip', ['link', 'del', net.bridge]);
    await new Firewall(join(dir, 'run')).remove().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});

test('containers outlive a daemon restart, and exits during the outage are picked up', async () => {
  const first = await startDaemon({ busybox: true });
  const long = (await first.berth(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo up; sleep 60'])).stdout.trim();
  const short = (await first.berth(['run', '-d', '--name', 'quitter', 'busybox', 'sh', '-c', 'sleep 1; exit 5'])).stdout.trim();
  assert.equal(await first.stop(), 0);
  await new Promise((r) => setTimeout(r, 1500));
  const second = await startDaemon({ dir: first.dir });
  try {
    assert.equal((await second.berth(['inspect', '-f', '{{.State.Status}}', 'survivor'])).stdout, 'running\n');
    assert.equal((await second.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quitter'])).stdout, 'exited 5\n');
    assert.equal((await second.berth(['logs', 'survivor'])).stdout, 'up\n');
    const stop = await second.berth(['stop', '-t', '1', 'survivor']);
    assert.equal(stop.code, 0, stop.stderr);
    await waitFor(async () => (await second.berth(['inspect', '-f', '{{.State.Status}}', 'survivor'])).stdout === 'exited\n', 10_000, 'exit');
    assert.equal((await second.berth(['rm', 'survivor', 'quitter'])).code, 0);
    assert.deepEqual(settledLeftovers(second, [long, short]), { mounts: [], processes: [], cgroups: [], veths: [], netns: [], leases: [], rules: [] });
  } finally {
    await cleanup(second);
  }
});

test('kill -9 of the daemon: the container runs on under conmon; a new daemon finds it, and logs -f, stop and wait work, its exit code recorded', async () => {
  const first = await startDaemon({ busybox: true });
  let second: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    const run = await first.berth(['run', '-d', '--name', 'hardy', 'busybox', 'sh', '-c', 'trap "echo bye; exit 3" TERM; echo up; while true; do sleep 0.2; done']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    await waitFor(async () => (await first.berth(['logs', 'hardy'])).stdout === 'up\n', 10_000, 'the first line');
    const pid = Number((await first.berth(['inspect', '-f', '{{.State.Pid}}', 'hardy'])).stdout);
    first.proc.kill('SIGKILL');
    await first.stop();
    // No daemon now: the workload and its conmon are still there.
    assert.doesNotThrow(() => process.kill(pid, 0), 'the container\'s process outlived the daemon');
    assert.ok(leftovers(first, [id]).processes.some((p) => / conmon |\/conmon /.test(` ${p}`)), 'conmon outlived the daemon');
    second = await startDaemon({ dir: first.dir });
    const d = second;
    assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'hardy'])).stdout, `running ${pid}\n`);
    assert.match((await d.berth(['ps', '--filter', 'name=hardy', '--format', '{{.Names}} {{.State}}'])).stdout, /^hardy running$/m);
    assert.equal((await d.berth(['logs', 'hardy'])).stdout, 'up\n');
    // A follower and a waiter on the restored container, then stop: TERM reaches the trap.
    const follow = exec(BERTH, ['logs', '-f', 'hardy'], { env: { ...process.env, BERTH_HOST: d.host } });
    const wait = exec(BERTH, ['wait', 'hardy'], { env: { ...process.env, BERTH_HOST: d.host } });
    await waitFor(async () => JSON.parse((await d.api('GET', '/info')).body).ContainersRunning === 1, 5000, 'info');
    await new Promise((r) => setTimeout(r, 300)); // the follower and the waiter have connected
    const stop = await d.berth(['stop', '-t', '10', 'hardy']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, 'hardy\n');
    const w = await wait;
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout, '3\n');
    const f = await follow;
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout, 'up\nbye\n');
    assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}', 'hardy'])).stdout, 'exited 3 false\n');
    const ev = await d.berth(['events', '--since', '0', '--until', (Date.now() / 1000).toFixed(3), '--filter', 'container=hardy', '--format', '{{.Action}} {{.Actor.Attributes.exitCode}}']);
    assert.match(ev.stdout, /^die 3$/m, `the restored container's die event carries its exit code: ${ev.stdout} ${ev.stderr}`);
    assert.equal((await d.berth(['rm', 'hardy'])).code, 0);
    assert.deepEqual(settledLeftovers(d, [id]), { mounts: [], processes: [], cgroups: [], veths: [], netns: [], leases: [], rules: [] });
  } finally {
    await cleanup(second ?? first);
  }
});

test('a removal the daemon\'s death cut short (the record gone, the root, runc state and network not yet) is finished at its next start', async () => {
  const first = await startDaemon({ busybox: true });
  let second: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    const run = await first.berth(['run', '-d', 'busybox', 'sleep', '60']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    const pid = Number((await first.berth(['inspect', '-f', '{{.State.Pid}}', id])).stdout);
    first.proc.kill('SIGKILL');
    await first.stop();
    // What a `run --rm` leaves when the daemon dies just after answering: the exit seen, the record deleted,
    // the release (runc delete, umount, network teardown) not done.
    process.kill(pid, 'SIGKILL');
    const db = new Database(join(first.dataRoot, 'berth.db'));
    db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    db.close();
    assert.ok(leftovers(first, [id]).mounts.length > 0, 'the root is still mounted');
    second = await startDaemon({ dir: first.dir });
    assert.equal((await second.berth(['ps', '-aq'])).stdout, '');
    assert.equal(existsSync(join(first.dataRoot, 'containers', id)), false, 'its directory is gone');
    assert.deepEqual(settledLeftovers(second, [id]), { mounts: [], processes: [], cgroups: [], veths: [], netns: [], leases: [], rules: [] });
    assert.equal((await second.berth(['system', 'check'])).code, 0);
  } finally {
    await cleanup(second ?? first);
  }
});
