/**
 * Hijacked attach streams: after `101 UPGRADED` the HTTP connection carries
 * the container's stdio, raw for a TTY and in 8-byte-header frames otherwise.
 * Input that arrives before the container starts is held until it does.
 */
import type { Duplex } from 'node:stream';
import type { AttachConnection } from '../runtime/index.js';
import { frame } from './stdcopy.js';

export interface AttachFlags { stdin: boolean; stdout: boolean; stderr: boolean }

export function upgradeHeader(tty: boolean, upgraded: boolean): string {
  const type = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  return upgraded
    ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`
    : `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\n\r\n`;
}

export function pipeAttach(
  sock: Duplex,
  head: Buffer,
  tty: boolean,
  connection: Promise<AttachConnection>,
  flags: AttachFlags,
): void {
  const pending: Buffer[] = head.length ? [head] : [];
  let inputEnded = false;
  let conn: AttachConnection | undefined;
  let closed = false;

  sock.on('data', (b: Buffer) => {
    if (!flags.stdin) return;
    if (conn) conn.write(b); else pending.push(b);
  });
  sock.on('end', () => {
    inputEnded = true;
    if (flags.stdin) conn?.endInput();
  });
  sock.on('error', () => { closed = true; conn?.close(); });
  sock.on('close', () => { closed = true; conn?.close(); });
  sock.resume(); // a caller may have paused it to hold early input until these listeners were on

  connection.then((c) => {
    if (closed) { c.close(); return; }
    conn = c;
    c.on('data', (stream, chunk) => {
      if (stream === 1 && !flags.stdout) return;
      if (stream === 2 && !flags.stderr) return;
      if (!sock.writable) return;
      sock.write(tty ? chunk : frame(stream, chunk));
    });
    c.on('end', () => { if (!closed) sock.end(); });
    c.on('error', () => { if (!closed) sock.end(); });
    if (flags.stdin) {
      for (const b of pending.splice(0)) c.write(b);
      if (inputEnded) c.endInput();
    }
  }, () => sock.end());
}
