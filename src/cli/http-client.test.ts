/**
 * The CLI's HTTP/1.1 client: the response parser fed every way its bytes can arrive, and send() against a
 * real node:http server on a Unix socket (bodies both ways, backpressure, the upgrade's hand-over, errors).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { readAll, ResponseParser, send, type Head, type Request, type Response } from './http-client.js';

/** Feeds `pieces` to a parser; what it reported, and the bytes an upgrade left over. */
function parse(pieces: (string | Buffer)[], opts: { head?: boolean; upgrade?: boolean } = {}, finish = false) {
  const heads: Head[] = [];
  const body: Buffer[] = [];
  let ends = 0;
  let rest: Buffer | undefined;
  const p = new ResponseParser({ head: (h) => heads.push(h), data: (b) => body.push(Buffer.from(b)), end: () => ends++ }, opts);
  for (const piece of pieces) rest = p.feed(Buffer.from(piece)) ?? rest;
  if (finish) p.finish();
  return { heads, body: Buffer.concat(body).toString(), ends, rest };
}

test('a body by Content-Length, with names lower-cased and repeated headers joined', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello']);
  assert.deepEqual(r.heads, [{ statusCode: 200, headers: { 'content-length': '5', 'x-a': '1, 2' } }]);
  assert.equal(r.body, 'hello');
  assert.equal(r.ends, 1);
});

test('a chunked body with extensions and trailers', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n \r\na\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n']);
  assert.equal(r.body, 'hello 0123456789');
  assert.equal(r.ends, 1);
});

test('a body until the close ends at finish()', () => {
  const r = parse(['HTTP/1.1 200 OK\r\n\r\nsome', ' more'], {}, true);
  assert.equal(r.body, 'some more');
  assert.equal(r.ends, 1);
  assert.equal(parse(['HTTP/1.1 200 OK\r\n\r\nsome']).ends, 0, 'not before the close');
});

test('no body for 204, 304 and a HEAD request, whatever the length says', () => {
  for (const [status, opts] of [[204, {}], [304, {}], [200, { head: true }]] as const) {
    const r = parse([`HTTP/1.1 ${status} X\r\nContent-Length: 12\r\n\r\n`], opts);
    assert.equal(r.ends, 1, `${status}`);
    assert.equal(r.body, '');
  }
});

test('an interim 100 is passed over for the answer that follows it', () => {
  const r = parse(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}']);
  assert.deepEqual(r.heads.map((h) => h.statusCode), [201]);
  assert.equal(r.body, '{}');
});

test('a 101 to an upgrade returns the bytes that followed its head; without an upgrade asked, it is interim', () => {
  const r = parse(['HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x02hi'], { upgrade: true });
  assert.equal(r.heads[0]!.statusCode, 101);
  assert.deepEqual(r.rest, Buffer.from('\x01\x00\x00\x00\x00\x00\x00\x02hi'));
  assert.equal(r.ends, 0);
});

