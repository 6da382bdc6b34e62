/**
 * The CLI's only way to the engine: the Engine API over the daemon's socket,
 * the same endpoints the docker CLI uses.
 */
import type { IncomingMessage, RequestOptions as HttpOptions } from 'node:http';
import { createRequire } from 'node:module';
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { API_VERSION } from '../api/index.js';
import { http } from './builtins.js';
import { dialSsh, parseSshUrl, sshArgs } from './ssh.js';

export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/** `-H`, then BERTH_HOST, then DOCKER_HOST only when BERTH_USE_DOCKER_HOST=1, then the default socket. */
export function resolveHost(flag?: string): string {
  if (flag) return flag;
  if (process.env.BERTH_HOST) return process.env.BERTH_HOST;
  if (process.env.BERTH_USE_DOCKER_HOST === '1' && process.env.DOCKER_HOST) return process.env.DOCKER_HOST;
  return DEFAULT_HOST;
}

export class DaemonUnreachable extends Error {
  constructor(host: string) {
    super(`Cannot connect to the berth daemon at ${host}. Is the berth daemon running?`);
  }
}

/** TLS to a tcp:// daemon, as the docker CLI's --tls/--tlsverify: the CA is checked only with `verify`. */
export interface TlsConfig {
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Errors of a connection that reached nobody: the daemon is not there (as opposed to one that answered badly). */
const UNREACHABLE = ['ENOENT', 'ECONNREFUSED', 'EACCES', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'];

/** An error the daemon answered with: its status and docker's message. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: unknown;
  /** A raw request body (e.g. a tarball) instead of JSON. */
  stream?: Readable;
  headers?: Record<string, string>;
}

export class Client {
  private readonly dial: () => Duplex;
  private readonly plainTcp: boolean = false;

  /**
   * `unix:///path` (or a bare path), `tcp://HOST[:PORT]` (2375, or 2376 with TLS) with `tls` when the daemon
   * serves TLS, or `ssh://[USER@]HOST[:PORT][/SOCKET]` (see ssh.ts).
   */
  constructor(readonly host: string, tls?: TlsConfig) {
    if (host.startsWith('unix://') || host.startsWith('/')) {
      const path = host.startsWith('/') ? host : host.slice('unix://'.length);
      this.dial = () => connect(path);
      return;
    }
    if (host.startsWith('ssh://')) {
      const args = sshArgs(parseSshUrl(host));
      this.dial = () => dialSsh(host, args);
      return;
    }
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(host);
    if (!m) throw new Error(`unsupported host ${host}: use unix:///path/to/berth.sock, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]`);
    const hostname = m[1]!.replace(/^\[|\]$/g, '');
    const port = m[2] ? Number(m[2]) : tls ? 2376 : 2375;
    if (!tls) {
      this.dial = () => connect(port, hostname);
      this.plainTcp = true;
      return;
    }
    // node:tls only for a TLS daemon: loading it costs every other command's start-up.
    const { connect: tlsConnect } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
    this.dial = () => tlsConnect({
      host: hostname, port, servername: isIP(hostname) ? undefined : hostname,
      ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify, minVersion: 'TLSv1.2',
    });
  }

  /**
   * Each request on its own connection, made here rather than by an http.Agent: the agent works out a
   * TLS server name for every request, and the IPv6 pattern that takes is compiled on first use, which
   * cost 8 ms of every short command's start-up.
   */
  private target(method: string, path: string, headers: Record<string, string>): HttpOptions {
    // node:http takes any Duplex as the connection; its type names Socket only.
    return { method, path, headers, createConnection: () => this.dial() as Socket };
  }

  /** A raw connection to the daemon, as `system dial-stdio` relays; a failure to connect comes as its 'error' (see connectError). */
  connect(): Duplex {
    return this.dial();
  }

  /** A connection error as the user should see it: nobody there, a TLS handshake that failed (and why), or as it came. */
  connectError(e: NodeJS.ErrnoException): Error {
    if (UNREACHABLE.includes(e.code ?? '')) return new DaemonUnreachable(this.host);
    if (/CERT|SSL|TLS|SIGNATURE|ISSUER/.test(e.code ?? '')) return new Error(`error during connect: ${this.host}: ${e.message}`);
    // A TLS listener drops a plain HTTP request without a word.
    if (this.plainTcp && e.code === 'ECONNRESET') return new Error(`error during connect: ${this.host}: ${e.message} (a daemon that serves TLS needs --tlsverify or --tls)`);
    return e;
  }

  private path(p: string, query?: RequestOptions['query']): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) qs.append(k, x);
      else qs.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
    }
    const s = qs.toString();
    return `/v${API_VERSION}${p}${s ? `?${s}` : ''}`;
  }

  /** Sends a request and resolves with the response once its headers arrive. Non-2xx becomes ApiError. */
  async raw(method: string, p: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const body = opts.body !== undefined ? Buffer.from(JSON.stringify(opts.body)) : undefined;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body) { headers['Content-Type'] = 'application/json'; headers['Content-Length'] = String(body.length); }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = http().request(this.target(method, this.path(p, opts.query), headers), resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.connectError(e)));
      if (opts.stream) opts.stream.pipe(req);
      else req.end(body);
    });
    if ((res.statusCode ?? 500) >= 400) {
      const text = await readAll(res);
      let message = text.toString().trim();
      try { message = (JSON.parse(message) as { message: string }).message; } catch { /* plain text */ }
      throw new ApiError(res.statusCode ?? 500, message);
    }
    return res;
  }

  async json<T>(method: string, p: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, p, opts);
    const text = (await readAll(res)).toString();
    return (text.trim() ? JSON.parse(text) : undefined) as T;
  }

  async call(method: string, p: string, opts: RequestOptions = {}): Promise<void> {
    await readAll(await this.raw(method, p, opts));
  }

  /** Upgrades the connection (attach, exec start) and returns the raw stream. */
  hijack(p: string, query: RequestOptions['query'], body?: unknown): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const data = body !== undefined ? Buffer.from(JSON.stringify(body)) : undefined;
      const req = http().request(this.target('POST', this.path(p, query),
        { Connection: 'Upgrade', Upgrade: 'tcp', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}) }));
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', async (res) => {
        const text = (await readAll(res)).toString();
        let message = text.trim();
        try { message = (JSON.parse(message) as { message: string }).message; } catch { /* plain */ }
        reject(new ApiError(res.statusCode ?? 500, message));
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.connectError(e)));
      req.end(data);
    });
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Reads a stream of JSON objects, one per line, as /events, /images/create and /build send. */
export async function* jsonLines<T>(stream: Readable): AsyncGenerator<T> {
  let buf = '';
  for await (const c of stream) {
    buf += (c as Buffer).toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (buf.trim()) yield JSON.parse(buf) as T;
}
