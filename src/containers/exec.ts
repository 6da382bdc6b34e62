/**
 * Exec sessions, docker's way: `create` records what to run, `start` runs it
 * (attached or detached), `inspect` gives its exit code afterwards. Sessions
 * live in memory, as dockerd's do; the processes live under conmon.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import { ConflictError, InvalidParameterError, NotFoundError } from '../errors/index.js';
import type { AttachConnection, Runtime } from '../runtime/index.js';
import { buildProcess } from './spec.js';
import { execPrivileges } from './host-config.js';
import type { ContainerRecord } from './types.js';
import { resolveUser } from './user.js';

export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Cmd: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  DetachKeys?: string;
  ConsoleSize?: [number, number] | null;
}

interface Session {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  started: boolean;
  resize?: (h: number, w: number) => Promise<void>;
  size?: [number, number];
  exited?: Promise<number>;
  /** Settles once `start` has the runtime's process (or failed to get it). */
  launched?: Promise<unknown>;
}

export interface ExecDeps {
  get(ref: string): ContainerRecord;
  runtimeOf(c: ContainerRecord): Runtime;
  rootfsOf(c: ContainerRecord): string;
  envOf(c: ContainerRecord, home: string, tty: boolean): string[];
  /** docker's exec events: `exec_create: CMD`, `exec_start: CMD`, `exec_die` (with execID, and exitCode at the end). */
  event(action: string, containerId: string, attributes: Record<string, string>): void;
}

