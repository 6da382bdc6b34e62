import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ellipsis, goTime, humanSize, shortId, table } from './format.js';

test('table(): columns padded like tabwriter(minwidth 10, padding 3), last column unpadded', () => {
  const out = table([
    ['CONTAINER ID', 'IMAGE', 'STATUS', 'NAMES'],
    ['0123456789ab', 'busybox:latest', 'Up 2 seconds', 'x'],
    ['cd', 'a', '', 'a_long_name'],
  ]);
  assert.equal(out, [
    'CONTAINER ID   IMAGE            STATUS         NAMES',
    '0123456789ab   busybox:latest   Up 2 seconds   x',
    'cd             a                               a_long_name',
    '',
  ].join('\n'));
});

test('table(): narrow columns still take the minimum width of 10', () => {
  assert.equal(table([['A', 'B', 'C'], ['1', '2', '3']]), 'A         B         C\n1         2         3\n');
  // 7 + 3 = 10: exactly the minimum; 8 + 3 = 11 goes past it.
  assert.equal(table([['1234567', 'x']]), '1234567   x\n');
  assert.equal(table([['12345678', 'x']]), '12345678   x\n');
});

test('table(): no rows prints nothing', () => {
  assert.equal(table([]), '');
});

test('humanSize(): docker\'s decimal units with three significant digits', () => {
  const cases: [number, string][] = [
    [0, '0B'], [999, '999B'], [1000, '1kB'], [1234, '1.23kB'], [2134016, '2.13MB'], [4_404_019, '4.4MB'],
    [77_800_000, '77.8MB'], [123_456_789, '123MB'], [1_500_000_000, '1.5GB'], [2e12, '2TB'],
  ];
  for (const [n, s] of cases) assert.equal(humanSize(n), s, String(n));
});

test('shortId(): twelve hex characters without the algorithm', () => {
  const hex = '4e5021d210f6abcdef0123456789abcdef0123456789abcdef0123456789abcd';
  assert.equal(shortId(`sha256:${hex}`), '4e5021d210f6');
  assert.equal(shortId(hex), '4e5021d210f6');
});

test('ellipsis(): truncates to the given width', () => {
  assert.equal(ellipsis('short', 10), 'short');
  assert.equal(ellipsis('"sh -c \'sleep 100\'"', 10), '"sh -c \'s…');
  assert.equal(ellipsis('"sh -c \'sleep 100\'"', 10).length, 10);
});

test("goTime(): Go's time.String, with a fraction of a second only when there is one", () => {
  process.env.TZ = 'UTC';
  const t = Date.parse('2026-11-27T22:51:47Z') / 1000;
  assert.equal(goTime(t), '2026-11-27 22:51:47 +0000 UTC');
  assert.equal(goTime(t + 0.33), '2026-11-27 22:51:47.33 +0000 UTC');
});
