/** The verbs people use on running containers: attach and detach, restart, rename, pause, top, prune. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, exec, startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';

const DRIVER = join(import.meta.dirname, 'pty-drive.py');

describe('container verbs', () => {
  let d: TestDaemon;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d));

  const inspect = async (ref: string, tpl: string) => (await d.berth(['inspect', '-f', tpl, ref])).stdout.trim();

  test('Ctrl-P Ctrl-Q detaches from run -it and leaves the shell running; attach comes back to it', async () => {
    const env = { ...process.env, BERTH_HOST: d.host };
    const first = await exec('python3', [DRIVER, '24', '80', 'echo one > /tmp/mark', '\\x10\\x11', '--', BERTH, 'run', '-it', '--name', 'sticky', 'busybox', 'sh'], { env });
    assert.equal((JSON.parse(first.stdout) as { code: number }).code, 0, first.stdout);
    assert.equal(await inspect('sticky', '{{.State.Running}}'), 'true', 'still running after the detach');
    const again = await exec('python3', [DRIVER, '24', '80', 'cat /tmp/mark', 'exit 6', '--', BERTH, 'attach', 'sticky'], { env });
    const out = JSON.parse(again.stdout) as { output: string; code: number };
    assert.match(out.output, /one/);
    assert.equal(out.code, 6);
    await d.berth(['rm', 'sticky']);
  });

  test('rename, and the old name is free again', async () => {
    await d.berth(['create', '--name', 'before', 'busybox', 'true']);
    assert.equal((await d.berth(['rename', 'before', 'after'])).code, 0);
    assert.equal(await inspect('after', '{{.Name}}'), '/after');
    const gone = await d.berth(['inspect', 'before']);
    assert.equal(gone.code, 1);
    await d.berth(['create', '--name', 'other', 'busybox', 'true']);
    const clash = await d.berth(['rename', 'other', 'after']);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /is already in use/);
    await d.berth(['rm', 'after', 'other']);
  });

  test('pause freezes, unpause thaws; top lists the processes', async () => {
    const id = (await d.berth(['run', '-d', 'busybox', 'sh', '-c', 'while true; do date +%s%N >> /tmp/t; sleep 0.05; done'])).stdout.trim();
    await waitFor(async () => (await d.berth(['exec', id, 'cat', '/tmp/t'])).stdout.length > 0, 10_000, 'first ticks');
    assert.equal((await d.berth(['pause', id])).code, 0);
    assert.equal(await inspect(id, '{{.State.Status}} {{.State.Paused}}'), 'paused true');
    assert.match((await d.berth(['ps'])).stdout, /\(Paused\)/);
    const top = await d.berth(['top', id]);
    assert.match(top.stdout, /^UID +PID +PPID +C +STIME +TTY +TIME +CMD\n/);
    assert.match(top.stdout, /sh -c while true/);
    const exec1 = await d.berth(['exec', id, 'true']);
    assert.equal(exec1.code, 1, 'no exec into a paused container');
    assert.equal((await d.berth(['unpause', id])).code, 0);
    assert.equal(await inspect(id, '{{.State.Status}}'), 'running');
    await d.berth(['rm', '-f', id]);
  });

  test('restart runs the container again; container prune removes the stopped ones', async () => {
    const id = (await d.berth(['run', '-d', 'busybox', 'sh', '-c', 'echo run; sleep 60'])).stdout.trim();
    await waitFor(async () => (await d.berth(['logs', id])).stdout === 'run\n', 10_000, 'first run');
    assert.equal((await d.berth(['restart', '-t', '0', id])).code, 0);
    await waitFor(async () => (await d.berth(['logs', id])).stdout === 'run\nrun\n', 10_000, 'second run');
    assert.equal(await inspect(id, '{{.State.Running}}'), 'true');
    const stopped = (await d.berth(['create', 'busybox', 'true'])).stdout.trim();
    const prune = await d.berth(['container', 'prune', '-f']);
    assert.match(prune.stdout, new RegExp(`Deleted Containers:\\n${stopped}\\n`));
    assert.doesNotMatch(prune.stdout, new RegExp(id));
    await d.berth(['rm', '-f', id]);
  });

  test('container prune --filter: until, label and label! choose what goes; a bad filter is refused', async () => {
    const keep = (await d.berth(['create', '-l', 'keep=1', 'busybox', 'true'])).stdout.trim();
    const other = (await d.berth(['create', 'busybox', 'true'])).stdout.trim();
    assert.equal((await d.berth(['container', 'prune', '-f', '--filter', 'until=1h'])).stdout, 'Total reclaimed space: 0B\n', 'both are newer than an hour');
    const unlabelled = await d.berth(['container', 'prune', '-f', '--filter', 'label!=keep']);
    assert.equal(unlabelled.stdout, `Deleted Containers:\n${other}\n\nTotal reclaimed space: 0B\n`);
    const bad = await d.berth(['container', 'prune', '-f', '--filter', 'until=someday']);
    assert.deepEqual([bad.code, bad.stderr], [1, 'Error response from daemon: failed to parse value as time or duration: "someday"\n']);
    // until compares whole seconds, as dockerd's: a date ahead makes "created before it" certain.
    const labelled = await d.berth(['container', 'prune', '-f', '--filter', 'label=keep=1', '--filter', 'until=2099-01-01T00:00:00Z']);
    assert.match(labelled.stdout, new RegExp(`^Deleted Containers:\n${keep}\n`));
  });
});
