/**
 * The flags of `run` and `create` for limits, hardening, restart policies and health checks, and the
 * HostConfig and Config fields they become (docker's names and units).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { collect, FlagError } from '../context.js';

/** The resource flags `run`/`create` and `update` share. */
export interface ResourceFlags {
  memorySwap?: string;
  memoryReservation?: string;
  memorySwappiness?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
}

export interface HostFlags extends ResourceFlags {
  ulimit?: string[];
  shmSize?: string;
  oomKillDisable?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  tmpfs?: string[];
  securityOpt?: string[];
  groupAdd?: string[];
  init?: boolean;
  device?: string[];
  restart?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  healthcheck?: boolean;
}

export function addResourceFlags(cmd: Command): Command {
  return cmd
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--memory-reservation <bytes>', 'Memory soft limit')
    .option('--memory-swappiness <int>', 'Tune container memory swappiness (0 to 100) (default -1)')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <list>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)')
    .option('--blkio-weight <int>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable')
    .option('--cpu-rt-period <int>', 'Limit CPU real-time period in microseconds')
    .option('--cpu-rt-runtime <int>', 'Limit CPU real-time runtime in microseconds');
}

/** The resource flags as HostConfig fields (`update` sends the same names). */
export function resourceBody(f: ResourceFlags): Record<string, unknown> {
  const hc: Record<string, unknown> = {};
  if (f.memorySwap !== undefined) hc.MemorySwap = bytes(f.memorySwap, '--memory-swap');
  if (f.memoryReservation !== undefined) hc.MemoryReservation = bytes(f.memoryReservation, '--memory-reservation');
  if (f.memorySwappiness !== undefined) {
    const n = int(f.memorySwappiness, '--memory-swappiness');
    if (n !== -1 && (n < 0 || n > 100)) throw new Error(`invalid value: ${n}. Valid memory swappiness range is 0-100`);
    hc.MemorySwappiness = n;
  }
  if (f.cpuShares !== undefined) hc.CpuShares = int(f.cpuShares, '--cpu-shares');
  if (f.cpusetCpus !== undefined) hc.CpusetCpus = f.cpusetCpus;
  if (f.cpusetMems !== undefined) hc.CpusetMems = f.cpusetMems;
  if (f.cpuPeriod !== undefined) hc.CpuPeriod = int(f.cpuPeriod, '--cpu-period');
  if (f.cpuQuota !== undefined) hc.CpuQuota = int(f.cpuQuota, '--cpu-quota');
  if (f.pidsLimit !== undefined) hc.PidsLimit = int(f.pidsLimit, '--pids-limit');
  if (f.blkioWeight !== undefined) hc.BlkioWeight = int(f.blkioWeight, '--blkio-weight');
  if (f.cpuRtPeriod !== undefined) hc.CpuRealtimePeriod = int(f.cpuRtPeriod, '--cpu-rt-period');
  if (f.cpuRtRuntime !== undefined) hc.CpuRealtimeRuntime = int(f.cpuRtRuntime, '--cpu-rt-runtime');
  return hc;
}

export function addHostFlags(cmd: Command): Command {
  return addResourceFlags(cmd)
    .option('--ulimit <ulimit>', 'Ulimit options', collect)
    .option('--shm-size <bytes>', 'Size of /dev/shm')
    .option('--oom-kill-disable', 'Disable OOM Killer')
    .option('--cap-add <list>', 'Add Linux capabilities', collect)
    .option('--cap-drop <list>', 'Drop Linux capabilities', collect)
    .option('--privileged', 'Give extended privileges to this container')
    .option('--tmpfs <tmpfs>', 'Mount a tmpfs directory', collect)
    .option('--security-opt <list>', 'Security Options', collect)
    .option('--group-add <list>', 'Add additional groups to join', collect)
    .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
    .option('--device <list>', 'Add a host device to the container', collect)
    .option('--restart <policy>', 'Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)')
    .option('--health-cmd <string>', 'Command to run to check health')
    .option('--health-interval <duration>', 'Time between running the check (ms|s|m|h) (default 0s)')
    .option('--health-timeout <duration>', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)')
    .option('--health-retries <int>', 'Consecutive failures needed to report unhealthy')
    .option('--health-start-period <duration>', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)')
    .option('--health-start-interval <duration>', 'Time between running the check during the start period (ms|s|m|h) (default 0s)')
    .option('--no-healthcheck', 'Disable any container-specified HEALTHCHECK');
}

/** docker's RAM sizes: `512m`, `1g`, `64k`, plain bytes. */
export function parseBytes(v: string, flag = '-m, --memory'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new FlagError(`invalid argument "${v}" for "${flag}" flag: invalid size: '${v}'`);
  const unit = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase()]!;
  return Math.round(Number(m[1]) * unit);
}

/** A size, or -1 where the flag allows "unlimited". */
function bytes(v: string, flag: string): number {
  return v.trim() === '-1' ? -1 : parseBytes(v, flag);
}

