/**
 * The `oci` driver: runc under conmon, as podman runs it. conmon holds the
 * workload's stdio, writes its log and exit code, and outlives the daemon, so
 * the daemon can restart without killing containers.
 *
 * Layout under the exec root (a tmpfs like /run, so it is gone after reboot):
 *   bundles/<id>/config.json   the spec, plus conmon's ctl/winsz FIFOs and attach socket, and the FIFOs
 *                              berth starts conmon with (conmon-sync, conmon-start)
 *   exits/<id>                 exit code written by conmon
 *   s/<id[:12]>                conmon's symlink to the bundle; short so the socket path fits in 108 bytes
 *   t/<id[:12]>/               conmon's TMPDIR: its console socket, short for the same reason
 *   execs/<exec id>/           one exec session: process.json, conmon's FIFOs and exit dir
 *   runc/                      runc's state (--root), private to this daemon
 */
import { EventEmitter } from 'node:events';
import { closeSync, constants, mkdirSync, openSync, readFileSync, rmSync, watch, writeFileSync, writeSync, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { ConflictError, InvalidParameterError, SystemError } from '../errors/index.js';
import { run, runTool } from '../host/index.js';
import { HeldOutput } from './held-output.js';
import { traced } from '../common/trace.js';
import { holdCgroupAttachWarm } from './cgroup-warmup.js';
import { conmonExec, writeCtl } from './oci-exec.js';
import { startThroughFifo } from './exec-fifo.js';
import type { AttachConnection, CreateOptions, ExecHandle, ExecOptions, Runtime, RuntimeState, Spec } from './types.js';

interface SeqpacketSocket extends EventEmitter {
  connect(path: string, cb?: () => void): void;
  write(buf: Buffer): void;
  end(cb?: () => void): void;
  destroy(): void;
  unref(): void;
}

const require = createRequire(import.meta.url);
let SeqpacketCtor: (new () => SeqpacketSocket) | undefined;
function seqpacket(): SeqpacketSocket {
  // Loaded lazily: the CLI bundle never needs the native addon.
  SeqpacketCtor ??= (require('node-unix-socket') as { SeqpacketSocket: new () => SeqpacketSocket }).SeqpacketSocket;
  return new SeqpacketCtor();
}

export interface OciRuntimeOptions {
  execRoot: string;
  runtimePath?: string;
  conmonPath?: string;
}

/** conmon's attach packets: one byte for the stream (2 stdout, 3 stderr), then the payload. */
class ConmonAttach extends HeldOutput implements AttachConnection {
  private inputEnded = false;
  constructor(private readonly sock: SeqpacketSocket) {
    super();
    sock.on('data', (b: Buffer) => {
      if (b.length < 1) return;
      this.deliver(b[0] === 3 ? 2 : 1, b.subarray(1));
    });
    sock.on('end', () => this.endOutput());
    sock.on('close', () => this.endOutput());
    sock.on('error', (e: Error) => this.emit('error', e));
  }
  write(data: Buffer): void {
    if (this.inputEnded) return;
    // conmon reads at most 8 KiB per packet.
    for (let i = 0; i < data.length; i += 8192) this.sock.write(data.subarray(i, i + 8192));
  }
  endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    try { this.sock.end(); } catch { /* already shut down */ }
  }
  close(): void {
    this.inputEnded = true;
    try { this.sock.destroy(); } catch { /* already closed */ }
  }
}

export class OciRuntime extends EventEmitter implements Runtime {
  readonly name: string = 'oci';
  private readonly runc: string;
  private readonly conmon: string;
  protected readonly runcRoot: string;
  protected readonly exits: string;
  protected readonly socks: string;
  protected readonly bundles: string;
  protected readonly tmp: string;
  private readonly execs: string;
  private readonly reported = new Set<string>();
  /** Created containers' init PIDs, until they are started. */
  private readonly inits = new Map<string, number>();
  /** Where each container's spec put its cgroup, as written into the bundle by this daemon (a restarted one reads the bundle). */
  private readonly cgroups = new Map<string, string | undefined>();
  private watcher?: FSWatcher;

