/**
 * `exec` under conmon, as podman does it: `conmon --exec --exec-process-spec`,
 * which runs `runc exec` and holds the process's stdio like the container's.
 *
 * Three pipes order the start so no output is lost:
 *   start (fd 4)  we write once to let conmon go on, and, with --exec-attach,
 *                 a second time after we connected to its attach socket;
 *   attach (fd 5) conmon says when that socket is listening;
 *   sync (fd 3)   conmon reports the PID (or runc's error), then the exit code.
 */
import { withOnlyFds } from './close-fds.js';
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { InvalidParameterError } from '../errors/index.js';
import type { AttachConnection, ExecHandle, ExecOptions } from './types.js';

/**
 * A line to conmon's ctl FIFO. Opened without blocking: when conmon is gone (the container has just
 * exited) nothing reads the FIFO, and a blocking open would hold one of libuv's four threads for ever.
 */
export async function writeCtl(path: string, line: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_NONBLOCK);
    await fh.write(line);
  } catch { /* no reader: nothing to resize */ } finally { await fh?.close().catch(() => {}); }
}

export interface ExecPaths {
  conmon: string;
  runc: string;
  runcRoot: string;
  /** Per-exec working directory: process.json, pidfile, exit dir, conmon's FIFOs. */
  dir: string;
  /** conmon's socket dir; the attach socket is <socks>/<execId[:12]>/attach. */
  socks: string;
  /** A short TMPDIR for conmon's console socket, which must fit in 108 bytes. */
  tmp: string;
}

/** Docker's wording and exit code for an exec that could not start. */
export class ExecStartError extends InvalidParameterError {
  constructor(message: string, readonly exitCode: number) { super(message); }
}

/** Reads the newline-separated JSON messages conmon writes on a sync pipe. */
function messages(stream: Readable): () => Promise<{ data?: number; message?: string } | undefined> {
  let buf = '';
  const queue: ({ data?: number; message?: string } | undefined)[] = [];
  const waiters: ((m: { data?: number; message?: string } | undefined) => void)[] = [];
  let ended = false;
  const push = (m: { data?: number; message?: string } | undefined) => {
    const w = waiters.shift();
    if (w) w(m); else queue.push(m);
  };
  stream.on('data', (b: Buffer) => {
    buf += b.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try { push(JSON.parse(line) as { data?: number; message?: string }); } catch { /* not a message */ }
    }
  });
  const end = () => { if (!ended) { ended = true; while (waiters.length) waiters.shift()!(undefined); } };
  stream.on('end', end);
  stream.on('error', end);
  stream.on('close', end);
  return () => (queue.length ? Promise.resolve(queue.shift()) : ended ? Promise.resolve(undefined) : new Promise((r) => waiters.push(r)));
}

export async function conmonExec(
  p: ExecPaths, containerId: string, execId: string, opts: ExecOptions,
  connect: (path: string) => Promise<AttachConnection>,
): Promise<ExecHandle> {
  await rm(p.dir, { recursive: true, force: true });
  await mkdir(join(p.dir, 'exits'), { recursive: true });
  await mkdir(p.tmp, { recursive: true });
  const spec = join(p.dir, 'process.json');
  await writeFile(spec, JSON.stringify(opts.process));
  const short = execId.slice(0, 12);
  const args = [
    '--api-version', '1', '-c', containerId, '-u', short, '-r', p.runc, '-b', p.dir,
    '-p', join(p.dir, 'pidfile'), '-n', `exec-${short}`, '--exit-dir', join(p.dir, 'exits'), '-l', 'none',
    '--socket-dir-path', p.socks, '--runtime-arg', `--root=${p.runcRoot}`,
    '-e', '--exec-process-spec', spec, ...(opts.attach ? ['--exec-attach'] : []),
    ...(opts.stdin ? ['-i'] : []), ...(opts.terminal ? ['-t'] : []),
  ];
  const child = spawn(...withOnlyFds(5, p.conmon, args), {
    detached: true,
    cwd: p.dir, // conmon may write an `oom` file into its working directory
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5', TMPDIR: p.tmp },
  });
  const stderr: Buffer[] = [];
  child.stderr!.on('data', (b: Buffer) => stderr.push(b));
  child.stdout!.resume();
  const sync = messages(child.stdio[3] as Readable);
  const attachPipe = messages((child.stdio as unknown as Readable[])[5]!);
  const start = child.stdio[4] as Writable;
  const release = () => {
    for (const i of [3, 4, 5]) (child.stdio[i] as unknown as { destroy(): void }).destroy();
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
  };
  start.write('0');
  let connection: AttachConnection | undefined;
  if (opts.attach) {
    const ready = await attachPipe();
    if (!ready) {
      release();
      throw new ExecStartError(`conmon could not set up the exec session: ${Buffer.concat(stderr).toString().trim() || 'unknown error'}`, 126);
    }
    connection = await connect(join(p.socks, short, 'attach'));
    if (opts.terminal && opts.consoleSize && opts.consoleSize[0] > 0) {
      await writeCtl(join(p.dir, 'ctl'), `1 ${opts.consoleSize[0]} ${opts.consoleSize[1]}\n`);
    }
    start.write('0');
  }
  const first = await sync();
  if (!first || typeof first.data !== 'number' || first.data <= 0) {
    connection?.close();
    release();
    const raw = (first?.message ?? Buffer.concat(stderr).toString()).trim();
    // runc writes logrus text here: time="…" level=error msg="exec failed: …"
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(raw);
    const detail = (m ? (JSON.parse(`"${m[1]}"`) as string) : raw) || 'exec failed';
    const code = /executable file not found|no such file or directory/.test(detail) ? 127 : /permission denied/.test(detail) ? 126 : 126;
    throw new ExecStartError(`OCI runtime exec failed: ${detail.replace(/^runc exec failed: /, 'exec failed: ')}: unknown`, code);
  }
  const exited = sync().then((m) => {
    release();
    return typeof m?.data === 'number' ? m.data : 255;
  });
  return {
    pid: first.data,
    connection,
    exited,
    resize: async (h, w) => { await writeCtl(join(p.dir, 'ctl'), `1 ${h} ${w}\n`); },
  };
}
