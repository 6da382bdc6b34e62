/**
 * The client side of attach: stdin to the container, its output to ours,
 * raw mode and resizes for a TTY, and Ctrl-C forwarded as a signal otherwise.
 */
import type { Duplex } from 'node:stream';
import { Demuxer } from '../api/index.js';
import { childProcess } from './builtins.js';
import type { Client } from './client.js';
import { ExitError } from './context.js';

export interface AttachOptions {
  tty: boolean;
  stdin: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Where terminal size changes go; the container's resize endpoint by default. */
  resizePath?: string;
  /** Forward the CLI's signals to the container (docker's sig-proxy); not for exec. */
  proxySignals?: boolean;
  /** With a TTY, the key sequence that detaches and leaves the container running. */
  detachKeys?: string;
}

/** The docker CLI's check before it attaches a terminal: the input must be one (`-it` with a pipe or file is refused). */
export function checkTty(stdin: boolean, tty: boolean): void {
  if (tty && stdin && !process.stdin.isTTY) throw new ExitError(1, 'the input device is not a TTY');
}

export async function openAttach(client: Client, id: string, o: AttachOptions): Promise<Duplex> {
  return client.hijack(`/containers/${id}/attach`, { stream: 1, stdin: o.stdin ? 1 : 0, stdout: o.stdout ?? true ? 1 : 0, stderr: o.stderr ?? true ? 1 : 0 });
}

/** Pumps the streams until the container's output ends. */
/** `ctrl-p,ctrl-q` (docker's default) as bytes. */
export function detachSequence(spec = 'ctrl-p,ctrl-q'): number[] {
  return spec.split(',').map((k) => {
    const m = /^ctrl-([a-z@\[\\\]^_])$/i.exec(k.trim());
    if (m) return m[1]!.toLowerCase().charCodeAt(0) & 0x1f;
    if (k.trim().length === 1) return k.trim().charCodeAt(0);
    throw new Error(`invalid detach key: ${k}`);
  });
}

/** Pumps the streams until the container's output ends; resolves true when the user detached instead. */
export function pumpAttach(client: Client, id: string, sock: Duplex, o: AttachOptions): Promise<boolean> {
  // process.stdin is made on first use, and for a file or /dev/null that loads fs streams (about 3 ms): only with -i.
  const stdin = o.stdin ? process.stdin : undefined;
  const raw = o.tty && stdin?.isTTY;
  const cleanups: (() => void)[] = [];
  if (raw) {
    // libuv's raw mode keeps ONLCR, so the container's CRLF would become CR CR LF; docker clears OPOST too.
    const { spawnSync } = childProcess();
    const saved = spawnSync('stty', ['-g'], { stdio: ['inherit', 'pipe', 'ignore'] }).stdout?.toString().trim();
    stdin!.setRawMode(true);
    spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
    cleanups.push(() => {
      stdin!.setRawMode(false);
      if (saved) spawnSync('stty', [saved], { stdio: ['inherit', 'ignore', 'ignore'] });
    });
  }
  if (o.tty && process.stdout.isTTY) {
    const resize = () => {
      void client.call('POST', o.resizePath ?? `/containers/${id}/resize`, { query: { h: process.stdout.rows, w: process.stdout.columns } }).catch(() => {});
    };
    resize();
    process.stdout.on('resize', resize);
    cleanups.push(() => process.stdout.off('resize', resize));
  }
  if (!o.tty && o.proxySignals !== false) {
    // docker's sig-proxy: signals to the CLI go to the container.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
      const h = () => { void client.call('POST', `/containers/${id}/kill`, { query: { signal: sig } }).catch(() => {}); };
      process.on(sig, h);
      cleanups.push(() => process.off(sig, h));
    }
  }
  let detached = false;
  if (stdin) {
    const keys = o.tty ? detachSequence(o.detachKeys) : undefined;
    let matched = 0;
    stdin.on('data', (b: Buffer) => {
      if (!keys) { sock.write(b); return; }
      // docker's escape proxy: the detach sequence is held back while it may still match, and ends the attach when it does.
      const out: number[] = [];
      for (const byte of b) {
        if (byte === keys[matched]) {
          matched++;
          if (matched === keys.length) { detached = true; sock.destroy(); return; }
          continue;
        }
        if (matched) { out.push(...keys.slice(0, matched)); matched = 0; }
        if (byte === keys[0]) matched = 1; else out.push(byte);
      }
      if (out.length) sock.write(Buffer.from(out));
    });
    stdin.on('end', () => sock.end());
    stdin.resume();
    cleanups.push(() => { stdin.pause(); stdin.removeAllListeners('data'); stdin.unref?.(); });
  }
  const demux = new Demuxer((stream, payload) => (stream === 2 ? process.stderr : process.stdout).write(payload));
  sock.on('data', (b: Buffer) => (o.tty ? process.stdout.write(b) : demux.push(b)));
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      for (const c of cleanups) c();
      resolve(detached);
    };
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', finish);
  });
}

/**
 * docker's foreground flow: attach and register the wait (both before start, so neither output nor
 * the exit can slip past), start, pump the streams, and resolve with the exit code. A failed start
 * rejects with the daemon's error after the streams are released.
 */
export async function startAttached(client: Client, id: string, o: AttachOptions & { condition: 'next-exit' | 'removed' }): Promise<number> {
  const [sock, waitRes] = await Promise.all([
    openAttach(client, id, o),
    client.raw('POST', `/containers/${id}/wait`, { query: { condition: o.condition } }),
  ]);
  const status = (async () => {
    const chunks: Buffer[] = [];
    for await (const c of waitRes) chunks.push(c as Buffer);
    return (JSON.parse(Buffer.concat(chunks).toString()) as { StatusCode: number }).StatusCode;
  })();
  const pumped = pumpAttach(client, id, sock, o);
  try {
    await client.call('POST', `/containers/${id}/start`);
  } catch (e) {
    sock.destroy();
    waitRes.destroy();
    if (o.stdin) process.stdin.pause();
    status.catch(() => {});
    throw e;
  }
  if (await pumped) {
    waitRes.destroy();
    status.catch(() => {});
    return DETACHED;
  }
  return status;
}

/** What startAttached returns when the user detached: the CLI exits 0 and the container keeps running. */
export const DETACHED = -1;
