/**
 * The containers part: records, the lifecycle state machine and its cleanup.
 * It resolves images, mounts root filesystems, writes the OCI spec and hands
 * it to a runtime driver; everything a container leaves on the host is undone
 * when it exits (mount, runtime state) or is removed (directories, record).
 */
import { KeyedQueue } from '../common/keyed-queue.js';
import { traced } from '../common/trace.js';
import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  ConflictError, InvalidParameterError, NotFoundError, NotModifiedError, noSuchContainer, noSuchImage,
} from '../errors/index.js';
import { contentSize, inBackground, isMounted, mountOverlay, run, unmount } from '../host/index.js';
import { applyChanges, type CheckProblem, type ContainerConfigSection, type HistoryEntry, type Image, type ImageService } from '../images/index.js';
import { mergeEnv, withDefaults } from './env.js';
import { StartError, type AttachConnection, type Runtime, type Spec } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import { exportRootfs } from './export.js';
import { readLogs, type LogEntry } from './logs.js';
import { randomName, VALID_NAME } from './names.js';
import { containerChanges, upperAsLayer, type Change } from './changes.js';
import { compareRuntimes, type Comparison } from './compare.js';
import { Execs } from './exec.js';
import { buildSpec, runtimeAnnotations } from './spec.js';
import { applyHostConfig, checkHostConfig, updatedHostConfig } from './host-config.js';
import { cgroupsPath, oomKilled } from './cgroups.js';
import { sampleStats, type StatsSample } from './stats.js';
import { createLinks, linkEnv, startLinks } from './links.js';
import { resolveInRoot } from '../common/rootpath.js';
import { RestartManager } from './restart.js';
import { execProbe, HealthMonitor, mergeHealthcheck } from './health.js';
import { cgroupResources } from './resources.js';
import type { CopyTarget } from './copy.js';
import { hostsFile, type NetworkService } from '../network/index.js';
import { netInfo, startNetworking, stopNetworking, type StartedNetworking } from './networking.js';
import type { MountPoint, VolumeService } from '../volumes/index.js';
import { prepareMounts, startMounts } from './mounting.js';
import type { ContainerRecord, ContainerState, CreateRequest, HealthConfig, HostConfig } from './types.js';
import { resolveUser } from './user.js';
import { mergeCommand } from './command.js';
import { applyNamespaceModes, checkNamespaceModes, hostUts } from './namespaces.js';
import { peerOf } from './peer.js';
import { checkContainers } from './check.js';

export * from './types.js';
export type { ExecConfig } from './exec.js';
export type { Comparison, Side } from './compare.js';
export { dockerTimestamp, type LogEntry } from './logs.js';
export { type StatsSample } from './stats.js';
export { inspectedHostConfig } from './host-config.js';
export { archivePath, encodeStat, extractInto, statPath, type CopyTarget, type PathStat } from './copy.js';

/** Resolves on the next turn of the event loop: after what this one wrote (a wait's answer) has gone out. */
const afterThisTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface ContainerPaths {
  dataRoot: string;
  /** Networks: without it every container gets a new netns with loopback only. */
  network?: NetworkService;
  /** Volumes, binds and tmpfs: without it containers get no mounts of their own. */
  volumes?: VolumeService;
  /** Where what goes wrong with no request to answer is said (a release after an exit that failed). */
  log?: (msg: string) => void;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function emptyState(): ContainerState {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
    Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
  };
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17,
  SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25,
  SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** Accepts `KILL`, `SIGKILL`, `9`; returns docker's canonical `SIGKILL`. */
export function normalizeSignal(sig: string): string {
  const s = sig.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const name = Object.entries(SIGNALS).find(([, n]) => n === Number(s))?.[0];
    if (!name) throw new InvalidParameterError(`Invalid signal: ${sig}`);
    return name;
  }
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  if (!(name in SIGNALS)) throw new InvalidParameterError(`Invalid signal: ${sig}`);
  return name;
}

export class ContainerService extends EventEmitter {
  private readonly records = new Map<string, ContainerRecord>();
  /** Names taken by creates still under way (name → container ID), so two concurrent creates cannot both get one. */
  private readonly claimedNames = new Map<string, string>();
  private readonly pendingAttach = new Map<string, ((conn: AttachConnection) => void)[]>();
  private readonly peaks = new Map<string, number>();
  private readonly locks = new KeyedQueue();
  /** Signals being sent, per container: its exit is reported after them (see signal). */
  private readonly signals = new Map<string, Set<Promise<void>>>();
  /** Exited containers whose runc state, root mount and network are still being let go (see onExit). */
  private readonly releasing = new Map<string, Promise<void>>();
  private readonly log: (msg: string) => void;
  private readonly root: string;
  private readonly network?: NetworkService;
  private readonly volumes?: VolumeService;
  readonly execs: Execs;
  private readonly restarts: RestartManager;
  private readonly health: HealthMonitor;

  constructor(
    private readonly store: Store,
    private readonly images: ImageService,
    private readonly runtimes: Record<string, Runtime>,
    paths: ContainerPaths,
  ) {
    super();
    this.setMaxListeners(0);
    this.root = join(paths.dataRoot, 'containers');
    this.network = paths.network;
    this.volumes = paths.volumes;
    this.log = paths.log ?? (() => {});
    if (this.network) this.network.peer = (ref) => peerOf(this.find(ref));
    for (const rt of Object.values(runtimes)) rt.on('exit', (id, code) => void this.onExit(id, code));
    this.execs = new Execs({
      get: (ref) => this.get(ref),
      runtimeOf: (c) => this.runtimeOf(c),
      rootfsOf: (c) => join(this.dir(c.Id), 'merged'),
      envOf: (c, home, tty) => withDefaults(c.Config.Env, c.Config.Hostname, tty, home),
      event: (action, containerId, attributes) => {
        const c = this.records.get(containerId);
        if (c) this.emit('event', action, c, attributes);
      },
    });
    this.restarts = new RestartManager({ restart: (id) => this.restartFromPolicy(id) });
    this.health = new HealthMonitor({
      get: (id) => this.records.get(id), save: (c) => this.save(c), emit: (action, c) => this.emit('event', action, c),
      probe: (c, argv, ms) => execProbe(this.execs, c, argv, ms),
    });
  }