export class Execs {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly deps: ExecDeps) {}

  create(ref: string, config: ExecConfig): { Id: string } {
    const c = this.deps.get(ref);
    if (!Array.isArray(config.Cmd) || config.Cmd.length === 0 || !config.Cmd.every((a) => typeof a === 'string')) {
      throw new InvalidParameterError('No exec command specified');
    }
    if (!c.State.Running) throw new ConflictError(`container ${c.Id} is not running`);
    if (c.State.Paused) throw new ConflictError(`container ${c.Id} is paused, unpause the container before exec`);
    const id = randomBytes(32).toString('hex');
    this.sessions.set(id, { id, containerId: c.Id, config, running: false, exitCode: null, pid: 0, started: false });
    this.deps.event(`exec_create: ${config.Cmd.join(' ')}`, c.Id, { execID: id });
    return { Id: id };
  }

  private session(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw new NotFoundError(`No such exec instance: ${id}`);
    return s;
  }

  /** What `start` refuses before it does anything (no such session, already run, container not running): 404 and 409. */
  checkStart(id: string): { s: Session; c: ContainerRecord } {
    const s = this.session(id);
    if (s.started) throw new ConflictError(`Error: Exec command ${id} has already run`);
    const c = this.deps.get(s.containerId);
    if (!c.State.Running) throw new ConflictError(`container ${c.Id} is not running`);
    return { s, c };
  }

  /** Starts the session; with `attach`, resolves with its stdio connection, made before the process runs. */
  async start(id: string, opts: { detach: boolean; tty?: boolean; consoleSize?: [number, number] }): Promise<AttachConnection | undefined> {
    const { s, c } = this.checkStart(id);
    s.started = true;
    const launching = this.launch(s, c, opts);
    s.launched = launching.catch(() => undefined);
    return launching;
  }

  private async launch(s: Session, c: ContainerRecord, opts: { detach: boolean; tty?: boolean; consoleSize?: [number, number] }): Promise<AttachConnection | undefined> {
    const tty = opts.tty ?? !!s.config.Tty;
    const rootfs = this.deps.rootfsOf(c);
    const user = await resolveUser(rootfs, s.config.User || c.Config.User);
    const env = [...this.deps.envOf(c, user.home, tty)];
    for (const e of s.config.Env ?? []) {
      const k = e.split('=')[0]!;
      const i = env.findIndex((x) => x.split('=')[0] === k);
      if (i >= 0) env[i] = e; else env.push(e);
    }
    const size = opts.consoleSize ?? s.size ?? (s.config.ConsoleSize ?? undefined);
    const cwd = s.config.WorkingDir || c.Config.WorkingDir || '/';
    if (!cwd.startsWith('/')) throw new InvalidParameterError(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);
    const process = buildProcess({ args: s.config.Cmd, env, cwd, user, terminal: tty, consoleSize: size });
    if ((c.HostConfig.Runtime || 'oci') === 'oci') Object.assign(process, execPrivileges(c.HostConfig, user.uid, !!s.config.Privileged));
    const attach = !opts.detach;
    const handle = await this.deps.runtimeOf(c).exec(c.Id, s.id, {
      process, terminal: tty, stdin: attach && !!s.config.AttachStdin, attach, consoleSize: size,
    }).catch((e: unknown) => {
      s.exitCode = (e as { exitCode?: number }).exitCode ?? 126;
      throw e;
    });
    s.running = true;
    this.deps.event(`exec_start: ${s.config.Cmd.join(' ')}`, c.Id, { execID: s.id });
    s.pid = handle.pid;
    s.resize = handle.resize;
    s.exited = handle.exited;
    const recorded = handle.exited.then((code) => {
      s.running = false;
      s.exitCode = code;
      this.deps.event('exec_die', s.containerId, { execID: s.id, exitCode: String(code) });
    });
    return handle.connection && new EndsAfterExit(handle.connection, recorded);
  }

  /**
   * A resize that comes while the process is being launched waits for it, as dockerd's does (up to 10 s): the
   * upgrade header goes out before the launch, and a client that resizes as soon as it has it (dockerpty, so
   * docker-compose v1's exec on a terminal) would otherwise leave the terminal at 0x0.
   */
  async resize(id: string, h: number, w: number): Promise<void> {
    const s = this.session(id);
    if (!s.resize && s.launched) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((res) => { timer = setTimeout(() => res('timeout'), 10_000); });
      const r = await Promise.race([s.launched, timeout]).finally(() => clearTimeout(timer));
      if (r === 'timeout') throw new Error('timeout waiting for exec session ready');
      if (!s.pid) throw new InvalidParameterError('exec process is not started');
    }
    if (s.resize) await s.resize(h, w); else s.size = [h, w];
  }

  inspect(id: string) {
    const s = this.session(id);
    return {
      ID: s.id,
      Running: s.running,
      ExitCode: s.exitCode,
      ProcessConfig: {
        tty: !!s.config.Tty, entrypoint: s.config.Cmd[0], arguments: s.config.Cmd.slice(1),
        privileged: !!s.config.Privileged, user: s.config.User ?? '',
      },
      OpenStdin: !!s.config.AttachStdin,
      OpenStderr: s.config.AttachStderr ?? true,
      OpenStdout: s.config.AttachStdout ?? true,
      CanRemove: !s.running && s.started,
      ContainerID: s.containerId,
      DetachKeys: s.config.DetachKeys ?? '',
      Pid: s.pid,
    };
  }

  /** Tty of a session, for the attach framing. */
  tty(id: string): boolean {
    return !!this.session(id).config.Tty;
  }

  /** The exit code of a started session, once it exited. */
  exited(id: string): Promise<number> {
    const s = this.session(id);
    if (!s.exited) throw new ConflictError(`exec ${id} has not started`);
    return s.exited;
  }

  /** Drops one finished session (health probes, which nobody inspects afterwards). */
  forget(id: string): void {
    const s = this.sessions.get(id);
    if (s && !s.running) this.sessions.delete(id);
  }

  /** Sessions of a container that went away are forgotten with it. */
  forgetContainer(containerId: string): void {
    for (const [id, s] of this.sessions) if (s.containerId === containerId && !s.running) this.sessions.delete(id);
  }
}

/**
 * An exec's output stream that ends only once the exit code is recorded: the docker CLI inspects the
 * exec once, right after the stream ends, and would otherwise read `Running: true` and poll. A process
 * that closed its output and goes on running ends the stream a second later regardless.
 */
class EndsAfterExit extends EventEmitter implements AttachConnection {
  private piped = false;
  constructor(private readonly inner: AttachConnection, recorded: Promise<unknown>) {
    super();
    inner.on('error', (e) => this.emit('error', e));
    inner.on('end', () => { void Promise.race([recorded, sleep(1000)]).then(() => this.emit('end')); });
  }

  /** The runtime's connection holds early output until its first 'data' listener: so does this one. */
  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    super.on(event, listener as (...args: unknown[]) => void);
    if (event === 'data' && !this.piped) {
      this.piped = true;
      this.inner.on('data', (stream, chunk) => this.emit('data', stream, chunk));
    }
    return this;
  }

  write(data: Buffer): void { this.inner.write(data); }
  endInput(): void { this.inner.endInput(); }
  close(): void { this.inner.close(); }
}
