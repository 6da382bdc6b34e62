/**
 * testcontainers (npm) against berth: GenericContainer on the local busybox image with exposed ports,
 * environment, command, wait strategies (log message, listening ports, health check), exec, networks
 * with aliases, and copyFilesToContainer where berth has PUT /containers/{id}/archive.
 * Ryuk (the resource reaper) is disabled with TESTCONTAINERS_RYUK_DISABLED=true: its image can't be
 * pulled here. The suite's teardown checks that nothing was left behind instead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { teardown, type TestDaemon } from './harness.js';
import { testcontainersDaemon, type TC } from './testcontainers-daemon.js';

describe('testcontainers', () => {
  let d: TestDaemon;
  let tc: TC;
  let hasArchive = false;
  const started: { stop: () => Promise<unknown> }[] = [];

  before(async () => {
    ({ d, tc } = await testcontainersDaemon());
    // Is PUT /containers/{id}/archive there? A missing container answers 404 "No such container" only if the route exists.
    const probe = await d.api('PUT', '/containers/does-not-exist/archive?path=/', '');
    hasArchive = probe.status === 404 && /no such container/i.test(probe.body);
  });
  after(async () => {
    for (const c of started) await c.stop().catch(() => undefined);
    await teardown(d);
  });

  test('GenericContainer: exposed port, environment, command, log-message wait, exec', async () => {
    const { GenericContainer, Wait } = tc;
    const c = await new GenericContainer('busybox:latest')
      .withExposedPorts(8080)
      .withEnvironment({ GREETING: 'hello-from-env' })
      .withCommand(['sh', '-c', 'mkdir -p /www && echo "$GREETING" > /www/index.html && echo serving && exec httpd -f -p 8080 -h /www'])
      .withWaitStrategy(Wait.forLogMessage('serving'))
      .start();
    started.push(c);
    const port = c.getMappedPort(8080);
    assert.ok(port > 0);
    let text = '';
    for (let i = 0; i < 50 && !text; i++) {
      try { text = await (await fetch(`http://${c.getHost()}:${port}/`)).text(); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.equal(text, 'hello-from-env\n');
    const ex = await c.exec(['sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 4']);
    assert.equal(ex.exitCode, 4);
    assert.equal(ex.stdout, 'hello-from-env\n');
    assert.equal(ex.stderr, 'oops\n');
    const logs = await c.logs();
    let seen = '';
    await new Promise<void>((res) => { logs.on('data', (b: Buffer | string) => { seen += b; if (seen.includes('serving')) res(); }); setTimeout(res, 3000); });
    logs.destroy();
    assert.match(seen, /serving/);
    await c.stop();
    started.pop();
  });

  test('Wait.forListeningPorts', async () => {
    const { GenericContainer, Wait } = tc;
    const c = await new GenericContainer('busybox:latest')
      .withExposedPorts(9000)
      .withCommand(['sh', '-c', 'sleep 1; exec httpd -f -p 9000'])
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(30_000)
      .start();
    started.push(c);
    assert.ok(c.getMappedPort(9000) > 0);
    await c.stop();
    started.pop();
  });

  test('Wait.forHealthCheck', async () => {
    const { GenericContainer, Wait } = tc;
    const c = await new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'sleep 1; touch /ready; exec sleep 300'])
      .withHealthCheck({ test: ['CMD-SHELL', 'test -f /ready'], interval: 500, timeout: 1000, retries: 10, startPeriod: 0 })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(30_000)
      .start();
    started.push(c);
    const r = await d.docker(['inspect', '-f', '{{.State.Health.Status}}', c.getId()]);
    assert.equal(r.stdout.trim(), 'healthy');
    await c.stop();
    started.pop();
  });

  test('Network with aliases: containers reach each other by alias', async () => {
    const { GenericContainer, Network, Wait } = tc;
    const net = await new Network().start();
    try {
      const server = await new GenericContainer('busybox:latest')
        .withNetwork(net).withNetworkAliases('backend')
        .withCommand(['sh', '-c', 'mkdir -p /www && echo from-backend > /www/index.html && echo up && exec httpd -f -p 80 -h /www'])
        .withWaitStrategy(Wait.forLogMessage('up'))
        .start();
      started.push(server);
      const client = await new GenericContainer('busybox:latest').withNetwork(net).withCommand(['sleep', '300']).start();
      started.push(client);
      let out = '';
      for (let i = 0; i < 30 && out !== 'from-backend\n'; i++) {
        out = (await client.exec(['wget', '-qO-', 'http://backend/'])).stdout;
        if (out !== 'from-backend\n') await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(out, 'from-backend\n');
      assert.equal(server.getNetworkNames().includes(net.getName()), true);
      await client.stop(); await server.stop();
      started.length = 0;
    } finally {
      await net.stop();
    }
  });

  test('copyFilesToContainer', async (t) => {
    if (!hasArchive) { t.skip('berth has no PUT /containers/{id}/archive yet (docker cp into a container is being implemented)'); return; }
    const { GenericContainer } = tc;
    const c = await new GenericContainer('busybox:latest')
      .withCopyContentToContainer([{ content: 'copied-content\n', target: '/tmp/content.txt' }])
      .withCommand(['sleep', '300'])
      .start();
    started.push(c);
    await c.copyContentToContainer([{ content: 'later\n', target: '/tmp/later.txt' }]);
    assert.equal((await c.exec(['cat', '/tmp/content.txt', '/tmp/later.txt'])).stdout, 'copied-content\nlater\n');
    await c.stop();
    started.pop();
  });
});
