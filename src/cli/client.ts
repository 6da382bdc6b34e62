/**
 * The CLI's only way to the engine: the Engine API over the daemon's socket,
 * the same endpoints the docker CLI uses.
 */
import { createRequire } from 'node:module';
import { connect, isIP } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { API_VERSION } from '../api/index.js';
import { readAll, send, type Outcome, type Response } from './http-client.js';
import { dialSsh, parseSshUrl, sshArgs } from './ssh.js';

export { readAll, type Response } from './http-client.js';

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

  /** Each request on a connection of its own (http-client.ts), closed after the answer, as the docker CLI's are. */
  private async request(method: string, path: string, headers: Record<string, string>, body: { body?: Buffer; stream?: Readable }, upgrade = false): Promise<Outcome> {
    try {
      return await send(this.dial(), { method, path, headers, ...body, upgrade });
    } catch (e) {
      throw this.connectError(e as NodeJS.ErrnoException);
    }
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
  async raw(method: string, p: string, opts: RequestOptions = {}): Promise<Response> {
    const body = opts.body !== undefined ? Buffer.from(JSON.stringify(opts.body)) : undefined;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body) headers['Content-Type'] = 'application/json';
    const out = await this.request(method, this.path(p, opts.query), headers, { body, stream: opts.stream });
    if (!('response' in out)) throw new Error(`the daemon upgraded a ${method} ${p} connection it was not asked to`);
    const res = out.response;
    if (res.statusCode >= 400) throw await apiError(res);
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
  async hijack(p: string, query: RequestOptions['query'], body?: unknown): Promise<Duplex> {
    const data = body !== undefined ? Buffer.from(JSON.stringify(body)) : undefined;
    const out = await this.request('POST', this.path(p, query), data ? { 'Content-Type': 'application/json' } : {}, { body: data }, true);
    if ('upgraded' in out) return out.upgraded;
    // Refused before the upgrade (no such container, not running): an ordinary error response.
    throw await apiError(out.response);
  }
}

/** An error response as docker's CLI shows it: the JSON `message`, or the plain text the daemon sent. */
async function apiError(res: Response): Promise<ApiError> {
  let message = (await readAll(res)).toString().trim();
  try { message = (JSON.parse(message) as { message: string }).message; } catch { /* plain text */ }
  return new ApiError(res.statusCode, message);
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
