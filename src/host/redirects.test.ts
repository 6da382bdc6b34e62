import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, stopLauncher, useLauncher } from './index.js';

// conmon's sync and start pipes, as OciRuntime hands them over: FIFOs the caller holds read-write.
async function pingThroughFifos(root: string): Promise<{ reply: string; fds: string[] }> {
  const up = join(root, 'up');
  const down = join(root, 'down');
  execFileSync('mkfifo', [up, down]);
  const upFd = openSync(up, constants.O_RDWR);
  const downFd = openSync(down, constants.O_RDWR);
  try {
    writeSync(downFd, 'ping\n');
    const r = await run('sh', ['-c', 'read x <&4; echo "got $x" >&3; ls /proc/$$/fd'], {
      redirects: [{ fd: 3, path: up }, { fd: 4, path: down }],
    });
    const buf = Buffer.alloc(64);
    const n = readSync(upFd, buf);
    return { reply: buf.subarray(0, n).toString(), fds: r.stdout.trim().split('\n').sort() };
  } finally {
    closeSync(upFd);
    closeSync(downFd);
  }
}

test('a command gets FIFOs as descriptors 3 and 4, and no other descriptor, from the launcher shell', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-redirect-'));
  useLauncher(join(root, 'launcher'));
  try {
    assert.deepEqual(await pingThroughFifos(root), { reply: 'got ping\n', fds: ['0', '1', '2', '3', '4'] });
  } finally {
    stopLauncher();
    rmSync(root, { recursive: true, force: true });
  }
});

test('the same from a spawn of its own, where there is no launcher', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-redirect-'));
  try {
    assert.deepEqual(await pingThroughFifos(root), { reply: 'got ping\n', fds: ['0', '1', '2', '3', '4'] });
    await assert.rejects(run('true', [], { redirects: [{ fd: 12, path: '/dev/null' }] }), /descriptors 3 to 9/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a long-lived command started by a spawn of its own does not keep the caller from exiting', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-longlived-'));
  const marker = `berth-longlived-${process.pid}`;
  try {
    const script = join(root, 'caller.mts');
    const host = fileURLToPath(new URL('./index.ts', import.meta.url));
    writeFileSync(script, `import { run } from ${JSON.stringify(host)};\nvoid run('sh', ['-c', 'sleep 30 # ${marker}'], { longLived: true });\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { timeout: 15_000, encoding: 'utf8' });
    assert.equal(r.status, 0, `the caller waited for the command (${r.signal ?? r.stderr})`);
  } finally {
    spawnSync('pkill', ['-f', marker]);
    rmSync(root, { recursive: true, force: true });
  }
});
