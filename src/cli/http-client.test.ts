/**
 * The CLI's HTTP/1.1 client (http-client.ts).
 *
 * - ResponseParser fed byte strings: bodies by Content-Length, chunks (extensions, trailers) and the close;
 *   no body for HEAD, 204 and 304; interim 1xx answers; the 101 of an upgrade and the bytes after it;
 *   malformed or cut-short responses; and, with fast-check, the same result however the bytes are split.
 * - send() and readAll() on real connections: a node:http server on a Unix socket in a temporary
 *   directory (bodies both ways, backpressure both ways, the upgrade's hand-over, refusals, cut
 *   connections), and a bare socket server where the exact bytes on the wire matter.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { HttpParseError, readAll, ResponseParser, send, type Head, type Outcome, type Request, type Response } from './http-client.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const isCode = (code: string) => (e: NodeJS.ErrnoException) => e.code === code;

// ---- ResponseParser ----

/** Feeds `pieces` to a fresh parser; what it reported, and what the last feed returned. */
function parse(pieces: (string | Buffer)[], opts: { head?: boolean; upgrade?: boolean } = {}) {
  const heads: Head[] = [];
  const body: Buffer[] = [];
  let ends = 0;
  let rest: Buffer | undefined;
  const parser = new ResponseParser({ head: (h) => heads.push(h), data: (b) => body.push(Buffer.from(b)), end: () => ends++ }, opts);
  for (const piece of pieces) rest = parser.feed(Buffer.from(piece));
  return { heads, bytes: Buffer.concat(body), body: Buffer.concat(body).toString(), ends: () => ends, rest, parser };
}

/** Cuts `wire` into pieces of the given sizes, used round and round. */
function cut(wire: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < wire.length; at += sizes[i++ % sizes.length]!) pieces.push(wire.subarray(at, at + sizes[i % sizes.length]!));
  return pieces;
}

const parseError = (message: RegExp) => (e: unknown) => e instanceof HttpParseError && e.code === 'HPE_INVALID' && message.test(e.message);

test('parser: a body by Content-Length; names lower-cased, values trimmed, repeated headers joined with ", "', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a:2\r\nSet-Cookie:  c=3  \r\n\r\nhello']);
  assert.deepEqual(r.heads, [{ statusCode: 200, headers: { 'content-length': '5', 'x-a': '1, 2', 'set-cookie': 'c=3' } }]);
  assert.equal(r.body, 'hello');
  assert.equal(r.ends(), 1);
  assert.ok(r.parser.done);
  assert.equal(r.rest, undefined);

  const empty = parse(['HTTP/1.0 200\r\nContent-Length: 0\r\n\r\n']);
  assert.equal(empty.heads[0]!.statusCode, 200, 'HTTP/1.0 and no reason phrase');
  assert.equal(empty.ends(), 1, 'a length of 0 ends with the head');
});

test('parser: a chunked body with several chunks, extensions and trailers', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n \r\nA ; a=1;b\r\n0123456789\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n']);
  assert.equal(r.body, 'hello 0123456789');
  assert.equal(r.ends(), 1);
  assert.deepEqual(r.heads[0]!.headers, { 'transfer-encoding': 'chunked' }, 'trailers are read past');
  // The same, a byte at a time.
  const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 99\r\n\r\n3;q="a;b"\r\nabc\r\n0\r\nT: x\r\n\r\n';
  const slow = parse([...wire]);
  assert.equal(slow.body, 'abc', 'chunked wins over Content-Length');
  assert.equal(slow.ends(), 1);
});

test('parser: a body with no length is read until the close, which finish() marks', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome', ' more']);
  assert.equal(r.body, 'some more');
  assert.equal(r.ends(), 0, 'not before the close');
  assert.ok(r.parser.untilClose);
  r.parser.finish();
  assert.equal(r.ends(), 1);
  assert.ok(r.parser.done);
  assert.throws(() => r.parser.feed(Buffer.from('x')), parseError(/after the end/));
});

