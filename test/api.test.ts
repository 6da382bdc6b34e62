/** The Engine API at the HTTP level: negotiation headers, error bodies, the attach framing. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Demuxer } from '../src/api/index.js';
import { containerIds, startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';

describe('Engine API', () => {
  let d: TestDaemon;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d));

  test('/_ping and /version negotiate', async () => {
    const p = await d.api('GET', '/_ping');
    assert.equal(p.status, 200);
    assert.equal(p.body, 'OK');
    assert.match(String(p.headers['api-version']), /^1\.(4[1-9]|5\d)$/);
    assert.equal(p.headers.ostype, 'linux');
    const v = JSON.parse((await d.api('GET', '/v1.41/version')).body) as Record<string, string>;
    assert.equal(v.ApiVersion, p.headers['api-version']);
    assert.equal(v.Os, 'linux');
  });

  test('an endpoint berth lacks is a 404 naming it, and the daemon log says which', async () => {
    const r = await d.api('GET', '/v1.45/swarm');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'page not found: berth does not implement GET /swarm' });
    await waitFor(() => /not implemented: GET \/swarm/.test(d.log()), 5000, 'the daemon to log the endpoint');
  });

  test('a malformed body is a 400 with a JSON message', async () => {
    const r = await d.api('POST', '/v1.45/containers/create', '{"Image": "busybox",');
    assert.equal(r.status, 400);
    assert.match((JSON.parse(r.body) as { message: string }).message, /invalid JSON/);
    // Env is a []string to dockerd (Cmd and Entrypoint would take a lone string).
    const t = await d.api('POST', '/v1.45/containers/create', { Image: 'busybox', Cmd: ['true'], Env: 'A=1' });
    assert.equal(t.status, 400);
    assert.match(JSON.parse(t.body).message, /cannot unmarshal string into Go struct field ContainerConfigWrapper.Env/);
    assert.deepEqual(await containerIds(d), [], 'nothing was created');
  });

  test('unknown things are 404s with docker\'s wording', async () => {
    const c = await d.api('GET', '/v1.45/containers/nope/json');
    assert.equal(c.status, 404);
    assert.deepEqual(JSON.parse(c.body), { message: 'No such container: nope' });
    const i = await d.api('POST', '/v1.45/containers/create', { Image: 'ghost' });
    assert.equal(i.status, 404);
    assert.deepEqual(JSON.parse(i.body), { message: 'No such image: ghost:latest' });
    const img = await d.api('GET', '/v1.45/images/ghost/json');
    assert.equal(img.status, 404);
  });

  test('attach without a TTY multiplexes stdout and stderr in 8-byte frames', async () => {
    const created = await d.api('POST', '/v1.45/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2'] });
    assert.equal(created.status, 201);
    const { Id } = JSON.parse(created.body) as { Id: string };
    const sock = await new Promise<Socket>((resolve, reject) => {
      const req = request({
        socketPath: d.socket, method: 'POST', path: `/v1.45/containers/${Id}/attach?stream=1&stdout=1&stderr=1`,
        headers: { Connection: 'Upgrade', Upgrade: 'tcp' },
      });
      req.on('upgrade', (res, s) => {
        assert.equal(res.statusCode, 101);
        assert.equal(res.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
        resolve(s as Socket);
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.end();
    });
    const frames: [number, string][] = [];
    const demux = new Demuxer((s, p) => frames.push([s, p.toString()]));
    const ended = new Promise<void>((r) => sock.on('end', () => r()));
    sock.on('data', (b: Buffer) => demux.push(b));
    const start = await d.api('POST', `/v1.45/containers/${Id}/start`);
    assert.equal(start.status, 204);
    await ended;
    assert.deepEqual(frames.filter(([s]) => s === 1), [[1, 'out\n']]);
    assert.deepEqual(frames.filter(([s]) => s === 2), [[2, 'err\n']]);
    const again = await d.api('POST', `/v1.45/containers/${Id}/wait`);
    assert.deepEqual(JSON.parse(again.body), { StatusCode: 0, Error: null });
    assert.equal((await d.api('DELETE', `/v1.45/containers/${Id}`)).status, 204);
  });

  test('starting a running container is 304, killing a stopped one 409', async () => {
    const { Id } = JSON.parse((await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '30'] })).body) as { Id: string };
    assert.equal((await d.api('POST', `/containers/${Id}/start`)).status, 204);
    assert.equal((await d.api('POST', `/containers/${Id}/start`)).status, 304);
    assert.equal((await d.api('POST', `/containers/${Id}/kill`)).status, 204);
    await d.api('POST', `/containers/${Id}/wait`);
    const k = await d.api('POST', `/containers/${Id}/kill`);
    assert.equal(k.status, 409);
    assert.match(JSON.parse(k.body).message, /is not running/);
    assert.equal((await d.api('DELETE', `/containers/${Id}`)).status, 204);
  });
});
