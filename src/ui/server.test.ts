import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { parseUiAddress, UiError } from './address.js';
import { startUiServer, type UiServer } from './server.js';

describe('parseUiAddress', () => {
  test('a port alone is loopback', () => {
    assert.deepEqual(parseUiAddress('8080'), { host: '127.0.0.1', port: 8080, loopback: true });
    assert.deepEqual(parseUiAddress(':8080'), { host: '127.0.0.1', port: 8080, loopback: true });
  });
  test('a host is taken as given, and only loopback ones say so', () => {
    assert.deepEqual(parseUiAddress('127.0.0.2:1'), { host: '127.0.0.2', port: 1, loopback: true });
    assert.deepEqual(parseUiAddress('localhost:9000'), { host: 'localhost', port: 9000, loopback: true });
    assert.deepEqual(parseUiAddress('[::1]:9000'), { host: '::1', port: 9000, loopback: true });
    assert.deepEqual(parseUiAddress('0.0.0.0:80'), { host: '0.0.0.0', port: 80, loopback: false });
    assert.deepEqual(parseUiAddress('tcp://192.168.1.5:80'), { host: '192.168.1.5', port: 80, loopback: false });
    assert.deepEqual(parseUiAddress('[::]:80'), { host: '::', port: 80, loopback: false });
  });
  test('nonsense is refused', () => {
    for (const bad of ['', 'web', '70000', '1.2.3.4:', '::1:80', 'a b:80', '1.2.3.4:80:90']) {
      assert.throws(() => parseUiAddress(bad), UiError, bad);
    }
  });
});

describe('the dashboard server', () => {
  let ui: UiServer;
  const seen: { method: string; url: string }[] = [];
  const api = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url! });
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('engine');
  });
  const TOKEN = 'a'.repeat(48);

  before(async () => {
    ui = await startUiServer({ address: '127.0.0.1:0', api, assetDir: join(import.meta.dirname, 'static'), token: TOKEN });
  });
  after(() => ui.close());

  const send = (method: string, path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: ui.address.port, method, path, headers: { Host: `127.0.0.1:${ui.address.port}`, ...headers } }, (r) => {
        let body = '';
        r.on('data', (b: Buffer) => { body += b.toString(); });
        r.on('end', () => resolve({ status: r.statusCode!, body, headers: r.headers }));
      });
      req.on('error', reject);
      req.end();
    });

  test('the page carries the token and a strict policy; its files are served', async () => {
    const r = await send('GET', '/');
    assert.equal(r.status, 200);
    assert.match(r.body, new RegExp(`<meta name="berth-token" content="${TOKEN}">`));
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal((await send('GET', '/app.css')).status, 200);
    assert.equal((await send('GET', '/../server.ts')).status, 404);
    assert.equal((await send('POST', '/')).status, 405);
  });

  test('/api goes to the engine\'s handler without the prefix', async () => {
    seen.length = 0;
    const r = await send('POST', '/api/containers/x/stop?t=1', { 'X-Berth-Token': TOKEN, Origin: `http://127.0.0.1:${ui.address.port}`, 'Sec-Fetch-Site': 'same-origin' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'engine');
    assert.deepEqual(seen, [{ method: 'POST', url: '/containers/x/stop?t=1' }]);
    assert.equal((await send('GET', '/api/_ping', { 'X-Berth-Token': TOKEN, Host: `localhost:${ui.address.port}` })).status, 200);
  });

  test('foreign origins, foreign hosts and missing tokens are refused before the engine sees them', async () => {
    seen.length = 0;
    const port = ui.address.port;
    const cases: Record<string, string>[] = [
      {},
      { 'X-Berth-Token': 'b'.repeat(48) },
      { 'X-Berth-Token': 'short' },
      { 'X-Berth-Token': '\u00e9'.repeat(48) },
      { 'X-Berth-Token': TOKEN, Origin: 'http://evil.example' },
      { 'X-Berth-Token': TOKEN, Origin: 'null' },
      { 'X-Berth-Token': TOKEN, Origin: `https://127.0.0.1:${port}` },
      { 'X-Berth-Token': TOKEN, 'Sec-Fetch-Site': 'same-site' },
      { 'X-Berth-Token': TOKEN, Host: `evil.example:${port}` },
      { 'X-Berth-Token': TOKEN, Host: `127.0.0.1:${port + 1}` },
    ];
    for (const headers of cases) {
      const r = await send('POST', '/api/containers/create', headers);
      assert.equal(r.status, 403, JSON.stringify(headers));
      assert.ok(JSON.parse(r.body).message);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
    assert.equal((await send('GET', '/', { Host: `rebound.example:${port}` })).status, 403);
    assert.deepEqual(seen, []);
  });

  test('upgrades (attach, exec) are not served', async () => {
    const r = await send('POST', '/api/containers/x/attach', { 'X-Berth-Token': TOKEN, Connection: 'Upgrade', Upgrade: 'tcp' }).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
    assert.notEqual(r.status, 200);
    assert.deepEqual(seen.filter((s) => s.url.includes('attach')), []);
  });

  test('the page\'s style nonce is new per response and in its policy', async () => {
    const nonces = await Promise.all([send('GET', '/'), send('GET', '/')].map(async (p) => {
      const r = await p;
      const nonce = /<meta name="berth-nonce" content="([^"]+)">/.exec(r.body)?.[1];
      assert.ok(nonce);
      assert.ok(String(r.headers['content-security-policy']).includes(`style-src 'self' 'nonce-${nonce}'`));
      return nonce;
    }));
    assert.notEqual(nonces[0], nonces[1]);
  });

  test('the terminal\'s WebSocket: refused without the page\'s origin and token, 503 until the engine is there', async () => {
    const port = ui.address.port;
    const upgrade = (opts: { origin?: string; token?: string; path?: string }) => new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${opts.path ?? '/ws/exec?container=x'}`, ['berth.exec', ...(opts.token ? [`berth.token.${opts.token}`] : [])],
        opts.origin ? { origin: opts.origin } : {});
      ws.on('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode ?? 0); });
      ws.on('open', () => { ws.close(); resolve(101); });
      ws.on('error', (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
    });
    const self = `http://127.0.0.1:${port}`;
    assert.equal(await upgrade({ token: TOKEN }), 403, 'no Origin');
    assert.equal(await upgrade({ origin: 'http://evil.example', token: TOKEN }), 403);
    assert.equal(await upgrade({ origin: `http://localhost:${port}`, token: TOKEN }), 403, 'another name for this listener is another origin');
    assert.equal(await upgrade({ origin: self }), 403, 'no token');
    assert.equal(await upgrade({ origin: self, token: 'b'.repeat(48) }), 403);
    // This listener has no containers part behind it.
    assert.equal(await upgrade({ origin: self, token: TOKEN }), 503);
    assert.equal(await upgrade({ origin: self, token: TOKEN, path: '/api/containers/x/attach' }), 501);
  });

  test('a port in use is a clear error', async () => {
    await assert.rejects(startUiServer({ address: `127.0.0.1:${ui.address.port}`, api, assetDir: join(import.meta.dirname, 'static') }), /is in use/);
  });
});
