/** `/_ping`, `/version`, `/info` and `/events`. */
import { cpus, hostname, release, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { InvalidParameterError } from '../errors/index.js';
import { EventFilter } from '../events/index.js';
import { timestampNanos } from '../common/timestamp.js';
import type { Engine, EngineEvent } from './engine.js';
import { parseFilters, sendJson, type Router } from './router.js';
import { API_VERSION, BERTH_VERSION, MIN_API_VERSION } from './version.js';

export { BERTH_VERSION };

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
  } catch { return 'Linux'; }
}

export function versionInfo() {
  return {
    Platform: { Name: 'berth' },
    Components: [{ Name: 'Engine', Version: BERTH_VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: release() } }],
    Version: BERTH_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: 'berth',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: goArch(),
    KernelVersion: release(),
    BuildTime: '',
  };
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

export function systemRoutes(r: Router, engine: Engine): void {
  const ping = (res: import('node:http').ServerResponse, head: boolean) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Builder-Version': '1', 'Content-Length': 2 });
    res.end(head ? undefined : 'OK');
  };
  r.on('GET', '/_ping', ({ res }) => ping(res, false));
  r.on('HEAD', '/_ping', ({ res }) => ping(res, true));
  r.on('GET', '/version', ({ res }) => sendJson(res, 200, versionInfo()));
  r.on('GET', '/info', async ({ res }) => {
    const containers = engine.containers.list();
    const running = containers.filter((c) => c.State.Running).length;
    const paused = containers.filter((c) => c.State.Paused).length;
    const runtimes: Record<string, Record<string, unknown>> = Object.fromEntries(await Promise.all(Object.entries(engine.runtimes)
      .map(async ([n, rt]) => [n, { path: n === 'oci' ? 'runc' : n, ...(await rt.info?.()) }])));
    sendJson(res, 200, {
      ID: engine.id,
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: containers.length - running - paused,
      Images: (await engine.images.list()).length,
      Driver: 'overlay',
      DriverStatus: [['Backing Filesystem', 'overlayfs']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['k8s-file'] },
      MemoryLimit: true, SwapLimit: false, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true,
      IPv4Forwarding: false, BridgeNfIptables: false, BridgeNfIp6tables: false,
      Debug: false, NFd: 0, OomKillDisable: false, NGoroutines: 0, SystemTime: new Date().toISOString(),
      LoggingDriver: 'k8s-file', CgroupDriver: 'cgroupfs', CgroupVersion: engine.cgroupVersion,
      NEventsListener: engine.events.subscribers, KernelVersion: release(), OperatingSystem: osName(), OSVersion: '', OSType: 'linux',
      Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      NCPU: cpus().length, MemTotal: totalmem(), DockerRootDir: engine.dataRoot, Name: hostname(),
      Labels: [], ExperimentalBuild: false, ServerVersion: BERTH_VERSION,
      Runtimes: runtimes,
      DefaultRuntime: 'oci', Swarm: { LocalNodeState: 'inactive', NodeID: '', NodeAddr: '', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true, Isolation: '', InitBinary: '', ContainerdCommit: { ID: '' }, RuncCommit: { ID: String(runtimes.oci?.Commit ?? '') }, InitCommit: { ID: '' },
      SecurityOptions: ['name=seccomp,profile=builtin'], Warnings: [],
    });
  });
  r.on('GET', '/events', ({ res, req, query }) => {
    // As dockerd: `since`/`until` are `seconds[.nanoseconds]` (berth also takes the CLI's durations and
    // RFC 3339 dates); recorded events from `since` are replayed first; an `until` in the past ends the
    // stream after the replay, one in the future ends it then.
    const time = (name: string) => {
      const v = query.get(name);
      if (!v) return undefined;
      try { return timestampNanos(v); } catch (e) { throw new InvalidParameterError((e as Error).message); }
    };
    const since = time('since');
    const until = time('until');
    if (since !== undefined && until !== undefined && until < since) {
      throw new InvalidParameterError(`\`since\` time (${query.get('since')}) cannot be after \`until\` time (${query.get('until')})`);
    }
    const filter = new EventFilter(parseFilters(query.get('filters')));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const send = (ev: EngineEvent) => res.write(`${JSON.stringify(ev)}\n`);
    for (const ev of engine.events.history(since, until, filter)) send(ev);
    const now = Date.now() * 1e6;
    if (until !== undefined && until < now) { res.end(); return; }
    const off = engine.events.subscribe((ev) => { if (filter.matches(ev)) send(ev); });
    let timer: NodeJS.Timeout | undefined;
    const end = () => { off(); if (timer) clearTimeout(timer); };
    if (until !== undefined) {
      const ms = Math.ceil((until - now) / 1e6);
      if (ms < 2 ** 31) timer = setTimeout(() => { end(); res.end(); }, ms);
    }
    req.on('close', end);
    res.on('close', end);
  });
}
