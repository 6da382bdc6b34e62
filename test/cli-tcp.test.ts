/**
 * berth's CLI against a daemon on tcp:// with TLS, as the docker CLI is used with DOCKER_HOST=tcp://…:
 * the same -H, --tlsverify, --tlscacert/--tlscert/--tlskey flags and DOCKER_CERT_PATH, requests and
 * hijacked streams over TLS, and clear errors for a daemon that is not there, a CA that does not match,
 * missing files and plain HTTP to a TLS listener.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, teardown, type TestDaemon } from './harness.js';
import { freePort } from './registry-fixture.js';
import { makeCerts } from './tls-certs.js';

describe('the CLI over tcp:// with TLS', () => {
  let d: TestDaemon | undefined;
  let c: ReturnType<typeof makeCerts>;
  let port = 0;
  let tcp: string[] = [];

  before(async () => {
    const dir = mkdtempSync('/tmp/bt-');
    const certDir = join(dir, 'certs');
    mkdirSync(certDir);
    c = makeCerts(certDir);
    port = await freePort();
    d = await startDaemon({ dir, busybox: true, extraArgs: ['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', c.ca, '--tlscert', c.cert, '--tlskey', c.key] });
    tcp = ['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', c.ca, '--tlscert', c.clientCert, '--tlskey', c.clientKey];
  });
  after(async () => { await teardown(d); });

  test('run, run -i and ps work over TLS with the docker CLI\'s flags', async () => {
    const hi = await d!.berth([...tcp, 'run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(hi.stdout, 'out\n');
    assert.equal(hi.stderr, 'err\n');
    assert.equal(hi.code, 3);
    const piped = await d!.berth([...tcp, 'run', '--rm', '-i', 'busybox', 'cat'], { input: 'through the hijacked TLS stream\n' });
    assert.equal(piped.stdout, 'through the hijacked TLS stream\n', piped.stderr);
    const name = `tcp-${process.pid}`;
    assert.equal((await d!.berth([...tcp, 'run', '-d', '--name', name, 'busybox', 'sleep', '30'])).code, 0);
    const ps = await d!.berth([...tcp, 'ps', '--format', '{{.Names}}']);
    assert.equal(ps.stdout, `${name}\n`, ps.stderr);
    assert.equal((await d!.berth(['rm', '-f', name])).code, 0, 'the same daemon, on its Unix socket');
  });

  test('DOCKER_CERT_PATH supplies ca.pem, cert.pem and key.pem; a host name is checked against the certificate', async () => {
    const certPath = mkdtempSync('/tmp/bt-certs-');
    copyFileSync(c.ca, join(certPath, 'ca.pem'));
    copyFileSync(c.clientCert, join(certPath, 'cert.pem'));
    copyFileSync(c.clientKey, join(certPath, 'key.pem'));
    try {
      const r = await d!.berth(['-H', `tcp://localhost:${port}`, '--tlsverify', 'version', '--format', '{{.Server.APIVersion}}'], { env: { DOCKER_CERT_PATH: certPath } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^1\.\d+\n$/);
    } finally { rmSync(certPath, { recursive: true, force: true }); }
  });

  test('bad setups fail with one clear line and exit 1', async () => {
    const rogueCa = await d!.berth(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', c.rogueCert, '--tlscert', c.clientCert, '--tlskey', c.clientKey, 'ps']);
    assert.equal(rogueCa.code, 1);
    assert.match(rogueCa.stderr, /^error during connect: tcp:\/\/127\.0\.0\.1:\d+: .*certificate/);
    const noClientCert = await d!.berth(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', c.ca, 'ps'], { env: { DOCKER_CERT_PATH: '/nonexistent' } });
    assert.equal(noClientCert.code, 1, 'the daemon verifies clients');
    const plain = await d!.berth(['-H', `tcp://127.0.0.1:${port}`, 'ps']);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /needs --tlsverify or --tls/);
    const missing = await d!.berth(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', '/nonexistent/ca.pem', 'ps']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^could not read CA certificate "\/nonexistent\/ca\.pem"/);
    const nobody = await d!.berth(['-H', `tcp://127.0.0.1:${await freePort()}`, '--tlsverify', ...tcp.slice(3), 'ps']);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /^Cannot connect to the berth daemon at tcp:\/\/127\.0\.0\.1:\d+\. Is the berth daemon running\?\n$/);
    const scheme = await d!.berth(['-H', 'fd://', 'ps']);
    assert.equal(scheme.code, 1);
    assert.match(scheme.stderr, /unsupported host fd:\/\/: use unix:\/\/\/path\/to\/berth\.sock, tcp:\/\/HOST:PORT or ssh:\/\/\[USER@\]HOST\[:PORT\]/);
  });
});
