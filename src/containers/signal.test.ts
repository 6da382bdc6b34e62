import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeSignal } from './index.js';

test('names with or without SIG, any case, map to the canonical SIG name', () => {
  assert.equal(normalizeSignal('KILL'), 'SIGKILL');
  assert.equal(normalizeSignal('SIGKILL'), 'SIGKILL');
  assert.equal(normalizeSignal('sigterm'), 'SIGTERM');
  assert.equal(normalizeSignal('hup'), 'SIGHUP');
  assert.equal(normalizeSignal('SIGUSR1'), 'SIGUSR1');
  assert.equal(normalizeSignal('usr2'), 'SIGUSR2');
});

test('numbers map to Linux signal names', () => {
  assert.equal(normalizeSignal('9'), 'SIGKILL');
  assert.equal(normalizeSignal('15'), 'SIGTERM');
  assert.equal(normalizeSignal('10'), 'SIGUSR1');
  assert.equal(normalizeSignal('1'), 'SIGHUP');
});

test('invalid signals fail with docker\'s message and status 400', () => {
  for (const bad of ['FOO', 'SIGFOO', 'SIG', '0', '-9', '', 'KILL9']) {
    assert.throws(() => normalizeSignal(bad), (e: Error & { status?: number }) =>
      e.message === `Invalid signal: ${bad}` && e.status === 400, JSON.stringify(bad));
  }
});
