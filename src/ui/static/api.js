// The page's one way to the engine: the Docker Engine API under /api on the page's own origin, with the
// per-daemon token the server put into the page. Streams (events, logs, stats) are read from fetch bodies.

const token = document.querySelector('meta[name="berth-token"]')?.getAttribute('content') ?? '';

/** The per-response nonce of the page's style policy; the terminal stamps its own <style> elements with it. */
export const styleNonce = document.querySelector('meta[name="berth-nonce"]')?.getAttribute('content') ?? '';

/** The subprotocols of the terminal's WebSocket: its own, and the token (a browser cannot set headers there). */
export function terminalProtocols() {
  return ['berth.exec', `berth.token.${token}`];
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Called when the daemon no longer knows the page's token (it restarted): the page must be reloaded. */
let onStaleToken = () => {};
export function whenTokenStale(fn) { onStaleToken = fn; }

export async function request(method, path, { signal, body } = {}) {
  const headers = { 'X-Berth-Token': token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/api${path}`, {
    method, headers, signal, cache: 'no-store', credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).message ?? message; } catch { /* not JSON */ }
    if (res.status === 403 && /token/.test(message)) onStaleToken();
    throw new ApiError(res.status, message);
  }
  return res;
}

export async function getJson(path, opts) {
  return (await request('GET', path, opts)).json();
}

export async function post(path, opts) {
  const res = await request('POST', path, opts);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

export async function del(path, opts) {
  const res = await request('DELETE', path, opts);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

/** Whether an error says the route does not exist in this daemon (as opposed to a missing object). */
export function isMissingRoute(err) {
  return err instanceof ApiError && (err.status === 405 || err.status === 501 || (err.status === 404 && /page not found/i.test(err.message)));
}

/** Reads a response body as newline-separated JSON values (events, stats), calling `onValue` for each. */
export async function readJsonLines(res, onValue) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) onValue(JSON.parse(line));
    }
  }
  if (pending.trim()) onValue(JSON.parse(pending));
}

/**
 * docker's stdout/stderr multiplexing: each frame is [stream, 0, 0, 0, size (4 bytes, big-endian)] and
 * `size` bytes of payload. Feed it chunks as they come; it calls `onFrame(stream, bytes)` per whole frame.
 */
export class Demuxer {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.buf = new Uint8Array(0);
  }

  push(chunk) {
    let buf = this.buf.length ? concat(this.buf, chunk) : chunk;
    while (buf.length >= 8) {
      const size = new DataView(buf.buffer, buf.byteOffset, 8).getUint32(4);
      if (buf.length < 8 + size) break;
      this.onFrame(buf[0], buf.subarray(8, 8 + size));
      buf = buf.subarray(8 + size);
    }
    this.buf = buf.slice();
  }
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Follows a container's output: `onText(stream, text)` with stream 'stdout' or 'stderr' (a TTY
 * container's raw stream is all 'stdout'). `since` (Unix seconds) instead of the last `tail` lines. Resolves when the stream ends (the container stopped).
 */
export async function followLogs(id, { signal, tail = 1000, since, onText }) {
  const from = since === undefined ? `tail=${tail}` : `since=${since}`;
  const res = await request('GET', `/containers/${encodeURIComponent(id)}/logs?follow=1&stdout=1&stderr=1&${from}`, { signal });
  const raw = (res.headers.get('content-type') ?? '').includes('raw-stream');
  const decoders = { 1: new TextDecoder(), 2: new TextDecoder() };
  const demux = new Demuxer((stream, bytes) => {
    const d = decoders[stream] ?? decoders[1];
    onText(stream === 2 ? 'stderr' : 'stdout', d.decode(bytes, { stream: true }));
  });
  const reader = res.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (raw) onText('stdout', decoders[1].decode(value, { stream: true }));
    else demux.push(value);
  }
}
