/**
 * `docker stats`: one sample of a container's cgroup counters in the Engine API's shape (cpu_stats,
 * memory_stats, pids_stats, blkio_stats, networks). CPU % needs two samples: the API puts the previous
 * one in precpu_stats, as dockerd does. cgroup v1 (this machine) and v2 files are both read.
 */
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { cgroupsPath, cgroupV2, keyValues, readCgroup } from './cgroups.js';
import type { RuntimeUsage } from '../runtime/index.js';
import type { ContainerRecord } from './types.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';
/** USER_HZ: /proc/stat and cpuacct.stat count in 1/100 s. */
const TICK_NS = 1e7;

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface StatsSample {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, { major: number; minor: number; op: string; value: number }[] | null>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  name: string;
  id: string;
  networks?: Record<string, Record<string, number>>;
}

function emptyCpu(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/** What dockerd sends for a container that is not running. */
export function emptySample(c: ContainerRecord): StatsSample {
  return {
    read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {}, num_procs: 0, storage_stats: {},
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    cpu_stats: emptyCpu(), precpu_stats: emptyCpu(), memory_stats: {}, name: c.Name, id: c.Id,
  };
}

/** The host's CPU time in ns, the denominator of docker's CPU %. */
async function systemCpuUsage(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return fields.reduce((a, b) => a + b, 0) * TICK_NS;
}

const num = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined);

async function cpuV1(path: string): Promise<CpuStats> {
  const total = num(await readCgroup(path, 'cpuacct', 'cpuacct.usage')) ?? 0;
  const percpu = (await readCgroup(path, 'cpuacct', 'cpuacct.usage_percpu'))?.trim().split(/\s+/).filter(Boolean).map(Number);
  const st = keyValues(await readCgroup(path, 'cpuacct', 'cpuacct.stat'));
  const thr = keyValues(await readCgroup(path, 'cpu', 'cpu.stat'));
  return {
    cpu_usage: { total_usage: total, ...(percpu?.length ? { percpu_usage: percpu } : {}), usage_in_kernelmode: (st.system ?? 0) * TICK_NS, usage_in_usermode: (st.user ?? 0) * TICK_NS },
    throttling_data: { periods: thr.nr_periods ?? 0, throttled_periods: thr.nr_throttled ?? 0, throttled_time: thr.throttled_time ?? 0 },
  };
}

async function cpuV2(path: string): Promise<CpuStats> {
  const st = keyValues(await readCgroup(path, 'cpu', 'cpu.stat'));
  return {
    cpu_usage: { total_usage: (st.usage_usec ?? 0) * 1000, usage_in_kernelmode: (st.system_usec ?? 0) * 1000, usage_in_usermode: (st.user_usec ?? 0) * 1000 },
    throttling_data: { periods: st.nr_periods ?? 0, throttled_periods: st.nr_throttled ?? 0, throttled_time: (st.throttled_usec ?? 0) * 1000 },
  };
}

async function memory(path: string): Promise<StatsSample['memory_stats']> {
  const host = totalmem();
  if (cgroupV2()) {
    const usage = num(await readCgroup(path, 'memory', 'memory.current'));
    const max = (await readCgroup(path, 'memory', 'memory.max'))?.trim();
    const limit = max && max !== 'max' ? Math.min(Number(max), host) : host;
    return { ...(usage !== undefined ? { usage } : {}), stats: keyValues(await readCgroup(path, 'memory', 'memory.stat')), limit };
  }
  const usage = num(await readCgroup(path, 'memory', 'memory.usage_in_bytes'));
  const limit = num(await readCgroup(path, 'memory', 'memory.limit_in_bytes'));
  return {
    ...(usage !== undefined ? { usage } : {}),
    max_usage: num(await readCgroup(path, 'memory', 'memory.max_usage_in_bytes')) ?? 0,
    stats: keyValues(await readCgroup(path, 'memory', 'memory.stat')),
    failcnt: num(await readCgroup(path, 'memory', 'memory.failcnt')) ?? 0,
    // As dockerd: a container without a limit reports the host's memory.
    limit: limit === undefined || limit > host ? host : limit,
  };
}

async function pids(path: string): Promise<StatsSample['pids_stats']> {
  const current = num(await readCgroup(path, 'pids', 'pids.current'));
  const max = num(await readCgroup(path, 'pids', 'pids.max'));
  return { ...(current !== undefined ? { current } : {}), ...(max !== undefined ? { limit: max } : {}) };
}

