import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerTimestamp, parseLogLine, readLogs, type LogEntry } from './logs.js';

test('parseLogLine: a full line gets its newline back, a partial one does not', () => {
  const full = parseLogLine('2026-11-27T11:30:09.913015228+00:00 stdout F hello world');
  assert.deepEqual(full, { time: '2026-11-27T11:30:09.913015228+00:00', stream: 'stdout', data: Buffer.from('hello world\n') });
  const partial = parseLogLine('2026-11-27T11:30:09.913015228+00:00 stdout P no newline yet');
  assert.equal(partial?.data.toString(), 'no newline yet');
});

test('parseLogLine: stderr, empty lines and text with extra spaces', () => {
  assert.equal(parseLogLine('2026-11-27T11:30:09Z stderr F oops')?.stream, 'stderr');
  assert.equal(parseLogLine('2026-11-27T11:30:09Z stdout F ')?.data.toString(), '\n');
  assert.equal(parseLogLine('2026-11-27T11:30:09Z stdout F  a  b ')?.data.toString(), ' a  b \n');
});

test('parseLogLine: malformed lines are skipped', () => {
  for (const l of ['', 'garbage', '2026-11-27T11:30:09Z stdout', '2026-11-27T11:30:09Z stdout F', '2026-11-27T11:30:09Z stdin F x']) {
    assert.equal(parseLogLine(l), undefined, JSON.stringify(l));
  }
});

test('dockerTimestamp: UTC with nine fractional digits', () => {
  assert.equal(dockerTimestamp('2026-11-27T11:30:09.913015228+00:00'), '2026-11-27T11:30:09.913015228Z');
  assert.equal(dockerTimestamp('2026-11-27T13:30:09.913015228+02:00'), '2026-11-27T11:30:09.913015228Z');
  assert.equal(dockerTimestamp('2026-11-27T00:30:09.5-05:30'), '2026-11-27T06:00:09.500000000Z');
  assert.equal(dockerTimestamp('2027-01-01T01:00:00+02:00'), '2026-12-31T23:00:00.000000000Z', 'crosses a year boundary');
  assert.equal(dockerTimestamp('2026-11-27T11:30:09Z'), '2026-11-27T11:30:09.000000000Z');
});

const dir = await mkdtemp(join(tmpdir(), 'berth-logs-'));
after(() => rm(dir, { recursive: true, force: true }));

const LINES = [
  '2026-11-27T11:30:01.000000000+00:00 stdout F one',
  '2026-11-27T11:30:02.000000000+00:00 stderr F two',
  '2026-11-27T13:30:03.000000000+02:00 stdout P thr',
  '2026-11-27T11:30:03.500000000+00:00 stdout F ee',
  'not a log line',
  '2026-11-27T11:30:04.000000000+00:00 stdout F four',
];
const T = (s: string) => Date.parse(`2026-11-27T11:30:${s}Z`) / 1000;

async function read(file: string, o: { tail?: number; since?: number; until?: number } = {}): Promise<string[]> {
  const out: LogEntry[] = [];
  const signal = new AbortController().signal;
  for await (const e of readLogs(file, { follow: false, stopped: () => new Promise(() => {}), signal, ...o })) out.push(e);
  return out.map((e) => `${e.stream}:${e.data.toString()}`);
}

const file = join(dir, 'ctr.log');
await writeFile(file, `${LINES.join('\n')}\n2026-11-27T11:30:05.000000000+00:00 stdout F unterminated`);

test('readLogs: all complete entries in order; malformed and unterminated lines are left out', async () => {
  assert.deepEqual(await read(file), ['stdout:one\n', 'stderr:two\n', 'stdout:thr', 'stdout:ee\n', 'stdout:four\n']);
});

test('readLogs: tail', async () => {
  assert.deepEqual(await read(file, { tail: 2 }), ['stdout:ee\n', 'stdout:four\n']);
  assert.deepEqual(await read(file, { tail: 0 }), []);
  assert.equal((await read(file, { tail: 100 })).length, 5);
});

test('readLogs: since and until are inclusive, and offsets are honoured', async () => {
  assert.deepEqual(await read(file, { since: T('02') }), ['stderr:two\n', 'stdout:thr', 'stdout:ee\n', 'stdout:four\n']);
  assert.deepEqual(await read(file, { since: T('03.2') }), ['stdout:ee\n', 'stdout:four\n']);
  assert.deepEqual(await read(file, { until: T('02') }), ['stdout:one\n', 'stderr:two\n']);
  assert.deepEqual(await read(file, { since: T('02'), tail: 1 }), ['stdout:four\n']);
});

test('readLogs: a missing file yields nothing when not following', async () => {
  assert.deepEqual(await read(join(dir, 'missing.log')), []);
});
