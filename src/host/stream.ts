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
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