  /** Loads records and reconciles them with what is really running (live restore). */
  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    for (const row of this.store.listContainers()) {
      this.records.set(row.id, JSON.parse(row.record) as ContainerRecord);
    }
    for (const c of this.records.values()) this.volumes?.acquire(c.Id, c.Mounts as MountPoint[]);
    for (const c of this.records.values()) if (c.State.Running) this.volumes?.resume(c.Id, c.Mounts as MountPoint[]);
    await this.sweepRemoved();
    for (const c of this.records.values()) {
      if (!c.State.Running) {
        // The daemon died between `runc create` and `runc start`, or before it cleaned up an exit.
        const rt = this.runtimeOf(c);
        if (await rt.holds(c.Id)) await rt.delete(c.Id);
        const merged = join(this.dir(c.Id), 'merged');
        if (await isMounted(merged)) await unmount(merged);
        continue;
      }
      const rt = this.runtimeOf(c);
      const code = await rt.exitCode(c.Id);
      if (code !== undefined) { await this.onExit(c.Id, code); continue; }
      const state = await rt.state(c.Id);
      if (state !== 'running' && state !== 'paused') await this.onExit(c.Id, 255);
    }
    await this.network?.reconcile(new Set([...this.records.values()].filter((c) => c.State.Running).map((c) => c.Id)));
    this.resumePolicies();
  }

  /**
   * A removed container's directory whose release had not ended when the daemon stopped (see onExit): its
   * root is unmounted and runc forgets it before the directory goes. The network part does its share.
   */
  private async sweepRemoved(): Promise<void> {
    for (const id of await readdir(this.root).catch(() => [] as string[])) {
      if (this.records.has(id) || !/^[a-f0-9]{64}$/.test(id)) continue;
      const merged = join(this.dir(id), 'merged');
      if (await isMounted(merged)) await unmount(merged);
      const rt = this.runtimes.oci;
      if (rt && await rt.holds(id)) await rt.delete(id);
      await rm(this.dir(id), { recursive: true, force: true });
    }
  }

  /**
   * Sends `sig` through the runtime and reports it (a `kill` event, also when `failed` swallowed the runtime's
   * error, as before). `runc kill` takes milliseconds, and the exit a signal causes can be seen before it
   * returns: the exit's `die` waits for the signals under way, so `kill` comes first, as dockerd's.
   */
  private async signal(c: ContainerRecord, sig: string, failed: (e: unknown) => void): Promise<void> {
    const set = this.signals.get(c.Id) ?? new Set<Promise<void>>();
    this.signals.set(c.Id, set);
    const work = (async () => {
      await this.runtimeOf(c).kill(c.Id, sig).catch(failed);
      this.emit('event', 'kill', c, { signal: String(SIGNALS[sig]) });
    })();
    const settled = work.then(() => {}, () => {});
    set.add(settled);
    try { await work; } finally {
      set.delete(settled);
      if (!set.size && this.signals.get(c.Id) === set) this.signals.delete(c.Id);
    }
  }

  /** Lets `work`, the release of what `id` held when it exited, go on after the exit has been answered. */
  private releaseLater(id: string, work: Promise<unknown>): void {
    const done: Promise<void> = work.then(() => {}, (e: Error) => this.log(`container ${id.slice(0, 12)}: releasing after its exit: ${e.message}`))
      .finally(() => { if (this.releasing.get(id) === done) this.releasing.delete(id); });
    this.releasing.set(id, done);
  }

  /** Waits until what `id` held at its last exit is let go: before anything that mounts its root again or deletes its directory. */
  private async released(id: string): Promise<void> {
    await this.releasing.get(id);
  }

  private runtimeOf(c: ContainerRecord): Runtime {
    const rt = this.runtimes[c.HostConfig.Runtime || 'oci'] ?? this.runtimes.oci;
    if (!rt) throw new InvalidParameterError(`unknown or invalid runtime name: ${c.HostConfig.Runtime}`);
    return rt;
  }

  private dir(id: string): string {
    return join(this.root, id);
  }

  private save(c: ContainerRecord): void {
    this.records.set(c.Id, c);
    this.store.putContainer({ id: c.Id, name: c.Name, imageId: c.Image, record: JSON.stringify(c) });
  }

  /** Serializes operations on one container. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  // ---- lookup ----

  /** By full ID, name (with or without slash) or unique ID prefix, as docker. */
  get(ref: string): ContainerRecord {
    const c = this.find(ref);
    if (!c) throw noSuchContainer(ref);
    return c;
  }

  find(ref: string): ContainerRecord | undefined {
    if (!ref) return undefined;
    const exact = this.records.get(ref);
    if (exact) return exact;
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    for (const c of this.records.values()) if (c.Name === name) return c;
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = [...this.records.values()].filter((c) => c.Id.startsWith(ref));
      if (matches.length > 1) throw new NotFoundError(`Multiple IDs found with provided prefix: ${ref}`);
      return matches[0];
    }
    return undefined;
  }

  list(): ContainerRecord[] {
    return [...this.records.values()].sort((a, b) => b.Created.localeCompare(a.Created));
  }

  usingImage(imageId: string): string[] {
    return [...this.records.values()].filter((c) => c.Image === imageId).map((c) => c.Id);
  }

  // ---- create ----

  async create(req: CreateRequest, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    if (!req || typeof req.Image !== 'string' || !req.Image) throw new InvalidParameterError('config cannot be empty in order to create a container');
    // Cmd and Entrypoint are dockerd's StrSlice: a lone string is a one-element list.
    for (const field of ['Cmd', 'Entrypoint'] as const) if (typeof req[field] === 'string') req[field] = [req[field] as unknown as string];
    for (const field of ['Env', 'Cmd', 'Entrypoint'] as const) {
      const v = req[field];
      if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        throw new InvalidParameterError(`json: cannot unmarshal ${typeof v} into Go struct field ContainerConfigWrapper.${field} of type []string`);
      }
    }
    if (name !== undefined && name !== '' && !VALID_NAME.test(name)) {
      throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const image = await this.images.find(req.Image);
    if (!image) throw noSuchImage(req.Image.includes(':') || req.Image.includes('@') ? req.Image : `${req.Image}:latest`);
    const hc = req.HostConfig ?? {};
    const runtime = hc.Runtime || 'oci';
    if (!this.runtimes[runtime]) throw new InvalidParameterError(`unknown or invalid runtime name: ${runtime}`);
    const refused = this.runtimes[runtime]!.refuses?.(hc as Record<string, unknown>);
    if (refused) throw new InvalidParameterError(refused);
    const net = this.network?.prepare(hc.NetworkMode || 'default', req.NetworkingConfig, !!hc.PublishAllPorts || Object.keys(hc.PortBindings ?? {}).length > 0, {
      hostname: req.Hostname, dns: hc.Dns as unknown[] | undefined, extraHosts: hc.ExtraHosts as unknown[] | undefined,
      mac: (req as { MacAddress?: string }).MacAddress, exposes: Object.keys(req.ExposedPorts ?? {}).length > 0,
    });
    const netMode = net?.mode ?? (hc.NetworkMode || 'default');

    const imgCfg = image.config.config ?? {};
    const { entrypoint, cmd } = mergeCommand(req.Entrypoint ?? null, req.Cmd ?? null, imgCfg);
    const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
    if (argv.length === 0) throw new InvalidParameterError('no command specified');
    const env = mergeEnv(imgCfg.Env ?? [], req.Env ?? []);

    const id = randomBytes(32).toString('hex');
    const finalName = `/${(name || this.uniqueName()).replace(/^\//, '')}`;
    const dir = this.dir(id);
    const hostConfig: HostConfig = {
      AutoRemove: false, Runtime: runtime, NetworkMode: netMode, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      Privileged: false, ReadonlyRootfs: false, CapAdd: null, CapDrop: null, Binds: null,
      LogConfig: { Type: 'k8s-file', Config: {} }, ConsoleSize: [0, 0],
      ...hc,
    } as HostConfig;
    hostConfig.Runtime = runtime;
    hostConfig.NetworkMode = netMode;
    const hcWarnings = checkHostConfig(hostConfig);
    hostConfig.Links = createLinks(hostConfig, req.NetworkingConfig, finalName.slice(1), (ref) => this.find(ref));
    checkNamespaceModes(hostConfig, req.Hostname);
    const healthcheck = mergeHealthcheck((imgCfg as { Healthcheck?: HealthConfig }).Healthcheck, req.Healthcheck);
    const record: ContainerRecord = {
      Id: id,
      Created: new Date().toISOString(),
      Path: argv[0]!,
      Args: argv.slice(1),
      State: emptyState(),
      Image: image.id,
      ResolvConfPath: join(dir, 'resolv.conf'),
      HostnamePath: join(dir, 'hostname'),
      HostsPath: join(dir, 'hosts'),
      LogPath: join(dir, 'container.log'),
      Name: finalName,
      RestartCount: 0,
      Driver: 'overlay',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      HostConfig: hostConfig,
      Config: {
        Hostname: req.Hostname || net?.hostname || (hostUts(hostConfig) ? osHostname() : id.slice(0, 12)),
        Domainname: req.Domainname ?? '',
        User: req.User ?? imgCfg.User ?? '',
        AttachStdin: !!req.AttachStdin,
        AttachStdout: req.AttachStdout ?? true,
        AttachStderr: req.AttachStderr ?? true,
        ExposedPorts: { ...(imgCfg.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) },
        Tty: !!req.Tty,
        OpenStdin: !!req.OpenStdin,
        StdinOnce: !!req.StdinOnce,
        Env: env,
        Cmd: cmd,
        Image: req.Image,
        Volumes: req.Volumes || imgCfg.Volumes ? { ...(imgCfg.Volumes ?? {}), ...(req.Volumes ?? {}) } : null,
        WorkingDir: req.WorkingDir || imgCfg.WorkingDir || '',
        Entrypoint: entrypoint,
        Labels: { ...(imgCfg.Labels ?? {}), ...(req.Labels ?? {}) },
        StopSignal: req.StopSignal ?? imgCfg.StopSignal,
        ...(healthcheck ? { Healthcheck: healthcheck } : {}),
        ...(req.StopTimeout !== undefined ? { StopTimeout: req.StopTimeout } : {}),
      },
      GraphDriver: {
        Name: 'overlay',
        Data: {
          LowerDir: [...image.layerDirs].reverse().join(':'),
          UpperDir: join(dir, 'upper'), WorkDir: join(dir, 'work'), MergedDir: join(dir, 'merged'),
        },
      },
      Mounts: [],
      NetworkSettings: (net?.settings as unknown as Record<string, unknown>) ?? { Networks: {}, Ports: {}, IPAddress: '', Gateway: '', MacAddress: '', SandboxKey: '' },
      ...(net?.macs ? { DesiredMacs: net.macs } : {}),
    };
    if (record.Config.WorkingDir && !record.Config.WorkingDir.startsWith('/')) {
      throw new InvalidParameterError(`the working directory '${record.Config.WorkingDir}' is invalid, it needs to be an absolute path`);
    }
    // The name is claimed before the first wait on the disk, so two creates cannot both get it.
    const clash = this.find(finalName.slice(1));
    const clashId = clash && clash.Name === finalName ? clash.Id : this.claimedNames.get(finalName);
    if (clashId) {
      throw new ConflictError(`Conflict. The container name "${finalName}" is already in use by container "${clashId}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    // Held from here until the record is saved (or the create fails): the steps between wait on the disk.
    this.claimedNames.set(finalName, id);
    try {
      record.Mounts = await prepareMounts(this.volumes, hostConfig, Object.keys(record.Config.Volumes ?? {}), (ref) => this.get(ref));
      try {
        // Synchronous: small files the client waits for, where each awaited call is a threadpool round trip.
        for (const d of ['upper', 'work', 'merged']) mkdirSync(join(dir, d), { recursive: true });
        writeFileSync(record.HostnamePath, `${record.Config.Hostname}\n`);
        writeFileSync(record.HostsPath, hostsFile(record.Config.Hostname, '', undefined, []));
        writeFileSync(record.ResolvConfPath, resolvConf());
        this.save(record);
        this.volumes?.acquire(id, record.Mounts as MountPoint[]);
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        await this.volumes?.release(id, record.Mounts as MountPoint[], true);
        throw e;
      }
    } finally { this.claimedNames.delete(finalName); }
    this.emit('event', 'create', record);
    return { Id: id, Warnings: [...(net?.warnings ?? []), ...hcWarnings] };
  }

  /** A generated name no container has or is being given; after a few clashes, with digits as dockerd's generator adds (900 word pairs run out). */
  private uniqueName(): string {
    for (let attempt = 0; ; attempt++) {
      const n = attempt < 10 ? randomName() : `${randomName()}${randomInt(10 ** Math.min(6, 1 + Math.floor(attempt / 10)))}`;
      if (!this.find(n) && !this.claimedNames.has(`/${n}`)) return n;
    }
  }

  // ---- start ----

  async start(ref: string): Promise<void> {
    const c = this.get(ref);
    await this.locked(c.Id, async () => {
      const cur = this.get(c.Id);
      if (cur.State.Running) throw new NotModifiedError();
      // A user's start: the restart policy's count and back-off start over (as dockerd's ResetRestartManager).
      this.restarts.forget(cur.Id);
      cur.HasBeenManuallyStopped = false;
      cur.RestartCount = 0;
      await this.doStart(cur);
    });
  }

  private async doStart(c: ContainerRecord): Promise<void> {
    await this.released(c.Id);
    const rt = this.runtimeOf(c);
    const image = await traced('image', this.images.resolve(c.Image).catch(() => { throw noSuchImage(c.Config.Image); }));
    const merged = join(this.dir(c.Id), 'merged');
    // The network namespace is made while the root is mounted: neither needs the other.
    const { links, targets } = startLinks(c, (ref) => this.find(ref));
    const netStarted = traced('network namespace', startNetworking(this.network, c, links));
    netStarted.catch(() => {}); // awaited below, or in the cleanup when an earlier step fails
    const mounted = traced('mount rootfs', this.mountRootfs(c, image));
    const specMade = mounted.then(() => this.makeSpec(c, rt, netStarted, linkEnv(c, links, targets)));
    specMade.catch(() => {}); // awaited below, or in the cleanup
    try {
      // runc creates the container while the CNI plugins plumb its namespace; its process starts after both. A plugin
      // that fails (an address in use) tears the namespace down under runc: its error is the one to report. The
      // runtime is called at once: its start (conmon's) overlaps the mount and the making of the spec.
      const [{ pid }] = await both(traced('runtime create', () => rt.create({
        id: c.Id,
        spec: specMade,
        logPath: c.LogPath,
        terminal: c.Config.Tty,
        stdin: c.Config.OpenStdin,
        stdinOnce: c.Config.StdinOnce,
        consoleSize: c.HostConfig.ConsoleSize,
      })), netStarted.then((net) => traced('network setup', net.ready)));
      // Clients that attached before start get the stream before the process runs, so no output is lost.
      const waiting = this.pendingAttach.get(c.Id) ?? [];
      this.pendingAttach.delete(c.Id);
      for (const deliver of waiting) deliver(await traced('attach', rt.attach(c.Id)));
      const described = await rt.describe?.(c.Id);
      if (described) c.VM = described;
      c.State = { ...emptyState(), Status: 'running', Running: true, Pid: pid, StartedAt: new Date().toISOString() };
      c.HasBeenStartedBefore = true;
      await traced('save', async () => this.save(c));
      await traced('runtime start', rt.start(c.Id));
      this.emit('event', 'start', c);
      this.health.start(c);
    } catch (err) {
      // A failure before create leaves the mount and the plumbing going: let them finish first.
      await specMade.catch(() => {});
      await (await netStarted.catch(() => undefined))?.ready.catch(() => {});
      await rt.delete(c.Id).catch(() => {});
      await unmount(merged);
      await stopNetworking(this.network, c).catch(() => {});
      await this.volumes?.deactivate(c.Id).catch(() => {});
      const code = err instanceof StartError ? err.exitCode : 128;
      c.State = { ...emptyState(), Status: c.State.StartedAt !== ZERO_TIME ? 'exited' : 'created', ExitCode: code, Error: errText(err), FinishedAt: new Date().toISOString() };
      this.save(c);
      for (const deliver of this.pendingAttach.get(c.Id) ?? []) deliver(closedAttach());
      this.pendingAttach.delete(c.Id);
      this.emit(`exit:${c.Id}`, code);
      if (c.HostConfig.AutoRemove) await this.doRemove(c, { volumes: true });
      throw err;
    }
  }

  /** The container's OCI spec, once its root is mounted (its user is looked up there) and its network namespace made. */
  private async makeSpec(c: ContainerRecord, rt: Runtime, netStarted: Promise<StartedNetworking>, linkVars: string[]): Promise<Spec> {
    const merged = join(this.dir(c.Id), 'merged');
    const cwd = c.Config.WorkingDir || '/';
    const [user] = await Promise.all([
      traced('user', resolveUser(merged, c.Config.User)),
      // Resolved inside the root: a symlink in the image must not make the daemon create directories on the host.
      traced('workdir', async () => mkdir(await resolveInRoot(merged, cwd), { recursive: true }).catch(() => {})),
    ]);
    const env = withDefaults(mergeEnv(linkVars, c.Config.Env), c.Config.Hostname, c.Config.Tty, user.home);
    const net = await netStarted;
    // A VM runtime wires the namespace's interface into the guest when it creates it: that needs the plumbing done.
    if (rt.name !== 'oci') await traced('network setup', net.ready);
    const spec = buildSpec({
      id: c.Id,
      rootfs: merged,
      args: [c.Path, ...c.Args],
      env,
      cwd,
      user,
      hostname: c.Config.Hostname,
      terminal: c.Config.Tty,
      consoleSize: c.HostConfig.ConsoleSize,
      readonlyRootfs: !!c.HostConfig.ReadonlyRootfs,
      etcFiles: [
        { source: c.HostnamePath, destination: '/etc/hostname' },
        { source: c.HostsPath, destination: '/etc/hosts' },
        { source: c.ResolvConfPath, destination: '/etc/resolv.conf' },
      ],
      cgroupsPath: cgroupsPath(c),
      annotations: runtimeAnnotations(c.HostConfig),
      netns: net.netns,
      mounts: await traced('mounts', startMounts(this.volumes, c, merged)),
    });
    if (rt.name === 'oci') {
      await traced('host config', applyHostConfig(spec, c.HostConfig, merged));
      applyNamespaceModes(spec, c.HostConfig, c.Config.Domainname, (ref) => this.find(ref));
    }
    return spec;
  }

  private async mountRootfs(c: ContainerRecord, image: Image): Promise<void> {
    const dir = this.dir(c.Id);
    const merged = join(dir, 'merged');
    if (await isMounted(merged)) return;
    const lower = [...image.layerDirs].reverse();
    if (lower.length === 0) {
      // An image without layers (FROM scratch with nothing added): give overlay an empty lower dir.
      await mkdir(join(dir, 'empty'), { recursive: true });
      lower.push(join(dir, 'empty'));
    }
    await mountOverlay(lower, join(dir, 'upper'), join(dir, 'work'), merged);
  }

  // ---- exit ----

  private async onExit(id: string, code: number): Promise<void> {
    const c = this.records.get(id);
    if (!c) return;
    await this.locked(id, async () => {
      const cur = this.records.get(id);
      if (!cur || !cur.State.Running) return;
      const rt = this.runtimeOf(cur);
      // The cgroup goes with `runc delete`: what it says about the run is read first.
      const [oom, peak] = await Promise.all([oomKilled(cgroupsPath(cur)), rt.peakMemoryUsage?.(id).catch(() => undefined)]);
      if (peak !== undefined) this.peaks.set(id, peak);
      const release = [
        () => traced('runtime delete', rt.delete(id)),
        () => traced('unmount rootfs', unmount(join(this.dir(id), 'merged'))),
        () => traced('network teardown', stopNetworking(this.network, cur)),
        () => this.volumes?.deactivate(id),
      ];
      // With runc the process is gone: its state, root and network are let go side by side, and the exit is
      // recorded and answered meanwhile (they are 10-20 ms of process starts a `run --rm` need not wait for):
      // whatever needs them gone waits for them (`released`; the network part for its own). They start once
      // the exit is answered (the next turn of the event loop) and at a low priority: the client waiting for
      // the exit, or starting the next container, comes first on a busy machine (6 ms of a `run --rm` on two
      // cores: README, "Measured"). Without a PID namespace of its own (`--pid host|container:`) what the
      // process left running outlives it until `runc delete` kills it, and that is awaited, as dockerd's. A VM's
      // helpers may still hold the root until the runtime let them go, so there it is one after another, awaited.
      const lingering = /^(host|container:)/.test(String(cur.HostConfig.PidMode ?? ''));
      const sideBySide = () => Promise.all(release.map((f) => f()));
      if (rt.name !== 'oci') for (const f of release) await f();
      else if (lingering) await sideBySide();
      else this.releaseLater(id, afterThisTurn().then(() => inBackground(sideBySide)));
      cur.State = { ...cur.State, Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: code, OOMKilled: oom, FinishedAt: new Date().toISOString() };
      this.health.stop(id);
      this.restarts.onExit(cur);
      this.save(cur);
      await Promise.all(this.signals.get(id) ?? []);
      this.emit('event', 'die', cur);
      this.emit(`exit:${id}`, code);
      if (cur.HostConfig.AutoRemove) await this.doRemove(cur, { volumes: true });
    });
  }

  // ---- attach ----

  /**
   * Connects to the container's stdio. For a container that is not running
   * yet, the connection is handed over at start, before the process runs.
   */
  async attach(ref: string): Promise<{ record: ContainerRecord; connection: Promise<AttachConnection> }> {
    const c = this.get(ref);
    this.emit('event', 'attach', c);
    if (c.State.Running) return { record: c, connection: this.runtimeOf(c).attach(c.Id) };
    if (c.State.Status === 'exited' || c.State.Status === 'dead') {
      // Docker lets you attach to a stopped container and waits for the next start.
    }
    const connection = new Promise<AttachConnection>((resolve) => {
      const list = this.pendingAttach.get(c.Id) ?? [];
      list.push(resolve);
      this.pendingAttach.set(c.Id, list);
    });
    return { record: c, connection };
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Running) {
      c.HostConfig.ConsoleSize = [height, width];
      return;
    }
    await this.runtimeOf(c).resize(c.Id, height, width);
    this.emit('event', 'resize', c, { height: String(height), width: String(width) });
  }

  // ---- wait ----

  wait(ref: string, condition: WaitCondition = 'not-running'): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const c = this.get(ref);
    const result = (code: number) => ({ StatusCode: code, Error: null });
    if (condition === 'not-running' && !c.State.Running) return Promise.resolve(result(c.State.ExitCode));
    return new Promise((resolve) => {
      if (condition === 'removed') {
        let last = c.State.ExitCode;
        const onExit = (code: number) => { last = code; };
        this.on(`exit:${c.Id}`, onExit);
        this.once(`removed:${c.Id}`, () => { this.off(`exit:${c.Id}`, onExit); resolve(result(last)); });
      } else {
        this.once(`exit:${c.Id}`, (code: number) => resolve(result(code)));
      }
    });
  }

  // ---- signals ----

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const c = this.get(ref);
    const sig = normalizeSignal(signal);
    if (!c.State.Running) throw new ConflictError(`Cannot kill container: ${ref}: Container ${c.Id} is not running`);
    // As dockerd: a kill keeps the restart policy from bringing it back, unless it is a signal other than the configured stop signal.
    if (sig === 'SIGKILL' || !c.Config.StopSignal || sig === normalizeSignal(c.Config.StopSignal)) this.markStopped(c);
    await this.signal(c, sig, (e) => {
      if (e instanceof ConflictError) throw new ConflictError(`Cannot kill container: ${ref}: Container ${c.Id} is not running`);
      throw e;
    });
  }

  /** `docker stop`: the stop signal, then SIGKILL after `timeout` seconds. */
  async stop(ref: string, timeout?: number, signal?: string): Promise<void> {
    const c = this.get(ref);
    if (c.State.Restarting) { await this.cancelRestart(c); return; }
    if (!c.State.Running) throw new NotModifiedError();
    this.markStopped(c);
    const t = timeout ?? c.Config.StopTimeout ?? 10;
    const exited = this.wait(c.Id, 'next-exit');
    const sig = normalizeSignal(signal || c.Config.StopSignal || 'SIGTERM');
    await this.signal(c, sig, () => {});
    const graceful = t < 0 ? await exited.then(() => true) : await Promise.race([exited.then(() => true), sleep(t * 1000).then(() => false)]);
    if (!graceful && this.records.get(c.Id)?.State.Running) {
      await this.signal(c, 'SIGKILL', () => {});
      await exited;
    }
    // A client that stopped it finds its network, root mount and cgroup gone, as after dockerd's stop; only an exit
    // of its own (a `wait`, `run --rm`) is answered before that.
    await this.released(c.Id);
    this.emit('event', 'stop', c);
  }

  // ---- remove ----

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = this.get(ref);
    if (c.State.Restarting) {
      if (!opts.force) throw new ConflictError(`cannot remove container "${c.Name}": container is restarting: stop the container before removing or force remove`);
      this.restarts.cancel(c.Id);
    }
    if (c.State.Running) {
      if (!opts.force) {
        throw new ConflictError(`cannot remove container "${c.Name}": container is running: stop the container before removing or force remove`);
      }
      const exited = this.wait(c.Id, 'next-exit');
      await this.signal(c, 'SIGKILL', () => {});
      await Promise.race([exited, sleep(10_000)]);
    }
    await this.locked(c.Id, async () => {
      const cur = this.records.get(c.Id);
      if (!cur) return; // auto-removed meanwhile
      await this.doRemove(cur, opts);
    });
    // As with stop: what a client removed is gone when the answer comes.
    await this.released(c.Id);
  }

  private async doRemove(c: ContainerRecord, opts: { volumes?: boolean }): Promise<void> {
    if (!this.records.has(c.Id)) return;
    const dir = this.dir(c.Id);
    const releasing = this.releasing.get(c.Id);
    if (releasing) {
      // Just exited (`run --rm`): the record goes now, the directory once the root is unmounted. A daemon that
      // stops before that finds the directory without its record at its next start (sweepRemoved).
      this.releaseLater(c.Id, releasing.then(() => rm(dir, { recursive: true, force: true })));
    } else {
      const rt = this.runtimeOf(c);
      // A stopped container was released when it exited; only leftovers of a crash still need the runtime.
      if (c.State.Running || await rt.holds(c.Id)) await rt.delete(c.Id);
      const merged = join(dir, 'merged');
      if (await isMounted(merged)) await unmount(merged);
      await stopNetworking(this.network, c);
      await rm(dir, { recursive: true, force: true });
    }
    this.records.delete(c.Id);
    this.peaks.delete(c.Id);
    this.store.deleteContainer(c.Id);
    await this.volumes?.release(c.Id, c.Mounts as MountPoint[], !!opts.volumes);
    for (const deliver of this.pendingAttach.get(c.Id) ?? []) deliver(closedAttach());
    this.pendingAttach.delete(c.Id);
    this.execs.forgetContainer(c.Id);
    this.restarts.forget(c.Id);
    this.health.forget(c.Id);
    this.emit('event', 'destroy', c);
    this.emit(`removed:${c.Id}`);
  }

  /**
   * `rm --link /PARENT/ALIAS`: the parent forgets the link. As with dockerd, a running parent keeps its /etc/hosts
   * and variables until it starts again; a container's own name (`/db`) is no link to remove.
   */
  async removeLink(name: string): Promise<void> {
    const full = name.startsWith('/') ? name : `/${name}`;
    const cut = full.lastIndexOf('/');
    if (cut === 0) throw new ConflictError('Conflict, cannot remove the default link name of the container');
    const parent = this.find(full.slice(1, cut));
    const links = (parent?.HostConfig.Links as string[] | null | undefined) ?? [];
    const kept = links.filter((l) => !l.endsWith(`:${full}`));
    if (!parent || kept.length === links.length) throw new NotFoundError(`No such container: ${name}`);
    await this.locked(parent.Id, async () => {
      parent.HostConfig.Links = kept.length ? kept : null;
      this.save(parent);
    });
  }

  async rename(ref: string, name: string): Promise<void> {
    const c = this.get(ref);
    const clean = name.replace(/^\//, '');
    if (!VALID_NAME.test(clean)) throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const clash = this.find(clean);
    if (clash && clash.Name === `/${clean}` && clash.Id !== c.Id) {
      throw new ConflictError(`Conflict. The container name "/${clean}" is already in use by container "${clash.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    if (c.Name === `/${clean}`) throw new InvalidParameterError('Renaming a container with the same name as its current name');
    await this.locked(c.Id, async () => {
      const old = c.Name;
      c.Name = `/${clean}`;
      await this.network?.rename(c.Id, clean);
      this.save(c);
      this.emit('event', 'rename', c, { oldName: old });
    });
  }

  /** `network connect` / `disconnect`: the network part changes the container's networking, the record keeps it. */
  async updateNetworking(ref: string, fn: (info: ReturnType<typeof netInfo>, running: boolean) => Promise<void>): Promise<void> {
    const c = this.get(ref);
    await this.locked(c.Id, async () => {
      const info = netInfo(c);
      await fn(info, c.State.Running);
      c.NetworkSettings = info.settings as unknown as Record<string, unknown>;
      this.save(c);
    });
  }

  async pause(ref: string): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Running) throw new ConflictError(`Container ${c.Id} is not running`);
    if (c.State.Paused) throw new ConflictError(`Container ${c.Id} is already paused`);
    const rt = this.runtimeOf(c);
    if (!rt.pause) throw new InvalidParameterError(`the ${rt.name} runtime cannot pause containers`);
    await this.locked(c.Id, async () => {
      await rt.pause!(c.Id);
      c.State = { ...c.State, Paused: true, Status: 'paused' };
      this.save(c);
      this.emit('event', 'pause', c);
    });
  }

  async unpause(ref: string): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Paused) throw new ConflictError(`Container ${c.Id} is not paused`);
    const rt = this.runtimeOf(c);
    await this.locked(c.Id, async () => {
      await rt.resume!(c.Id);
      c.State = { ...c.State, Paused: false, Status: 'running' };
      this.save(c);
      this.emit('event', 'unpause', c);
    });
  }

  /** `docker top`: the host's `ps` output, only the rows of this container's processes. */
  async top(ref: string, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.get(ref);
    if (!c.State.Running) throw new ConflictError(`Container ${c.Id} is not running`);
    const pids = new Set((await this.runtimeOf(c).pids?.(c.Id)) ?? []);
    const res = await run('ps', psArgs.split(/\s+/).filter(Boolean), { allowFailure: true });
    if (res.code !== 0) throw new InvalidParameterError(`ps: ${res.stderr.trim()}`);
    const lines = res.stdout.split('\n').filter(Boolean);
    const titles = lines[0]!.trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol < 0) throw new InvalidParameterError('Couldn\'t find PID field in ps output');
    const processes = lines.slice(1).map((l) => {
      const parts = l.trim().split(/\s+/);
      return [...parts.slice(0, titles.length - 1), parts.slice(titles.length - 1).join(' ')];
    }).filter((p) => pids.has(Number(p[pidCol])));
    return { Titles: titles, Processes: processes };
  }

  /** `container prune`: every container that is not running. */
  /** Removes the stopped containers that `match` (the endpoint's filters) takes. */
  async prune(match: (c: ContainerRecord) => boolean = () => true): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.list().filter((x) => !x.State.Running && match(x))) {
      reclaimed += await this.writableSize(c.Id);
      await this.remove(c.Id, {});
      deleted.push(c.Id);
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /** `docker diff` */
  async changes(ref: string): Promise<Change[]> {
    const c = this.get(ref);
    const image = await this.images.resolve(c.Image);
    return containerChanges(join(this.dir(c.Id), 'upper'), [...image.layerDirs].reverse());
  }

  /**
   * `docker commit`: the container's changes as a new layer on its image, with the container's
   * config (and `changes`) as the new image's config. A running container is paused meanwhile, as docker does.
   */
  async commit(ref: string, opts: {
    tag?: string; comment?: string; author?: string; changes?: string[]; config?: Partial<ContainerConfigSection>; pause?: boolean;
    /** For history; the container's command line by default. A build passes its RUN line. */
    createdBy?: string;
    /** The image's history so far, when it is not the container's image's own (a build tracks its own). */
    history?: HistoryEntry[];
  }): Promise<string> {
    const c = this.get(ref);
    const image = await this.images.resolve(c.Image);
    const pause = opts.pause !== false && c.State.Running && !c.State.Paused && !!this.runtimeOf(c).pause;
    if (pause) await this.pause(c.Id);
    let layer;
    try {
      layer = await this.images.storeLayer(await upperAsLayer(join(this.dir(c.Id), 'upper')));
    } finally {
      if (pause) await this.unpause(c.Id);
    }
    const base = await this.images.layersOf(image);
    const fromContainer: ContainerConfigSection = {
      ...image.config.config,
      Cmd: c.Config.Cmd, Entrypoint: c.Config.Entrypoint, Env: c.Config.Env, WorkingDir: c.Config.WorkingDir,
      User: c.Config.User, Labels: c.Config.Labels, ExposedPorts: c.Config.ExposedPorts,
      ...(c.Config.Volumes ? { Volumes: c.Config.Volumes } : {}), ...(c.Config.StopSignal ? { StopSignal: c.Config.StopSignal } : {}),
    };
    const config = applyChanges({ ...fromContainer, ...(opts.config ?? {}) }, opts.changes ?? []);
    const created = new Date().toISOString();
    const history = [...(opts.history ?? image.config.history ?? []), {
      created, created_by: opts.createdBy ?? [c.Path, ...c.Args].join(' '),
      ...(opts.comment ? { comment: opts.comment } : {}), ...(opts.author ? { author: opts.author } : {}),
    }];
    const img = await this.images.commitImage([...base, layer], { config, history, created, parent: image.id, author: opts.author }, opts.tag);
    this.emit('event', 'commit', c);
    return img.id;
  }

  /** The most host memory the container's last run held (its cgroup's, or its VM's peak; `compare` reads it). */
  peakMemoryOf(ref: string): number | undefined {
    return this.peaks.get(this.get(ref).Id);
  }

  /** Host memory the running container holds now (its cgroup, or its VM's RSS). */
  async memoryOf(ref: string): Promise<number | undefined> {
    const c = this.get(ref);
    if (!c.State.Running) return undefined;
    return this.runtimeOf(c).memoryUsage?.(c.Id);
  }

  /** One `stats` sample of a container; `prev` becomes precpu_stats. */
  async stats(c: ContainerRecord, prev?: StatsSample): Promise<StatsSample> {
    const rt = this.runtimeOf(c);
    return sampleStats(c, prev, rt.usage ? () => rt.usage!(c.Id) : undefined);
  }

  /** `berth compare`: the same image and command under each runtime. */
  async compare(imageRef: string, cmd?: string[]): Promise<Comparison> {
    return compareRuntimes(this, this.images, imageRef, cmd, Object.keys(this.runtimes).filter((r) => r === 'oci' || r === 'vm'));
  }

  /** Bytes the container wrote to its own layer, as `SizeRw`. */
  async writableSize(ref: string): Promise<number> {
    const c = this.get(ref);
    return contentSize(join(this.dir(c.Id), 'upper'));
  }

  // ---- logs ----

  logs(ref: string, opts: { follow: boolean; tail?: number; since?: number; until?: number; signal: AbortSignal }): AsyncGenerator<LogEntry> {
    const c = this.get(ref);
    const stopped = () => (this.records.get(c.Id)?.State.Running
      ? new Promise<void>((resolve) => {
        const done = () => { this.off(`exit:${c.Id}`, done); this.off(`removed:${c.Id}`, done); resolve(); };
        this.once(`exit:${c.Id}`, done);
        this.once(`removed:${c.Id}`, done);
      })
      : Promise.resolve());
    return readLogs(c.LogPath, { ...opts, stopped });
  }

  /** `docker export`: a tar of the container's filesystem as it is now, running or not. */
  async export(ref: string): Promise<Readable> {
    const c = this.get(ref);
    const image = await this.images.resolve(c.Image).catch(() => { throw noSuchImage(c.Config.Image); });
    const tar = await exportRootfs(this.dir(c.Id), image.layerDirs);
    this.emit('event', 'export', c);
    return tar;
  }

  /** Stops following exits; running containers keep running under their monitors. */
  async shutdown(): Promise<void> {
    this.restarts.shutdown();
    this.health.shutdown();
    await this.locks.idle();
    await Promise.allSettled([...this.releasing.values()]);
  }

  // ---- update, cp ----

  /** `docker update`: new limits and restart policy in the record; a running container gets the limits from the runtime at once. */
  async update(ref: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }> {
    const c = this.get(ref);
    return this.locked(c.Id, async () => {
      const { hostConfig, warnings } = updatedHostConfig(c.HostConfig, body ?? {});
      const rt = this.runtimeOf(c);
      if (c.State.Running) {
        if (rt.name !== 'oci' || !rt.update) throw new InvalidParameterError(`the ${rt.name} runtime cannot change the limits of a running container`);
        await rt.update(c.Id, cgroupResources(hostConfig));
      }
      c.HostConfig = hostConfig;
      this.save(c);
      this.emit('event', 'update', c);
      return { Warnings: warnings };
    });
  }

  /**
   * Runs `fn` on the container's filesystem as it sees it (root, volumes, bind mounts), mounting the root
   * for the while when the container is stopped. Holds the container's lock, so it cannot start or be
   * cleaned up under the copy.
   */
  async withFilesystem<T>(ref: string, fn: (t: CopyTarget, c: ContainerRecord) => Promise<T>): Promise<T> {
    const c = this.get(ref);
    return this.locked(c.Id, async () => {
      await this.released(c.Id);
      const merged = join(this.dir(c.Id), 'merged');
      const mounted = await isMounted(merged);
      if (!mounted) await this.mountRootfs(c, await this.images.resolve(c.Image).catch(() => { throw noSuchImage(c.Config.Image); }));
      const mounts = ((c.Mounts ?? []) as { Type?: string; Source?: string; Destination?: string }[])
        .filter((m) => (m.Type === 'bind' || m.Type === 'volume') && m.Source && m.Destination)
        .map((m) => ({ source: m.Source!, destination: m.Destination! }));
      // The container sees the engine's /etc/hostname, /etc/hosts and resolv.conf over the image's (empty)
      // ones, and so does dockerd's archive; a user's mount on the same path comes first and wins.
      for (const [source, destination] of [[c.HostnamePath, '/etc/hostname'], [c.HostsPath, '/etc/hosts'], [c.ResolvConfPath, '/etc/resolv.conf']] as const) {
        if (source && existsSync(source)) mounts.push({ source, destination });
      }
      try {
        return await fn({ root: merged, mounts, name: c.Name.slice(1) }, c);
      } finally {
        if (!mounted) await unmount(merged).catch(() => {});
      }
    });
  }

  /** `system check` of container directories, records and mounts (check.ts). */
  async check(opts: { repair: boolean }): Promise<{ problems: CheckProblem[]; counts: Record<string, number> }> {
    // A container that has just exited still holds its mount for a moment: that is no problem to report.
    await Promise.allSettled([...this.releasing.values()]);
    return checkContainers({
      root: this.root,
      records: () => [...this.records.values()],
      locked: (id, fn) => this.locked(id, fn),
      unmount,
      forget: (id) => this.locked(id, async () => { const c = this.records.get(id); if (c) await this.doRemove(c, {}); }),
      imageExists: (id) => this.images.imageExists(id),
    }, opts);
  }

  // ---- restart policies ----

  /** A user's stop or kill: the policy must not bring it back (dockerd's HasBeenManuallyStopped). */
  private markStopped(c: ContainerRecord): void {
    this.restarts.cancel(c.Id);
    c.HasBeenManuallyStopped = true;
    this.save(c);
  }

  /** `stop` of a container waiting to be restarted: it stays stopped. */
  private async cancelRestart(c: ContainerRecord): Promise<void> {
    await this.locked(c.Id, async () => {
      this.restarts.cancel(c.Id);
      c.HasBeenManuallyStopped = true;
      c.State = { ...c.State, Restarting: false, Status: 'exited' };
      this.save(c);
      this.emit('event', 'stop', c);
    });
  }

  private restartFromPolicy(id: string): Promise<void> {
    return this.locked(id, async () => {
      const cur = this.records.get(id);
      if (!cur || !cur.State.Restarting || cur.State.Running) return;
      await this.doStart(cur).catch(() => { /* recorded as the exit; the policy stops here, as dockerd's */ });
    });
  }

  /** After the daemon started: health checks of running containers, and the restart policies of stopped ones. */
  private resumePolicies(): void {
    this.restarts.release();
    for (const c of this.records.values()) {
      if (c.State.Running) { this.health.resume(c); continue; }
      if (!this.restarts.atBoot(c)) continue;
      c.State = { ...c.State, Restarting: true, Status: 'restarting' };
      this.save(c);
      this.restarts.schedule(c.Id, 0);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function resolvConf(): string {
  // As docker: the host's resolver configuration without loopback servers, which mean nothing in another netns.
  let host = '';
  try { host = readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none: an empty one */ }
  const lines = host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l));
  return `${lines.join('\n').trim()}\n`;
}

/** For attach clients whose container went away before it started. */
function closedAttach(): AttachConnection {
  const e = new EventEmitter() as EventEmitter & AttachConnection;
  e.write = () => {};
  e.endInput = () => {};
  e.close = () => {};
  setImmediate(() => e.emit('end'));
  return e;
}

/**
 * Awaits both; when one fails, waits for the other to settle too (so cleanup finds nothing in flight). When
 * both fail, `b`'s error is thrown: the caller passes there what can cause the other's failure.
 */
async function both<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (rb.status === 'rejected') throw rb.reason;
  if (ra.status === 'rejected') throw ra.reason;
  return [ra.value, rb.value];
}
