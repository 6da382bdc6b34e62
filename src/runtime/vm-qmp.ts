/**
 * QEMU's machine protocol (QMP) on a VM's monitor socket: one JSON object per line; a greeting,
 * `qmp_capabilities`, then commands, each answered by `return` or `error`, with `event` lines in
 * between. berth uses it to plug the exec slots' ports into a running VM: plugged at boot, their
 * sixteen ports cost a TCG boot about half a second of guest time.
 */
import { createConnection, type Socket } from 'node:net';
import { SystemError } from '../errors/index.js';

export class Qmp {
  private buf = '';
  private readonly waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private failure?: Error;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (line) this.answer(line);
      }
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const w of this.waiting.splice(0)) w.reject(this.failure);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new SystemError('QEMU closed its monitor socket')));
  }

  /** Connects and leaves capabilities negotiation mode; the greeting is the first answer waited for. */
  static async open(path: string, timeoutMs: number): Promise<Qmp> {
    const sock = createConnection(path);
    sock.setTimeout(timeoutMs, () => sock.destroy(new SystemError(`QEMU's monitor did not answer within ${timeoutMs} ms`)));
    const qmp = new Qmp(sock);
    try {
      await qmp.next();
      await qmp.execute('qmp_capabilities');
    } catch (e) {
      qmp.close(); // the monitor serves one client: do not keep it
      throw e;
    }
    return qmp;
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    return this.next();
  }

  close(): void {
    this.sock.destroy();
  }

  private next(): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private answer(line: string): void {
    let msg: { QMP?: unknown; return?: unknown; error?: { desc?: string }; event?: string };
    try { msg = JSON.parse(line) as typeof msg; } catch { return; }
    if (msg.event) return;
    const w = this.waiting.shift();
    if (!w) return;
    if (msg.error) w.reject(new SystemError(`QEMU: ${msg.error.desc ?? 'command failed'}`));
    else w.resolve(msg.QMP ?? msg.return);
  }
}
