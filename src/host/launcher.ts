/**
 * Short host commands (mount, umount, ip, runc, the CNI plugins) started by a shell the daemon keeps running,
 * not by the daemon itself. Node starts a child with fork(), which copies the page tables of the whole
 * process: about 2.5 ms of a 70 MB daemon's event loop per command, and a `run --rm` runs ten or so. The
 * shell (dash: 2.6 MB) forks in a tenth of that, beside the event loop instead of on it.
 *
 * The protocol is one line per command on the shell's stdin: a background subshell that sets the command's
 * environment and directory, runs it with its stdin, stdout and stderr on files in a private directory, and
 * writes `ID STATUS` on the shell's stdout. Every argument is single-quoted, so nothing in one is read by the shell.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface LaunchResult {
  /** The exit status; a signal's is 128 + its number, as a shell reports it. */
  code: number;
  stdout: string;
  stderr: string;
}

/** The program, or the directory to run it in, is not there: what spawn reports as ENOENT. */
export class NotFound extends Error {}

/** The shell was gone before it could start the command: the caller may start it another way. */
export class Stopped extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CLOSE_FDS_THEN_SH = 'for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null; fi; done; exec /bin/sh -s';
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

let instances = 0;

export class Launcher {
  private readonly shell: ChildProcess;
  private readonly base: NodeJS.ProcessEnv;
  private readonly prefix: string;
  private readonly pending = new Map<string, (status: string | undefined) => void>();
  private next = 0;
  private exited = false;

  /** `dir` must exist; the launcher's files there carry its own prefix, so a successor can share it. */
  constructor(private readonly dir: string) {
    this.prefix = `${process.pid}.${++instances}.`;
    this.base = { ...process.env };
    // Its own process group: a Ctrl-C meant for a daemon in the foreground must not kill the commands its shutdown runs.
    // bash first closes every descriptor above stderr (dash cannot name those above 9): what the daemon holds
    // without close-on-exec (node-unix-socket's attach sockets) must not pass on to runc and the rest.
    this.shell = spawn('/bin/bash', ['-c', CLOSE_FDS_THEN_SH], { stdio: ['pipe', 'pipe', 'ignore'], env: this.base, detached: true });
    this.shell.stdin!.on('error', () => {});
    this.shell.on('exit', () => { this.exited = true; });
    createInterface({ input: this.shell.stdout! }).on('line', (line) => {
      const [id = '', status] = line.split(' ');
      this.pending.get(id)?.(status);
      this.pending.delete(id);
    });
    // The commands it had started still report (they hold the pipe); once the last is gone, what still waits never ends.
    this.shell.stdout!.on('close', () => {
      this.exited = true;
      for (const done of this.pending.values()) done(undefined);
      this.pending.clear();
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /**
   * Whether a command with this environment can go through the shell: it can set and unset only variables
   * whose names are shell words, so an environment that differs from the daemon's in another name cannot.
   */
  canRun(env: NodeJS.ProcessEnv): boolean {
    for (const k of new Set([...Object.keys(this.base), ...Object.keys(env)])) {
      if (this.base[k] !== env[k] && !NAME.test(k)) return false;
    }
    return true;
  }

  async run(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string | Buffer }): Promise<LaunchResult> {
    if (this.exited) throw new Stopped('the command launcher has stopped');
    if ([cmd, ...args, opts.cwd ?? ''].some((a) => a.includes('\0'))) throw new TypeError('an argument contains a NUL byte');
    const id = String(++this.next);
    const file = join(this.dir, `${this.prefix}${id}`);
    const setEnv: string[] = [];
    for (const k of Object.keys(this.base)) if (opts.env[k] === undefined) setEnv.push(`unset ${k};`);
    for (const [k, v] of Object.entries(opts.env)) if (v !== undefined && this.base[k] !== v) setEnv.push(`export ${k}=${quote(v)};`);
    const input = opts.input !== undefined && opts.input.length ? `${file}.i` : '/dev/null';
    if (input !== '/dev/null') await writeFile(input, opts.input!);
    const cd = opts.cwd ? `if ! cd ${quote(opts.cwd)} 2>/dev/null; then echo "${id} d"; exit; fi; ` : '';
    const argv = [cmd, ...args].map(quote).join(' ');
    // `command -v` is a built-in: a missing program is told apart from one that exits 127 without a fork.
    const line = `( ${setEnv.join(' ')} ${cd}if command -v ${quote(cmd)} >/dev/null; then ${argv} <${input} >${file}.o 2>${file}.e; echo "${id} $?"; else echo "${id} x"; fi ) &\n`;
    const status = await new Promise<string | undefined>((resolve) => {
      this.pending.set(id, resolve);
      this.shell.stdin!.write(line);
    });
    try {
      if (status === undefined) throw new Stopped('the command launcher has stopped');
      if (status === 'x') throw new NotFound(`spawn ${cmd} ENOENT`);
      if (status === 'd') throw new NotFound(`spawn ${cmd} ENOENT (no directory ${opts.cwd})`);
      const [stdout, stderr] = await Promise.all([readFile(`${file}.o`, 'utf8').catch(() => ''), readFile(`${file}.e`, 'utf8').catch(() => '')]);
      return { code: Number(status), stdout, stderr };
    } finally {
      await Promise.all(['o', 'e', 'i'].map((x) => rm(`${file}.${x}`, { force: true })));
    }
  }

  /** Ends the shell, once the commands it started have finished. */
  close(): void {
    this.shell.stdin!.end();
  }
}
