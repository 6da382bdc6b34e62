/** `diff` and `commit`: a container's changes, read from its upper dir, become a layer with OCI whiteouts. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

describe('diff and commit', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ busybox: true });
    const r = await d.berth(['run', '--name', 'changed', 'busybox', 'sh', '-c',
      'echo hi > /hello; rm /etc/group; mkdir -p /opt/x; echo y > /opt/x/y; rm -rf /home; mkdir /home; touch /home/new']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => teardown(d));

  test('diff lists added, changed and deleted paths, not the engine\'s own mount targets', async () => {
    const r = await d.berth(['diff', 'changed']);
    const lines = r.stdout.trim().split('\n');
    for (const l of ['C /etc', 'D /etc/group', 'A /hello', 'C /home', 'A /home/new', 'A /opt', 'A /opt/x', 'A /opt/x/y']) assert.ok(lines.includes(l), `${l} in\n${r.stdout}`);
    assert.ok(!lines.some((l) => /\/etc\/(hosts|hostname|resolv\.conf)$/.test(l)), r.stdout);
  });

  test('commit makes an image whose layer replays the changes, deletions included', async () => {
    const c = await d.berth(['commit', '-c', 'CMD ["cat", "/hello"]', '-m', 'saved state', '-a', 'tester', 'changed', 'mine:committed']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^sha256:[a-f0-9]{64}\n$/);
    assert.equal((await d.berth(['run', '--rm', 'mine:committed'])).stdout, 'hi\n');
    const r = await d.berth(['run', '--rm', 'mine:committed', 'sh', '-c', 'ls /etc/group 2>&1; ls /home; cat /opt/x/y']);
    assert.equal(r.stdout, 'ls: /etc/group: No such file or directory\nnew\ny\n');
    const [img] = JSON.parse((await d.berth(['inspect', 'mine:committed'])).stdout) as { RootFS: { Layers: string[] }; Comment: string; Author: string }[];
    assert.equal(img!.RootFS.Layers.length, 2, 'one layer on top of busybox');
    assert.equal(img!.Comment, 'saved state');
    const hist = await d.berth(['history', 'mine:committed']);
    assert.match(hist.stdout.split('\n')[1]!, /sh -c echo hi > \/hello.*saved state/);
  });

  test('docker diff and docker commit against berth', { skip: !hasDocker }, async () => {
    assert.match((await d.docker(['diff', 'changed'])).stdout, /^A \/hello$/m);
    const c = await d.docker(['commit', 'changed', 'mine:docker']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal((await d.berth(['run', '--rm', 'mine:docker', 'cat', '/hello'])).stdout, 'hi\n');
  });
});
