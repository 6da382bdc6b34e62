/** The real docker CLI (v28) against berth's socket: what it prints and its exit codes, as with dockerd. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

describe('docker CLI against berth', { skip: hasDocker ? false : 'no /usr/local/bin/docker here' }, () => {
  let d: TestDaemon;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d));

  test('docker version negotiates the API', async () => {
    const r = await d.docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^1\.4\d linux\n$/);
  });

  test('docker run --rm prints hello', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.code, 0, r.stderr);
  });

  test('exit codes, stderr and stdin', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo oops >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'oops\n');
    const i = await d.docker(['run', '--rm', '-i', 'busybox', 'tr', 'a-z', 'A-Z'], { input: 'shout\n' });
    assert.equal(i.stdout, 'SHOUT\n');
  });

  test('a missing command exits 127 and an unknown image fails', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', 'nope']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /exec: "nope": executable file not found in \$PATH/);
    const u = await d.docker(['run', '--rm', 'nope']);
    assert.equal(u.code, 125);
    assert.match(u.stderr, /Unable to find image 'nope:latest' locally/);
  });

  test('ps -a, images, logs, inspect and rm -f', async () => {
    const run = await d.docker(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'echo ready; sleep 60']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    const ps = await d.docker(['ps', '-a', '--format', '{{.ID}} {{.Image}} {{.Names}} {{.State}}']);
    assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)} busybox web running$`, 'm'));
    const imgs = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.equal(imgs.stdout, 'busybox:latest\n');
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('ready'); i++) {
      logs = (await d.docker(['logs', 'web'])).stdout;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(logs, 'ready\n');
    const insp = await d.docker(['inspect', '--format', '{{.Name}} {{.State.Status}} {{.Config.Cmd}}', 'web']);
    assert.equal(insp.stdout, '/web running [sh -c echo ready; sleep 60]\n');
    const rm = await d.docker(['rm', '-f', 'web']);
    assert.equal(rm.stdout, 'web\n');
    assert.equal((await d.docker(['ps', '-aq'])).stdout, '');
  });

  test('--entrypoint \'\' clears the image\'s entrypoint, and Cmd may be a lone string, as with dockerd', async () => {
    assert.equal((await d.docker(['create', '--name', 'ep-src', 'busybox', 'true'])).code, 0);
    const commit = await d.docker(['commit', '--change', 'ENTRYPOINT ["/bin/false"]', 'ep-src', 'with-ep']);
    assert.equal(commit.code, 0, commit.stderr);
    assert.equal((await d.docker(['run', '--rm', 'with-ep'])).code, 1);
    for (const cli of [d.docker, d.berth]) {
      const r = await cli(['run', '--rm', '--entrypoint', '', 'with-ep', 'echo', 'hi']);
      assert.equal(r.stdout, 'hi\n', r.stderr);
      assert.equal(r.code, 0);
    }
    // [""] also drops the image's Cmd: with no command of its own there is nothing to run.
    const none = await d.docker(['run', '--rm', '--entrypoint', '', 'with-ep']);
    assert.equal(none.code, 125);
    assert.match(none.stderr, /no command specified/);
    const str = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: 'true', Entrypoint: '/bin/sh' });
    assert.equal(str.status, 201, str.body);
    const id = (JSON.parse(str.body) as { Id: string }).Id;
    const insp = await d.docker(['inspect', '--format', '{{.Path}} {{json .Args}} {{json .Config.Cmd}}', id]);
    assert.equal(insp.stdout, '/bin/sh ["true"] ["true"]\n');
    assert.equal((await d.docker(['rm', id, 'ep-src'])).code, 0);
    assert.equal((await d.docker(['rmi', 'with-ep'])).code, 0);
  });

  test('unknown container: docker\'s message', async () => {
    const r = await d.docker(['logs', 'ghost']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No such container: ghost/);
  });
});
