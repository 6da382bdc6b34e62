/**
 * The classic builder's RUN steps under `--network`, `--add-host` and `--platform`, from berth's CLI and the
 * docker CLI (DOCKER_BUILDKIT=0): what a RUN step sees of the network, and what is refused in whose words.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

function context(dir: string, dockerfile: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/** The host's interface that holds the default route: one a RUN step under --network host must list. */
function defaultRouteInterface(): string | undefined {
  return readFileSync('/proc/net/route', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).find((f) => f[1] === '00000000')?.[0];
}

/** The lines a RUN step printed: between its "Running in" and "Removed intermediate container" lines. */
function runOutput(stdout: string): string {
  const m = / ---> Running in [0-9a-f]{12}\n([\s\S]*?) ---> Removed intermediate container/.exec(stdout);
  assert.ok(m, stdout);
  return m[1]!;
}

const DOCKER = { env: { DOCKER_BUILDKIT: '0' } };

describe('build --network, --add-host, --platform', () => {
  let d: TestDaemon;
  let ls: string;
  let hosts: string;
  before(async () => {
    d = await startDaemon({ busybox: true });
    ls = context(join(d.dir, 'ls'), 'FROM busybox\nRUN ls /sys/class/net\n');
    hosts = context(join(d.dir, 'hosts'), 'FROM busybox\nRUN cat /etc/hosts\n');
  });
  after(() => teardown(d, [], { expectNone: true }));

  test('--network none, host, bridge, default: what a RUN step sees of the network', async () => {
    const seen = async (args: string[]) => {
      const r = await d.berth(['build', '--no-cache', ...args, ls]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return runOutput(r.stdout).split('\n').filter(Boolean);
    };
    assert.deepEqual(await seen(['--network', 'none']), ['lo']);
    assert.deepEqual(await seen([]), ['eth0', 'lo']);
    assert.deepEqual(await seen(['--network', 'default']), ['eth0', 'lo']);
    assert.deepEqual(await seen(['--network', 'bridge']), ['eth0', 'lo']);
    const host = await seen(['--network', 'host']);
    const uplink = defaultRouteInterface();
    if (uplink) assert.ok(host.includes(uplink), `the host's ${uplink} in ${host.join(' ')}`);
    assert.ok(host.includes(d.bridge), 'the daemon\'s own bridge is a host interface');
  });

  test('the network mode is not part of a step\'s cache key, as in dockerd', async () => {
    const dir = context(join(d.dir, 'cache'), 'FROM busybox\nRUN ls /sys/class/net > /nets\n');
    assert.equal((await d.berth(['build', '-t', 'nets', '--network', 'none', dir])).code, 0);
    const again = await d.berth(['build', '-t', 'nets', dir]);
    assert.match(again.stdout, /Using cache/);
    assert.equal((await d.berth(['run', '--rm', 'nets', 'cat', '/nets'])).stdout, 'lo\n');
    assert.equal((await d.berth(['rmi', 'nets'])).code, 0);
  });

  test('--network NAME puts RUN steps on a user network; an unknown one fails at the first RUN in dockerd\'s words', async () => {
    const name = `bth${basename(d.dir).replace(/[^a-zA-Z0-9]/g, '').slice(-8)}`;
    const created = await d.berth(['network', 'create', '--subnet', d.subnet(8), '-o', `com.docker.network.bridge.name=${name}`, 'buildnet']);
    assert.equal(created.code, 0, created.stderr);
    try {
      const dir = context(join(d.dir, 'usernet'), 'FROM busybox\nRUN ip -4 -o addr show eth0\n');
      const r = await d.berth(['build', '--no-cache', '--network', 'buildnet', dir]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(runOutput(r.stdout), new RegExp(`inet ${d.subnet(8).replace(/0\/24$/, '').replace(/\./g, '\\.')}\\d+/24`));
    } finally {
      assert.equal((await d.berth(['network', 'rm', 'buildnet'])).code, 0);
    }
    assert.equal(existsSync(`/sys/class/net/${name}`), false, 'the network\'s bridge went with it');

    // --no-cache: a cached step would not run, so would not ask for the network (dockerd's too).
    const bad = await d.berth(['build', '--no-cache', '-t', 'nonet', '--network', 'nosuchnet', ls]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stdout, /Step 2\/2 : RUN ls/);
    assert.equal(bad.stderr, 'ERROR: network nosuchnet not found\n');
    assert.equal((await d.berth(['images', '-q', 'nonet'])).stdout, '', 'nothing tagged');
    // Like dockerd, the mode is only used by RUN steps: a Dockerfile without one never asks for the network.
    const norun = await d.berth(['build', '--network', 'nosuchnet', context(join(d.dir, 'norun'), 'FROM busybox\nENV A=1\n')]);
    assert.equal(norun.code, 0, norun.stderr);
  });

  test('--add-host entries are in every RUN step\'s /etc/hosts and not in the image', async () => {
    const dir = context(join(d.dir, 'addhost'), 'FROM busybox\nRUN grep -w foo /etc/hosts && grep -w bar /etc/hosts\nRUN cat /etc/hosts\n');
    const r = await d.berth(['build', '-t', 'addhost', '--add-host', 'foo:10.1.2.3', '--add-host', 'bar=10.4.5.6', '--add-host', 'v6:[fd00::7]', '--add-host', 'gw:host-gateway', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^10\.1\.2\.3\tfoo$/m);
    assert.match(r.stdout, /^10\.4\.5\.6\tbar$/m);
    assert.match(r.stdout, /^fd00::7\tv6$/m, 'an IPv6 address keeps its colons');
    assert.match(r.stdout, new RegExp(`^${d.subnet(0).replace(/0\/24$/, '1').replace(/\./g, '\\.')}\\tgw$`, 'm'), 'host-gateway is the bridge\'s gateway');
    const inImage = await d.berth(['run', '--rm', 'addhost', 'cat', '/etc/hosts']);
    assert.doesNotMatch(inImage.stdout, /foo|bar/);
    assert.equal((await d.berth(['rmi', 'addhost'])).code, 0);

    // With host networking too: dockerd then writes a hosts file of its own instead of the host's.
    const h = await d.berth(['build', '--no-cache', '--network', 'host', '--add-host', 'foo:10.1.2.3', hosts]);
    assert.equal(h.code, 0, h.stdout + h.stderr);
    assert.match(runOutput(h.stdout), /^10\.1\.2\.3\tfoo$/m);
    const none = await d.berth(['build', '--no-cache', '--network', 'none', '--add-host', 'foo:10.1.2.3', hosts]);
    assert.match(runOutput(none.stdout), /^10\.1\.2\.3\tfoo$/m);
  });

  test('a bad --add-host is the CLI\'s usage error (125), and the daemon\'s 400, in docker\'s words', async () => {
    const cases: [string, string][] = [
      ['foo', 'bad format for add-host: "foo"'],
      ['foo:notanip', 'invalid IP address in add-host: "notanip"'],
      [':1.2.3.4', 'bad format for add-host: ":1.2.3.4"'],
    ];
    for (const [value, why] of cases) {
      const r = await d.berth(['build', '--add-host', value, ls]);
      assert.equal(r.code, 125, value);
      assert.equal(r.stderr.split('\n')[0], `invalid argument "${value}" for "--add-host" flag: ${why}`);
    }
    const api = await d.api('POST', `/build?extrahosts=${encodeURIComponent('foo')}`, '');
    assert.equal(api.status, 400);
    assert.deepEqual(JSON.parse(api.body), { message: 'bad format for add-host: "foo"' });
    const ip = await d.api('POST', `/build?extrahosts=${encodeURIComponent('foo:1.2.3')}`, '');
    assert.deepEqual([ip.status, JSON.parse(ip.body)], [400, { message: 'invalid IP address in add-host: "1.2.3"' }]);
  });

  test('--platform takes the host\'s in any of its forms and refuses another before building', async () => {
    for (const p of ['linux/amd64', 'linux', 'amd64', 'linux/x86_64']) {
      const r = await d.berth(['build', '-q', '--platform', p, hosts]);
      assert.equal(r.code, 0, `${p}: ${r.stderr}`);
    }
    const refused: [string, string][] = [
      ['linux/arm64', 'platform linux/arm64 is not supported: this daemon builds for linux/amd64 only'],
      ['arm64', 'platform linux/arm64 is not supported: this daemon builds for linux/amd64 only'],
      ['windows/amd64', 'operating system is not supported'],
      ['foo', '"foo": unknown operating system or architecture: invalid argument'],
    ];
    for (const [p, message] of refused) {
      const r = await d.berth(['build', '-t', 'foreign', '--platform', p, hosts]);
      assert.equal(r.code, 1, p);
      assert.equal(r.stderr, `Error response from daemon: ${message}\n`, p);
      assert.doesNotMatch(r.stdout, /Step 1/, 'nothing was built');
    }
    assert.equal((await d.berth(['images', '-q', 'foreign'])).stdout, '');
  });

  test('RUN --network in the Dockerfile is refused as dockerd\'s classic builder refuses RUN flags', async () => {
    const dir = context(join(d.dir, 'runflag'), 'FROM busybox\nRUN --network=none ls /sys/class/net\n');
    const r = await d.berth(['build', '-t', 'runflag', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Step 2\/2 : RUN --network=none ls/);
    assert.equal(r.stderr, 'ERROR: the --network option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled\n');
    const bad = await d.berth(['build', context(join(d.dir, 'runflag-bad'), 'FROM busybox\nRUN --network=bridge true\n')]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'ERROR: Dockerfile:2: invalid network mode "bridge"\n');
    assert.doesNotMatch(bad.stdout, /Step 1/, 'a parse error, before any step');
  });

  test('DOCKER_BUILDKIT=0 docker build: --network, --add-host, --platform and RUN --network', { skip: !hasDocker }, async () => {
    const none = await d.docker(['build', '--no-cache', '--network', 'none', ls], DOCKER);
    assert.equal(none.code, 0, none.stdout + none.stderr);
    assert.deepEqual(runOutput(none.stdout).split('\n').filter(Boolean), ['lo']);
    const host = await d.docker(['build', '--no-cache', '--network', 'host', ls], DOCKER);
    assert.ok(runOutput(host.stdout).split('\n').includes(d.bridge), host.stdout);

    const added = await d.docker(['build', '--no-cache', '--add-host', 'foo:10.1.2.3', '--add-host', 'bar=10.4.5.6', '--add-host', 'v6:[fd00::7]', '--platform', 'linux/amd64', hosts], DOCKER);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    const text = runOutput(added.stdout);
    assert.match(text, /^10\.1\.2\.3\tfoo$/m);
    assert.match(text, /^10\.4\.5\.6\tbar$/m);
    assert.match(text, /^fd00::7\tv6$/m);

    const arm = await d.docker(['build', '--platform', 'linux/arm64', hosts], DOCKER);
    assert.equal(arm.code, 1);
    assert.match(arm.stderr, /Error response from daemon: platform linux\/arm64 is not supported: this daemon builds for linux\/amd64 only\n$/);
    const nonet = await d.docker(['build', '--no-cache', '--network', 'nosuchnet', ls], DOCKER);
    assert.equal(nonet.code, 1);
    assert.match(nonet.stderr, /network nosuchnet not found\n$/);
    const runflag = await d.docker(['build', context(join(d.dir, 'runflag-docker'), 'FROM busybox\nRUN --network=host true\n')], DOCKER);
    assert.equal(runflag.code, 1);
    assert.match(runflag.stderr, /the --network option requires BuildKit\. Refer to https:\/\/docs\.docker\.com\/go\/buildkit\/ to learn how to build images with BuildKit enabled\n$/);
  });
});
