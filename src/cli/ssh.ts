/**
 * `-H ssh://[USER@]HOST[:PORT][/SOCKET]`, as the docker CLI's connhelper does it: every connection is an
 * ssh process that runs `berth system dial-stdio` on the remote host, and HTTP goes over its stdin and stdout.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { childProcess } from './builtins.js';

export interface SshSpec { user?: string; host: string; port?: string; path?: string }

/** The URL's parts, refused in the docker CLI's words ("invalid SSH URL: …") where it refuses them. */
export function parseSshUrl(url: string): SshSpec {
  let u: URL;
  try { u = new URL(url); } catch { throw new Error(`ssh host connection is not valid: invalid SSH URL: ${url}`); }
  const bad = (why: string) => new Error(`ssh host connection is not valid: invalid SSH URL: ${why}`);
  if (u.password) throw bad('plain-text password is not supported');
  if (!u.hostname) throw bad('hostname is empty');
  if (u.search) throw bad(`query parameters are not allowed: "${u.search.slice(1)}"`);
  if (u.hash) throw bad(`fragments are not allowed: "${u.hash.slice(1)}"`);
  return {
    user: u.username ? decodeURIComponent(u.username) : undefined,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port || undefined,
    path: decodeURIComponent(u.pathname).replace(/^\/+$/, '') || undefined,
  };
}

/** A word for the remote shell, quoted only when it has to be. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * ssh's arguments as the docker CLI passes them: -l and -p from the URL, a 30 s connect timeout, no
 * pseudo-terminal (which would also make the remote shell a login shell), then the host after `--`.
 * The remote command is shell text: BERTH_REMOTE_COMMAND (default `berth`) may be a path or `sudo -n berth`.
 */
export function sshArgs(spec: SshSpec, remote = process.env.BERTH_REMOTE_COMMAND || 'berth'): string[] {
  const args: string[] = [];
  if (spec.user) args.push('-l', spec.user);
  if (spec.port) args.push('-p', spec.port);
  args.push('-o', 'ConnectTimeout=30', '-T', '--', spec.host);
  const host = spec.path ? ` ${shellQuote(`--host=unix://${spec.path}`)}` : '';
  return [...args, `${remote}${host} system dial-stdio`];
}

/** ssh processes still running: ended with the CLI, whichever way it ends. */
const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  // The child leads its own process group (see spawnSsh): the group also holds what BERTH_SSH_COMMAND's shell started.
  try { process.kill(-child.pid!, signal); } catch { /* already gone */ }
}

let reaperInstalled = false;
function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', () => { for (const c of live) killGroup(c, 'SIGTERM'); });
  // A signal nobody else handles kills Node without its 'exit' event. When a command handles the signal
  // itself (run's sig-proxy), the CLI goes on and ends through process.exit.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(sig) > 1) return;
      for (const c of live) killGroup(c, 'SIGTERM');
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/**
 * BERTH_SSH_COMMAND replaces `ssh`, as GIT_SSH_COMMAND does for git (`ssh -F ~/.ssh/berth_config`): the
 * shell expands it and execs it with the arguments after it, so that the process is ssh itself and the
 * death signal below is still its own. The child gets its own session, as with the docker CLI, so a
 * Ctrl-C at the terminal reaches the CLI (which may forward it to a container) and not ssh, and a
 * ProxyCommand has no terminal to fight over.
 */
function spawnSsh(args: string[]): ChildProcess {
  const custom = process.env.BERTH_SSH_COMMAND;
  const argv = custom ? ['/bin/sh', '-c', `exec ${custom} "$@"`, 'ssh', ...args] : ['ssh', ...args];
  // The docker CLI's Pdeathsig, by util-linux's setpriv where it is: a CLI killed with SIGKILL runs no
  // exit handler, and its ssh would live on until the stream it carries next writes.
  if (hasSetpriv ??= existsSync(SETPRIV)) argv.unshift(SETPRIV, '--pdeathsig', 'KILL', '--');
  return childProcess().spawn(argv[0]!, argv.slice(1), { stdio: 'pipe', detached: true });
}

const SETPRIV = '/usr/bin/setpriv';
let hasSetpriv: boolean | undefined;

/** The remote exit status of a shell that could not find the command. */
const NOT_FOUND = 127;

/**
 * One connection: the ssh process's stdout is what the daemon sends, its stdin what we send; ending our
 * side closes ssh's stdin, which dial-stdio turns into a half-close of the daemon's socket. A connection
 * that ends with ssh failing is an error carrying ssh's last word (its stderr is kept, never shown otherwise).
 */
class SshConnection extends Duplex {
  private readonly child: ChildProcess;
  private stderr = '';
  private closing = false;

  constructor(private readonly url: string, args: string[]) {
    super({ allowHalfOpen: true });
    installReaper();
    this.child = spawnSsh(args);
    const { stdin, stdout, stderr } = this.child;
    live.add(this.child);
    // ssh that has gone makes writes fail with EPIPE; the reason is in its exit, reported on 'close'.
    stdin!.on('error', () => {});
    stdout!.on('data', (b: Buffer) => { if (!this.push(b)) stdout!.pause(); });
    stderr!.on('data', (b: Buffer) => { this.stderr = (this.stderr + b.toString()).slice(-4096); });
    this.child.on('error', (e) => { live.delete(this.child); this.destroy(new Error(`error during connect: ${this.url}: cannot run ssh: ${e.message}`)); });
    this.child.on('close', (code, signal) => {
      live.delete(this.child);
      if (this.closing || this.destroyed) return;
      if (code === 0) { this.push(null); return; }
      this.destroy(this.failure(code, signal));
    });
  }

  private failure(code: number | null, signal: NodeJS.Signals | null): Error {
    const last = this.stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).at(-1);
    const why = last ?? (signal ? `ssh was killed by ${signal}` : `ssh exited with status ${code}`);
    const hint = code === NOT_FOUND ? ` (is berth on the remote PATH? BERTH_REMOTE_COMMAND names the command to run there)` : '';
    return new Error(`error during connect: ${this.url}: ${why}${hint}`);
  }

  override _read(): void { this.child.stdout!.resume(); }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.child.stdin!.write(chunk, () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin!.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.closing = true;
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      killGroup(this.child, 'SIGTERM');
      // As the docker CLI: SIGTERM, then SIGKILL for an ssh still there after 3 s.
      setTimeout(() => { if (this.child.exitCode === null && this.child.signalCode === null) killGroup(this.child, 'SIGKILL'); }, 3000).unref();
    }
    cb(err);
  }
}

/** A new connection to the daemon behind an ssh:// URL. */
export function dialSsh(url: string, args: string[]): Duplex {
  return new SshConnection(url, args);
}
