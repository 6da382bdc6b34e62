/** `run -it` on a real pseudo-terminal: an interactive shell with a working TTY, its size, and its exit code. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, DOCKER, exec, hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

const DRIVER = join(import.meta.dirname, 'pty-drive.py');

async function drive(d: TestDaemon, lines: string[], cmd: string[]): Promise<{ output: string; code: number }> {
  const r = await exec('python3', [DRIVER, '33', '101', ...lines, '--', ...cmd], { env: { ...process.env, BERTH_HOST: d.host, DOCKER_HOST: d.host } });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { output: string; code: number };
}

describe('interactive TTY', () => {
  let d: TestDaemon;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, [], { expectNone: true }));

  for (const [name, cli] of [['berth', [BERTH]], ['docker', [DOCKER]]] as const) {
    test(`${name} run -it gives a shell on a terminal of the right size`, { skip: name === 'docker' && !hasDocker }, async () => {
      const r = await drive(d, ['echo $((6*7)); tty; stty size', 'exit 4'], [...cli, 'run', '-it', '--rm', 'busybox', 'sh']);
      assert.equal(r.code, 4, r.output);
      assert.match(r.output, /\r\n42\r\n\/dev\/pts\/0\r\n33 101\r\n/);
      assert.doesNotMatch(r.output, /\r\r\n/, 'no doubled carriage returns');
    });
  }

  test('Ctrl-C reaches the foreground process, not the CLI', async () => {
    const r = await drive(d, ['sleep 30', '\\x03echo after=$?', 'exit'], [BERTH, 'run', '-it', '--rm', 'busybox', 'sh']);
    assert.match(r.output, /after=130/);
    assert.equal(r.code, 0);
  });
});
