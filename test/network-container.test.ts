/** `--network container:NAME` (HostConfig.NetworkMode `container:<id>`): one container joins another's network namespace. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';

describe('--network container:NAME', () => {
  let d: TestDaemon;
  let webId: string;
  const seen: string[] = [];
  before(async () => {
    d = await startDaemon({ busybox: true });
    const r = await d.berth(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www']);
    assert.equal(r.code, 0, r.stderr);
    webId = r.stdout.trim();
    seen.push(webId);
    // httpd listens on the container's own loopback too.
    await waitFor(async () => (await d.berth(['exec', 'web', 'wget', '-qO-', 'http://127.0.0.1/'])).stdout === 'hello-from-web\n', 10_000, 'httpd');
  });
  after(() => teardown(d, seen, { expectNone: false }));

  test('a second container reaches the first one\'s server on 127.0.0.1, with its hostname, /etc/hosts and resolv.conf', async () => {
    const r = await d.berth(['run', '--rm', '--network', 'container:web', 'busybox', 'wget', '-qO-', 'http://127.0.0.1/']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello-from-web\n');
    const [hostname, hosts, resolv] = await Promise.all(['hostname', 'cat /etc/hosts', 'cat /etc/resolv.conf'].map(async (c) => (await d.berth(['exec', 'web', 'sh', '-c', c])).stdout));
    const mine = await d.berth(['run', '--rm', '--network', 'container:web', 'busybox', 'sh', '-c', 'hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; ip -o -4 addr show eth0']);
    const [h, ho, re, ip] = mine.stdout.split('---\n');
    assert.equal(h, hostname);
    assert.equal(ho, hosts);
    assert.equal(re, resolv);
    const webIp = (await d.berth(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web'])).stdout.trim();
    assert.match(ip!, new RegExp(`inet ${webIp.replace(/\./g, '\\.')}/`), 'the same eth0 as the first container');
  });

  test('the second container shares the first one\'s /etc/hostname, /etc/hosts and resolv.conf files, as docker does', async () => {
    const j = await d.berth(['run', '-d', '--name', 'sharer', '--network', 'container:web', 'busybox', 'sleep', '60']);
    assert.equal(j.code, 0, j.stderr);
    seen.push(j.stdout.trim());
    const paths = async (name: string) => (await d.berth(['inspect', '-f', '{{.HostnamePath}} {{.HostsPath}} {{.ResolvConfPath}}', name])).stdout;
    assert.equal(await paths('sharer'), await paths('web'));
    assert.equal((await d.berth(['exec', 'web', 'sh', '-c', 'echo "10.9.9.9 added-later" >> /etc/hosts'])).code, 0);
    assert.equal((await d.berth(['exec', 'sharer', 'grep', 'added-later', '/etc/hosts'])).stdout, '10.9.9.9 added-later\n');
    assert.equal((await d.berth(['rm', '-f', 'sharer'])).code, 0);
    assert.equal((await d.berth(['exec', 'web', 'grep', '-c', 'added-later', '/etc/hosts'])).stdout, '1\n', 'removing the second container leaves the first one\'s files');
  });

  test('when the first container stops, a second one still running in its namespace loses its eth0 with it', async () => {
    const owner = await d.berth(['run', '-d', '--name', 'owner', 'busybox', 'sleep', '60']);
    assert.equal(owner.code, 0, owner.stderr);
    seen.push(owner.stdout.trim());
    const rider = await d.berth(['run', '-d', '--name', 'rider', '--network', 'container:owner', 'busybox', 'sleep', '60']);
    assert.equal(rider.code, 0, rider.stderr);
    seen.push(rider.stdout.trim());
    assert.match((await d.berth(['exec', 'rider', 'ip', '-o', 'link'])).stdout, /: eth0@/);
    assert.equal((await d.berth(['stop', '-t', '0', 'owner'])).code, 0);
    const links = await d.berth(['exec', 'rider', 'ip', '-o', 'link']);
    assert.equal(links.code, 0, links.stderr);
    assert.doesNotMatch(links.stdout, /eth0/, 'the interface went with the container that held it, as with docker');
    assert.equal((await d.berth(['rm', '-f', 'rider', 'owner'])).code, 0);
  });

  test('the same through a chain: C joins B, which joined A; B goes, then A stops, and C loses eth0', async () => {
    const ids: string[] = [];
    for (const [name, mode] of [['chain-a', 'bridge'], ['chain-b', 'container:chain-a'], ['chain-c', 'container:chain-b']]) {
      const r = await d.berth(['run', '-d', '--name', name!, '--network', mode!, 'busybox', 'sleep', '60']);
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.stdout.trim());
    }
    seen.push(...ids);
    assert.match((await d.berth(['exec', 'chain-c', 'ip', '-o', 'link'])).stdout, /: eth0@/);
    assert.equal((await d.berth(['rm', '-f', 'chain-b'])).code, 0);
    assert.equal((await d.berth(['stop', '-t', '0', 'chain-a'])).code, 0);
    assert.doesNotMatch((await d.berth(['exec', 'chain-c', 'ip', '-o', 'link'])).stdout, /eth0/);
    assert.equal((await d.berth(['rm', '-f', 'chain-c', 'chain-a'])).code, 0);
  });

  test('inspect names the other container by ID; its own NetworkSettings has no networks', async () => {
    const r = await d.berth(['create', '--name', 'joiner', '--network', 'container:web', 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    seen.push(r.stdout.trim());
    assert.equal((await d.berth(['inspect', '-f', '{{.HostConfig.NetworkMode}} {{len .NetworkSettings.Networks}}', 'joiner'])).stdout, `container:${webId} 0\n`);
    assert.equal((await d.berth(['rm', 'joiner'])).code, 0);
  });

  test('-p with container mode is docker\'s error, and nothing is created', async () => {
    const before = (await d.berth(['ps', '-aq'])).stdout;
    const r = await d.berth(['run', '-p', '8080:80', '--network', 'container:web', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /conflicting options: port publishing and the container type network mode/);
    const h = await d.berth(['run', '--hostname', 'x', '--network', 'container:web', 'busybox', 'true']);
    assert.match(h.stderr, /conflicting options: hostname and the network mode/);
    const dns = await d.berth(['run', '--dns', '1.1.1.1', '--network', 'container:web', 'busybox', 'true']);
    assert.match(dns.stderr, /conflicting options: dns and the network mode/);
    const none = await d.berth(['run', '--network', 'container:nope', 'busybox', 'true']);
    assert.equal(none.code, 125);
    assert.match(none.stderr, /No such container: nope/);
    assert.equal((await d.berth(['ps', '-aq'])).stdout, before);
  });

  test('through the API as the docker CLI sends it (HostConfig.NetworkMode container:<name>)', { skip: !hasDocker }, async () => {
    const r = await d.docker(['run', '--rm', '--network', 'container:web', 'busybox', 'wget', '-qO-', 'http://127.0.0.1/']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello-from-web\n');
    const p = await d.docker(['run', '--rm', '-p', '8081:80', '--network', 'container:web', 'busybox', 'true']);
    assert.equal(p.code, 125);
    assert.match(p.stderr, /Error response from daemon: conflicting options: port publishing and the container type network mode/);
  });

  test('the other container must run; stopping it first leaves the joiner running, and both go cleanly', async () => {
    const j = await d.berth(['run', '-d', '--name', 'side', '--network', 'container:web', 'busybox', 'sleep', '60']);
    assert.equal(j.code, 0, j.stderr);
    seen.push(j.stdout.trim());
    assert.equal((await d.berth(['stop', '-t', '1', 'web'])).code, 0);
    assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'side'])).stdout, 'running\n', 'the joiner outlives the namespace\'s first owner');
    assert.equal((await d.berth(['exec', 'side', 'true'])).code, 0);
    assert.equal((await d.berth(['stop', '-t', '1', 'side'])).code, 0);
    const s = await d.berth(['start', 'side']);
    assert.notEqual(s.code, 0);
    assert.match(s.stderr, /cannot join network namespace of a non running container: container web is exited/);
    assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'side'])).stdout, 'exited\n');
    // Once the first runs again, the joiner starts in its new namespace.
    assert.equal((await d.berth(['start', 'web'])).code, 0);
    assert.equal((await d.berth(['start', 'side'])).code, 0);
    await waitFor(async () => (await d.berth(['exec', 'side', 'wget', '-qO-', 'http://127.0.0.1/'])).stdout === 'hello-from-web\n', 10_000, 'httpd again');
    assert.equal((await d.berth(['rm', '-f', 'side', 'web'])).code, 0);
  });
});
