/**
 * The blob stream against a scripted server: connections that break or stall
 * mid-body, a server that ignores Range, and a redirect to another origin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient } from './client.js';
import { sha256Digest } from './digest.js';

const BLOB = randomBytes(256 * 1024);
const DIGEST = sha256Digest(BLOB);

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

async function serve(handler: Handler, fn: (host: string, seen: IncomingMessage[]) => Promise<void>): Promise<void> {
  const seen: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => { seen.push(req); handler(req, res, seen.length); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function ranged(req: IncomingMessage, res: ServerResponse): void {
  const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  if (from > 0) {
    res.writeHead(206, { 'Content-Length': BLOB.length - from, 'Content-Range': `bytes ${from}-${BLOB.length - 1}/${BLOB.length}` });
  } else {
    res.writeHead(200, { 'Content-Length': BLOB.length });
  }
  res.end(BLOB.subarray(from));
}

/** Sends the first 100 KiB, then cuts the connection (or, with `stall`, goes quiet). */
function half(res: ServerResponse, stall = false): void {
  res.writeHead(200, { 'Content-Length': BLOB.length });
  res.write(BLOB.subarray(0, 100 * 1024), () => { if (!stall) setTimeout(() => res.socket?.destroy(), 20); });
}

async function read(client: RegistryClient, host: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await client.getBlob(host, 'r', DIGEST)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('a connection cut mid-body is resumed with a Range request from the byte reached', () => serve(
  (req, res, n) => (n === 1 ? half(res) : ranged(req, res)),
  async (host, seen) => {
    assert.ok((await read(new RegistryClient(), host)).equals(BLOB));
    assert.equal(seen.length, 2);
    assert.match(seen[1]!.headers.range ?? '', /^bytes=\d+-$/);
    assert.equal(seen[0]!.headers['accept-encoding'], 'identity');
  },
));

test('a server that ignores Range is read again from the start, the delivered bytes skipped', () => serve(
  (_req, res, n) => (n === 1 ? half(res) : (res.writeHead(200, { 'Content-Length': BLOB.length }), res.end(BLOB))),
  async (host, seen) => {
    assert.ok((await read(new RegistryClient(), host)).equals(BLOB));
    assert.equal(seen.length, 2);
  },
));

test('a body that stalls is abandoned after the timeout and resumed', () => serve(
  (req, res, n) => (n === 1 ? half(res, true) : ranged(req, res)),
  async (host, seen) => {
    const started = Date.now();
    assert.ok((await read(new RegistryClient({ timeoutMs: 300 }), host)).equals(BLOB));
    assert.equal(seen.length, 2);
    assert.ok(Date.now() - started < 3000);
  },
));

test('resumes are bounded: a server that always breaks fails the stream', () => serve(
  (_req, res) => half(res),
  async (host, seen) => {
    await assert.rejects(read(new RegistryClient(), host), { name: 'RegistryConnectionError' });
    assert.equal(seen.length, 4, 'the first request and three resumes');
  },
));

test('a resume that cannot connect at first tries again', () => serve(
  (req, res, n) => (n === 1 ? half(res) : n === 2 ? res.socket!.destroy() : ranged(req, res)),
  async (host, seen) => {
    assert.ok((await read(new RegistryClient(), host)).equals(BLOB));
    assert.equal(seen.length, 3);
  },
));

test('redirects are followed, and the registry token does not travel to another origin', () => serve(
  (req, res) => ranged(req, res),
  (storage, stored) => serve(
    (_req, res) => { res.writeHead(307, { Location: `http://${storage}/blob?sig=1` }); res.end(); },
    async (host, seen) => {
      const client = new RegistryClient();
      const chunks: Buffer[] = [];
      for await (const c of await client.getBlob(host, 'r', DIGEST, { registrytoken: 'secret' })) chunks.push(c as Buffer);
      assert.ok(Buffer.concat(chunks).equals(BLOB));
      assert.equal(seen[0]!.headers.authorization, 'Bearer secret');
      assert.equal(stored[0]!.url, '/blob?sig=1');
      assert.equal(stored[0]!.headers.authorization, undefined);
    },
  ),
));
