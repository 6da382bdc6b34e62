/**
 * HTTP for the registry client, through Node's built-in fetch (undici inside
 * Node 20) rather than the undici package: nothing to keep in step with Node,
 * and it already does what a registry client needs — streamed request bodies
 * (`duplex: 'half'`) and responses, redirects followed with Authorization
 * dropped when they leave the registry's origin (blobs redirected to object
 * storage must not carry the registry's token). What it lacks, a bound on how
 * long a silent server is waited for and Go-style messages for network
 * failures, is added here. One thing it will not do: fetch refuses the
 * ports on the fetch standard's "bad port" list (1, 6000, 6665-6669, 10080,
 * …), so a registry must not listen on one of those.
 */
import { RegistryConnectionError } from './errors.js';

export type Body = Buffer | string | AsyncIterable<Uint8Array>;

/** Bodies up to this size go whole (and can follow a redirect); larger ones stream in slices of it. */
const SLICE = 64 * 1024;

export interface SendInit {
  method: string;
  headers: Record<string, string>;
  body?: Body;
  redirect?: 'follow' | 'manual';
}

class Timeout extends Error {}

/** Go's url.Error prints the method as `Get`, `Put`, … */
const opName = (method: string) => method[0]! + method.slice(1).toLowerCase();

function dialAddress(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname.includes(':') && !url.hostname.startsWith('[') ? `[${url.hostname}]` : url.hostname}:${port}`;
}

function systemCode(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown }).cause ?? err;
  const c = cause as { code?: string; errors?: { code?: string }[] };
  return c.code ?? c.errors?.find((e) => e.code)?.code;
}

/** A failed fetch as the message docker would print for it. */
export function connectionError(method: string, url: string, err: unknown, timeoutMs: number): RegistryConnectionError {
  const u = new URL(url);
  const prefix = `${opName(method)} "${url}"`;
  if (err instanceof Timeout) {
    return new RegistryConnectionError('ETIMEDOUT', `${prefix}: timeout: nothing sent to or received from ${u.host} for ${timeoutMs / 1000}s`);
  }
  const code = systemCode(err) ?? 'EUNKNOWN';
  const addr = dialAddress(u);
  const detail: Record<string, string> = {
    ECONNREFUSED: `dial tcp ${addr}: connect: connection refused`,
    ENOTFOUND: `dial tcp: lookup ${u.hostname}: no such host`,
    EAI_AGAIN: `dial tcp: lookup ${u.hostname}: temporary failure in name resolution`,
    EHOSTUNREACH: `dial tcp ${addr}: connect: no route to host`,
    ENETUNREACH: `dial tcp ${addr}: connect: network is unreachable`,
    ETIMEDOUT: `dial tcp ${addr}: i/o timeout`,
    UND_ERR_CONNECT_TIMEOUT: `dial tcp ${addr}: i/o timeout`,
    ECONNRESET: `read tcp ${addr}: connection reset by peer`,
    UND_ERR_SOCKET: `read tcp ${addr}: connection closed by peer`,
    ERR_SSL_WRONG_VERSION_NUMBER: 'http: server gave HTTP response to HTTPS client',
    EPROTO: 'http: server gave HTTP response to HTTPS client',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
    SELF_SIGNED_CERT_IN_CHAIN: 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
    CERT_HAS_EXPIRED: 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid',
    ERR_TLS_CERT_ALTNAME_INVALID: `tls: failed to verify certificate: x509: certificate is not valid for ${u.hostname}`,
  };
  const cause = (err as { cause?: Error }).cause;
  if (cause?.message === 'bad port') {
    return new RegistryConnectionError('EBADPORT', `${prefix}: port ${u.port} is on the fetch standard's list of blocked ports`);
  }
  return new RegistryConnectionError(code, `${prefix}: ${detail[code] ?? cause?.message ?? (err as Error).message}`);
}

/**
 * fetch, bounded: it fails when nothing moves for `timeoutMs` — no body bytes
 * sent, no response headers received. A long upload that keeps moving is not
 * cut off.
 */
export async function send(url: string, init: SendInit, timeoutMs: number): Promise<Response> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Timeout()), timeoutMs);
  const headers = { ...init.headers };
  let body: Body | undefined = init.body;
  if (typeof body === 'string') body = Buffer.from(body);
  if (Buffer.isBuffer(body) && body.length > SLICE) {
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) headers['Content-Length'] = String(body.length);
  }
  const streamed = body !== undefined && !(Buffer.isBuffer(body) && body.length <= SLICE);
  try {
    return await fetch(url, {
      method: init.method,
      headers,
      body: streamed ? moving(body!, () => timer.refresh()) : body,
      redirect: init.redirect ?? 'follow',
      signal: ac.signal,
      ...(streamed ? { duplex: 'half' } : {}),
    } as RequestInit);
  } catch (err) {
    throw connectionError(init.method, url, ac.signal.aborted ? ac.signal.reason : err, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

/** The body in slices, each one restarting the timer as fetch takes it. */
async function* moving(body: Body, bump: () => void): AsyncGenerator<Uint8Array> {
  if (Buffer.isBuffer(body)) {
    for (let i = 0; i < body.length; i += SLICE) { bump(); yield body.subarray(i, i + SLICE); }
    return;
  }
  for await (const chunk of body as AsyncIterable<Uint8Array>) { bump(); yield chunk; }
}

/**
 * Reads a whole (small) body, failing past `limit` bytes or when nothing
 * arrives for `timeoutMs`.
 */
export async function readBody(res: Response, limit: number, timeoutMs: number, what: string): Promise<Buffer> {
  const length = Number(res.headers.get('content-length') ?? NaN);
  if (length > limit) throw new RegistryConnectionError('EFBIG', `${what} is ${length} bytes, more than the ${limit} allowed`);
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await readWithin(reader, timeoutMs, what);
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new RegistryConnectionError('EFBIG', `${what} is more than the ${limit} bytes allowed`);
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.length));
  }
  return Buffer.concat(chunks);
}

/** One read of a body stream that gives up (and cancels the stream) after `timeoutMs` of silence. */
export async function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>, timeoutMs: number, what: string,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reader.cancel().catch(() => {});
      reject(new RegistryConnectionError('ETIMEDOUT', `reading ${what}: no data for ${timeoutMs / 1000}s (timeout)`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([reader.read(), timeout]);
  } catch (err) {
    if (err instanceof RegistryConnectionError) throw err;
    const code = systemCode(err) ?? 'ECONNRESET';
    throw new RegistryConnectionError(code, `reading ${what}: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
