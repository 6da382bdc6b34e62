/**
 * Host programs whose output is the product (a tar stream from `tar`), as
 * opposed to `run`, which collects output to report it.
 */
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { SystemError } from '../errors/index.js';

export interface StreamOptions {
  /** Exit codes that still mean a complete output (GNU tar exits 1 when a file changed while it read it). */
  okCodes?: number[];
  /** Written to the program's standard input, which is then closed (a list of names for `tar -T -`). */
  input?: Buffer;
}

/**
 * Starts `cmd` and resolves with its stdout once the output begins, or
 * rejects with its stderr if it fails before writing anything, so a caller
 * can still answer with an error instead of an empty stream. A failure later
 * destroys the stream with the error; destroying the stream kills the program.
 */
export function runStream(cmd: string, args: string[], opts: StreamOptions = {}): Promise<Readable> {
  const ok = opts.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    // Its own process group, so stopping it early stops the whole pipeline a shell script starts.
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    // Its input (or none: end of file at once); a program that exits without reading it all says why in its status.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);
    const out = new PassThrough();
    let started = false;
    let stderr = '';
    const failure = (code: number) => {
      const detail = stderr.trim();
      return new SystemError(`${cmd} failed (exit ${code})${detail ? `: ${detail}` : ''}`);
    };
    child.stderr.on('data', (b: Buffer) => { if (stderr.length < 64 * 1024) stderr += b.toString(); });
    child.stdout.once('data', () => { started = true; resolve(out); });
    child.stdout.pipe(out, { end: false });
    child.on('error', (e) => {
      if (started) out.destroy(new SystemError(`${cmd}: ${e.message}`));
      else reject(new SystemError(`${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      const status = code ?? (signal ? 128 : 1);
      if (ok.includes(status)) {
        out.end();
        if (!started) resolve(out);
      } else if (started) {
        out.destroy(failure(status));
      } else {
        reject(failure(status));
      }
    });
    out.on('close', () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdout.destroy();
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    });
  });
}

export interface Sink {
  /** The program's standard input. */
  stdin: NodeJS.WritableStream & { destroy(e?: Error): void };
  /** Its exit status and the start of its stderr, once it has ended (never rejects). */
  done: Promise<{ code: number; stderr: string }>;
  /** SIGKILL, when the input turned out to be bad. */
  kill(): void;
}

/**
 * Starts `cmd` with its standard input as a stream for the caller to write
 * (`tar -x` fed a verified layer), the other way round from `runStream`.
 */
export function runSink(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Sink {
  const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], env: env ?? process.env });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { if (stderr.length < 64 * 1024) stderr += b.toString(); });
  // The program may exit before it read all its input; its exit status says what went wrong.
  child.stdin.on('error', () => {});
  const done = new Promise<{ code: number; stderr: string }>((resolve) => {
    child.on('error', (e) => resolve({ code: 127, stderr: `${stderr}${cmd}: ${e.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stderr }));
  });
  return { stdin: child.stdin, done, kill: () => { try { child.kill('SIGKILL'); } catch { /* gone */ } } };
}