test('parser: no body for 204, 304 or a HEAD request, whatever the head says', () => {
  for (const [status, opts] of [[204, {}], [304, {}], [200, { head: true }]] as const) {
    for (const framing of ['Content-Length: 12', 'Transfer-Encoding: chunked', 'X: no length']) {
      const r = parse([`HTTP/1.1 ${status} X\r\n${framing}\r\n\r\n`], opts);
      assert.equal(r.heads[0]!.statusCode, status);
      assert.equal(r.ends(), 1, `${status} ${framing}`);
      assert.equal(r.body, '');
      assert.doesNotThrow(() => r.parser.finish());
    }
  }
  assert.throws(() => parse(['HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\nhi']), parseError(/after the end/));
});

test('parser: interim 1xx answers are passed over for the one that follows', () => {
  const wire = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}';
  for (const pieces of [[wire], [wire.slice(0, 30), wire.slice(30)], [...wire]]) {
    const r = parse(pieces);
    assert.deepEqual(r.heads, [{ statusCode: 201, headers: { 'content-length': '2' } }]);
    assert.equal(r.body, '{}');
    assert.equal(r.ends(), 1);
  }
});

test('parser: a 101 to an upgrade returns the bytes after its head; without an upgrade asked it is interim', () => {
  const stream = '\x01\x00\x00\x00\x00\x00\x00\x02hi';
  const r = parse([`HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n${stream}`], { upgrade: true });
  assert.deepEqual(r.heads, [{ statusCode: 101, headers: { connection: 'Upgrade', upgrade: 'tcp' } }]);
  assert.deepEqual(r.rest, Buffer.from(stream));
  assert.equal(r.body, '');
  assert.equal(r.ends(), 0);
  assert.ok(r.parser.done);

  const bare = parse(['HTTP/1.1 101 UPGRADED\r\n', 'Upgrade: tcp\r\n\r\n'], { upgrade: true });
  assert.deepEqual(bare.rest, Buffer.alloc(0), 'nothing followed: an empty rest, not undefined');

  const unasked = parse(['HTTP/1.1 101 Switching Protocols\r\nUpgrade: tcp\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx']);
  assert.deepEqual(unasked.heads.map((h) => h.statusCode), [200]);
  assert.equal(unasked.body, 'x');
  assert.equal(unasked.rest, undefined);

  const refused = parse(['HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\n{}'], { upgrade: true });
  assert.equal(refused.body, '{}', 'an upgrade refused is an ordinary answer');
  assert.equal(refused.rest, undefined);
});

