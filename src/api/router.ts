/**
 * A small router for the Engine API: strips the `/v1.xx` prefix, matches
 * `{name}` path parameters, and turns every thrown error into docker's
 * `{"message": …}` body with the error's status, in this one place.
 */
import { traced } from '../common/trace.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { BerthError, errorMessage, errorStatus, InvalidParameterError } from '../errors/index.js';
import { checkBody, type GoType } from './validate.js';

export { API_VERSION, MIN_API_VERSION } from './version.js';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Set for requests that asked to upgrade (attach, exec start): the raw connection. */
  upgrade?: { socket: Duplex; head: Buffer };
}

export type Handler = (ctx: Ctx) => Promise<void> | void;

interface Route { method: string; pattern: RegExp; keys: string[]; handler: Handler }

export class Router {
  private routes: Route[] = [];

  on(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    // `{name}` matches one segment, except `{name*}` which may contain slashes (image names).
    const src = path.replace(/\{(\w+)(\*?)\}/g, (_m, k: string, star: string) => {
      keys.push(k);
      return star ? '(.+?)' : '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${src}$`), keys, handler });
    return this;
  }

  async dispatch(req: IncomingMessage, res: ServerResponse, upgrade?: Ctx['upgrade']): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/^\/v\d+\.\d+(?=\/)/, '');
    const ctx: Ctx = { req, res, params: {}, query: url.searchParams, upgrade };
    try {
      const route = this.routes.find((r) => r.method === req.method && r.pattern.test(path));
      if (!route) {
        const known = this.routes.some((r) => r.pattern.test(path));
        // Name the endpoint, in the answer and in the daemon's log, so a client's missing call is easy to find.
        // 404, as dockerd answers unknown paths: clients fall back on it (`docker inspect NAME` tries a container,
        // then an image, and a path that cannot be a container route must read as "not a container").
        process.stderr.write(`${new Date().toISOString()} api: not implemented: ${req.method} ${path}\n`);
        sendError(res, known ? 405 : 404, known ? `method ${req.method} not allowed for ${path}` : `page not found: berth does not implement ${req.method} ${path}`);
        return;
      }
      const m = route.pattern.exec(path)!;
      route.keys.forEach((k, i) => {
        let v: string;
        try { v = decodeURIComponent(m[i + 1]!); } catch { throw new InvalidParameterError(`invalid ${k} in the path: ${m[i + 1]} is not valid percent-encoding`); }
        // No name, ID or reference holds a NUL; it would only reach file names and the database.
        if (v.includes('\0')) throw new InvalidParameterError(`invalid ${k} in the path: it contains a NUL byte`);
        ctx.params[k] = v;
      });
      await traced(`api ${req.method} ${path}`, async () => route.handler(ctx));
    } catch (err) {
      if (res.headersSent || upgrade && res.writableEnded) {
        res.destroy();
        return;
      }
      // A refusal before the body was read (an import's bad platform, a load's bad name): the rest of the upload is
      // read and dropped first. Answered at once, the connection would close under a client still writing, which
      // then sees EPIPE instead of the answer (Go's client reads it anyway; Node's does not).
      if (!upgrade && hasBody(req) && !req.readableEnded) {
        req.resume();
        await new Promise<void>((resolve) => { req.once('end', resolve); req.once('close', resolve); });
      }
      sendError(res, errorStatus(err), errorMessage(err));
    }
  }
}

function hasBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) { res.end(); return; }
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The most a JSON request body may hold. dockerd sets none; berth keeps a client from filling its memory and its database. */
export const MAX_JSON_BODY = 10 << 20;

export class PayloadTooLargeError extends BerthError {
  constructor(message: string) { super(413, message); }
}

export async function readBody(req: IncomingMessage, limit = Infinity): Promise<Buffer> {
  const early = (req as IncomingMessage & { upgradeBody?: Buffer }).upgradeBody;
  if (early) return early;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new PayloadTooLargeError(`request body too large: ${declared} bytes, the limit is ${limit}`);
  if (req.readableEnded) return Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) { chunks.push(c); return; }
      // Past the limit, the rest is read and dropped, and the refusal goes out once the client has sent it all:
      // a client still writing when the server closed would see EPIPE instead of the answer.
      chunks.length = 0;
      over = true;
    };
    let over = false;
    const onEnd = () => (over ? reject(new PayloadTooLargeError(`request body too large: more than ${limit} bytes`)) : resolve(Buffer.concat(chunks)));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
    req.on('close', () => { if (!req.complete) reject(new InvalidParameterError('the client closed the connection before the request body ended')); });
  });
}

/** A JSON object body, at most MAX_JSON_BODY long; with `type`, checked as dockerd's decoder would (see validate.ts). */
export async function readJson<T>(req: IncomingMessage, type?: GoType): Promise<T> {
  const raw = (await readBody(req, MAX_JSON_BODY)).toString();
  if (!raw.trim()) return {} as T;
  let v: unknown;
  try {
    v = JSON.parse(raw) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
  } catch (e) {
    throw new InvalidParameterError(`invalid JSON: ${errorMessage(e)}`);
  }
  if (type) checkBody(typeof type === 'object' && 'struct' in type ? type.struct : 'body', v, type);
  return v as T;
}

export function boolParam(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  return v === '1' || v.toLowerCase() === 'true';
}

export type Filters = Record<string, string[]>;

/** A `label` filter's value (`key` or `key=value`) against an object's labels, as dockerd matches it. */
export function labelMatch(labels: Record<string, string>, v: string): boolean {
  const i = v.indexOf('=');
  const k = i < 0 ? v : v.slice(0, i);
  return k in labels && (i < 0 || labels[k] === v.slice(i + 1));
}

/** docker's `filters` query parameter: `{"key":["v1","v2"]}` (or the older `{"key":{"v1":true}}`). */
export function parseFilters(raw: string | null): Filters {
  if (!raw) return {};
  let v: unknown;
  try { v = JSON.parse(raw); } catch { throw new InvalidParameterError(`invalid filter: ${raw}`); }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError(`invalid filter: ${raw}`);
  const out: Filters = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    // As dockerd's filters.FromJSON: a list of strings, or a map of string to bool.
    if (Array.isArray(val) && val.every((x) => typeof x === 'string')) out[k] = val;
    else if (val !== null && typeof val === 'object' && !Array.isArray(val) && Object.values(val).every((x) => typeof x === 'boolean')) out[k] = Object.keys(val);
    else throw new InvalidParameterError(`invalid filter: ${raw}`);
  }
  return out;
}

/** Go's path.Match for docker's `reference` filters: `*` and `?` stop at `/`. */
export function globMatch(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(value);
}
