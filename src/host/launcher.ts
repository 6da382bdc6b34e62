/**
 * Short host commands (mount, umount, ip, runc, the CNI plugins) started by a shell the daemon keeps running,
 * not by the daemon itself. Node starts a child with fork(), which copies the page tables of the whole
 * process: about 2.5 ms of a 70 MB daemon's event loop per command, and a `run --rm` runs ten or so. The
 * shell (dash: 2.6 MB) forks in a tenth of that, beside the event loop instead of on it.
 *
 * The protocol is one line per command on the shell's stdin: a background subshell that sets the command's
 * environment and directory, runs it with its stdin, stdout and stderr on files in a private directory, and
 * writes `ID STATUS FLAGS` on the shell's stdout, FLAGS naming the outputs that are not empty (`o`, `e`): most
 * commands print nothing, and the daemon reads only what there is. The files are used again by later commands
 * (the shell's `>` truncates them) rather than removed: each read, stat or unlink costs the event loop a
 * threadpool round trip, and a `run --rm` runs ten or so commands. Every argument is single-quoted, so nothing
 * in one is read by the shell.
 * One difference from spawn remains: a non-interactive shell starts background jobs with SIGINT and SIGQUIT
 * ignored, and the programs keep that. berth stops none of them with those signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { withFdsUpTo } from './only-fds.js';

/**
 * A descriptor 3-9 the command starts with, opened read-write on a file: on a FIFO, an open that never waits for
 * the other side, so a caller that let go of its end before the command started cannot leave the command hanging.
 */
export interface Redirect {
  fd: number;
  path: string;
}

/** Throws for a redirect outside descriptors 3-9 (the shell's redirections name 0-9; 0-2 are the command's stdio). */
export function checkRedirects(redirects: Redirect[]): void {
  if (redirects.some((r) => !Number.isInteger(r.fd) || r.fd < 3 || r.fd > 9)) throw new TypeError('a redirect is for descriptors 3 to 9');
}

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
/** Variables a shell gives meaning to: an environment that changes one of them is not run through it. */
const SPECIAL = new Set(['IFS', 'OPTIND', 'OPTARG', 'PPID', 'PS1', 'PS2', 'PS4', 'ENV', 'CDPATH', 'LINENO', 'MAIL', 'MAILPATH', 'HISTFILE']);
/** Variables the shells set themselves (bash's SHLVL and `_`, cd's PWD and OLDPWD): each command gets the caller's, or none. */
const SHELL_SET = ['SHLVL', 'PWD', 'OLDPWD', '_'];
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

let instances = 0;
/** Programs found on a PATH, by PATH and name; only what was found is kept, so a program installed later is seen. */
const found = new Map<string, string>();

function executableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The program's path, looked up as spawn looks it up (the command's own PATH; a name with a slash as it
 * is), or undefined. Done here, so the shell `exec`s a path: a name like `kill` or `printf` must run the
 * program, not the shell's built-in of that name.
 */
function resolveCommand(cmd: string, path: string | undefined, cwd: string): string | undefined {
  if (cmd.includes('/')) return executableFile(resolve(cwd, cmd)) ? cmd : undefined;
  const key = `${path ?? ''}\0${cmd}`;
  const hit = found.get(key);
  if (hit) return hit;
  for (const dir of (path ?? '').split(':')) {
    const p = resolve(cwd, dir || '.', cmd);
    if (executableFile(p)) {
      found.set(key, p);
      return p;
    }
  }
  return undefined;
}

export class Launcher {
  private readonly shell: ChildProcess;
  private readonly base: NodeJS.ProcessEnv;
  private readonly prefix: string;
  private readonly pending = new Map<string, (report: string[] | undefined | 'lost') => void>();
  /** Commands the shell has read (it says so before it starts them): they report even if the shell dies. */
  private readonly started = new Set<string>();
  /** Output files of commands that have reported and been read: the next command writes over them. */
  private readonly free: string[] = [];
  private files = 0;
  private next = 0;
  private done = 0;
  private exited = false;

  /**
   * `dir` must exist; the launcher's files there carry its own prefix, so a successor can share it. With
   * `nice`, the shell runs at that niceness, and so does everything it starts.
   */
  constructor(private readonly dir: string, nice = 0) {
    this.prefix = `${process.pid}.${++instances}.`;
    this.base = { ...process.env };
    // Its own process group: a Ctrl-C meant for a daemon in the foreground must not kill the commands its shutdown runs.
    // It starts with no descriptor above stderr: what the daemon holds without close-on-exec (node-unix-socket's
    // attach sockets) must not pass on to runc and the rest.
    this.shell = spawn(...withFdsUpTo(2, '/bin/sh', ['-s']), { stdio: ['pipe', 'pipe', 'ignore'], env: this.base, detached: true });
    this.shell.stdin!.on('error', () => {});
    // Before any command is written: the shell's children inherit its priority from their fork.
    if (nice && this.shell.pid !== undefined) setPriority(this.shell.pid, nice);
    this.shell.on('error', () => this.lost());
    this.shell.on('exit', () => {
      this.exited = true;
      // What it had not read yet never starts: given up once its last words (acknowledgements still in the pipe) are in.
      setTimeout(() => {
        for (const [id, done] of this.pending) if (!this.started.has(id)) { done(undefined); this.pending.delete(id); }
      }, 100).unref();
    });
    createInterface({ input: this.shell.stdout! }).on('line', (line) => {
      const [id = '', ...report] = line.split(' ');
      if (report[0] === '+') { this.started.add(id); return; }
      this.done++;
      this.started.delete(id);
      this.pending.get(id)?.(report);
      this.pending.delete(id);
    });
    // The commands it had started report even after it died (they hold the pipe, a long-lived one for as long as it
    // runs); once the last is gone, what still waits never ends.
    this.shell.stdout!.on('close', () => this.lost());
  }