/** blkio (v1: the throttle counters, which every scheduler keeps) or io.stat (v2), in docker's entry shape. */
async function blkio(path: string): Promise<StatsSample['blkio_stats']> {
  const entries = (text: string | undefined) => (text ?? '').split('\n').map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && /^\d+:\d+$/.test(f[0]!))
    .map(([dev, op, v]) => ({ major: Number(dev!.split(':')[0]), minor: Number(dev!.split(':')[1]), op: op!, value: Number(v) }));
  const out: StatsSample['blkio_stats'] = {
    io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
    io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
  };
  if (cgroupV2()) {
    const bytes: { major: number; minor: number; op: string; value: number }[] = [];
    for (const line of ((await readCgroup(path, 'io', 'io.stat')) ?? '').split('\n')) {
      const [dev, ...kv] = line.trim().split(/\s+/);
      if (!dev || !/^\d+:\d+$/.test(dev)) continue;
      const [major, minor] = dev.split(':').map(Number) as [number, number];
      const v = Object.fromEntries(kv.map((x) => x.split('=')).map(([k, n]) => [k, Number(n)]));
      bytes.push({ major, minor, op: 'read', value: v.rbytes ?? 0 }, { major, minor, op: 'write', value: v.wbytes ?? 0 });
    }
    out.io_service_bytes_recursive = bytes;
    return out;
  }
  out.io_service_bytes_recursive = entries(await readCgroup(path, 'blkio', 'blkio.throttle.io_service_bytes_recursive'));
  out.io_serviced_recursive = entries(await readCgroup(path, 'blkio', 'blkio.throttle.io_serviced_recursive'));
  return out;
}

/**
 * The container's interfaces, read through its init process's view of /proc/net/dev (or `pid`'s: a VM's QEMU);
 * none for `host` and `none`.
 */
async function networks(c: ContainerRecord, pid = c.State.Pid): Promise<StatsSample['networks']> {
  const mode = c.HostConfig.NetworkMode;
  if (mode === 'host' || mode === 'none' || !pid) return undefined;
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => '');
  const out: Record<string, Record<string, number>> = {};
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    // A VM's namespace also holds the taps that carry eth0's traffic into the guest: counted once, as eth0.
    if (!name || rest === undefined || name.trim() === 'lo' || name.trim().startsWith('tap')) continue;
    const f = rest.trim().split(/\s+/).map(Number);
    out[name.trim()] = {
      rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!,
      tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]!,
    };
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * One sample of a running container; `prev` becomes precpu_stats. A runtime without a cgroup per workload (the vm
 * driver) gives its own `usage`.
 */
export async function sampleStats(c: ContainerRecord, prev?: StatsSample, usage?: () => Promise<RuntimeUsage | undefined>): Promise<StatsSample> {
  const oci = (c.HostConfig.Runtime || 'oci') === 'oci';
  const own = !oci && c.State.Running && usage ? await usage() : undefined;
  if (own) return runtimeSample(c, own, prev);
  if (!c.State.Running || !oci) return { ...emptySample(c), ...(prev ? { precpu_stats: prev.cpu_stats, preread: prev.read } : {}) };
  const path = cgroupsPath(c);
  const cpu = cgroupV2() ? await cpuV2(path) : await cpuV1(path);
  cpu.system_cpu_usage = await systemCpuUsage();
  cpu.online_cpus = cpus().length;
  const net = await networks(c);
  return {
    read: new Date().toISOString(),
    preread: prev?.read ?? ZERO_TIME,
    pids_stats: await pids(path),
    blkio_stats: await blkio(path),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu,
    precpu_stats: prev?.cpu_stats ?? emptyCpu(),
    memory_stats: await memory(path),
    name: c.Name,
    id: c.Id,
    ...(net ? { networks: net } : {}),
  };
}

/** A sample from a runtime's own figures, in the same shape. */
async function runtimeSample(c: ContainerRecord, u: RuntimeUsage, prev?: StatsSample): Promise<StatsSample> {
  const net = await networks(c, u.netPid);
  return {
    ...emptySample(c),
    read: new Date().toISOString(),
    preread: prev?.read ?? ZERO_TIME,
    pids_stats: { current: u.pids },
    cpu_stats: {
      cpu_usage: { total_usage: u.cpuNs, usage_in_kernelmode: 0, usage_in_usermode: 0 },
      system_cpu_usage: await systemCpuUsage(), online_cpus: cpus().length,
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    },
    precpu_stats: prev?.cpu_stats ?? emptyCpu(),
    memory_stats: { usage: u.memory, limit: u.memoryLimit || totalmem(), stats: {} },
    ...(net ? { networks: net } : {}),
  };
}
