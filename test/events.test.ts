/**
 * GET /events: container, image, network and volume events in docker's JSON shape; dockerd's
 * filters; replay of recorded events with `since`, `until` ending the stream; `berth events` and the
 * docker CLI's `docker events` reading the same stream.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, hasDocker, startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';
import { startRegistry, type TestRegistry } from './registry-fixture.js';

interface Ev { status?: string; id?: string; from?: string; Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; scope: string; time: number; timeNano: number }

const parse = (out: string): Ev[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
const brief = (evs: Ev[]) => evs.map((e) => `${e.Type} ${e.Action}`);

describe('events', () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  let start: number;
  let end: number;
  let all: Ev[];
  let ctr: string;
  let netId: string;
  let busyboxId: string;
  const seen: string[] = [];

  before(async () => {
    [d, reg] = await Promise.all([startDaemon({ busybox: true }), startRegistry()]);
    busyboxId = (await d.berth(['inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
    start = Date.now() / 1000;
    const ok = async (args: string[], input?: string | Buffer) => {
      const r = await d.berth(args, input === undefined ? {} : { input });
      assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    netId = (await ok(['network', 'create', 'evnet'])).trim();
    await ok(['volume', 'create', 'evvol']);
    ctr = (await ok(['run', '-d', '--name', 'ev1', '--network', 'evnet', '-v', 'evvol:/data', '--label', 'com.example.k=v', 'busybox', 'sleep', '60'])).trim();
    seen.push(ctr);
    assert.equal((await d.berth(['exec', 'ev1', 'sh', '-c', 'exit 3'])).code, 3);
    assert.equal((await d.api('POST', '/containers/ev1/resize?h=30&w=100')).status, 200);
    await ok(['stop', '-t', '0', 'ev1']);
    await ok(['rm', 'ev1']);
    await ok(['tag', 'busybox', 'evtag:1']);
    await ok(['rmi', 'evtag:1']);
    const dir = mkdtempSync('/tmp/bt-ev-');
    await ok(['save', '-o', join(dir, 'bb.tar'), 'busybox']);
    await ok(['load', '-i', join(dir, 'bb.tar')]);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nLABEL com.example.built=yes\n');
    await ok(['build', '-t', 'evbuilt:1', dir]);
    await ok(['rmi', 'evbuilt:1']);
    rmSync(dir, { recursive: true, force: true });
    await ok(['tag', 'busybox', `${reg.host}/ev/bb:1`]);
    await ok(['push', `${reg.host}/ev/bb:1`]);
    await ok(['pull', `${reg.host}/ev/bb:1`]);
    await ok(['network', 'rm', 'evnet']);
    await ok(['volume', 'rm', 'evvol']);
    end = Date.now() / 1000;
    all = parse(await ok(['events', '--since', start.toFixed(3), '--until', end.toFixed(9), '--format', '{{json .}}']));
  });
  after(async () => { await Promise.all([teardown(d, seen), reg?.stop()]); });

  test('a container\'s life: network connect and volume mount before start, die before disconnect and unmount', () => {
    const mine = all.filter((e) => e.Actor.ID === ctr || e.Actor.Attributes.container === ctr);
    assert.deepEqual(brief(mine), [
      'container create', 'network connect', 'volume mount', 'container start',
      'container exec_create: sh -c exit 3', 'container exec_start: sh -c exit 3', 'container exec_die', 'container resize',
      'container kill', 'container kill', 'container die', 'network disconnect', 'volume unmount', 'container stop', 'container destroy',
    ]);
    const create = mine[0]!;
    assert.deepEqual(Object.keys(create), ['status', 'id', 'from', 'Type', 'Action', 'Actor', 'scope', 'time', 'timeNano']);
    assert.equal(create.status, 'create');
    assert.equal(create.id, ctr);
    assert.equal(create.from, 'busybox');
    assert.equal(create.scope, 'local');
    assert.deepEqual(create.Actor.Attributes, { 'com.example.k': 'v', image: 'busybox', name: 'ev1' });
    assert.equal(create.time, Math.floor(create.timeNano / 1e9));
    assert.equal(mine.find((e) => e.Action === 'die')!.Actor.Attributes.exitCode, '137');
    assert.deepEqual(mine[1]!.Actor, { ID: netId, Attributes: { container: ctr, name: 'evnet', type: 'bridge' } });
    assert.deepEqual(mine[2]!.Actor, { ID: 'evvol', Attributes: { container: ctr, destination: '/data', driver: 'local', propagation: '', 'read/write': 'true' } });
    assert.deepEqual(mine.filter((e) => e.Action === 'kill').map((e) => e.Actor.Attributes.signal), ['15', '9'], 'stop -t 0: TERM, then KILL');
    assert.deepEqual(mine[12]!.Actor, { ID: 'evvol', Attributes: { container: ctr, driver: 'local' } });
    assert.deepEqual(mine[7]!.Actor.Attributes, { 'com.example.k': 'v', height: '30', image: 'busybox', name: 'ev1', width: '100' });
    const execs = mine.slice(4, 7);
    const execId = execs[0]!.Actor.Attributes.execID;
    assert.match(execId ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(execs.map((e) => e.Actor.Attributes.execID), [execId, execId, execId]);
    assert.equal(execs[2]!.Actor.Attributes.exitCode, '3');
    assert.equal(execs[0]!.Actor.Attributes.name, 'ev1');
    for (let i = 1; i < all.length; i++) assert.ok(all[i]!.timeNano > all[i - 1]!.timeNano, 'events are in order');
  });

  test('network and volume create and destroy', () => {
    const nv = all.filter((e) => (e.Type === 'network' || e.Type === 'volume') && !e.Actor.Attributes.container);
    assert.deepEqual(nv.map((e) => `${e.Type} ${e.Action} ${e.Actor.Attributes.name ?? e.Actor.ID}`), [
      'network create evnet', 'volume create evvol', 'network destroy evnet', 'volume destroy evvol',
    ]);
    assert.deepEqual(nv[1]!.Actor.Attributes, { driver: 'local' });
    assert.equal(nv[0]!.Actor.ID, netId);
  });

  test('image events: tag, untag, save, load, build\'s tag, delete, push, pull', () => {
    const img = all.filter((e) => e.Type === 'image');
    assert.deepEqual(img.map((e) => `${e.Action} ${e.Actor.Attributes.name}`), [
      `tag evtag:1`, `untag ${busyboxId}`, `save ${busyboxId}`, `load ${busyboxId}`,
      'tag evbuilt:1', ...img.filter((e) => e.Action === 'untag' && e.Actor.ID !== busyboxId).map((e) => `untag ${e.Actor.ID}`),
      ...img.filter((e) => e.Action === 'delete').map((e) => `delete ${e.Actor.ID}`),
      `tag ${reg.host}/ev/bb:1`, `push ${reg.host}/ev/bb:1`, `pull ${reg.host}/ev/bb:1`,
    ]);
    const tag = img[0]!;
    assert.equal(tag.Actor.ID, busyboxId);
    assert.equal(tag.status, 'tag');
    assert.equal(tag.id, busyboxId);
    assert.equal(tag.from, undefined);
    const built = img.find((e) => e.Action === 'tag' && e.Actor.Attributes.name === 'evbuilt:1')!;
    assert.equal(built.Actor.Attributes['com.example.built'], 'yes', 'image events carry the image\'s labels');
    assert.ok(img.some((e) => e.Action === 'delete' && e.Actor.ID === built.Actor.ID), 'rmi of the built image deleted it');
    assert.equal(img.find((e) => e.Action === 'push')!.Actor.ID, `${reg.host}/ev/bb:1`);
  });

  test('filters: type, event, container, image, network, volume, label; several values of one key are OR, keys are AND', async () => {
    const q = async (...filters: string[]) => brief(parse((await d.berth(['events', '--since', start.toFixed(3), '--until', end.toFixed(9), '--format', '{{json .}}', ...filters.flatMap((f) => ['--filter', f])])).stdout));
    assert.deepEqual(await q('type=volume'), ['volume create', 'volume mount', 'volume unmount', 'volume destroy']);
    assert.deepEqual(await q('type=network', 'event=connect', 'event=disconnect'), ['network connect', 'network disconnect']);
    assert.deepEqual(await q('container=ev1', 'type=container', 'event=start'), ['container start']);
    assert.deepEqual(await q(`container=${ctr.slice(0, 6)}`, 'event=destroy'), ['container destroy']);
    assert.deepEqual(await q('network=evnet'), ['network create', 'network connect', 'network disconnect', 'network destroy']);
    assert.deepEqual(await q('volume=evvol', 'event=mount'), ['volume mount']);
    assert.deepEqual(await q('label=com.example.k=v', 'event=die'), ['container die']);
    assert.deepEqual(await q('label=com.example.k=other'), []);
    assert.deepEqual(await q('image=evbuilt:1'), ['image tag']);
    // image= also matches the containers made from that image (their `image` attribute).
    assert.deepEqual((await q('image=busybox', 'type=container', 'event=create')), ['container create']);
  });

  test('bad requests: an unknown filter, since after until', async () => {
    const bad = await d.berth(['events', '--filter', 'nope=1', '--until', '1']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, "Error response from daemon: invalid filter 'nope'\n");
    const order = await d.berth(['events', '--since', '200', '--until', '100']);
    assert.equal(order.code, 1);
    assert.match(order.stderr, /`since` time \(200\) cannot be after `until` time \(100\)/);
    const r = await d.api('GET', '/events?since=x');
    assert.equal(r.status, 400);
  });

  test('the default output is the docker CLI\'s line; durations and RFC 3339 times work for --since/--until', async () => {
    const r = await d.berth(['events', '--since', new Date(start * 1000).toISOString(), '--until', (Date.now() / 1000).toFixed(3), '--filter', 'event=create', '--filter', 'type=container']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}(Z|[+-]\\d\\d:\\d\\d) container create ${ctr} \\(com\\.example\\.k=v, image=busybox, name=ev1\\)\n$`));
    const f = await d.berth(['events', '--since', '10m', '--until', (Date.now() / 1000).toFixed(3), '--filter', 'type=network', '--format', '{{.Type}}/{{.Action}}/{{.Actor.Attributes.name}}/{{.Scope}}']);
    assert.equal(f.stdout, 'network/create/evnet\nnetwork/connect/evnet\nnetwork/disconnect/evnet\nnetwork/destroy/evnet\n'.replace(/\n/g, '/local\n'));
  });

  test('a live stream replays recorded events up to until, then sees new ones; an until in the future ends it', async () => {
    const until = Math.floor(Date.now() / 1000) + 30;
    const child = spawn(BERTH, ['events', '--until', String(until), '--filter', 'type=container', '--filter', 'event=start', '--format', '{{.Actor.Attributes.name}}'], { env: { ...process.env, BERTH_HOST: d.host } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    await waitFor(async () => JSON.parse((await d.api('GET', '/info')).body).NEventsListener === 1, 10_000, 'the subscriber');
    const r = await d.berth(['run', '--rm', '--name', 'live1', 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    // As dockerd: with `until` and no `since`, the recorded events come first.
    await waitFor(() => out === 'ev1\nlive1\n', 10_000, `the replayed and the live event (got ${JSON.stringify(out)})`);
    const code = await Promise.race([exited, new Promise<string>((res) => setTimeout(() => res('still running'), 40_000))]);
    assert.equal(code, 0, 'the stream ended at until');
  });

  test('the docker CLI reads the same events and filters', { skip: !hasDocker }, async () => {
    const now = (Date.now() / 1000).toFixed(0);
    const k = await d.docker(['events', '--since', '0', '--until', now, '--filter', 'type=image', '--format', '{{json .}}']);
    assert.equal(k.code, 0, k.stderr);
    const b = await d.berth(['events', '--since', '0', '--until', now, '--filter', 'type=image', '--format', '{{json .}}']);
    assert.deepEqual(parse(k.stdout), parse(b.stdout));
    assert.ok(parse(k.stdout).length >= 8);
    const dflt = await d.docker(['events', '--since', start.toFixed(3), '--until', now, '--filter', 'container=ev1', '--filter', 'event=create']);
    const mine = await d.berth(['events', '--since', start.toFixed(3), '--until', now, '--filter', 'container=ev1', '--filter', 'event=create']);
    assert.equal(dflt.stdout, mine.stdout);
    assert.match(dflt.stdout, / container create /);
    const tpl = await d.docker(['events', '--since', start.toFixed(3), '--until', now, '--filter', 'type=volume', '--format', '{{.Action}} {{.Actor.ID}}']);
    assert.equal(tpl.stdout, 'create evvol\nmount evvol\nunmount evvol\ndestroy evvol\n');
  });
});
