/** The Engine API on a Unix socket. */
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { archiveRoutes } from './archive.js';
import { containerRoutes } from './containers.js';
import type { Engine } from './engine.js';
import { distributionRoutes } from './distribution.js';
import { imageRoutes } from './images.js';
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
    void router.dispatch(req, res, { socket, head });
  });
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  return server;
}