test('malformed responses and a cut-short one are errors', () => {
  assert.throws(() => parse(['HTTP/2 200 OK\r\n\r\n']), /invalid status line/);
  assert.throws(() => parse(['HTTP/1.1 200 OK\r\nno colon\r\n\r\n']), /invalid header line/);
  assert.throws(() => parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']), /invalid chunk size/);
  assert.throws(() => parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY']), /missing CRLF/);
  assert.throws(() => parse(['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n']), /invalid content-length/);
  assert.throws(() => parse(['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab']), /data after the end/);
  assert.throws(() => parse([`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(17 * 1024)}`]), /head too large/);
  assert.throws(() => parse(['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc'], {}, true), (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET');
});

test('however the bytes are split, the same head, body and one end', () => {
  fc.assert(fc.property(
    fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }),
    fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
    (bytes, chunked, cuts, chunkSizes) => {
      const body = Buffer.from(bytes);
      let wire: Buffer;
      if (chunked) {
        const parts: Buffer[] = [Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')];
        for (let at = 0, i = 0; at < body.length; i++) {
          const piece = body.subarray(at, at + chunkSizes[i % chunkSizes.length]!);
          parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
          at += piece.length;
        }
        parts.push(Buffer.from('0\r\n\r\n'));
        wire = Buffer.concat(parts);
      } else {
        wire = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
      }
      const pieces: Buffer[] = [];
      for (let at = 0, i = 0; at < wire.length; i++) {
        pieces.push(wire.subarray(at, at + cuts[i % cuts.length]!));
        at += cuts[i % cuts.length]!;
      }
      const heads: Head[] = [];
      const got: Buffer[] = [];
      let ends = 0;
      const p = new ResponseParser({ head: (h) => heads.push(h), data: (b) => got.push(Buffer.from(b)), end: () => ends++ });
      for (const piece of pieces) p.feed(piece);
      assert.equal(heads.length, 1);
      assert.equal(heads[0]!.statusCode, 200);
      assert.deepEqual(Buffer.concat(got), body);
      assert.equal(ends, 1);
    },
  ));
});

// ---- send() against node:http on a Unix socket ----

const dir = mkdtempSync(join(tmpdir(), 'bt-http-'));
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

let sockets = 0;
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void, upgrade?: (req: IncomingMessage, socket: Duplex) => void): Promise<() => Socket> {
  const path = join(dir, `s${++sockets}.sock`);
  const server = createServer(handler);
  if (upgrade) server.on('upgrade', (req, socket) => upgrade(req, socket));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return () => connect(path);
}

function response(out: Awaited<ReturnType<typeof send>>): Response {
  assert.ok('response' in out, 'an answer, not an upgrade');
  return out.response;
}

test('a JSON body goes with its length, and the JSON answer comes back', async () => {
  const dial = await serve(async (req, res) => {
    const body = await readAll(req);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, length: req.headers['content-length'], body: body.toString() }));
  });
  const res = response(await send(dial(), { method: 'POST', path: '/v1/x?a=1', headers: { 'Content-Type': 'application/json' }, body: Buffer.from('{"k":"é"}') }));
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse((await readAll(res)).toString()), { method: 'POST', url: '/v1/x?a=1', length: '10', body: '{"k":"é"}' });
});

test('a GET sends no length; a POST without a body says 0', async () => {
  const dial = await serve((req, res) => res.end(`${req.headers['content-length'] ?? 'none'} ${req.headers['transfer-encoding'] ?? 'none'}`));
  assert.equal((await readAll(response(await send(dial(), { method: 'GET', path: '/', headers: {} })))).toString(), 'none none');
  assert.equal((await readAll(response(await send(dial(), { method: 'POST', path: '/', headers: {} })))).toString(), '0 none');
});

test('a streamed body goes chunked and arrives whole (an empty chunk does not end it)', async () => {
  const dial = await serve(async (req, res) => res.end(`${req.headers['transfer-encoding']}:${(await readAll(req)).toString()}`));
  const stream = Readable.from([Buffer.from('one,'), Buffer.alloc(0), Buffer.from('two,'), 'three'], { objectMode: false });
  const res = response(await send(dial(), { method: 'POST', path: '/load', headers: {}, stream }));
  assert.equal((await readAll(res)).toString(), 'chunked:one,two,three');
});

test('a refusal before the upload was read comes back whole, and the rest of the upload is not sent', async () => {
  const dial = await serve((req, res) => {
    res.statusCode = 400;
    res.setHeader('Connection', 'close');
    res.end('{"message":"unexpected EOF"}', () => req.socket.destroy());
  });
  let pulled = 0;
  const stream = new Readable({ read() { pulled++; this.push(pulled < 100000 ? Buffer.alloc(64 * 1024) : null); } });
  const res = response(await send(dial(), { method: 'POST', path: '/images/load', headers: {}, stream }));
  assert.equal(res.statusCode, 400);
  assert.equal((await readAll(res)).toString(), '{"message":"unexpected EOF"}');
  await new Promise((r) => setTimeout(r, 50));
  const after = pulled;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pulled, after, 'the upload stopped');
  assert.ok(pulled < 100000);
});

