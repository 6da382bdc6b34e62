import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Demuxer, frame, STDERR, STDIN, STDOUT } from './stdcopy.js';

function collect(): { demux: Demuxer; frames: [number, string][] } {
  const frames: [number, string][] = [];
  return { demux: new Demuxer((s, p) => frames.push([s, p.toString()])), frames };
}

test('stream ids are docker\'s', () => {
  assert.deepEqual([STDIN, STDOUT, STDERR], [0, 1, 2]);
});

test('frame(): stream byte, three zero bytes, big-endian length, payload', () => {
  const f = frame(STDERR, Buffer.from('hello'));
  assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 5]);
  assert.equal(f.subarray(8).toString(), 'hello');
  const big = frame(STDOUT, Buffer.alloc(0x010203));
  assert.deepEqual([...big.subarray(0, 8)], [1, 0, 0, 0, 0, 0x01, 0x02, 0x03]);
  assert.equal(big.length, 8 + 0x010203);
});

test('several frames in one chunk, including an empty payload', () => {
  const { demux, frames } = collect();
  demux.push(Buffer.concat([frame(STDOUT, Buffer.from('out')), frame(STDERR, Buffer.alloc(0)), frame(STDERR, Buffer.from('err'))]));
  assert.deepEqual(frames, [[1, 'out'], [2, ''], [2, 'err']]);
});

test('a header split across chunks, and a payload split across chunks', () => {
  const { demux, frames } = collect();
  const bytes = Buffer.concat([frame(STDOUT, Buffer.from('hello world')), frame(STDERR, Buffer.from('x'))]);
  demux.push(bytes.subarray(0, 3));
  demux.push(bytes.subarray(3, 8));
  assert.deepEqual(frames, [], 'nothing until the payload is complete');
  demux.push(bytes.subarray(8, 12));
  assert.deepEqual(frames, []);
  demux.push(bytes.subarray(12));
  assert.deepEqual(frames, [[1, 'hello world'], [2, 'x']]);
});

test('byte-at-a-time delivery reassembles every frame', () => {
  const { demux, frames } = collect();
  const bytes = Buffer.concat([frame(STDOUT, Buffer.from('a')), frame(STDOUT, Buffer.alloc(0)), frame(STDERR, Buffer.from('bc'))]);
  for (let i = 0; i < bytes.length; i++) demux.push(bytes.subarray(i, i + 1));
  assert.deepEqual(frames, [[1, 'a'], [1, ''], [2, 'bc']]);
});

test('a trailing partial frame is held, not emitted', () => {
  const { demux, frames } = collect();
  const second = frame(STDERR, Buffer.from('later'));
  demux.push(Buffer.concat([frame(STDOUT, Buffer.from('now')), second.subarray(0, 10)]));
  assert.deepEqual(frames, [[1, 'now']]);
  demux.push(second.subarray(10));
  assert.deepEqual(frames, [[1, 'now'], [2, 'later']]);
});
