/**
 * Resource limits: docker's HostConfig fields (Memory, MemorySwap, NanoCpus, CpuShares, CpusetCpus,
 * PidsLimit, Ulimits, ShmSize, …), checked as dockerd checks them, and turned into the OCI spec's
 * `linux.resources` (the cgroup driver: runc writes cgroup v1 or v2 files, whichever the host has),
 * `process.rlimits` and the /dev/shm mount.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { InvalidParameterError } from '../errors/index.js';
import { blockIoResources, checkBlockIo } from './block-io.js';
import type { HostConfig } from './types.js';

/** dockerd's `linuxMinMemory`. */
export const MIN_MEMORY = 6 * 1024 * 1024;
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
const CPU_PERIOD = 100_000;

export interface Ulimit { Name: string; Soft: number; Hard: number }

/** The resource fields inspect always shows, with docker's zero values. */
export const RESOURCE_DEFAULTS = {
  Memory: 0, MemorySwap: 0, MemoryReservation: 0, MemorySwappiness: null, OomKillDisable: null,
  NanoCpus: 0, CpuShares: 0, CpuPeriod: 0, CpuQuota: 0, CpusetCpus: '', CpusetMems: '',
  PidsLimit: null, Ulimits: null, ShmSize: 0, BlkioWeight: 0,
} as const;

/** The fields `docker update` may change. */
export const UPDATABLE = [
  'Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota',
  'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight', 'CpuRealtimePeriod', 'CpuRealtimeRuntime',
] as const;

/** rlimit names as docker's `--ulimit` spells them, and the OCI/kernel names. */
const RLIMITS: Record<string, string> = {
  as: 'RLIMIT_AS', core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS', memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK',
};

/** The row of /proc/self/limits for each docker ulimit name. */
const LIMITS_ROW: Record<string, string> = {
  as: 'Max address space', core: 'Max core file size', cpu: 'Max cpu time', data: 'Max data size',
  fsize: 'Max file size', locks: 'Max file locks', memlock: 'Max locked memory', msgqueue: 'Max msgqueue size',
  nice: 'Max nice priority', nofile: 'Max open files', nproc: 'Max processes', rss: 'Max resident set',
  rtprio: 'Max realtime priority', rttime: 'Max realtime timeout', sigpending: 'Max pending signals', stack: 'Max stack size',
};

/** `nofile=1024:2048` (docker's `--ulimit`). */
export function parseUlimit(v: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v.trim());
  if (!m) throw new InvalidParameterError(`invalid ulimit argument: ${v}`);
  const name = m[1]!;
  if (!(name in RLIMITS)) throw new InvalidParameterError(`invalid ulimit type: ${name}`);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard && hard !== -1) throw new InvalidParameterError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Soft: soft, Hard: hard };
}

/** The daemon's own hard limits: what a container can get without CAP_SYS_RESOURCE (-1 for unlimited). */
export function hostHardLimits(): Record<string, number> {
  const text = readFileSync('/proc/self/limits', 'utf8');
  const out: Record<string, number> = {};
  for (const [name, row] of Object.entries(LIMITS_ROW)) {
    const line = text.split('\n').find((l) => l.startsWith(row));
    if (!line) continue;
    const cols = line.slice(row.length).trim().split(/\s+/);
    out[name] = cols[1] === 'unlimited' ? -1 : Number(cols[1]);
  }
  return out;
}

function hasCap(bit: number): boolean {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
  return !!line && (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << BigInt(bit))) !== 0n;
}

/** "0-3,5" → [0,1,2,3,5]; undefined when the syntax is wrong. */
export function parseCpuList(v: string): number[] | undefined {
  const out: number[] = [];
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const lo = Number(m[1]); const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo) return undefined;
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}

function onlineCpus(): string {
  try { return readFileSync('/sys/devices/system/cpu/online', 'utf8').trim(); } catch { return `0-${cpus().length - 1}`; }
}

