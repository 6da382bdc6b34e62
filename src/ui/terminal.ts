/**
 * The dashboard's terminal: a WebSocket (RFC 6455, through the `ws` library) to an exec with a TTY in a
 * running container, made through the containers part's exec sessions, as `docker exec -it` is.
 *
 * Browsers cannot put headers on a WebSocket, so the page offers the per-daemon token as a second
 * subprotocol (`berth.token.<hex>`), next to `berth.exec`; only `berth.exec` is echoed back. The Host and
 * Origin checks are the rest of the dashboard's (see server.ts), and an upgrade without an Origin is
 * refused too: every browser sends one on a WebSocket.
 *
 * Frames, both ways: binary ones are the terminal's bytes (keys in, output out); text ones are JSON control
 * messages. In: `{"type":"resize","cols","rows"}`. Out: `{"type":"ready","exec"}` once the process runs,
 * `{"type":"exit","code"}` when it ended, `{"type":"error","message"}` when it could not start.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ContainerService } from '../containers/index.js';

export const TERMINAL_PATH = '/ws/exec';
export const TERMINAL_PROTOCOL = 'berth.exec';
export const TOKEN_PROTOCOL_PREFIX = 'berth.token.';
/** Output bytes a page may leave unread before its terminal is closed. */
const MAX_BUFFERED = 16 << 20;

/** What the terminal needs of the containers part: its exec sessions, and which runtime a container is under. */
export interface ExecBackend {
  execs: Pick<ContainerService['execs'], 'create' | 'start' | 'resize' | 'inspect' | 'exited'>;
  get(ref: string): { HostConfig: { Runtime?: string } };
}

/** The token the page offered as a subprotocol, if any. */
export function tokenFromProtocols(header: string | undefined): string | undefined {
  for (const p of (header ?? '').split(',')) {
    const t = p.trim();
    if (t.startsWith(TOKEN_PROTOCOL_PREFIX)) return t.slice(TOKEN_PROTOCOL_PREFIX.length);
  }
  return undefined;
}

export interface TerminalRequest { container: string; cmd: string[]; cols: number; rows: number }

/** `?container=ID&cmd=sh&cols=80&rows=24` (cmd repeated for each argument); a string saying why when malformed. */
export function parseTerminalQuery(search: URLSearchParams): TerminalRequest | string {
  const container = search.get('container') ?? '';
  if (!container) return 'no container given';
  const cmd = search.getAll('cmd').filter((a) => a !== '');
  const size = (name: string, dflt: number) => {
    const v = search.get(name);
    if (v === null) return dflt;
    const n = Number(v);
    return Number.isInteger(n) && n > 0 && n <= 1000 ? n : NaN;
  };
  const cols = size('cols', 80);
  const rows = size('rows', 24);
  if (Number.isNaN(cols) || Number.isNaN(rows)) return 'cols and rows must be whole numbers from 1 to 1000';
  return { container, cmd: cmd.length ? cmd : ['sh'], cols, rows };
}

export class Terminals {
  private readonly wss = new WebSocketServer({
    noServer: true,
    // Keystrokes and resizes are small; a paste is the biggest thing a page sends.
    maxPayload: 1 << 20,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(TERMINAL_PROTOCOL) ? TERMINAL_PROTOCOL : false),
  });
  private readonly open = new Set<WebSocket>();

  constructor(private readonly log: (msg: string) => void) {}

  /** Takes over an upgrade that passed the dashboard's checks. */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer, backend: ExecBackend, want: TerminalRequest): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.open.add(ws);
      ws.on('close', () => this.open.delete(ws));
      void this.run(ws, backend, want);
    });
  }

  private async run(ws: WebSocket, containers: ExecBackend, want: TerminalRequest): Promise<void> {
    const backend = containers.execs;
    const send = (msg: Record<string, unknown>) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg)); };
    // Keys typed before the process is up wait for it.
    const early: { data: RawData; binary: boolean }[] = [];
    let onMessage = (data: RawData, binary: boolean) => { early.push({ data, binary }); };
    ws.on('message', (data, binary) => onMessage(data, binary));
    let closed = false;
    ws.on('close', () => { closed = true; });
    ws.on('error', () => ws.terminate());

    let execId: string;
    let conn;
    try {
      execId = backend.create(want.container, {
        AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Cmd: want.cmd,
        Env: ['TERM=xterm-256color'], ConsoleSize: [want.rows, want.cols],
      }).Id;
      conn = await backend.start(execId, { detach: false, tty: true, consoleSize: [want.rows, want.cols] });
      if (!conn) throw new Error('the exec has no connection');
    } catch (e) {
      send({ type: 'error', message: (e as Error).message });
      ws.close(1000);
      return;
    }
    const c = conn;
    const hangUp = () => {
      c.endInput();
      c.close();
      // A closed terminal window hangs up its shell. Under runc the exec's PID is a host process, so it gets the
      // SIGHUP a real terminal's hang-up sends; a VM's exec (its PID is QEMU's) only loses its input.
      try {
        const s = backend.inspect(execId);
        if (s.Running && s.Pid > 0 && (containers.get(s.ContainerID).HostConfig.Runtime || 'oci') === 'oci') process.kill(s.Pid, 'SIGHUP');
      } catch { /* it ended, or its container went, meanwhile */ }
    };
    if (closed) { hangUp(); return; }
    this.log(`dashboard: terminal ${execId.slice(0, 12)} opened in ${want.container.slice(0, 12)} (${want.cmd.join(' ')})`);
    send({ type: 'ready', exec: execId });

    onMessage = (data, binary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (binary) { c.write(bytes); return; }
      let msg: { type?: string; cols?: unknown; rows?: unknown };
      try { msg = JSON.parse(bytes.toString()) as typeof msg; } catch { return; }
      if (msg.type === 'resize' && Number.isInteger(msg.cols) && Number.isInteger(msg.rows) && (msg.cols as number) > 0 && (msg.rows as number) > 0) {
        backend.resize(execId, Math.min(msg.rows as number, 1000), Math.min(msg.cols as number, 1000)).catch(() => { /* it exited meanwhile */ });
      }
    };
    for (const m of early.splice(0)) onMessage(m.data, m.binary);

    c.on('data', (_stream, chunk) => {
      if (ws.readyState !== ws.OPEN) return;
      // The exec's output cannot be paused here, so a page that stops reading (a frozen tab under `yes`) must
      // not make the daemon hold it all: past a bound, the terminal closes and the shell is hung up.
      if (ws.bufferedAmount > MAX_BUFFERED) {
        send({ type: 'error', message: 'the page fell too far behind the output; the terminal was closed' });
        ws.close(1008);
        return;
      }
      ws.send(chunk, { binary: true });
    });
    const ended = () => {
      void backend.exited(execId).then((code) => {
        send({ type: 'exit', code });
        ws.close(1000);
      }, () => ws.close(1000));
    };
    c.on('end', ended);
    c.on('error', ended);
    ws.on('close', () => {
      // The page went away with the shell still running.
      let running = false;
      try { running = backend.inspect(execId).Running; } catch { /* forgotten with its container */ }
      if (running) hangUp();
    });
  }

  /** Closes every open terminal (the daemon is stopping); their processes get EOF on their input. */
  close(): void {
    for (const ws of this.open) ws.terminate();
    this.wss.close();
  }
}
