/**
 * Docker's JSON progress messages (`{"status","id","progressDetail","progress"}`),
 * one per line, as /images/create, /images/{name}/push and /build stream
 * them; the docker CLI draws its bars from these.
 */
import type { ServerResponse } from 'node:http';
import { errorMessage } from '../errors/index.js';

export interface ProgressEvent {
  id?: string;
  status: string;
  current?: number;
  total?: number;
}

/** units.HumanSize as docker's progress bars print it: decimal units, 3 significant digits. */
function size(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n; let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** The bar docker draws: 50 columns of `=` with a `>` head, then current/total. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return size(current);
  const width = 50;
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar = filled >= width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  return `[${bar}] ${size(current).padStart(8)}/${size(total)}`;
}

export function progressMessage(ev: ProgressEvent): Record<string, unknown> {
  const msg: Record<string, unknown> = { status: ev.status };
  if (ev.id) msg.id = ev.id;
  if (ev.current !== undefined) {
    msg.progressDetail = { current: ev.current, ...(ev.total ? { total: ev.total } : {}) };
    msg.progress = progressBar(ev.current, ev.total ?? 0);
  } else if (ev.id) {
    msg.progressDetail = {};
  }
  return msg;
}

/**
 * Starts a JSON message stream on `res` and returns a writer. Errors after the
 * headers went out travel in the stream as `{"errorDetail","error"}`, as docker does.
 */
export function progressStream(res: ServerResponse) {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  let lastWrite = new Map<string, number>();
  return {
    event(ev: ProgressEvent): void {
      // Byte counters arrive per chunk: send at most ~10 updates a second per layer.
      if (ev.current !== undefined && ev.total !== undefined && ev.current < ev.total) {
        const now = Date.now();
        const key = `${ev.id}:${ev.status}`;
        if (now - (lastWrite.get(key) ?? 0) < 100) return;
        lastWrite.set(key, now);
      }
      res.write(`${JSON.stringify(progressMessage(ev))}\n`);
    },
    raw(msg: Record<string, unknown>): void {
      res.write(`${JSON.stringify(msg)}\n`);
    },
    fail(err: unknown): void {
      const message = errorMessage(err);
      res.write(`${JSON.stringify({ errorDetail: { message }, error: message })}\n`);
      res.end();
    },
    end(): void {
      lastWrite = new Map();
      res.end();
    },
  };
}
