/**
 * The host's side of the guest init's control protocol (see vm-guest.ts): requests go into the
 * bundle's `ctl` FIFO (QEMU's `pipe` chardev of the berth.ctl port), answers come back as lines
 * in the bundle's `status` file (the berth.status port): `ack SEQ` for every request served,
 * `x SEQ CODE` when an exec ended. And `exec`'s stdio: each exec slot is four virtio ports whose
 * chardevs are Unix sockets QEMU listens on (in, out, err; tty is a virtconsole, /dev/hvcN).
 */
import { constants, watch, type FSWatcher } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { HeldOutput } from './held-output.js';
import type { AttachConnection } from './types.js';

/** Writes one line to a FIFO without blocking: false when nobody reads it. */
export async function toFifo(path: string, line: string): Promise<boolean> {
  const fh = await open(path, constants.O_WRONLY | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENXIO' || e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!fh) return false;
  try { await fh.write(`${line}\n`); } finally { await fh.close(); }
  return true;
}

let lastSeq = 0;
/** Sequence numbers that keep growing across daemon restarts (the guest drops a number it has seen). */
export function nextSeq(): number {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
  return lastSeq;
}

/**
 * Waits until the status file has a line matching `re`; resolves with the match, or undefined when
 * `timeoutMs` passed or `gone()` says the VM is gone. Watches the file (inotify) and also looks every
 * `pollMs`, since a watch can miss a file that is recreated.
 */
export function waitStatus(bundle: string, re: RegExp, opts: { timeoutMs?: number; pollMs?: number; gone?: () => Promise<boolean> } = {}): Promise<RegExpMatchArray | undefined> {
  const file = join(bundle, 'status');
  return new Promise((resolve) => {
    let done = false;
    let watcher: FSWatcher | undefined;
    let checking = false;
    const finish = (m: RegExpMatchArray | undefined) => {
      if (done) return;
      done = true;
      watcher?.close();
      clearInterval(timer);
      if (deadline) clearTimeout(deadline);
      resolve(m);
    };
    const check = async () => {
      if (done || checking) return;
      checking = true;
      try {
        const text = await readFile(file, 'utf8').catch(() => '');
        const m = text.match(re);
        if (m) return finish(m);
        if (opts.gone && await opts.gone()) {
          // One more look: the line may have been written just before the VM went.
          const again = (await readFile(file, 'utf8').catch(() => '')).match(re);
          finish(again ?? undefined);
        }
      } finally { checking = false; }
    };
    try { watcher = watch(file, () => void check()); } catch { /* no file yet: the poll covers it */ }
    const timer = setInterval(() => void check(), opts.pollMs ?? 500);
    const deadline = opts.timeoutMs ? setTimeout(() => finish(undefined), opts.timeoutMs) : undefined;
    void check();
  });
}

function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

/** One exec's stdio: the slot's sockets, framed as the runtime interface wants (stream 1 or 2). */
export class SlotConnection extends HeldOutput implements AttachConnection {
  private inputEnded = false;
  private closed = false;
  /** The client went: output is still read (the guest's writes wait for the host) but dropped. */
  private detached = false;
  lastData = Date.now();

  private constructor(private readonly input: Socket, private readonly outputs: [1 | 2, Socket][]) {
    super();
    for (const [stream, s] of outputs) {
      s.on('data', (b: Buffer) => {
        this.lastData = Date.now();
        if (!this.detached) this.deliver(stream, b);
      });
      s.on('error', () => { /* the VM went; the exit says what happened */ });
    }
    input.on('error', () => {});
  }

  /** Connects to the slot's sockets: a TTY session has one (the console), else in, out and err. */
  static async open(dir: string, slot: number, tty: boolean): Promise<SlotConnection> {
    if (tty) {
      const t = await connectUnix(join(dir, `${slot}t`));
      return new SlotConnection(t, [[1, t]]);
    }
    const [i, o, e] = await Promise.all(['i', 'o', 'e'].map((k) => connectUnix(join(dir, `${slot}${k}`))));
    return new SlotConnection(i!, [[1, o!], [2, e!]]);
  }

  /** The protocol's first line on the input: the guest starts the process only once it has read it. */
  hello(seq: number): void {
    this.input.write(`go ${seq}\n`);
  }

  write(data: Buffer): void {
    if (this.inputEnded || this.closed) return;
    this.input.write(data);
  }

  endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    // A half-close: QEMU sees EOF on the socket and the guest's read of the port returns 0. A TTY has no EOF to give.
    if (this.outputs[0]![1] !== this.input) this.input.end();
  }

  /** The process exited and its output was read: tell the listeners, let go of the sockets. */
  finish(): void {
    if (this.closed) return;
    this.endOutput(this.detached);
    this.closed = true;
    this.input.destroy();
    for (const [, s] of this.outputs) s.destroy();
  }

  close(): void {
    this.detached = true;
    this.dropHeld();
    this.endInput();
  }
}