test('parser: malformed responses throw an HttpParseError', () => {
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  const cases: [string[], RegExp][] = [
    [['HTTP/2 200 OK\r\n\r\n'], /invalid status line/],
    [['HTTP/1.1 20 OK\r\n\r\n'], /invalid status line/],
    [['SSH-2.0-OpenSSH_9.6\r\n\r\n'], /invalid status line/],
    [['HTTP/1.1 200 OK\r\nno colon\r\n\r\n'], /invalid header line/],
    [['HTTP/1.1 200 OK\r\n: empty name\r\n\r\n'], /invalid header line/],
    [[`${chunked}zz\r\n`], /invalid chunk size/],
    [[`${chunked}-5\r\n`], /invalid chunk size/],
    [[`${chunked}\r\n`], /invalid chunk size/],
    [[`${chunked}1234567890abc\r\n`], /invalid chunk size/],
    [[`${chunked}2\r\nabXY`], /missing CRLF after chunk data/],
    [[`${chunked}2\r\nab`, '\n\r'], /missing CRLF after chunk data/],
    [[`${chunked}5;${'x'.repeat(2000)}`], /chunk size line too long/],
    [['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'], /invalid content-length/],
    [['HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n'], /invalid content-length/],
    [['HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n'], /invalid content-length/],
    [['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx'], /invalid content-length "1, 1"/],
    [['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab'], /data after the end/],
    [['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na', 'b'], /data after the end/],
    [[`${chunked}0\r\n\r\nX`], /data after the end/],
    [[`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(17 * 1024)}`], /head too large/],
    [cut(Buffer.from(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(17 * 1024)}\r\n\r\n`), [1024]).map(String), /head too large/],
  ];
  for (const [pieces, message] of cases) assert.throws(() => parse(pieces), parseError(message), JSON.stringify(pieces).slice(0, 80));
});

test('parser: finish() before the end is ECONNRESET; after it, nothing', () => {
  const cutShort = [
    [],
    ['HTTP/1.1 200 OK\r\nContent-Le'],
    ['HTTP/1.1 100 Continue\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n'],
  ];
  for (const pieces of cutShort) {
    const r = parse(pieces);
    assert.throws(() => r.parser.finish(), (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET' && e.message === 'socket hang up', JSON.stringify(pieces));
    assert.equal(r.ends(), 0);
  }
  const whole = parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
  whole.parser.finish();
  assert.equal(whole.ends(), 1, 'no second end');
});

test('parser: a head over 16 KiB is refused however its bytes arrive', () => {
  const head = `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(20 * 1024)}\r\nContent-Length: 0\r\n\r\n`;
  assert.throws(() => parse(cut(Buffer.from(head), [1024])), parseError(/head too large/));
  assert.throws(() => parse(cut(Buffer.from(head), [15 * 1024])), parseError(/head too large/));
  assert.throws(() => parse([head]), parseError(/head too large/));
});

// ---- ResponseParser, every split (fast-check) ----

type Form = 'length' | 'chunked' | 'close';

/** A 200 carrying `body` framed as `form`, perhaps after a 100 Continue, with chunk extensions and trailers. */
function encode(body: Buffer, form: Form, o: { chunkSizes: number[]; extensions: boolean; trailers: number; interim: boolean }): Buffer {
  const parts: Buffer[] = [];
  if (o.interim) parts.push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'));
  const framing = { length: `Content-Length: ${body.length}`, chunked: 'Transfer-Encoding: chunked', close: 'Connection: close' }[form];
  parts.push(Buffer.from(`HTTP/1.1 200 OK\r\nX-Form: ${form}\r\n${framing}\r\n\r\n`));
  if (form !== 'chunked') return Buffer.concat([...parts, body]);
  for (const piece of cut(body, o.chunkSizes)) {
    parts.push(Buffer.from(`${piece.length.toString(16)}${o.extensions ? ';name="v;1"' : ''}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n'));
  for (let i = 0; i < o.trailers; i++) parts.push(Buffer.from(`X-Trailer-${i}: ${i}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

const framed = fc.record({
  body: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
  form: fc.constantFrom<Form>('length', 'chunked', 'close'),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }),
  extensions: fc.boolean(),
  trailers: fc.nat({ max: 3 }),
  interim: fc.boolean(),
});
const splits = fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 20 });

test('parser: however the bytes are split, one head, the same body and one end', () => {
  fc.assert(fc.property(framed, splits, ({ body, form, ...o }, sizes) => {
    const r = parse(cut(encode(body, form, o), sizes));
    assert.equal(r.rest, undefined);
    if (form === 'close') {
      assert.equal(r.ends(), 0);
      r.parser.finish();
    }
    assert.equal(r.heads.length, 1);
    assert.equal(r.heads[0]!.statusCode, 200);
    assert.equal(r.heads[0]!.headers['x-form'], form);
    assert.deepEqual(r.bytes, body);
    assert.equal(r.ends(), 1);
    assert.ok(r.parser.done);
  }), { numRuns: 500 });
});

test('parser: a response cut short anywhere is ECONNRESET at finish()', () => {
  fc.assert(fc.property(framed.filter((f) => f.form !== 'close'), fc.nat(), splits, ({ body, form, ...o }, at, sizes) => {
    const wire = encode(body, form, o);
    const r = parse(cut(wire.subarray(0, at % wire.length), sizes));
    assert.equal(r.ends(), 0);
    assert.throws(() => r.parser.finish(), isCode('ECONNRESET'));
  }));
});

test('parser: after a 101, the bytes that follow its head are returned whole however they are split', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), splits, (bytes, sizes) => {
    const after = Buffer.from(bytes);
    const pieces = cut(Buffer.concat([Buffer.from('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n'), after]), sizes);
    const heads: Head[] = [];
    const parser = new ResponseParser({ head: (h) => heads.push(h), data: () => assert.fail('no body'), end: () => assert.fail('no end') }, { upgrade: true });
    let i = 0;
    let rest: Buffer | undefined;
    while (rest === undefined) rest = parser.feed(pieces[i++]!);
    assert.deepEqual(Buffer.concat([rest, ...pieces.slice(i)]), after);
    assert.deepEqual(heads.map((h) => h.statusCode), [101]);
  }));
});

// ---- send() on real connections ----

const dir = mkdtempSync(join(tmpdir(), 'berth-http-client-'));
const servers: (Server | NetServer)[] = [];
const peers: Socket[] = [];
after(() => {
  for (const p of peers) p.destroy();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Network tests wait on events: fail rather than hang if one never comes. */
const network = { timeout: 10_000 };
let socketCount = 0;

async function listen(server: Server | NetServer): Promise<string> {
  const path = join(dir, `s${++socketCount}.sock`);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return path;
}

/** A node:http server (and its 'upgrade' handler); returns a dialler: a connection of its own for each request. */
async function serveHttp(handler: (req: IncomingMessage, res: ServerResponse) => void, upgrade?: (req: IncomingMessage, socket: Duplex) => void): Promise<() => Socket> {
  const server = createServer(handler);
  server.on('connection', (s) => peers.push(s));
  if (upgrade) server.on('upgrade', (req, socket) => upgrade(req, socket));
  const path = await listen(server);
  return () => connect(path);
}

/** A bare socket server, for answers node:http would not write and for the exact bytes a client sent. */
async function serveRaw(): Promise<{ dial: () => Socket; accepted: () => Promise<Socket> }> {
  const ready: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  const server = createNetServer((s) => {
    peers.push(s);
    const w = waiting.shift();
    if (w) w(s); else ready.push(s);
  });
  const path = await listen(server);
  return {
    dial: () => connect(path),
    accepted: () => (ready.length ? Promise.resolve(ready.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

/** Everything read from `s` up to and including the first `marker`. */
function readUntil(s: Socket, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.includes(marker)) { s.off('data', onData); resolve(got.toString()); }
    };
    s.on('data', onData).once('error', reject);
  });
}

/** The count of bytes `s` received before it closed. */
function bytesUntilClose(s: Socket): Promise<number> {
  let n = 0;
  s.on('data', (b: Buffer) => { n += b.length; });
  return new Promise((resolve) => s.once('close', () => resolve(n)));
}

function connected(s: Socket): Promise<Socket> {
  return new Promise((resolve, reject) => s.once('connect', () => resolve(s)).once('error', reject));
}

function response(out: Outcome): Response {
  assert.ok('response' in out, 'an answer, not an upgrade');
  return out.response;
}

test('send: a JSON body goes with its byte length, and the JSON answer is read with readAll', network, async () => {
  const dial = await serveHttp(async (req, res) => {
    const body = (await readAll(req)).toString();
    res.setHeader('Content-Type', 'application/json');
    const { host, connection, 'content-type': type, 'content-length': length, 'transfer-encoding': te = null } = req.headers;
    res.end(JSON.stringify({ method: req.method, url: req.url, host, connection, type, length, te, body }));
  });
  const json = '{"Image":"busybox","Cmd":["echo","héllo wörld"]}';
  const res = response(await send(dial(), { method: 'POST', path: '/v1.43/containers/create?name=a%20b', headers: { 'Content-Type': 'application/json' }, body: Buffer.from(json) }));
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse((await readAll(res)).toString()), {
    method: 'POST', url: '/v1.43/containers/create?name=a%20b', host: 'localhost', connection: 'close', type: 'application/json',
    length: String(Buffer.byteLength(json)), te: null, body: json,
  });
});

test('send: a GET sends no length; a POST without a body says 0', network, async () => {
  const dial = await serveHttp((req, res) => res.end(`${req.headers['content-length'] ?? 'none'} ${req.headers['transfer-encoding'] ?? 'none'}`));
  assert.equal((await readAll(response(await send(dial(), { method: 'GET', path: '/_ping', headers: {} })))).toString(), 'none none');
  assert.equal((await readAll(response(await send(dial(), { method: 'POST', path: '/containers/c/start', headers: {} })))).toString(), '0 none');
});

test('send: a streamed body goes chunked, a chunk per piece; an empty piece does not end it', network, async () => {
  const { dial, accepted } = await serveRaw();
  const stream = Readable.from([Buffer.from('one,'), Buffer.alloc(0), '', 'twö,', Buffer.from('three')]); // objectMode: the empty pieces are emitted
  const [out, wire] = await Promise.all([
    send(dial(), { method: 'POST', path: '/build', headers: { 'Content-Type': 'application/x-tar' }, stream }),
    accepted().then(async (peer) => {
      const wire = await readUntil(peer, '\r\n0\r\n\r\n');
      peer.end('HTTP/1.1 204 No Content\r\n\r\n');
      return wire;
    }),
  ]);
  const head = wire.slice(0, wire.indexOf('\r\n\r\n'));
  const lines = head.split('\r\n');
  assert.equal(lines[0], 'POST /build HTTP/1.1');
  assert.ok(lines.includes('Transfer-Encoding: chunked'), head);
  assert.ok(!lines.some((l) => /^content-length:/i.test(l)), head);
  assert.equal(wire.slice(head.length + 4), '4\r\none,\r\n5\r\ntwö,\r\n5\r\nthree\r\n0\r\n\r\n', 'sizes in bytes, no early end marker');
  assert.equal(response(out).statusCode, 204);
});

test('send: a streamed body arrives intact at node:http, small pieces and large', network, async () => {
  const dial = await serveHttp(async (req, res) => {
    const body = await readAll(req);
    res.end(JSON.stringify({ te: req.headers['transfer-encoding'], length: req.headers['content-length'] ?? null, hex: body.toString('hex') }));
  });
  const pieces = [randomBytes(1), Buffer.alloc(0), randomBytes(300), randomBytes(70_000), Buffer.alloc(0), randomBytes(5)];
  const res = response(await send(dial(), { method: 'POST', path: '/images/load', headers: {}, stream: Readable.from(pieces) }));
  assert.deepEqual(JSON.parse((await readAll(res)).toString()), { te: 'chunked', length: null, hex: Buffer.concat(pieces).toString('hex') });
});

test('send: a large upload goes at the pace the daemon reads it, and arrives byte-exact', network, async () => {
  const payload = randomBytes(32 * 1024 * 1024);
  let at = 0;
  let pulledBeforeReading = -1;
  const dial = await serveHttp(async (req, res) => {
    await sleep(50); // not reading yet: the upload must wait
    pulledBeforeReading = at;
    const hash = createHash('sha256');
    for await (const b of req) hash.update(b as Buffer);
    res.end(hash.digest('hex'));
  });
  const stream = new Readable({ read() { this.push(at < payload.length ? payload.subarray(at, (at += 50_000)) : null); } });
  const res = response(await send(dial(), { method: 'POST', path: '/build', headers: {}, stream }));
  assert.equal((await readAll(res)).toString(), createHash('sha256').update(payload).digest('hex'));
  assert.ok(pulledBeforeReading >= 0 && pulledBeforeReading < 8 * 1024 * 1024, `${pulledBeforeReading} bytes pulled before the daemon read any`);
});

test('send: a refusal before the upload was read comes back whole, and the rest of the upload is not sent', network, async () => {
  const dial = await serveHttp((req, res) => {
    res.statusCode = 400;
    res.setHeader('Connection', 'close');
    res.end('{"message":"unexpected EOF"}', () => req.socket.destroy());
  });
  let pulled = 0;
  const stream = new Readable({ read() { pulled++; this.push(pulled < 100_000 ? Buffer.alloc(64 * 1024) : null); } });
  const res = response(await send(dial(), { method: 'POST', path: '/images/load', headers: {}, stream }));
  assert.equal(res.statusCode, 400);
  assert.equal((await readAll(res)).toString(), '{"message":"unexpected EOF"}');
  await sleep(30);
  const then = pulled;
  await sleep(30);
  assert.equal(pulled, then, 'the upload stopped');
  assert.ok(pulled < 100_000);
});

test('send: 8 MiB written in many pieces reaches a slow reader byte-exact, without piling up in memory', network, async () => {
  const payload = randomBytes(8 * 1024 * 1024);
  const sizes = [1, 1000, 65_536, 300_000, 7, 16_384];
  const dial = await serveHttp((_req, res) => {
    let at = 0;
    let i = 0;
    const write = () => {
      while (at < payload.length) {
        const piece = payload.subarray(at, (at += sizes[i++ % sizes.length]!));
        if (!res.write(piece)) { res.once('drain', write); return; }
      }
      res.end();
    };
    write();
  });
  const res = response(await send(dial(), { method: 'GET', path: '/images/get', headers: {} }));
  const got: Buffer[] = [];
  let buffered = 0;
  await new Promise<void>((resolve, reject) => {
    res.on('data', (b: Buffer) => {
      got.push(b);
      if (got.length % 8 === 0) {
        res.pause();
        setTimeout(() => { buffered = Math.max(buffered, res.readableLength); res.resume(); }, 2);
      }
    });
    res.on('end', resolve);
    res.on('error', reject);
  });
  assert.ok(Buffer.concat(got).equals(payload));
  assert.ok(buffered < 1024 * 1024, `the connection was paused while the reader was (${buffered} bytes waited)`);
});

test('send: a 404 is a response with its status and JSON message', network, async () => {
  const dial = await serveHttp((_req, res) => {
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No such container: x"}');
  });
  const res = response(await send(dial(), { method: 'GET', path: '/containers/x/json', headers: {} }));
  assert.equal(res.statusCode, 404);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse((await readAll(res)).toString()), { message: 'No such container: x' });
});

test('send: HEAD and 204 answers end at their head; a 100 Continue is passed over', network, async () => {
  const dial = await serveHttp((req, res) => {
    if (req.url === '/continue') { res.writeContinue(); setTimeout(() => res.writeHead(201).end('made'), 5); return; }
    if (req.method === 'HEAD') { res.setHeader('Content-Length', '1234'); res.end(); return; }
    res.writeHead(204).end();
  });
  const head = response(await send(dial(), { method: 'HEAD', path: '/_ping', headers: {} }));
  assert.equal(head.headers['content-length'], '1234');
  assert.equal((await readAll(head)).length, 0);
  const none = response(await send(dial(), { method: 'DELETE', path: '/containers/c', headers: {} }));
  assert.equal(none.statusCode, 204);
  assert.equal((await readAll(none)).length, 0);
  const made = response(await send(dial(), { method: 'POST', path: '/continue', headers: {} }));
  assert.equal(made.statusCode, 201);
  assert.equal((await readAll(made)).toString(), 'made');
});

test('send: a body with no length is read until the daemon closes', network, async () => {
  const { dial, accepted } = await serveRaw();
  void accepted().then(async (peer) => {
    await readUntil(peer, '\r\n\r\n');
    peer.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nfirst,');
    await sleep(10);
    peer.end('last');
  });
  const res = response(await send(dial(), { method: 'GET', path: '/containers/c/logs?follow=1', headers: {} }));
  assert.equal((await readAll(res)).toString(), 'first,last');
});

test('send: an upgrade hands over the connection; bytes that came before the reader attached are kept, in order', network, async () => {
  let asked: IncomingMessage | undefined;
  const dial = await serveHttp(() => assert.fail('not an ordinary request'), (req, socket) => {
    asked = req;
    socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nfirst,');
    setTimeout(() => socket.write('second,'), 10);
    socket.on('data', (b: Buffer) => socket.end(`echo:${b}`));
  });
  const out = await send(dial(), { method: 'POST', path: '/containers/c/attach?stream=1&stdin=1', headers: {}, upgrade: true });
  assert.ok('upgraded' in out, 'the connection, not a response');
  assert.equal(asked!.headers.connection, 'Upgrade');
  assert.equal(asked!.headers.upgrade, 'tcp');
  await sleep(50); // both pieces have arrived by now, with no one listening
  const conn = out.upgraded;
  const got: string[] = [];
  const ended = new Promise<void>((resolve, reject) => conn.on('end', resolve).on('error', reject));
  conn.on('data', (b: Buffer) => got.push(b.toString()));
  conn.write('ping');
  await ended;
  assert.equal(got.join(''), 'first,second,echo:ping');
});

test('send: an upgrade refused with a 409 resolves with the response, not the connection', network, async () => {
  const msg = '{"message":"container c is not running"}';
  const dial = await serveHttp(() => assert.fail('not an ordinary request'), (_req, socket) => {
    socket.end(`HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: ${msg.length}\r\n\r\n${msg}`);
  });
  const out = await send(dial(), { method: 'POST', path: '/exec/e/start', headers: { 'Content-Type': 'application/json' }, body: Buffer.from('{"Tty":false}'), upgrade: true });
  assert.ok(!('upgraded' in out));
  const res = response(out);
  assert.equal(res.statusCode, 409);
  assert.deepEqual(JSON.parse((await readAll(res)).toString()), JSON.parse(msg));
});

test('send: a socket path that does not exist rejects with ENOENT', network, async () => {
  await assert.rejects(send(connect(join(dir, 'nobody.sock')), { method: 'GET', path: '/_ping', headers: {} }), isCode('ENOENT'));
});

test('send: a connection cut in the middle of a body makes the response emit an error', network, async () => {
  for (const length of ['100', undefined]) {
    const dial = await serveHttp((req, res) => {
      if (length) res.setHeader('Content-Length', length); // else chunked
      res.write('only part');
      setTimeout(() => req.socket.destroy(), 10);
    });
    const res = response(await send(dial(), { method: 'GET', path: '/', headers: {} }));
    await assert.rejects(readAll(res), isCode('ECONNRESET'), `length ${length}`);
  }
});

test('send: a malformed answer rejects, or, after the head, fails the body and closes the connection', network, async () => {
  const { dial, accepted } = await serveRaw();
  void accepted().then(async (peer) => { await readUntil(peer, '\r\n\r\n'); peer.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'); });
  await assert.rejects(send(dial(), { method: 'GET', path: '/_ping', headers: {} }), isCode('HPE_INVALID'));

  const closed = accepted().then(async (peer) => {
    const gone = bytesUntilClose(peer);
    await readUntil(peer, '\r\n\r\n');
    peer.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
    await sleep(20); // the caller is reading the body by now
    peer.write('zz\r\n');
    return gone;
  });
  const res = response(await send(dial(), { method: 'GET', path: '/events', headers: {} }));
  await assert.rejects(readAll(res), isCode('HPE_INVALID'));
  await closed; // the daemon saw the connection go
});

test('send: a body that fails in the same read as its head fails where the caller can see it', network, async () => {
  const { dial, accepted } = await serveRaw();
  for (const [answer, outcomes] of [
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n', ['HPE_INVALID']],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokX', ['HPE_INVALID', 'body ok']], // the body was whole before the stray byte
  ] as const) {
    void accepted().then(async (peer) => { await readUntil(peer, '\r\n\r\n'); peer.end(answer); });
    const res = response(await send(dial(), { method: 'GET', path: '/', headers: {} }));
    const outcome = await readAll(res).then((b) => `body ${b}`, (e: NodeJS.ErrnoException) => e.code);
    assert.ok((outcomes as readonly string[]).includes(outcome!), `${JSON.stringify(answer)}: ${outcome}`);
  }
});

test('send: destroying the response closes the connection', network, async () => {
  let gone!: Promise<void>;
  const dial = await serveHttp((req, res) => {
    gone = new Promise((resolve) => req.socket.once('close', resolve));
    res.setHeader('Content-Length', '100');
    res.write('part');
  });
  const res = response(await send(dial(), { method: 'GET', path: '/containers/c/stats', headers: {} }));
  res.destroy();
  await gone;
});

test('send: a path with a space or CR/LF, or a header with CR/LF, NUL or a name no token, is a TypeError before anything is sent', network, async () => {
  const { dial, accepted } = await serveRaw();
  const requests: Request[] = [
    { method: 'GET', path: '/a b', headers: {} },
    { method: 'GET', path: '/a\r\nX-Evil: 1', headers: {} },
    { method: 'GET', path: '/a\nb', headers: {} },
    { method: 'POST', path: '/', headers: { 'X-Registry-Auth': 'a\r\nX-Evil: 1' }, body: Buffer.from('{}') },
    { method: 'POST', path: '/', headers: { 'X-A\r\nX-Evil': '1' } },
    { method: 'GET', path: '/', headers: { 'X-A': 'nul\0here' } },
    { method: 'GET', path: '/', headers: { 'X A': '1' } },
  ];
  for (const req of requests) {
    // Connected first, so that anything written would reach the server before the connection is destroyed.
    const [conn, peer] = await Promise.all([connected(dial()), accepted()]);
    const received = bytesUntilClose(peer);
    await assert.rejects(send(conn, req), TypeError);
    assert.ok(conn.destroyed);
    assert.equal(await received, 0, JSON.stringify(req));
  }
});
