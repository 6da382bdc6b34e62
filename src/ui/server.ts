/**
 * The dashboard's HTTP server: the page and its scripts, and `/api/…`, which goes to the very request
 * handler the Engine API server runs on its Unix socket (one implementation of the API, two listeners).
 *
 * It can start processes as root, so every request passes `refusal()`: the Host header must name this
 * listener (no DNS rebinding), and an `/api` request must come from the page itself — no foreign
 * Origin, no cross-site fetch metadata, and the per-daemon token that only the page carries. No CORS
 * headers are ever sent, so a browser gives other origins neither the token nor any response.
 *
 * The one upgrade it takes is the terminal's WebSocket (terminal.ts), under the same checks, with the token
 * offered as a subprotocol (a browser cannot set headers there) and an Origin required.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { extname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { authority, parseUiAddress, UiError, type UiAddress } from './address.js';
import { parseTerminalQuery, TERMINAL_PATH, Terminals, tokenFromProtocols, type ExecBackend } from './terminal.js';

export const TOKEN_HEADER = 'x-berth-token';

export interface UiOptions {
  /** `PORT` or `HOST:PORT` (see parseUiAddress). */
  address: string;
  /** The Engine API server; its `request` handler answers `/api/…`. It need not listen anywhere. Also settable later with `serve()`. */
  api?: Server;
  /** The containers part (its exec sessions), for the terminal; without it the terminal's WebSocket answers 503. */
  containers?: ExecBackend;
  /** The built page: index.html, app.js, app.css. */
  assetDir: string;
  log?: (msg: string) => void;
  /** Fixed token (tests); a random one per start otherwise. */
  token?: string;
}

export interface UiServer {
  url: string;
  address: UiAddress;
  /** Starts handing `/api/…` to this API server (and terminals to these exec sessions); until then they get 503. */
  serve(api: Server, parts?: { containers?: ExecBackend }): void;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/**
 * The page's policy. `nonce` is new per response: the terminal (xterm.js) makes its own <style> elements for
 * the glyph grid and colours, and the page's script stamps them with it; styles from anywhere else stay blocked.
 */
function csp(nonce: string): string {
  return [
    "default-src 'none'", "script-src 'self'", `style-src 'self' 'nonce-${nonce}'`, "img-src 'self' data:", "connect-src 'self'",
    "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
}

interface Asset { body: Buffer; type: string }

function loadAssets(dir: string): Map<string, Asset> {
  if (!existsSync(join(dir, 'index.html'))) throw new UiError(`the dashboard's files are missing from ${dir}: run node scripts/build.mjs`);
  const out = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) out.set(`/${name}`, { body: readFileSync(join(dir, name)), type });
  }
  return out;
}

export interface Guard { token: string; host: string; port: number }

/**
 * Why a request must be refused, or undefined. `api` requests need the page's origin and token; the
 * page and its files only need a Host header that names this listener.
 */
export function refusal(req: IncomingMessage, g: Guard, api: boolean, opts: { token?: string; upgrade?: boolean } = {}): string | undefined {
  const hostHeader = req.headers.host;
  if (!hostHeader) return 'no Host header';
  let url: URL;
  try { url = new URL(`http://${hostHeader}`); } catch { return `bad Host header "${hostHeader}"`; }
  const name = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = Number(url.port || 80);
  // Names other than this listener's would let a DNS-rebinding page read the token from the page.
  if (port !== g.port || !(isIP(name) || name === 'localhost' || name === g.host.toLowerCase())) {
    return `Host "${hostHeader}" is not this dashboard's address`;
  }
  if (!api) return undefined;
  const origin = req.headers.origin;
  // Browsers send an Origin with every WebSocket; one without came from no page at all.
  if (opts.upgrade && origin === undefined) return 'a WebSocket without an Origin refused';
  if (origin !== undefined && origin.toLowerCase() !== `http://${hostHeader.toLowerCase()}`) return `cross-origin request from ${origin} refused`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `${site} request refused`;
  const given = opts.upgrade ? opts.token : req.headers[TOKEN_HEADER];
  const want = Buffer.from(g.token);
  const got = Buffer.from(typeof given === 'string' ? given : '', 'latin1');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return 'missing or stale dashboard token (reload the page)';
  return undefined;
}

function refuse(res: ServerResponse, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(403, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** An HTTP answer on a socket whose upgrade is refused. */
function refuseUpgrade(socket: Duplex, status: string, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export async function startUiServer(opts: UiOptions): Promise<UiServer> {
  const address = parseUiAddress(opts.address);
  const log = opts.log ?? (() => {});
  const assets = loadAssets(opts.assetDir);
  const token = opts.token ?? randomBytes(24).toString('hex');
  const index = assets.get('/index.html')!.body.toString().replaceAll('{{BERTH_TOKEN}}', token);
  const guard: Guard = { token, host: address.host, port: address.port };
  let api = opts.api;
  let containers = opts.containers;
  const terminals = new Terminals(log);

  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const path = (req.url ?? '/').split('?')[0]!;
    const isApi = path === '/api' || path.startsWith('/api/');
    const why = refusal(req, guard, isApi);
    if (why) {
      log(`dashboard: refused ${req.method} ${path}: ${why}`);
      refuse(res, why);
      return;
    }
    if (isApi) {
      if (!api) {
        res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' }).end(JSON.stringify({ message: 'the engine is starting' }));
        return;
      }
      // The Engine API's own handler: the same router, errors and streams as on the Unix socket.
      req.url = req.url!.slice('/api'.length) || '/';
      api.emit('request', req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      const nonce = randomBytes(16).toString('base64');
      res.writeHead(200, { 'Content-Type': TYPES['.html']!, 'Content-Security-Policy': csp(nonce), 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : index.replaceAll('{{BERTH_NONCE}}', nonce));
      return;
    }
    const asset = assets.get(path);
    if (!asset) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  });
  // The terminal's WebSocket; attach and exec's hijacked streams are for the socket's clients, not the page.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (url.pathname !== TERMINAL_PATH || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const why = refusal(req, guard, true, { upgrade: true, token: tokenFromProtocols(req.headers['sec-websocket-protocol']) });
    if (why) {
      log(`dashboard: refused the terminal: ${why}`);
      refuseUpgrade(socket, '403 Forbidden', why);
      return;
    }
    if (!containers) { refuseUpgrade(socket, '503 Service Unavailable', 'the engine is starting'); return; }
    const want = parseTerminalQuery(url.searchParams);
    if (typeof want === 'string') { refuseUpgrade(socket, '400 Bad Request', want); return; }
    terminals.handle(req, socket, head, containers, want);
  });
  server.on('clientError', (_err, socket: Socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new UiError(
      e.code === 'EADDRINUSE' ? `${authority(address.host, address.port)} is in use`
        : e.code === 'EADDRNOTAVAIL' ? `${address.host} is not an address of this machine` : e.message)));
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  guard.port = bound.port;
  const url = `http://${authority(address.host, bound.port)}/`;
  log(`berth dashboard on ${url}`);
  if (!address.loopback) {
    log(`warning: the dashboard listens on ${address.host}, beyond loopback: whoever reaches it and opens the page can run containers as root`);
  }
  return {
    url,
    address: { ...address, port: bound.port },
    serve: (server, parts) => { api = server; containers = parts?.containers ?? containers; },
    close: () => new Promise<void>((resolve) => {
      terminals.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
