/** The Engine API on a Unix socket. */
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { archiveRoutes } from './archive.js';
import { containerRoutes } from './containers.js';
import type { Engine } from './engine.js';
import { buildRoutes } from './build.js';
import { checkRoutes } from './check.js';
import { distributionRoutes } from './distribution.js';
import { execRoutes } from './exec.js';
import { imageRoutes } from './images.js';
import { networkRoutes } from './networks.js';
import { volumeRoutes } from './volumes.js';
import { API_VERSION, Router } from './router.js';
import { BERTH_VERSION, systemRoutes } from './system.js';

const COMMON_HEADERS: Record<string, string> = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: `Berth/${BERTH_VERSION} (linux)`,
};

export function createApiServer(engine: Engine): Server {
  const router = new Router();
  systemRoutes(router, engine);
  containerRoutes(router, engine);
  imageRoutes(router, engine);
  archiveRoutes(router, engine);
  distributionRoutes(router, engine);
  execRoutes(router, engine);
  networkRoutes(router, engine);
  volumeRoutes(router, engine);
  buildRoutes(router, engine);
  checkRoutes(router, engine);

  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v);
    void router.dispatch(req, res);
  });
  // attach and exec start ask to upgrade the connection; errors before the upgrade still go out as plain HTTP.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const res = new ServerResponse(req);
    res.assignSocket(socket as import('node:net').Socket);
    res.shouldKeepAlive = false;
    for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v);
    socket.on('error', () => socket.destroy());
    // An answer that is not a hijack (an error before the upgrade) ends the connection: nothing else may follow on it.
    res.on('finish', () => socket.end());
    // An upgrade request's body (exec start sends JSON) arrives in the upgraded stream, before the client's stdin.
    void takeBody(req, socket, head).then((rest) => router.dispatch(req, res, { socket, head: rest }), () => socket.destroy());
  });
  // What Node's parser refuses (a URL or headers past its 16 KiB, a malformed request line) gets docker's JSON error too.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || (socket as import('node:net').Socket).bytesWritten > 0) { socket.destroy(); return; }
    const [status, text, message] = err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'request header fields too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'request timeout'] : [400, 'Bad Request', `bad request: ${err.code ?? err.message}`];
    const body = JSON.stringify({ message });
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  return server;
}

/** Splits `Content-Length` bytes of body off the start of an upgraded stream and leaves them on the request. */
async function takeBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<Buffer> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!length) return head;
  let buf = head;
  while (buf.length < length) {
    const chunk = await new Promise<Buffer>((resolve, reject) => {
      socket.once('data', resolve);
      socket.once('error', reject);
      socket.once('end', () => reject(new Error('connection closed before the request body')));
    });
    socket.pause();
    buf = Buffer.concat([buf, chunk]);
  }
  (req as IncomingMessage & { upgradeBody?: Buffer }).upgradeBody = buf.subarray(0, length);
  socket.resume();
  return buf.subarray(length);
}
