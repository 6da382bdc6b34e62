/**
 * Reading conmon's k8s-file logs: `TIMESTAMP STREAM F|P TEXT` per line, where
 * `P` marks a partial line (no newline yet) and `F` a full one.
 */
import { open, stat } from 'node:fs/promises';
import { watch } from 'node:fs';

export interface LogEntry { time: string; stream: 'stdout' | 'stderr'; data: Buffer }

export function parseLogLine(line: string): LogEntry | undefined {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line.slice(b + 1, c);
  const text = line.slice(c + 1);
  return { time: line.slice(0, a), stream, data: Buffer.from(tag === 'P' ? text : `${text}\n`) };
}

/** RFC 3339 with nanoseconds in UTC, as docker prints with `logs -t`. */
export function dockerTimestamp(time: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return time;
  const frac = (m[2] ?? '.0').slice(1).padEnd(9, '0').slice(0, 9);
  const base = new Date(`${m[1]}${m[3]}`);
  return `${base.toISOString().slice(0, 19)}.${frac}Z`;
}

export interface ReadLogsOptions {
  follow: boolean;
  tail?: number;           // undefined = all
  since?: number;          // unix seconds
  until?: number;
  /** Resolves when following should stop (the container exited). */
  stopped: () => Promise<void>;
  signal: AbortSignal;
}

/** Streams entries of a log file, optionally following it until the container stops. */
export async function* readLogs(path: string, opts: ReadLogsOptions): AsyncGenerator<LogEntry> {
  const exists = await stat(path).then(() => true, () => false);
  if (!exists && !opts.follow) return;
  const fh = exists ? await open(path, 'r') : undefined;
  let offset = 0;
  let carry = '';
  const filter = (e: LogEntry) => {
    const t = Date.parse(e.time) / 1000;
    return (opts.since === undefined || t >= opts.since) && (opts.until === undefined || t <= opts.until);
  };
  const readMore = async (): Promise<LogEntry[]> => {
    if (!fh) return [];
    const out: LogEntry[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (!bytesRead) break;
      offset += bytesRead;
      const text = carry + buf.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      for (const l of lines) {
        const e = parseLogLine(l);
        if (e && filter(e)) out.push(e);
      }
    }
    return out;
  };
  try {
    let first = await readMore();
    if (opts.tail !== undefined && opts.tail >= 0) first = opts.tail === 0 ? [] : first.slice(-opts.tail);
    for (const e of first) yield e;
    if (!opts.follow || !fh) return;
    let done = false;
    void opts.stopped().then(() => { done = true; wake(); });
    let wake: () => void = () => {};
    const watcher = watch(path, () => wake());
    const abort = () => { done = true; wake(); };
    opts.signal.addEventListener('abort', abort);
    try {
      while (!opts.signal.aborted) {
        for (const e of await readMore()) yield e;
        if (done) {
          // Drain whatever conmon wrote just before the exit was noticed.
          for (const e of await readMore()) yield e;
          return;
        }
        await new Promise<void>((r) => { wake = r; setTimeout(r, 250); });
      }
    } finally {
      watcher.close();
      opts.signal.removeEventListener('abort', abort);
    }
  } finally {
    await fh?.close();
  }
}