test('a large answer reaches a slow reader byte for byte', async () => {
  const piece = Buffer.alloc(64 * 1024);
  const dial = await serve((_req, res) => {
    let i = 0;
    const write = () => {
      while (i < 128) {
        piece.fill(i % 251);
        if (!res.write(Buffer.from(piece))) { i++; res.once('drain', write); return; }
        i++;
      }
      res.end();
    };
    write();
  });
  const res = response(await send(dial(), { method: 'GET', path: '/export', headers: {} }));
  const got: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    res.on('data', (b: Buffer) => {
      got.push(b);
      if (got.length % 16 === 0) { res.pause(); setTimeout(() => res.resume(), 5); }
    });
    res.on('end', resolve);
    res.on('error', reject);
  });
  const all = Buffer.concat(got);
  assert.equal(all.length, 128 * 64 * 1024);
  for (let i = 0; i < 128; i++) assert.equal(all[i * 64 * 1024], i % 251, `piece ${i}`);
});

test('an error answer is a response with its status', async () => {
  const dial = await serve((_req, res) => { res.statusCode = 404; res.end('{"message":"No such container: x"}'); });
  const res = response(await send(dial(), { method: 'GET', path: '/containers/x/json', headers: {} }));
  assert.equal(res.statusCode, 404);
  assert.equal((await readAll(res)).toString(), '{"message":"No such container: x"}');
});

test('an upgrade hands over the connection: nothing that came before the reader attached is lost', async () => {
  let body = '';
  const dial = await serve(() => {}, (req, socket) => {
    void readAll(req).then((b) => { body = b.toString(); });
    socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nfirst,');
    setTimeout(() => socket.end('second'), 20);
  });
  const out = await send(dial(), { method: 'POST', path: '/containers/c/attach?stream=1', headers: {}, upgrade: true });
  assert.ok('upgraded' in out);
  await new Promise((r) => setTimeout(r, 60)); // both pieces have arrived by now
  assert.equal((await readAll(out.upgraded)).toString(), 'first,second');
  assert.equal(body, '');
});

test('an upgrade refused before the hand-over is an ordinary answer', async () => {
  const dial = await serve(() => {}, (_req, socket) => {
    const msg = '{"message":"container c is not running"}';
    socket.end(`HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: ${msg.length}\r\nConnection: close\r\n\r\n${msg}`);
  });
  const res = response(await send(dial(), { method: 'POST', path: '/exec/e/start', headers: {}, body: Buffer.from('{}'), upgrade: true }));
  assert.equal(res.statusCode, 409);
  assert.match((await readAll(res)).toString(), /not running/);
});

test('a daemon that is not there rejects with the connection\'s own error', async () => {
  await assert.rejects(send(connect(join(dir, 'nobody.sock')), { method: 'GET', path: '/_ping', headers: {} }), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});

test('a connection cut in the middle of a body fails the body', async () => {
  const dial = await serve((req, res) => {
    res.setHeader('Content-Length', '100');
    res.write('only part');
    setTimeout(() => req.socket.destroy(), 10);
  });
  const res = response(await send(dial(), { method: 'GET', path: '/', headers: {} }));
  await assert.rejects(readAll(res), (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET');
});

test('a path or header that would split the request is refused before anything is sent', async () => {
  let requests = 0;
  const dial = await serve((_req, res) => { requests++; res.end(); });
  for (const req of <Request[]>[
    { method: 'GET', path: '/a b', headers: {} },
    { method: 'GET', path: '/a\r\nX: 1', headers: {} },
    { method: 'GET', path: '/', headers: { 'X-Registry-Auth': 'a\r\nX-Evil: 1' } },
  ]) await assert.rejects(send(dial(), req), TypeError);
  assert.equal(requests, 0);
});
