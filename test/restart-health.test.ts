/** Restart policies with docker's back-off, across daemon restarts; health checks from flags and from the image. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';

interface Inspected {
  Id: string; RestartCount: number;
  State: { Status: string; Running: boolean; Restarting: boolean; ExitCode: number; Health?: { Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string }[] } };
  HostConfig: { RestartPolicy: { Name: string; MaximumRetryCount: number } };
  Config: { Healthcheck?: { Test: string[] } };
}

describe('restart policies and health checks', () => {
  let d: TestDaemon;
  const seen: string[] = [];
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, seen));

  const inspect = async (ref: string) => {
    const r = await d.berth(['inspect', '--type', 'container', ref]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout)[0] as Inspected;
    if (!seen.includes(c.Id)) seen.push(c.Id);
    return c;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('on-failure:2 restarts a failing container twice, then leaves it exited', async () => {
    assert.equal((await d.berth(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 3'])).code, 0);
    await waitFor(async () => { const c = await inspect('flaky'); return c.RestartCount === 2 && c.State.Status === 'exited'; }, 10_000, 'two restarts');
    await sleep(700);
    const c = await inspect('flaky');
    assert.equal(c.RestartCount, 2);
    assert.equal(c.State.ExitCode, 3);
    assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    assert.equal((await d.berth(['logs', 'flaky'])).stdout, 'run\nrun\nrun\n');
    // on-failure leaves a clean exit alone.
    assert.equal((await d.berth(['run', '-d', '--name', 'clean', '--restart', 'on-failure', 'busybox', 'true'])).code, 0);
    await waitFor(async () => (await inspect('clean')).State.Status === 'exited', 5000, 'the exit');
    await sleep(400);
    assert.equal((await inspect('clean')).RestartCount, 0);
    await d.berth(['rm', 'flaky', 'clean']);
  });

  test('always restarts with a doubling back-off, shows Restarting in ps, and stop ends it', async () => {
    assert.equal((await d.berth(['run', '-d', '--name', 'loop', '--restart', 'always', 'busybox', 'sh', '-c', 'echo start; exit 1'])).code, 0);
    await waitFor(async () => (await inspect('loop')).RestartCount >= 4, 10_000, 'four restarts');
    const ps = await d.berth(['ps', '--filter', 'name=loop']);
    assert.match(ps.stdout, /Restarting \(1\) .* ago|Up /, 'listed without -a while it restarts');
    // The back-off doubles from 100 ms: gap k between runs is at least 100·2^k ms. Only lower bounds are
    // checked, since a loaded machine adds start-up time to every gap but can never shorten one.
    const starts = (await d.berth(['logs', '-t', 'loop'])).stdout.trim().split('\n').map((l) => Date.parse(l.split(' ')[0]!));
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    assert.ok(gaps.length >= 3, `at least four runs: ${gaps.join(', ')} ms`);
    gaps.slice(0, 3).forEach((g, k) => assert.ok(g >= 100 * 2 ** k * 0.9, `gap ${k} (${g} ms) is at least the back-off of ${100 * 2 ** k} ms`));
    assert.equal((await d.berth(['stop', 'loop'])).code, 0);
    const n = (await inspect('loop')).RestartCount;
    await sleep(1500);
    const c = await inspect('loop');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.Restarting, false);
    assert.equal(c.RestartCount, n, 'no restart after stop');
    await d.berth(['rm', 'loop']);
  });

  test('stop and kill of a running always container keep it stopped; rm -f of a restarting one works', async () => {
    assert.equal((await d.berth(['run', '-d', '--name', 'svc', '--restart', 'always', 'busybox', 'sleep', '60'])).code, 0);
    assert.equal((await d.berth(['stop', '-t', '1', 'svc'])).code, 0);
    await sleep(500);
    assert.equal((await inspect('svc')).State.Status, 'exited');
    assert.equal((await d.berth(['start', 'svc'])).code, 0);
    assert.equal((await d.berth(['kill', 'svc'])).code, 0);
    await sleep(500);
    const c = await inspect('svc');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.RestartCount, 0);
    await d.berth(['rm', 'svc']);
    assert.equal((await d.berth(['run', '-d', '--name', 'spin', '--restart', 'always', 'busybox', 'false'])).code, 0);
    await waitFor(async () => (await inspect('spin')).RestartCount >= 2, 5000, 'restarts');
    const rm = await d.berth(['rm', '-f', 'spin']);
    assert.equal(rm.code, 0, rm.stderr);
  });

  test('bad policies are refused', async () => {
    const bad = await d.berth(['run', '-d', '--restart', 'sometimes', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid restart policy: unknown policy 'sometimes'/);
    const max = await d.berth(['run', '-d', '--restart', 'always:3', 'busybox', 'true']);
    assert.equal(max.code, 125);
    assert.match(max.stderr, /maximum retry count can only be used with 'on-failure'/);
    const rm = await d.berth(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
    assert.equal(rm.code, 125);
    assert.match(rm.stderr, /conflicting options: cannot specify both --restart and --rm/);
    const api = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } });
    assert.equal(api.status, 400);
    assert.match(api.body, /can't create 'AutoRemove' container with restart policy/);
  });

  test('after a daemon restart: always comes back even after stop, unless-stopped only if nobody stopped it', async () => {
    for (const [name, policy] of [['a-stopped', 'always'], ['u-stopped', 'unless-stopped'], ['u-died', 'unless-stopped'], ['no-died', 'no'], ['a-running', 'always']]) {
      const r = await d.berth(['run', '-d', '--name', name!, '--restart', policy!, 'busybox', 'sleep', '300']);
      assert.equal(r.code, 0, r.stderr);
    }
    await d.berth(['stop', '-t', '0', 'a-stopped', 'u-stopped']);
    const died = [(await inspect('u-died')).Id, (await inspect('no-died')).Id];
    const runningPid = async () => Number((await d.berth(['inspect', '-f', '{{.State.Pid}}', 'a-running'])).stdout.trim());
    const pidBefore = await runningPid();
    await d.stop();
    // Two of them die while no daemon watches.
    const pids = died.map((id) => (JSON.parse(execFileSync('runc', ['--root', join(d.execRoot, 'runc'), 'state', id], { encoding: 'utf8' })) as { pid: number }).pid);
    for (const p of pids) process.kill(p, 'SIGKILL');
    await sleep(300);
    d = await startDaemon({ dir: d.dir });
    await waitFor(async () => (await inspect('a-stopped')).State.Running, 10_000, 'always to come back');
    await waitFor(async () => (await inspect('u-died')).State.Running, 10_000, 'unless-stopped that died to come back')
      .catch(async (e) => { throw new Error(`${e}\n${(await d.berth(['inspect', '-f', '{{json .State}}', 'u-died'])).stdout}\n${(await d.berth(['ps', '-a'])).stdout}\n${d.log()}`); });
    assert.equal((await inspect('u-stopped')).State.Status, 'exited');
    assert.equal((await inspect('no-died')).State.Status, 'exited');
    assert.equal((await inspect('no-died')).State.ExitCode, 137);
    assert.equal(await runningPid(), pidBefore, 'the running one was never restarted (live restore)');
    await d.berth(['rm', '-f', 'a-stopped', 'u-stopped', 'u-died', 'no-died', 'a-running']);
  });

  test('--health-cmd: starting, unhealthy after Retries failures, healthy on success; ps shows it', async () => {
    const r = await d.berth(['run', '-d', '--name', 'hc', '--health-cmd', 'cat /tmp/ok', '--health-interval', '200ms', '--health-retries', '2',
      'busybox', 'sh', '-c', 'sleep 2; echo fine > /tmp/ok; sleep 60']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await inspect('hc')).State.Health?.Status, 'starting');
    assert.match((await d.berth(['ps', '--filter', 'name=hc'])).stdout, /\(health: starting\)/);
    await waitFor(async () => (await inspect('hc')).State.Health?.Status === 'unhealthy', 5000, 'unhealthy');
    const bad = (await inspect('hc')).State.Health!;
    assert.ok(bad.FailingStreak >= 2);
    assert.notEqual(bad.Log.at(-1)!.ExitCode, 0);
    assert.match(bad.Log.at(-1)!.Output, /No such file or directory/);
    assert.match((await d.berth(['ps', '--filter', 'health=unhealthy'])).stdout, /\(unhealthy\)/);
    await waitFor(async () => (await inspect('hc')).State.Health?.Status === 'healthy', 5000, 'healthy');
    const good = (await inspect('hc')).State.Health!;
    assert.equal(good.FailingStreak, 0);
    assert.equal(good.Log.at(-1)!.Output, 'fine\n');
    assert.ok(good.Log.length <= 5);
    assert.match((await d.berth(['ps', '--filter', 'name=hc'])).stdout, /Up .* \(healthy\)/);
    await d.berth(['rm', '-f', 'hc']);
  });

  test('health: timeouts count as failures; failures in the start period do not', async () => {
    await d.berth(['run', '-d', '--name', 'slow', '--health-cmd', 'sleep 5', '--health-timeout', '300ms', '--health-interval', '200ms', '--health-retries', '1', 'busybox', 'sleep', '60']);
    await waitFor(async () => (await inspect('slow')).State.Health?.Status === 'unhealthy', 5000, 'unhealthy');
    const log = (await inspect('slow')).State.Health!.Log.at(-1)!;
    assert.equal(log.ExitCode, -1);
    assert.equal(log.Output, 'Health check exceeded timeout (300ms)');
    await d.berth(['run', '-d', '--name', 'warm', '--health-cmd', 'false', '--health-interval', '200ms', '--health-retries', '1', '--health-start-period', '3s', 'busybox', 'sleep', '60']);
    await sleep(1200);
    const h = (await inspect('warm')).State.Health!;
    assert.equal(h.Status, 'starting');
    assert.equal(h.FailingStreak, 0);
    assert.ok(h.Log.length >= 2, 'probes ran');
    await d.berth(['rm', '-f', 'slow', 'warm']);
  });

  test("the image's HEALTHCHECK runs; --no-healthcheck turns it off", async () => {
    const ctx = mkdtempSync(join(d.dir, 'ctx-'));
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD echo from-image\n');
    const b = await d.berth(['build', '-q', '-t', 'hcimg', ctx]);
    assert.equal(b.code, 0, b.stderr);
    await d.berth(['run', '-d', '--name', 'img-hc', 'hcimg', 'sleep', '60']);
    assert.deepEqual((await inspect('img-hc')).Config.Healthcheck?.Test, ['CMD-SHELL', 'echo from-image']);
    await waitFor(async () => (await inspect('img-hc')).State.Health?.Status === 'healthy', 5000, 'healthy');
    assert.equal((await inspect('img-hc')).State.Health!.Log.at(-1)!.Output, 'from-image\n');
    await d.berth(['run', '-d', '--name', 'img-off', '--no-healthcheck', 'hcimg', 'sleep', '60']);
    await sleep(500);
    assert.equal((await inspect('img-off')).State.Health, undefined);
    assert.doesNotMatch((await d.berth(['ps', '--filter', 'name=img-off'])).stdout, /health/);
    await d.berth(['rm', '-f', 'img-hc', 'img-off']);
    await d.berth(['rmi', 'hcimg']);
  });
});
