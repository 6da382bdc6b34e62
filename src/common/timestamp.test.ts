import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getTimestamp, parseGoDuration, timestampNanos } from './timestamp.js';

test('parseGoDuration(): Go\'s units and combinations', () => {
  assert.equal(parseGoDuration('10m'), 600e9);
  assert.equal(parseGoDuration('1h30m'), 5400e9);
  assert.equal(parseGoDuration('1.5s'), 1.5e9);
  assert.equal(parseGoDuration('250ms'), 250e6);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('10'), undefined);
  assert.equal(parseGoDuration('2024-01-01'), undefined);
});

test('getTimestamp(): durations before the reference, unix times as they are, RFC 3339 with nanoseconds', () => {
  const ref = new Date('2024-05-01T12:00:00Z');
  assert.equal(getTimestamp('10m', ref), String(Date.parse('2024-05-01T11:50:00Z') / 1000));
  assert.equal(getTimestamp('0', ref), '0');
  assert.equal(getTimestamp('1714564800', ref), '1714564800');
  assert.equal(getTimestamp('1714564800.5', ref), '1714564800.5');
  assert.equal(getTimestamp('2024-05-01T12:00:00Z', ref), '1714564800.000000000');
  assert.equal(getTimestamp('2024-05-01T12:00:00.123456789Z', ref), '1714564800.123456789');
  assert.equal(getTimestamp('2024-05-01T14:00:00+02:00', ref), '1714564800.000000000');
  assert.throws(() => getTimestamp('yesterday', ref), /failed to parse value as time or duration: "yesterday"/);
  assert.throws(() => getTimestamp('2024-13-45', ref), /cannot parse/);
});

test('timestampNanos(): what the daemon takes', () => {
  assert.equal(timestampNanos('12.5'), 12.5e9);
  assert.equal(timestampNanos('12.000000001'), 12e9 + 1);
  assert.equal(timestampNanos('0'), 0);
});