  private lost(): void {
    this.exited = true;
    for (const [id, done] of this.pending) done(this.started.has(id) ? 'lost' : undefined);
    this.pending.clear();
    this.started.clear();
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Whether any command it ran has reported: a shell that dies before that is not worth starting again. */
  get useful(): boolean {
    return this.done > 0;
  }

  /** The shell's PID (tests look at its children). */
  get pid(): number | undefined {
    return this.shell.pid;
  }

  /**
   * Whether a command with this environment can go through the shell: it can set and unset only variables
   * whose names are shell words and mean nothing to the shell itself, so an environment that differs from
   * the daemon's in another name cannot.
   */
  canRun(env: NodeJS.ProcessEnv | undefined): boolean {
    if (env === undefined) return true;
    for (const k of new Set([...Object.keys(this.base), ...Object.keys(env)])) {
      if (this.base[k] !== env[k] && (!NAME.test(k) || SPECIAL.has(k))) return false;
    }
    return true;
  }

  /**
   * Runs `cmd args` as spawn would: in `cwd` with exactly `env`, `input` on its stdin. The command runs in a
   * subshell of its own, so a failure before it starts (cd, a variable the shell refuses) is its exit status
   * and stderr, never a report that does not come.
   */
  async run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string | Buffer; redirects?: Redirect[]; longLived?: boolean }): Promise<LaunchResult> {
    if (this.exited) throw new Stopped('the command launcher has stopped');
    const redirects = opts.redirects ?? [];
    checkRedirects(redirects);
    const env = opts.env ?? this.base;
    if ([cmd, ...args, opts.cwd ?? '', ...redirects.map((r) => r.path)].some((a) => a.includes('\0')) || (opts.env && Object.entries(opts.env).some(([k, v]) => k.includes('\0') || v?.includes('\0')))) {
      throw new TypeError('an argument or environment variable contains a NUL byte');
    }
    const cwd = opts.cwd ?? process.cwd();
    if (opts.cwd !== undefined && !statSync(opts.cwd, { throwIfNoEntry: false })?.isDirectory()) throw new NotFound(`spawn ${cmd} ENOENT (no directory ${opts.cwd})`);
    const program = resolveCommand(cmd, env.PATH, cwd);
    if (!program) throw new NotFound(`spawn ${cmd} ENOENT`);
    const id = String(++this.next);
    const file = this.free.pop() ?? join(this.dir, `${this.prefix}${++this.files}`);
    // No environment given: the shell's own, which is the daemon's (process.env is slow to walk: a getenv per read).
    const setEnv: string[] = [];
    if (opts.env) {
      for (const k of Object.keys(this.base)) if (opts.env[k] === undefined && !SHELL_SET.includes(k)) setEnv.push(`unset ${k};`);
      for (const [k, v] of Object.entries(opts.env)) if (v !== undefined && this.base[k] !== v && !SHELL_SET.includes(k)) setEnv.push(`export ${k}=${quote(v)};`);
    }
    for (const k of SHELL_SET) setEnv.push(env[k] === undefined ? `unset ${k};` : `export ${k}=${quote(env[k]!)};`);
    const input = opts.input !== undefined && opts.input.length ? `${file}.i` : '/dev/null';
    if (input !== '/dev/null') await writeFile(input, opts.input!);
    const cd = opts.cwd !== undefined ? `cd ${quote(opts.cwd)} || exit; ` : '';
    const argv = [program, ...args].map(quote).join(' ') + redirects.map((r) => ` ${r.fd}<>${quote(r.path)}`).join('');
    const out = quote(`${file}.o`);
    const err = quote(`${file}.e`);
    // `jobs` reaps the subshells that have ended: a shell that only starts background jobs never waits for them.
    // The inner subshell changes directory and environment (after cd, which sets PWD) and becomes the program;
    // `[` is the shell's own, so the report forks nothing more. A long-lived command's reporting subshell is
    // started from one more that exits at once, so it is not the shell's job: `jobs` walks every job at every
    // command, and a conmon per running container would make each command slower by the containers running.
    const report = `( ( ${cd}${setEnv.join(' ')} exec ${argv} ) <${quote(input)} >${out} 2>${err}; `
      + `s=$?; f=; [ -s ${out} ] && f=o; [ -s ${err} ] && f=\${f}e; echo "${id} $s $f" )`;
    // `ID +` first: once the shell has said it, the command counts as started even if the shell dies.
    const line = `echo "${id} +"; jobs >/dev/null; ${opts.longLived ? `( ${report} & )` : report} &\n`;
    const reported = await new Promise<string[] | undefined | 'lost'>((resolve) => {
      this.pending.set(id, resolve);
      this.shell.stdin!.write(line);
    });
    if (reported === undefined) throw new Stopped('the command launcher has stopped');
    if (reported === 'lost') throw new Error('the command launcher stopped with the command running: its result is unknown');
    const [status = '', flags = ''] = reported;
    const read = (x: 'o' | 'e') => (flags.includes(x) ? readFile(`${file}.${x}`, 'utf8').catch(() => '') : '');
    // An input is not left for a later command that has none (a few commands have one: CNI's, tar's, iptables').
    const [stdout, stderr] = await Promise.all([read('o'), read('e'), input !== '/dev/null' ? rm(input, { force: true }) : undefined]);
    // Taken again first: a large output is written over by the very next command.
    this.free.push(file);
    return { code: Number(status), stdout, stderr };
  }

  /** Ends the shell, once the commands it started have finished. */
  close(): void {
    this.shell.stdin!.end();
  }
}
