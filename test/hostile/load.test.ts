/**
 * Load (issue #10, part 3): concurrent `run --rm` through the API (create, wait for removal,
 * start, with AutoRemove), sequential create/start/rm cycles, and parallel pulls of one image
 * from a real registry (Debian's docker-registry). Each must succeed, and afterwards what the
 * daemon holds on the host (mounts, network namespaces, veths, cgroups, conmon processes, its
 * open descriptors, its RSS) is back where it started.
 *
 * `npm test` runs 20 concurrent / 50 cycles / 10 pulls; BERTH_HOSTILE_FULL=1 (`npm run
 * test:hostile`) runs 50 / 200 / 10. Throughput is printed (LOAD lines), not asserted: no timing
 * is a pass condition. No dockerd runs on this machine, so there is no side-by-side figure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDaemon, teardown, waitFor, type TestDaemon } from '../harness.js';
import { startRegistry, type TestRegistry } from '../registry-fixture.js';
import { FULL, leakCount, rawRequest, type LeakCount } from './util.js';

const CONCURRENT = FULL ? 50 : 20;
const CYCLES = FULL ? 200 : 50;
const PULLS = 10;

const json = { 'Content-Type': 'application/json' };

function report(line: string): void {
  process.stderr.write(`LOAD ${line}\n`);
}

describe('load', { timeout: FULL ? 1_800_000 : 600_000 }, () => {
  let d: TestDaemon;
  let registry: TestRegistry | undefined;
  const ids = new Set<string>();
  let base: LeakCount;

  const api = (method: string, path: string, body?: unknown) =>
    rawRequest(d.socket, method, path, { body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : json, timeoutMs: 120_000 });

  const create = async (extra: Record<string, unknown> = {}) => {
    const r = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], ...extra });
    assert.equal(r.status, 201, r.body);
    const id = (JSON.parse(r.body) as { Id: string }).Id;
    ids.add(id);
    return id;
  };

  /** docker run --rm as the CLI does it: create with AutoRemove, wait for removal (registered first), start, read the exit. */
  const runRm = async () => {
    const id = await create({ HostConfig: { AutoRemove: true } });
    const waiting = api('POST', `/containers/${id}/wait?condition=removed`);
    const s = await api('POST', `/containers/${id}/start`);
    assert.equal(s.status, 204, s.body);
    const w = await waiting;
    assert.equal(w.status, 200, w.body);
    assert.equal((JSON.parse(w.body) as { StatusCode: number }).StatusCode, 0);
  };

  const settled = async (what: string) => {
    // What a container holds goes at its removal; the daemon's descriptors and memory settle a moment later.
    await waitFor(() => {
      const now = leakCount(d, ids);
      return now.mounts <= base.mounts && now.netns <= base.netns && now.veths <= base.veths && now.cgroups === 0 && now.conmons === 0 && now.fds <= base.fds + 4;
    }, 60_000, `${what}: the leak count to come back`).catch(() => assert.fail(`${what}: before ${JSON.stringify(base)}, now ${JSON.stringify(leakCount(d, ids))}`));
    const now = leakCount(d, ids);
    report(`${what}: ${JSON.stringify(now)} (before ${JSON.stringify(base)})`);
    // A sane bound for RSS: V8 grows its heap under load and gives it back lazily, but not without limit.
    assert.ok(now.rssKiB < base.rssKiB + 256 * 1024, `${what}: daemon RSS ${now.rssKiB} KiB, ${base.rssKiB} KiB before`);
  };

  before(async () => {
    d = await startDaemon({ busybox: true });
    for (let i = 0; i < 2; i++) await runRm(); // the first runs open what the daemon keeps open (database, watchers, CNI cache)
    await waitFor(() => leakCount(d, ids).conmons === 0, 30_000, 'the warm-up containers to go');
    base = leakCount(d, ids);
    report(`baseline: ${JSON.stringify(base)}`);
  });

  after(async () => {
    await registry?.stop();
    await teardown(d, [...ids], { expectNone: true });
  });

  test(`${CONCURRENT} concurrent run --rm through the API all succeed, and leave nothing`, async () => {
    const t0 = Date.now();
    const results = await Promise.allSettled(Array.from({ length: CONCURRENT }, () => runRm()));
    const secs = (Date.now() - t0) / 1000;
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    assert.deepEqual(failed, [], `${failed.length} of ${CONCURRENT} failed`);
    report(`concurrent run --rm: ${CONCURRENT} in ${secs.toFixed(1)} s = ${(CONCURRENT / secs).toFixed(2)} containers/s`);
    const left = JSON.parse((await api('GET', '/containers/json?all=1')).body) as unknown[];
    assert.equal(left.length, 0, 'AutoRemove removed every one');
    await settled('after concurrent run --rm');
  });

  test('concurrent creates of one name: one gets it, every other is 409, none is a 500', async () => {
    const rs = await Promise.all(Array.from({ length: CONCURRENT }, () => api('POST', '/containers/create?name=contested', { Image: 'busybox', Cmd: ['true'] })));
    const statuses = rs.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, ...Array(CONCURRENT - 1).fill(409)], rs.map((r) => r.body).join('\n'));
    for (const r of rs) if (r.status === 201) ids.add((JSON.parse(r.body) as { Id: string }).Id);
    assert.equal((await api('DELETE', '/containers/contested')).status, 204);
  });

  test(`${CYCLES} sequential create/start/wait/rm cycles all succeed, and leave nothing`, async () => {
    const t0 = Date.now();
    for (let i = 0; i < CYCLES; i++) {
      const id = await create({ Cmd: ['sh', '-c', `echo cycle ${i}`] });
      const s = await api('POST', `/containers/${id}/start`);
      assert.equal(s.status, 204, `cycle ${i}: ${s.body}`);
      const w = await api('POST', `/containers/${id}/wait`);
      assert.equal((JSON.parse(w.body) as { StatusCode: number }).StatusCode, 0, `cycle ${i}: ${w.body}`);
      const rm = await api('DELETE', `/containers/${id}`);
      assert.equal(rm.status, 204, `cycle ${i}: ${rm.body}`);
    }
    const secs = (Date.now() - t0) / 1000;
    report(`sequential create/start/wait/rm: ${CYCLES} in ${secs.toFixed(1)} s = ${(CYCLES / secs).toFixed(2)} containers/s`);
    await settled('after sequential cycles');
  });

  test(`${PULLS} parallel pulls of one image from a registry all succeed, into one consistent image`, async () => {
    registry = await startRegistry();
    const ref = `${registry.host}/load/busybox:latest`;
    assert.equal((await d.berth(['tag', 'busybox', ref])).code, 0);
    const push = await d.berth(['push', ref], { timeoutMs: 120_000 });
    assert.equal(push.code, 0, push.stderr);
    // Nothing of it left locally, so every pull has the whole image to fetch and unpack.
    assert.equal((await d.berth(['rmi', ref, 'busybox'])).code, 0);
    assert.equal((JSON.parse((await api('GET', '/images/json')).body) as unknown[]).length, 0);
    const t0 = Date.now();
    const pulls = await Promise.all(Array.from({ length: PULLS }, () =>
      rawRequest(d.socket, 'POST', `/images/create?fromImage=${encodeURIComponent(`${registry!.host}/load/busybox`)}&tag=latest`, { timeoutMs: 180_000, maxBody: 4 << 20 })));
    const secs = (Date.now() - t0) / 1000;
    for (const p of pulls) {
      assert.equal(p.status, 200, p.body);
      assert.doesNotMatch(p.body, /"error"/, p.body);
      assert.match(p.body, /Status: (Downloaded newer image|Image is up to date) for/, p.body);
    }
    report(`parallel pulls: ${PULLS} of ${ref} in ${secs.toFixed(1)} s`);
    const images = JSON.parse((await api('GET', '/images/json')).body) as { Id: string; RepoTags: string[] }[];
    assert.equal(images.length, 1, `one image: ${JSON.stringify(images)}`);
    assert.deepEqual(images[0]!.RepoTags, [ref]);
    // The pulled image is whole: it runs, and the store's own check finds nothing to repair.
    const run = await d.berth(['run', '--rm', ref, 'echo', 'pulled']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'pulled');
    const check = await api('POST', '/berth/system/check');
    assert.equal(check.status, 200, check.body);
    assert.deepEqual((JSON.parse(check.body) as { Problems: unknown[] }).Problems, [], 'berth system check finds nothing wrong');
    assert.equal((await d.berth(['rmi', ref])).code, 0);
    await settled('after parallel pulls');
  });
});