  constructor(opts: OciRuntimeOptions) {
    super();
    this.runc = opts.runtimePath ?? '/usr/sbin/runc';
    this.conmon = opts.conmonPath ?? '/usr/bin/conmon';
    this.runcRoot = join(opts.execRoot, 'runc');
    this.exits = join(opts.execRoot, 'exits');
    this.socks = join(opts.execRoot, 's');
    this.bundles = join(opts.execRoot, 'bundles');
    this.tmp = join(opts.execRoot, 't');
    this.execs = join(opts.execRoot, 'execs');
  }

  async init(): Promise<void> {
    for (const d of [this.runcRoot, this.exits, this.socks, this.bundles, this.tmp, this.execs]) await mkdir(d, { recursive: true });
    this.watcher = watch(this.exits, (_ev, file) => { if (file && !file.includes('.')) void this.checkExit(file); });
  }

  close(): void {
    this.watcher?.close();
  }

  private runcCommit?: Promise<string>;

  /** For `info`: the runc binary and the commit its `--version` names, which dockerd shows as "runc version". */
  async info(): Promise<Record<string, unknown>> {
    this.runcCommit ??= run(this.runc, ['--version'], { allowFailure: true })
      .then((r) => (/^commit: (.+)$/m.exec(r.stdout) ?? /version (\S+)/.exec(r.stdout))?.[1]?.trim() ?? '', () => '');
    return { path: this.runc, Commit: await this.runcCommit };
  }

  protected bundle(id: string): string {
    return join(this.bundles, id);
  }

  private async checkExit(id: string): Promise<void> {
    if (this.reported.has(id)) return;
    const code = await this.exitCode(id);
    if (code === undefined || this.reported.has(id)) return;
    this.reported.add(id);
    this.emit('exit', id, code);
  }

  /** Whether the `-r` program moves the new process into a cgroup, as `runc create` does (see cgroup-warmup.ts). */
  protected readonly joinsCgroup: boolean = true;

  async create(opts: CreateOptions): Promise<{ pid: number }> {
    // From the first step: the lock's grace period is waited out while the bundle is made and conmon starts.
    const releaseWarmup = this.joinsCgroup ? holdCgroupAttachWarm() : () => {};
    try {
      return await this.createUnderConmon(opts);
    } finally {
      releaseWarmup();
    }
  }

