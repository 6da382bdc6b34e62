import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toUnix } from './logs.js';

const NOW = Date.parse('2026-11-27T12:00:00.250Z');
const NOW_S = Math.floor(NOW / 1000);

test('unset stays unset', () => {
  assert.equal(toUnix(undefined), undefined);
  assert.equal(toUnix(''), undefined);
});

test('unix timestamps pass through unchanged', () => {
  assert.equal(toUnix('0'), '0');
  assert.equal(toUnix('1700000000'), '1700000000');
  assert.equal(toUnix('1700000000.5'), '1700000000.5');
});

test('RFC 3339 timestamps become unix seconds', () => {
  assert.equal(toUnix('2013-01-02T13:23:37Z'), '1357133017');
  assert.equal(toUnix('2013-01-02T15:23:37+02:00'), '1357133017');
});

test('Go durations are counted back from now', (t) => {
  t.mock.method(Date, 'now', () => NOW);
  assert.equal(toUnix('10m'), String(NOW_S - 600));
  assert.equal(toUnix('1h30m'), String(NOW_S - 5400));
  assert.equal(toUnix('42s'), String(NOW_S - 42));
  assert.equal(toUnix('1.5h'), String(NOW_S - 5400));
  assert.equal(toUnix('1500ms'), String(Math.floor((NOW - 1500) / 1000)));
  assert.equal(toUnix('0s'), String(NOW_S));
});

test('garbage is rejected', () => {
  for (const bad of ['yesterday', '10x', 'h', '5 minutes', '1h-5m']) assert.throws(() => toUnix(bad), Error, bad);
});

test('a value that is neither time nor duration names its flag, as docker does', () => {
  assert.throws(() => toUnix('abc', 'until'), /^Error: invalid value for "until": failed to parse value as time or duration: "abc"$/);
});
