import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inBackground, run, stopLauncher, useLauncher } from './index.js';

// `nice` with no arguments prints the niceness it runs at: the launcher shell's, which its commands inherit.
test('commands run inBackground go through a launcher at a lower priority; the others, and those after, do not', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-bg-'));
  useLauncher(join(root, 'launcher'));
  try {
    const niceness = async () => Number((await run('nice', [])).stdout);
    const own = await niceness();
    const [bg, fg] = await Promise.all([inBackground(async () => { await Promise.resolve(); return niceness(); }), niceness()]);
    assert.equal(bg, Math.min(own + 10, 19), 'through awaits inside the background work too');
    assert.equal(fg, own, 'work started beside it keeps the normal priority');
    assert.equal(await niceness(), own);
    const longLived = await inBackground(async () => Number((await run('nice', [], { longLived: true })).stdout));
    assert.equal(longLived, own, 'a process that outlives the work (conmon) keeps the normal priority');
  } finally {
    stopLauncher();
    rmSync(root, { recursive: true, force: true });
  }
});