  private async createUnderConmon(opts: CreateOptions): Promise<{ pid: number }> {
    const { id } = opts;
    const bundle = this.bundle(id);
    this.clearBundle(id, bundle);
    this.reported.delete(id);
    const args = [
      '--api-version', '1', '-c', id, '-u', id.slice(0, 12), '-r', this.runc, '-b', bundle,
      '-p', join(bundle, 'pidfile'), '-n', id, '--exit-dir', this.exits, '-l', `k8s-file:${opts.logPath}`,
      '--socket-dir-path', this.socks, '--conmon-pidfile', join(bundle, 'conmon.pid'),
      '--runtime-arg', '--log-format=json', '--runtime-arg', '--log', '--runtime-arg', join(bundle, 'runc.log'),
      '--runtime-arg', `--root=${this.runcRoot}`,
      // conmon writes an `oom` file when the OOM killer struck: into the bundle, not the daemon's working directory.
      '--persist-dir', bundle,
      // Without --sync conmon forks and the result of `runc create` is only in the sync pipe anyway;
      // with it, conmon does not fork away, and its exit (which the launcher reports) tells us the container's.
      '--sync',
    ];
    if (opts.stdin) args.push('-i');
    // With a TTY, detaching (Ctrl-P Ctrl-Q) closes the client's connection, which must not end the shell's input.
    if (opts.stdin && (!opts.stdinOnce || opts.terminal)) args.push('--leave-stdin-open');
    if (opts.terminal) args.push('-t');
    // conmon starts before the spec is written and waits on its start pipe (fd 4) before it does anything but
    // read its arguments: its start-up overlaps the mount and the making of the spec instead of following them.
    // It is started by the launcher shell, whose fork does not block the event loop as the daemon's own does
    // (2.5 ms, plus 1 for the check of which descriptors it would inherit: the shell holds none), so its two
    // pipes are FIFOs in the bundle. Both sides open them read-write, so no open waits for the other side, and
    // neither ever reads an end-of-file: conmon's exit (the launcher's report) says it will write nothing more.
    const syncPath = join(bundle, 'conmon-sync');
    const startPath = join(bundle, 'conmon-start');
    await runTool('mkfifo', ['-m', '600', syncPath, startPath], { label: 'mkfifo' });
    const syncFd = openSync(syncPath, constants.O_RDWR);
    let startFd: number;
    try { startFd = openSync(startPath, constants.O_RDWR); } catch (e) { closeSync(syncFd); throw e; }
    const syncPipe = new Socket({ fd: syncFd, readable: true, writable: false });
    const conmon = run(this.conmon, args, {
      cwd: bundle,
      // conmon makes its console socket in TMPDIR (and leaves it there when runc fails): a short private one.
      env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', TMPDIR: join(this.tmp, id.slice(0, 12)) },
      redirects: [{ fd: 3, path: syncPath }, { fd: 4, path: startPath }],
      allowFailure: true,
      longLived: true,
      label: 'conmon',
    });
    // With --sync conmon's exit is the container's: the exit file says which.
    const exited = conmon.catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    void exited.then(() => this.checkExit(id));
    const synced = new Promise<{ data?: number; message?: string } | undefined>((resolve) => {
      let buf = '';
      syncPipe.on('data', (b: Buffer) => {
        buf += b.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          try { resolve(JSON.parse(buf.slice(0, nl)) as { data?: number; message?: string }); } catch { resolve(undefined); }
        }
      });
      syncPipe.on('error', () => {}); // conmon's exit settles it
      // The report of that exit comes through the launcher's pipe, which may be read before this FIFO although
      // conmon wrote here first: a moment for what it wrote to come in.
      void exited.then(() => setTimeout(() => resolve(undefined), 50));
    });
    let msg: { data?: number; message?: string } | undefined;
    try {
      try {
        const spec = await opts.spec;
        await traced('bundle', this.writeBundle(opts, spec, bundle));
      } catch (e) {
        // No spec, no container: conmon, released with no config.json in the bundle, sees `runc create` fail and goes.
        rmSync(join(bundle, 'config.json'), { force: true });
        writeSync(startFd, '0');
        await exited;
        throw e;
      }
      writeSync(startFd, '0');
      msg = await traced('conmon + runc create', synced);
    } finally {
      // The start FIFO is held until conmon has read it (it has once it reports or exits): what a FIFO holds goes
      // with its last descriptor, and conmon may open it later than the daemon writes.
      closeSync(startFd);
      syncPipe.destroy();
    }
    if (!msg || typeof msg.data !== 'number' || msg.data < 0) {
      const detail = msg?.message?.trim() || (msg ? '' : (await exited).stderr.trim()) || (await this.runcLogError(id)) || 'conmon failed to create the container';
      await this.delete(id);
      throw ociCreateError(detail);
    }
    if (opts.terminal && opts.consoleSize && opts.consoleSize[0] > 0) {
      await this.resize(id, opts.consoleSize[0], opts.consoleSize[1]);
    }
    this.inits.set(id, msg.data);
    return { pid: msg.data };
  }

  /**
   * A fresh bundle directory (conmon's working directory), and nothing left of an earlier run's exit file or attach
   * socket. Synchronous, as the bundle's writes: a handful of calls on the start's way, each of which, awaited, would
   * wait for a threadpool round trip.
   */
  private clearBundle(id: string, bundle: string): void {
    rmSync(bundle, { recursive: true, force: true });
    mkdirSync(bundle, { recursive: true });
    mkdirSync(join(this.tmp, id.slice(0, 12)), { recursive: true });
    rmSync(join(this.exits, id), { force: true });
    rmSync(join(this.socks, id.slice(0, 12)), { force: true });
  }

  private async writeBundle(opts: CreateOptions, spec: Spec, bundle: string): Promise<void> {
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    this.cgroups.set(opts.id, (spec as { linux?: { cgroupsPath?: string } }).linux?.cgroupsPath);
    await this.prepareBundle(opts, spec, bundle);
  }

  /** A driver that runs something else under conmon puts what its `-r` program needs into the bundle here. */
  protected async prepareBundle(_opts: CreateOptions, _spec: Spec, _bundle: string): Promise<void> {}

  private async runcLogError(id: string): Promise<string | undefined> {
    const text = await readFile(join(this.bundle(id), 'runc.log'), 'utf8').catch(() => '');
    const errors = text.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l) as { level: string; msg: string }; } catch { return undefined; } })
      .filter((e) => e?.level === 'error');
    return errors.at(-1)?.msg;
  }

  async attach(id: string): Promise<AttachConnection> {
    return this.connect(join(this.socks, id.slice(0, 12), 'attach'));
  }

  private async connect(path: string): Promise<AttachConnection> {
    const sock = seqpacket();
    await new Promise<void>((resolve, reject) => {
      try { sock.connect(path, () => resolve()); } catch (e) { reject(new ConflictError(`cannot attach: ${(e as Error).message}`)); }
    });
    return new ConmonAttach(sock);
  }

  private runcArgs(...args: string[]): string[] {
    return [`--root=${this.runcRoot}`, ...args];
  }

  async start(id: string): Promise<void> {
    const pid = this.inits.get(id);
    this.inits.delete(id);
    // A daemon restarted since the create no longer knows the init: runc finds it.
    if (pid !== undefined && await startThroughFifo(join(this.runcRoot, id, 'exec.fifo'), pid)) return;
    await run(this.runc, this.runcArgs('start', id));
  }

  async kill(id: string, signal: string): Promise<void> {
    const res = await run(this.runc, this.runcArgs('kill', id, signal.replace(/^SIG/, '')), { allowFailure: true });
    if (res.code !== 0) {
      if (/not running|process already finished|container not running/i.test(res.stderr)) throw new ConflictError(`Container ${id} is not running`);
      if (/invalid signal|unknown signal/i.test(res.stderr)) throw new InvalidParameterError(`Invalid signal: ${signal}`);
      throw new SystemError(`runc kill: ${res.stderr.trim()}`);
    }
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    // One line per write: conmon 2.1.6 handles only the first line of a read.
    await writeCtl(join(this.bundle(id), 'ctl'), `1 ${height} ${width}\n`);
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    const res = await run(this.runc, this.runcArgs('state', id), { allowFailure: true });
    if (res.code !== 0) return undefined;
    return (JSON.parse(res.stdout) as { status: RuntimeState }).status;
  }

  async exitCode(id: string): Promise<number | undefined> {
    // A few bytes on the exit's way to the client's `wait`: read synchronously.
    let text = '';
    try { text = readFileSync(join(this.exits, id), 'utf8'); } catch { /* not exited */ }
    return /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
  }

  async exec(id: string, execId: string, opts: ExecOptions): Promise<ExecHandle> {
    const dir = join(this.execs, execId);
    const tmp = join(this.tmp, execId.slice(0, 12));
    // The session's files go when the process does (or when it could not start); its result lives on in the containers part.
    const cleanup = async () => {
      await rm(dir, { recursive: true, force: true });
      await rm(tmp, { recursive: true, force: true });
      await rm(join(this.socks, execId.slice(0, 12)), { force: true });
    };
    let handle: ExecHandle;
    const releaseWarmup = holdCgroupAttachWarm(); // `runc exec` migrates the new process into the container's cgroup
    try {
      handle = await conmonExec({ conmon: this.conmon, runc: this.runc, runcRoot: this.runcRoot, dir, socks: this.socks, tmp }, id, execId, opts,
        (path) => this.connect(path));
    } catch (e) {
      await cleanup();
      throw e;
    } finally {
      releaseWarmup();
    }
    void handle.exited.finally(cleanup);
    return handle;
  }

  async memoryUsage(id: string): Promise<number | undefined> {
    return memoryCgroupValue(await this.cgroupsPath(id), 'memory.usage_in_bytes', 'memory.current');
  }

  async peakMemoryUsage(id: string): Promise<number | undefined> {
    // The cgroup's high-water mark; gone with `runc delete`.
    return memoryCgroupValue(await this.cgroupsPath(id), 'memory.max_usage_in_bytes', 'memory.peak');
  }

  /** Where the spec put the container's cgroup (`--cgroup-parent` moves it). */
  private async cgroupsPath(id: string): Promise<string | undefined> {
    if (this.cgroups.has(id)) return this.cgroups.get(id);
    const spec = await readFile(join(this.bundle(id), 'config.json'), 'utf8').then((t) => JSON.parse(t) as { linux?: { cgroupsPath?: string } }, () => undefined);
    return spec?.linux?.cgroupsPath;
  }

  async pause(id: string): Promise<void> {
    await run(this.runc, this.runcArgs('pause', id));
  }

  async resume(id: string): Promise<void> {
    await run(this.runc, this.runcArgs('resume', id));
  }

  async update(id: string, resources: Record<string, unknown>): Promise<void> {
    const res = await run(this.runc, this.runcArgs('update', '--resources', '-', id), { input: JSON.stringify(resources), allowFailure: true });
    if (res.code !== 0) throw new SystemError(`Cannot update container ${id}: ${(res.stderr || res.stdout).trim()}`);
  }

  async pids(id: string): Promise<number[]> {
    const res = await run(this.runc, this.runcArgs('ps', '--format', 'json', id), { allowFailure: true });
    if (res.code !== 0) return [];
    return (JSON.parse(res.stdout || '[]') as number[] | null) ?? [];
  }

  async holds(id: string): Promise<boolean> {
    return stat(this.bundle(id)).then(() => true, () => false);
  }

  /** Stops and forgets the workload in the `-r` program (runc: `delete --force`). */
  protected async runtimeDelete(id: string): Promise<void> {
    await run(this.runc, this.runcArgs('delete', '--force', id), { allowFailure: true });
  }

  async delete(id: string): Promise<void> {
    await this.runtimeDelete(id);
    this.inits.delete(id);
    this.cgroups.delete(id);
    await Promise.all([
      rm(join(this.exits, id), { force: true }),
      rm(join(this.socks, id.slice(0, 12)), { force: true }),
      rm(this.bundle(id), { recursive: true, force: true }),
      rm(join(this.tmp, id.slice(0, 12)), { recursive: true, force: true }),
    ]);
    this.reported.delete(id);
  }
}

