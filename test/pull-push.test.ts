/** Push and pull through the real CNCF distribution registry, with berth and with the docker CLI. */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';
import { DEFAULT_USERS, freePort, startRegistry, type TestRegistry } from './registry-fixture.js';

describe('push and pull, anonymous registry', () => {
  let reg: TestRegistry;
  let source: TestDaemon;
  let fresh: TestDaemon;
  before(async () => {
    [reg, source, fresh] = await Promise.all([startRegistry(), startDaemon({ busybox: true }), startDaemon()]);
  });
  after(async () => {
    await Promise.all([teardown(source), teardown(fresh), reg?.stop()]);
  });

  test('push shows progress and the digest; a second repository mounts the layer', async () => {
    const ref = `${reg.host}/test/busybox:1`;
    assert.equal((await source.berth(['tag', 'busybox', ref])).code, 0);
    const push = await source.berth(['push', ref]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, new RegExp(`^The push refers to repository \\[${reg.host}/test/busybox\\]\n`));
    assert.match(push.stdout, /^[a-f0-9]{12}: Pushed$/m);
    assert.match(push.stdout, /^1: digest: sha256:[a-f0-9]{64} size: \d+$/m);
    const other = `${reg.host}/other/bb:2`;
    await source.berth(['tag', 'busybox', other]);
    const again = await source.berth(['push', other]);
    assert.match(again.stdout, /^[a-f0-9]{12}: Mounted from test\/busybox$/m);
    const same = await source.berth(['push', ref]);
    assert.match(same.stdout, /^[a-f0-9]{12}: Layer already exists$/m);
  });

  test('pull into an empty data root gives the same image, byte for byte, and it runs', async () => {
    const ref = `${reg.host}/test/busybox:1`;
    const pull = await fresh.berth(['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /^1: Pulling from test\/busybox\n/);
    assert.match(pull.stdout, /^[a-f0-9]{12}: Pull complete$/m);
    assert.match(pull.stdout, /^Digest: sha256:[a-f0-9]{64}$/m);
    assert.match(pull.stdout, new RegExp(`^Status: Downloaded newer image for ${reg.host}/test/busybox:1$`, 'm'));
    assert.match(pull.stdout, new RegExp(`\n${reg.host}/test/busybox:1\n$`));
    const id = (d: TestDaemon, r: string) => d.berth(['inspect', '-f', '{{.Id}}', r]).then((x) => x.stdout);
    assert.equal(await id(fresh, ref), await id(source, 'busybox'), 'same config digest, so the same image ID');
    const digests = JSON.parse((await fresh.berth(['inspect', '-f', '{{json .RepoDigests}}', ref])).stdout) as string[];
    assert.match(digests[0]!, new RegExp(`^${reg.host}/test/busybox@sha256:[a-f0-9]{64}$`));
    assert.equal((await fresh.berth(['run', '--rm', ref, 'echo', 'pulled'])).stdout, 'pulled\n');
    const up = await fresh.berth(['pull', ref]);
    assert.match(up.stdout, /Status: Image is up to date for/);
    // By digest, too.
    const byDigest = await fresh.berth(['pull', digests[0]!]);
    assert.equal(byDigest.code, 0, byDigest.stderr);
  });

  test('run pulls a missing image first, as docker does', async () => {
    const ref = `${reg.host}/other/bb:2`;
    const r = await fresh.berth(['run', '--rm', ref, 'echo', 'auto']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^Unable to find image '${reg.host}/other/bb:2' locally\n`));
    assert.equal(r.stdout, 'auto\n');
    // -q pulls without a word; --pull always pulls what is there already.
    assert.equal((await fresh.berth(['rmi', ref])).code, 0);
    const quiet = await fresh.berth(['run', '--rm', '-q', ref, 'echo', 'quiet']);
    assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, 'quiet\n', '']);
    const always = await fresh.berth(['run', '--rm', '--pull', 'always', ref, 'true']);
    assert.equal(always.code, 0, always.stderr);
    assert.match(always.stderr, /Image is up to date|Downloaded newer image|Status: /);
  });

  test('docker pull against berth shows docker\'s progress', { skip: !hasDocker }, async () => {
    await fresh.berth(['rmi', '-f', `${reg.host}/test/busybox:1`]);
    await fresh.berth(['rmi', '-f', `${reg.host}/other/bb:2`]);
    const r = await fresh.docker(['pull', `${reg.host}/test/busybox:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Pull complete|Already exists/);
    assert.match(r.stdout, /Status: (Downloaded newer image|Image is up to date) for/);
    const missing = await fresh.docker(['pull', `${reg.host}/test/nope:1`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /manifest for .*\/test\/nope:1 not found: manifest unknown/);
  });

  test('an unknown repository is manifest unknown; a registry that does not answer fails fast', async () => {
    const r = await fresh.berth(['pull', `${reg.host}/test/nope:1`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `Error response from daemon: manifest for ${reg.host}/test/nope:1 not found: manifest unknown: manifest unknown\n`);
    const t0 = Date.now();
    const down = await fresh.berth(['pull', `127.0.0.1:${await freePort()}/x/y:1`]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /connection refused/);
    assert.ok(Date.now() - t0 < 15_000);
  });

  test('a corrupted blob fails the pull with a digest error and leaves no image', async () => {
    const restore = await reg.corruptLayer('test/busybox', '1');
    const d = await startDaemon();
    try {
      const r = await d.berth(['pull', `${reg.host}/test/busybox:1`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /digest mismatch|failed to verify/);
      assert.equal((await d.berth(['images', '-q'])).stdout, '');
    } finally {
      restore();
      await teardown(d);
    }
  });
});

describe('registry with htpasswd auth', () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  before(async () => {
    [reg, d] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startDaemon({ busybox: true })]);
  });
  after(async () => { await Promise.all([teardown(d), reg?.stop()]); });

  test('login, push, pull, logout', async () => {
    const config = join(d.dir, 'cli-config');
    const env = { BERTH_CONFIG: config };
    const ref = `${reg.host}/private/bb:1`;
    await d.berth(['tag', 'busybox', ref]);
    const denied = await d.berth(['push', ref], { env });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /unauthorized/);
    const wrong = await d.berth(['login', '-u', 'alice', '--password-stdin', reg.host], { env, input: 'nope\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /unauthorized: incorrect username or password/);
    const ok = await d.berth(['login', '-u', 'alice', '--password-stdin', reg.host], { env, input: `${DEFAULT_USERS.alice}\n` });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'Login Succeeded\n');
    assert.equal(statSync(join(config, 'config.json')).mode & 0o777, 0o600, 'credentials readable only by their owner');
    const push = await d.berth(['push', ref], { env });
    assert.equal(push.code, 0, push.stderr);
    await d.berth(['rmi', ref]);
    const pull = await d.berth(['pull', ref], { env });
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal((await d.berth(['logout', reg.host], { env })).stdout, `Removing login credentials for ${reg.host}\n`);
    await d.berth(['rmi', ref]);
    const after = await d.berth(['pull', ref], { env });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /unauthorized/);
    // docker's global --config names the directory too, for the login and for the pull that reads it.
    const flagged = join(d.dir, 'cli-config-flag');
    const login = await d.berth(['--config', flagged, 'login', '-u', 'alice', '--password-stdin', reg.host], { input: `${DEFAULT_USERS.alice}\n` });
    assert.equal(login.code, 0, login.stderr);
    assert.ok(statSync(join(flagged, 'config.json')).isFile());
    const flaggedPull = await d.berth(['--config', flagged, 'pull', ref]);
    assert.equal(flaggedPull.code, 0, flaggedPull.stderr);
    await d.berth(['rmi', ref]);
  });
});
