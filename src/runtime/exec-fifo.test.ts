/**
 * The start through runc's exec FIFO, against real FIFOs and a shell in the init's part: it opens its
 * end for writing (blocking until the start opens the other), writes a byte and execs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startThroughFifo } from './exec-fifo.js';

const dir = mkdtempSync(join(tmpdir(), 'bt-fifo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fifo(name: string): string {
  const path = join(dir, name);
  assert.equal(spawnSync('mkfifo', [path]).status, 0);
  return path;
}

test('the start releases a waiting init, returns once it has exec\'d, and removes the FIFO', async () => {
  const path = fifo('ok');
  const marker = join(dir, 'execd');
  // The init's part: the write end stays open until the exec, as runc init's close-on-exec descriptor does.
  const init = spawn('sh', ['-c', `exec 3>"$0"; printf 0 >&3; exec sh -c 'touch "$1"; sleep 5' sh "$1" 3>&-`, path, marker], { stdio: 'ignore' });
  try {
    assert.equal(await startThroughFifo(path, init.pid!), true);
    assert.equal(existsSync(path), false, 'runc tells a running container by the FIFO being gone');
    await waitFor(() => existsSync(marker));
  } finally {
    init.kill('SIGKILL');
  }
});

test('no FIFO: false, for the caller to run `runc start`', async () => {
  assert.equal(await startThroughFifo(join(dir, 'missing'), process.pid), false);
});

test('an init that died before opening its end: runc\'s error, not a wait for ever', async () => {
  const path = fifo('dead');
  const gone = spawnSync('sh', ['-c', 'echo $$']);
  const pid = Number(gone.stdout.toString().trim());
  await assert.rejects(startThroughFifo(path, pid), /container process is already dead/);
});

test('an init that wrote nothing before closing its end: runc\'s "already running"', async () => {
  const path = fifo('empty');
  const init = spawn('sh', ['-c', 'exec 3>"$0"; exec 3>&-; sleep 5', path], { stdio: 'ignore' });
  try {
    await assert.rejects(startThroughFifo(path, init.pid!), /cannot start an already running container/);
  } finally {
    init.kill('SIGKILL');
  }
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check());
}