/** Docker's wording for a workload that could not be started, with its exit code class. */
export class StartError extends InvalidParameterError {
  constructor(message: string, readonly exitCode: number) { super(message); }
}

/**
 * A number from the container's memory cgroup: `v1` under cgroup v1 (this machine's hybrid layout), `v2` elsewhere.
 * Only an absolute cgroupsPath is read: a relative one lies under the daemon's own cgroup, and peak usage goes without.
 */
async function memoryCgroupValue(path: string | undefined, v1: string, v2: string): Promise<number | undefined> {
  if (!path?.startsWith('/')) return undefined;
  // cgroupfs: read synchronously, as in containers/cgroups.ts.
  for (const f of [`/sys/fs/cgroup/memory${path}/${v1}`, `/sys/fs/cgroup${path}/${v2}`]) {
    let text = '';
    try { text = readFileSync(f, 'utf8').trim(); } catch { /* not this hierarchy */ }
    if (/^\d+$/.test(text)) return Number(text);
  }
  return undefined;
}

function ociCreateError(detail: string): StartError {
  const clean = detail.replace(/\n+$/, '');
  const code = /executable file not found|no such file or directory/.test(clean) ? 127 : /permission denied/.test(clean) ? 126 : 128;
  const text = /^runc create failed/.test(clean) ? clean : `runc create failed: ${clean}`;
  return new StartError(`failed to create task for container: failed to create shim task: OCI runtime create failed: ${text}: unknown`, code);
}