function swapAccounting(): boolean {
  return existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') || existsSync('/sys/fs/cgroup/cgroup.controllers');
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * dockerd's checks of the resource fields (`verifyPlatformContainerResources`), and its defaults
 * (`adaptContainerSettings`: MemorySwap twice Memory, a 64 MiB /dev/shm). Mutates `hc`; returns warnings.
 * `update` relaxes the rules `docker update` relaxes.
 */
export function checkResources(hc: HostConfig, opts: { update?: boolean } = {}): string[] {
  const warnings: string[] = [];
  for (const [k, v] of Object.entries(RESOURCE_DEFAULTS)) if (hc[k] === undefined) hc[k] = v;
  const memory = num(hc.Memory); const swap = num(hc.MemorySwap);
  if (memory < 0) throw new InvalidParameterError('invalid memory limit: must be positive');
  const swappiness = hc.MemorySwappiness;
  if (typeof swappiness === 'number' && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new InvalidParameterError(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const oom = num(hc.OomScoreAdj);
  if (oom < -1000 || oom > 1000) throw new InvalidParameterError(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  if (memory !== 0 && memory < MIN_MEMORY) throw new InvalidParameterError('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap > 0 && swap < memory) throw new InvalidParameterError('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (memory === 0 && swap > 0 && !opts.update) throw new InvalidParameterError('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (num(hc.MemoryReservation) !== 0 && num(hc.MemoryReservation) < MIN_MEMORY) throw new InvalidParameterError('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && num(hc.MemoryReservation) > memory) throw new InvalidParameterError('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (memory > 0 && swap === 0 && !opts.update) {
    if (swapAccounting()) hc.MemorySwap = memory * 2;
    else warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
  }
  const n = availableParallelism(); // as dockerd's NumCPU: the CPUs this process may run on
  const nano = num(hc.NanoCpus);
  if (nano > 0 && num(hc.CpuPeriod) > 0) throw new InvalidParameterError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && num(hc.CpuQuota) > 0) throw new InvalidParameterError('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano < 0 || nano > n * 1e9) throw new InvalidParameterError(`Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`);
  if (nano > 0 && nano < 1e7) throw new InvalidParameterError(`Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`);
  if (num(hc.CpuPeriod) !== 0 && (num(hc.CpuPeriod) < 1000 || num(hc.CpuPeriod) > 1_000_000)) throw new InvalidParameterError('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (num(hc.CpuQuota) > 0 && num(hc.CpuQuota) < 1000) throw new InvalidParameterError('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (num(hc.CpuShares) < 0) throw new InvalidParameterError('invalid CPU shares: must be positive');
  if (num(hc.CpuShares) > 0 && num(hc.CpuShares) < 2) { warnings.push('Your kernel does not support CPU shares below 2: CPU shares set to 2.'); hc.CpuShares = 2; }
  if (num(hc.CpuShares) > 262144) { warnings.push('Your kernel does not support CPU shares above 262144: CPU shares set to 262144.'); hc.CpuShares = 262144; }
  for (const [field, flag] of [['CpusetCpus', 'cpus'], ['CpusetMems', 'mems']] as const) {
    const v = hc[field];
    if (typeof v !== 'string' || v === '') continue;
    const list = parseCpuList(v);
    if (!list) throw new InvalidParameterError(`Invalid value ${v} for cpuset ${flag}`);
    const available = field === 'CpusetCpus' ? onlineCpus() : readMemsOnline();
    const ok = parseCpuList(available) ?? [];
    if (list.some((c) => !ok.includes(c))) throw new InvalidParameterError(`Requested ${field === 'CpusetCpus' ? 'CPUs' : 'memory nodes'} are not available - requested ${v}, available: ${available}`);
  }
  if (hc.PidsLimit !== null && hc.PidsLimit !== undefined) {
    if (typeof hc.PidsLimit !== 'number' || !Number.isInteger(hc.PidsLimit)) throw new InvalidParameterError('invalid PidsLimit');
    // As dockerd: zero or less means unlimited.
    if (hc.PidsLimit <= 0) hc.PidsLimit = opts.update ? -1 : null;
  }
  const rtPeriod = num(hc.CpuRealtimePeriod); const rtRuntime = num(hc.CpuRealtimeRuntime);
  if ((rtPeriod > 0 || rtRuntime > 0) && !realtimeSupported()) throw new InvalidParameterError('Your kernel does not support CPU real-time scheduler');
  if (rtPeriod !== 0 && rtRuntime !== 0 && rtRuntime > rtPeriod) throw new InvalidParameterError('cpu-rt-runtime cannot be higher than cpu-rt-period');
  if (num(hc.BlkioWeight) !== 0 && (num(hc.BlkioWeight) < 10 || num(hc.BlkioWeight) > 1000)) throw new InvalidParameterError('Range of blkio weight is from 10 to 1000');
  warnings.push(...checkBlockIo(hc));
  if (!opts.update) {
    if (num(hc.ShmSize) < 0) throw new InvalidParameterError('SHM size can not be less than 0');
    if (!hc.ShmSize) hc.ShmSize = DEFAULT_SHM_SIZE;
    checkUlimits(hc);
  }
  return warnings;
}

/** Real-time group scheduling (CONFIG_RT_GROUP_SCHED): v1's cpu.rt_* files; v2 has none. */
function realtimeSupported(): boolean {
  return existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us');
}

function readMemsOnline(): string {
  try { return readFileSync('/sys/devices/system/node/online', 'utf8').trim(); } catch { return '0'; }
}

function checkUlimits(hc: HostConfig): void {
  if (hc.Ulimits === null || hc.Ulimits === undefined) return;
  if (!Array.isArray(hc.Ulimits)) throw new InvalidParameterError('invalid Ulimits: must be a list');
  const host = hostHardLimits();
  // CAP_SYS_RESOURCE (24) lets runc raise a hard limit; without it the daemon's own hard limit is the ceiling.
  const canRaise = hasCap(24);
  const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
  for (const u of hc.Ulimits as Ulimit[]) {
    if (!u || typeof u.Name !== 'string' || !(u.Name in RLIMITS)) throw new InvalidParameterError(`invalid ulimit type: ${u?.Name}`);
    if (!Number.isInteger(u.Soft) || !Number.isInteger(u.Hard)) throw new InvalidParameterError(`invalid ulimit argument: ${u.Name}=${u.Soft}:${u.Hard}`);
    if (u.Hard !== -1 && (u.Soft === -1 || u.Soft > u.Hard)) throw new InvalidParameterError(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    const ceiling = canRaise ? (u.Name === 'nofile' ? nrOpen : -1) : host[u.Name] ?? -1;
    const above = (v: number) => ceiling !== -1 && (v === -1 || v > ceiling);
    if (above(u.Hard)) {
      throw new InvalidParameterError(`ulimit ${u.Name}: the hard limit ${u.Hard === -1 ? 'unlimited' : u.Hard} is above the host's hard limit ${ceiling}`
        + (canRaise ? '' : ' (the daemon lacks CAP_SYS_RESOURCE, so it cannot raise it)'));
    }
    // JSON numbers cannot carry RLIM_INFINITY (2^64-1) exactly: "unlimited" is only possible where the container inherits it.
    if ((u.Soft === -1 || u.Hard === -1) && !(u.Soft === -1 && u.Hard === -1 && host[u.Name] === -1)) {
      throw new InvalidParameterError(`ulimit ${u.Name}: -1 (unlimited) is supported only for both limits, and only where the host's limit is unlimited`);
    }
  }
}

/** The spec's `linux.resources` for the limits in `hc` (the device rules stay as the caller set them). */
export function cgroupResources(hc: HostConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const memory: Record<string, number> = {};
  if (num(hc.Memory) > 0) memory.limit = num(hc.Memory);
  if (num(hc.MemorySwap) !== 0 && (num(hc.Memory) > 0 || num(hc.MemorySwap) === -1)) memory.swap = num(hc.MemorySwap);
  if (num(hc.MemoryReservation) > 0) memory.reservation = num(hc.MemoryReservation);
  if (typeof hc.MemorySwappiness === 'number' && hc.MemorySwappiness >= 0) memory.swappiness = hc.MemorySwappiness;
  if (Object.keys(memory).length) out.memory = memory;
  if (hc.OomKillDisable === true) out.memory = { ...(out.memory as object ?? {}), disableOOMKiller: true };
  const cpu: Record<string, number | string> = {};
  if (num(hc.NanoCpus) > 0) { cpu.period = CPU_PERIOD; cpu.quota = Math.round((num(hc.NanoCpus) * CPU_PERIOD) / 1e9); }
  if (num(hc.CpuPeriod) > 0) cpu.period = num(hc.CpuPeriod);
  if (num(hc.CpuQuota) !== 0) cpu.quota = num(hc.CpuQuota);
  if (num(hc.CpuShares) > 0) cpu.shares = num(hc.CpuShares);
  if (typeof hc.CpusetCpus === 'string' && hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (typeof hc.CpusetMems === 'string' && hc.CpusetMems) cpu.mems = hc.CpusetMems;
  // As dockerd, the parent cgroup's own real-time budget is left as it is: a runtime it cannot cover fails in runc.
  if (num(hc.CpuRealtimePeriod) > 0) cpu.realtimePeriod = num(hc.CpuRealtimePeriod);
  if (num(hc.CpuRealtimeRuntime) > 0) cpu.realtimeRuntime = num(hc.CpuRealtimeRuntime);
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (typeof hc.PidsLimit === 'number' && hc.PidsLimit !== 0) out.pids = { limit: hc.PidsLimit };
  const blockIO = { ...(num(hc.BlkioWeight) > 0 ? { weight: num(hc.BlkioWeight) } : {}), ...blockIoResources(hc) };
  if (Object.keys(blockIO).length) out.blockIO = blockIO;
  return out;
}

/** `process.rlimits` for `--ulimit`. */
export function rlimits(hc: HostConfig): { type: string; soft: number; hard: number }[] | undefined {
  const list = (hc.Ulimits as Ulimit[] | null | undefined) ?? [];
  // Both -1 (checked above: the host's is unlimited too) means "as inherited".
  const out = list.filter((u) => u.Hard !== -1).map((u) => ({ type: RLIMITS[u.Name]!, soft: u.Soft, hard: u.Hard }));
  return out.length ? out : undefined;
}

/** Puts the limits into a spec that buildSpec made. */
export function applyResources(spec: Record<string, unknown>, hc: HostConfig): void {
  const linux = spec.linux as { resources: Record<string, unknown> };
  linux.resources = { ...linux.resources, ...cgroupResources(hc) };
  const proc = spec.process as Record<string, unknown>;
  const rl = rlimits(hc);
  if (rl) proc.rlimits = rl;
  if (num(hc.OomScoreAdj) !== 0) proc.oomScoreAdj = num(hc.OomScoreAdj);
  const shm = num(hc.ShmSize) || DEFAULT_SHM_SIZE;
  for (const m of spec.mounts as { destination: string; options: string[] }[]) {
    if (m.destination === '/dev/shm') m.options = [...m.options.filter((o) => !o.startsWith('size=')), `size=${shm}`];
  }
}

/** The host's memory, which `stats` reports as the limit of a container without one (as dockerd). */
export function hostMemory(): number {
  return totalmem();
}
