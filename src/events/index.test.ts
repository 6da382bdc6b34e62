import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventFilter, EventLog } from './index.js';

test('EventLog keeps the last `limit` events for since replays, in order, with increasing times', () => {
  const log = new EventLog(3);
  for (let i = 0; i < 5; i++) log.log('container', 'start', `c${i}`, { name: `n${i}` });
  const all = log.history(0, undefined);
  assert.deepEqual(all.map((e) => e.Actor.ID), ['c2', 'c3', 'c4']);
  assert.ok(all[1]!.timeNano > all[0]!.timeNano && all[2]!.timeNano > all[1]!.timeNano);
  assert.deepEqual(log.history(all[1]!.timeNano, all[1]!.timeNano).map((e) => e.Actor.ID), ['c3']);
  assert.deepEqual(log.history(undefined, undefined), [], 'no since and no until: no replay');
});

test('EventLog: the legacy status/id/from for containers and images only, live subscribers', () => {
  const log = new EventLog();
  const got: string[] = [];
  const off = log.subscribe((e) => got.push(`${e.Type} ${e.Action}`));
  const c = log.log('container', 'create', 'abc', { image: 'busybox', name: 'x' });
  assert.deepEqual([c.status, c.id, c.from], ['create', 'abc', 'busybox']);
  const i = log.log('image', 'tag', 'sha256:1', { name: 'a:1' });
  assert.deepEqual([i.status, i.id, 'from' in i], ['tag', 'sha256:1', false]);
  const n = log.log('network', 'create', 'n1', { name: 'net', type: 'bridge' });
  assert.equal('status' in n, false);
  off();
  log.log('volume', 'create', 'v');
  assert.deepEqual(got, ['container create', 'image tag', 'network create']);
  assert.equal(log.subscribers, 0);
});

test('EventFilter: dockerd\'s rules', () => {
  const log = new EventLog();
  const ctr = log.log('container', 'start', 'abcdef', { image: 'busybox:latest', name: 'web', 'com.x': 'y' });
  const img = log.log('image', 'tag', 'sha256:ff', { name: 'app:1' });
  const net = log.log('network', 'connect', 'net123', { container: 'abcdef', name: 'front', type: 'bridge' });
  const exec = log.log('container', 'exec_start: sh -c true', 'abcdef', { name: 'web', image: 'busybox' });
  const f = (x: Record<string, string[]>) => new EventFilter(x);
  assert.equal(f({}).matches(ctr), true);
  assert.equal(f({ type: ['image', 'network'] }).matches(ctr), false);
  assert.equal(f({ type: ['image', 'network'] }).matches(net), true);
  assert.equal(f({ container: ['web'] }).matches(ctr), true);
  assert.equal(f({ container: ['abc'] }).matches(ctr), true, 'an ID prefix');
  assert.equal(f({ container: ['web'] }).matches(net), false, 'container= leaves out other types, as dockerd');
  assert.equal(f({ network: ['front'] }).matches(net), true);
  assert.equal(f({ image: ['busybox'] }).matches(ctr), true, 'the image attribute without its tag');
  assert.equal(f({ image: ['app'] }).matches(img), true);
  assert.equal(f({ image: ['app:2'] }).matches(img), false);
  assert.equal(f({ label: ['com.x'] }).matches(ctr), true);
  assert.equal(f({ label: ['com.x=y', 'other'] }).matches(ctr), false, 'every label must match');
  assert.equal(f({ event: ['start', 'die'] }).matches(ctr), true);
  assert.equal(f({ event: ['exec_start'] }).matches(exec), true, 'exec_start matches by prefix');
  assert.equal(f({ event: ['star'] }).matches(ctr), false);
  assert.equal(f({ scope: ['swarm'] }).matches(ctr), false);
  assert.throws(() => f({ nope: ['1'] }), /invalid filter 'nope'/);
});
