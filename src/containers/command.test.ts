import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeCommand } from './command.js';

const img = { Entrypoint: ['/entry'], Cmd: ['default', 'args'] };

test('no Entrypoint and no Cmd take both from the image', () => {
  assert.deepEqual(mergeCommand(null, null, img), { entrypoint: ['/entry'], cmd: ['default', 'args'] });
});

test('a Cmd replaces the image Cmd and keeps its Entrypoint', () => {
  assert.deepEqual(mergeCommand(null, ['x'], img), { entrypoint: ['/entry'], cmd: ['x'] });
});

test('an Entrypoint drops the image Cmd unless a Cmd is given', () => {
  assert.deepEqual(mergeCommand(['sh'], null, img), { entrypoint: ['sh'], cmd: null });
  assert.deepEqual(mergeCommand(['sh'], ['-c', 'true'], img), { entrypoint: ['sh'], cmd: ['-c', 'true'] });
});

test('[""] (docker\'s --entrypoint \'\') clears the Entrypoint and does not bring back the image Cmd', () => {
  assert.deepEqual(mergeCommand([''], ['echo', 'hi'], img), { entrypoint: null, cmd: ['echo', 'hi'] });
  assert.deepEqual(mergeCommand([''], null, img), { entrypoint: null, cmd: null });
});

test('an empty Entrypoint list keeps the image Cmd but not its Entrypoint, as dockerd merges it', () => {
  assert.deepEqual(mergeCommand([], null, img), { entrypoint: [], cmd: ['default', 'args'] });
});
