import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration } from './duration.js';

const S = 1000; const M = 60 * S; const H = 60 * M; const D = 24 * H;

function check(cases: [number, string][]): void {
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
}

test('seconds are truncated, as Go\'s int(d.Seconds())', () => {
  check([
    [0, 'Less than a second'], [999, 'Less than a second'], [-5 * S, 'Less than a second'],
    [1 * S, '1 second'], [1.9 * S, '1 second'], [2 * S, '2 seconds'], [59.9 * S, '59 seconds'],
  ]);
});

test('minutes are truncated', () => {
  check([[60 * S, 'About a minute'], [119 * S, 'About a minute'], [2 * M, '2 minutes'], [59 * M + 59 * S, '59 minutes']]);
});

test('hours are rounded', () => {
  check([
    [60 * M, 'About an hour'], [89 * M, 'About an hour'], [90 * M, '2 hours'],
    [47 * H, '47 hours'], [47 * H + 29 * M, '47 hours'], [47 * H + 30 * M, '2 days'],
  ]);
});

test('days, weeks, months, years', () => {
  check([
    [48 * H, '2 days'], [13 * D + 23 * H, '13 days'], [14 * D, '2 weeks'], [59 * D, '8 weeks'],
    [60 * D, '2 months'], [729 * D, '24 months'], [730 * D, '2 years'], [3 * 365 * D, '3 years'],
  ]);
});
