/**
 * Shared by the hostile suites: a leak count of what a daemon holds on the host, and a raw HTTP
 * client over its socket that never hangs (every call has a deadline) and copes with a server
 * that answers before the request body is sent.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { TestDaemon } from '../harness.js';

/** The hostile suites run a bounded form unless BERTH_HOSTILE_FULL=1 (`npm run test:hostile`). */
export const FULL = process.env.BERTH_HOSTILE_FULL === '1';

export interface LeakCount {
  mounts: number;
  netns: number;
  veths: number;
  cgroups: number;
  conmons: number;
  fds: number;
  rssKiB: number;
}

const CGROUP_CONTROLLERS = ['memory', 'pids', 'cpu', 'devices', 'freezer', 'blkio', 'cpuset'];

/** What the daemon `d` holds now; `ids` are the containers it was asked to make (their cgroups are counted). */
export function leakCount(d: TestDaemon, ids: Iterable<string> = []): LeakCount {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(d.dir)).length;
  const nsDir = join(d.execRoot, 'netns');
  const netns = existsSync(nsDir) ? readdirSync(nsDir).length : 0;
  const brif = `/sys/class/net/${d.bridge}/brif`;
  const veths = existsSync(brif) ? readdirSync(brif).length : 0;
  let cgroups = 0;
  const idList = [...ids];
  for (const ctrl of CGROUP_CONTROLLERS) {
    const base = `/sys/fs/cgroup/${ctrl}/berth`;
    if (!existsSync(base)) continue;
    for (const id of idList) if (existsSync(join(base, id))) cgroups++;
  }
  let conmons = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline = '';
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmdline.startsWith('/usr/bin/conmon') && cmdline.includes(d.execRoot)) conmons++;
  }
  const pid = d.proc.pid!;
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { mounts, netns, veths, cgroups, conmons, fds, rssKiB };
}

export interface RawResponse { status: number; headers: Record<string, string | string[] | undefined>; body: string; timedOut?: boolean }

/**
 * One request on its own connection. Resolves with the status and up to `maxBody` bytes of the
 * body; a streaming answer (events, follow, wait) is cut once its headers are seen when
 * `headersOnly`. Fails after `timeoutMs` without any answer: that is a hang.
 */
export function rawRequest(socket: string, method: string, path: string, opts: {
  body?: string | Buffer | (() => AsyncIterable<Buffer>);
  headers?: Record<string, string>;
  timeoutMs?: number;
  headersOnly?: boolean;
  maxBody?: number;
} = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void) => { if (!done) { done = true; clearTimeout(timer); fn(); } };
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) headers['Content-Length'] ??= String(Buffer.byteLength(opts.body));
    const req = request({ socketPath: socket, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const out = () => ({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() });
      if (opts.headersOnly && (res.statusCode ?? 0) < 300) { finish(() => resolve(out())); req.destroy(); return; }
      res.on('data', (b: Buffer) => {
        if (size < (opts.maxBody ?? 1 << 20)) { chunks.push(b); size += b.length; }
        else { finish(() => resolve(out())); req.destroy(); }
      });
      res.on('end', () => finish(() => resolve(out())));
      res.on('error', () => finish(() => resolve(out())));
      res.on('close', () => finish(() => resolve(out())));
    });
    const timer = setTimeout(() => finish(() => { req.destroy(); reject(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 20_000} ms`)); }), opts.timeoutMs ?? 20_000);
    // A server that answers (and closes) before the whole body went out is fine: its answer is what counts.
    req.on('error', (e) => setTimeout(() => finish(() => reject(new Error(`${method} ${path}: ${e.message}`))), 200));
    const b = opts.body;
    if (typeof b === 'function') {
      void (async () => {
        try {
          for await (const chunk of b()) {
            if (done || req.destroyed) return;
            if (!req.write(chunk)) {
              await new Promise<void>((r) => {
                const go = () => { req.off('drain', go); req.off('close', go); r(); };
                req.on('drain', go);
                req.on('close', go);
              });
            }
          }
          req.end();
        } catch { /* the server closed on us */ }
      })();
    } else req.end(b);
  });
}

/** A body of `size` bytes that is not JSON, sent in 1 MiB chunks. */
export function hugeBody(size: number, fill = 'x'): () => AsyncIterable<Buffer> {
  return async function* () {
    const chunk = Buffer.alloc(1 << 20, fill);
    for (let sent = 0; sent < size; sent += chunk.length) yield chunk.subarray(0, Math.min(chunk.length, size - sent));
  };
}