export function int(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw new FlagError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

/** Go's time.ParseDuration, in nanoseconds: `1m30s`, `500ms`, `2h`. */
export function goDuration(v: string, flag: string): number {
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const mult: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0; let m: RegExpExecArray | null; let end = 0;
  while ((m = re.exec(v)) !== null) { total += Number(m[1]) * mult[m[2]!]!; end = re.lastIndex; }
  if (end === 0 || end !== v.length) throw new FlagError(`invalid argument "${v}" for "${flag}" flag: time: invalid duration "${v}"`);
  return Math.round(total);
}

/** `on-failure:3` → {Name, MaximumRetryCount}. */
export function restartPolicy(v: string): { Name: string; MaximumRetryCount: number } {
  const [name = '', max] = v.split(':');
  if (max !== undefined && !/^\d+$/.test(max)) throw new Error(`invalid restart policy format: maximum retry count must be an integer`);
  return { Name: name, MaximumRetryCount: max !== undefined ? Number(max) : 0 };
}

const ULIMIT_TYPES = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** `--ulimit type=soft[:hard]`, checked as docker's go-units checks it, in its order and words. */
function ulimit(v: string): { Name: string; Soft: number; Hard: number } {
  const bad = (why: string) => new FlagError(`invalid argument "${v}" for "--ulimit" flag: ${why}`);
  const eq = v.indexOf('=');
  if (eq < 0) throw bad(`invalid ulimit argument: ${v}`);
  const name = v.slice(0, eq); const values = v.slice(eq + 1).split(':');
  if (!ULIMIT_TYPES.includes(name)) throw bad(`invalid ulimit type: ${name}`);
  if (values.length > 2) throw bad(`too many limit value arguments - ${v.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const int64 = (x: string) => {
    if (!/^[-+]?\d+$/.test(x)) throw bad(`strconv.ParseInt: parsing "${x}": invalid syntax`);
    return Number(x);
  };
  const hard = values.length === 2 ? int64(values[1]!) : undefined;
  const soft = int64(values[0]!);
  const h = hard ?? soft;
  if (h !== -1 && soft > h) throw bad(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${h}`);
  return { Name: name, Soft: soft, Hard: h };
}

/** `/dev/sda:/dev/xvda:rwm` → docker's DeviceMapping. */
function device(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = v.split(':');
  const isMode = (s: string | undefined) => !!s && /^[rwm]{1,3}$/.test(s);
  if (parts.length > 3 || !parts[0]) throw new FlagError(`invalid argument "${v}" for "--device" flag: bad format for path: ${v}`);
  const host = parts[0];
  let inside = host; let perms = 'rwm';
  if (parts.length === 2) { if (isMode(parts[1])) perms = parts[1]!; else inside = parts[1]!; }
  if (parts.length === 3) { inside = parts[1]!; if (!isMode(parts[2])) throw new FlagError(`invalid argument "${v}" for "--device" flag: bad mode specified: ${parts[2]}`); perms = parts[2]!; }
  return { PathOnHost: host, PathInContainer: inside, CgroupPermissions: perms };
}

/** As the docker CLI: `seccomp=FILE` sends the file's contents; `unconfined` and the other options go as given. */
function securityOpt(v: string): string {
  const m = /^seccomp[=:](.*)$/s.exec(v);
  if (!m || m[1] === 'unconfined') return v;
  let text: string;
  try { text = readFileSync(m[1]!, 'utf8'); } catch (e) {
    throw new Error(`opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
  }
  try { return `seccomp=${JSON.stringify(JSON.parse(text))}`; } catch { return `seccomp=${text}`; }
}

/** The HostConfig fields of these flags. */
export function hostConfigBody(f: HostFlags, autoRemove: boolean): Record<string, unknown> {
  const hc = resourceBody(f);
  if (f.ulimit?.length) hc.Ulimits = f.ulimit.map(ulimit);
  if (f.shmSize !== undefined) hc.ShmSize = bytes(f.shmSize, '--shm-size');
  if (f.oomKillDisable) hc.OomKillDisable = true;
  if (f.capAdd?.length) hc.CapAdd = f.capAdd.flatMap((c) => c.split(','));
  if (f.capDrop?.length) hc.CapDrop = f.capDrop.flatMap((c) => c.split(','));
  if (f.privileged) hc.Privileged = true;
  if (f.tmpfs?.length) {
    const t: Record<string, string> = {};
    for (const v of f.tmpfs) { const i = v.indexOf(':'); t[i < 0 ? v : v.slice(0, i)] = i < 0 ? '' : v.slice(i + 1); }
    hc.Tmpfs = t;
  }
  if (f.securityOpt?.length) hc.SecurityOpt = f.securityOpt.map(securityOpt);
  if (f.groupAdd?.length) hc.GroupAdd = f.groupAdd;
  if (f.init) hc.Init = true;
  if (f.device?.length) hc.Devices = f.device.map(device);
  if (f.restart) {
    const p = restartPolicy(f.restart);
    if (autoRemove && p.Name !== 'no') throw new Error('conflicting options: cannot specify both --restart and --rm');
    hc.RestartPolicy = p;
  }
  return hc;
}

/** The Config.Healthcheck of the health flags, or nothing when none was given. */
export function healthcheckBody(f: HostFlags): Record<string, unknown> | undefined {
  const any = f.healthCmd !== undefined || f.healthInterval !== undefined || f.healthTimeout !== undefined
    || f.healthRetries !== undefined || f.healthStartPeriod !== undefined || f.healthStartInterval !== undefined;
  if (f.healthcheck === false) {
    if (any) throw new Error('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!any) return undefined;
  const dur = (v: string | undefined, flag: string) => {
    const n = v === undefined ? 0 : goDuration(v, flag);
    if (n < 0) throw new Error(`${flag} cannot be negative`);
    return n;
  };
  const retries = f.healthRetries === undefined ? 0 : int(f.healthRetries, '--health-retries');
  if (retries < 0) throw new Error('--health-retries cannot be negative');
  // As the docker CLI sends it: zero fields left out (Go's omitempty), so the image's values stay for them.
  const body: Record<string, unknown> = {
    ...(f.healthCmd !== undefined ? { Test: ['CMD-SHELL', f.healthCmd] } : {}),
    Interval: dur(f.healthInterval, '--health-interval'),
    Timeout: dur(f.healthTimeout, '--health-timeout'),
    StartPeriod: dur(f.healthStartPeriod, '--health-start-period'),
    StartInterval: dur(f.healthStartInterval, '--health-start-interval'),
    Retries: retries,
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== 0));
}
