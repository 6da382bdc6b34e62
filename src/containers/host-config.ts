/**
 * Where the HostConfig meets the lifecycle: its checks at create and update, and what it adds to the
 * OCI spec at start (limits, privileges, seccomp, devices, tmpfs, init) for the `oci` runtime.
 */
import { InvalidParameterError } from '../errors/index.js';
import { applyResources, checkResources, rlimits, UPDATABLE } from './resources.js';
import { applySecurity, checkSecurity, processSecurity } from './security.js';
import type { HostConfig, RestartPolicy } from './types.js';

const POLICIES = ['no', 'always', 'on-failure', 'unless-stopped'];

/** dockerd's `validateRestartPolicy`; an empty name means `no`. */
export function checkRestartPolicy(p: Partial<RestartPolicy> | undefined, autoRemove: boolean): RestartPolicy {
  const name = p?.Name || 'no';
  const max = p?.MaximumRetryCount ?? 0;
  if (!POLICIES.includes(name)) {
    throw new InvalidParameterError(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (!Number.isInteger(max) || max < 0) throw new InvalidParameterError('invalid restart policy: maximum retry count cannot be negative');
  if (max > 0 && name !== 'on-failure') throw new InvalidParameterError("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  if (autoRemove && name !== 'no') throw new InvalidParameterError("can't create 'AutoRemove' container with restart policy");
  return { Name: name, MaximumRetryCount: max };
}

/** Checks a create request's HostConfig and fills in docker's defaults. Returns warnings for the client. */
export function checkHostConfig(hc: HostConfig): string[] {
  hc.RestartPolicy = checkRestartPolicy(hc.RestartPolicy, !!hc.AutoRemove);
  const warnings = checkResources(hc);
  checkSecurity(hc);
  checkDeviceRequests(hc.DeviceRequests);
  if (hc.Isolation && hc.Isolation !== 'default') throw new InvalidParameterError(`Invalid isolation: ${JSON.stringify(hc.Isolation)} - linux only supports 'default'`);
  // dockerd's overlay2 takes a size only on xfs with project quotas; berth's overlay has no quotas anywhere.
  if (hc.StorageOpt && typeof hc.StorageOpt === 'object' && Object.keys(hc.StorageOpt).length) {
    throw new InvalidParameterError("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  }
  return warnings;
}

/**
 * `--gpus`: dockerd answers through a device driver (NVIDIA's toolkit) that berth does not have, so every
 * request fails in dockerd's words. dockerd fails at start; here the create fails and leaves nothing.
 */
function checkDeviceRequests(requests: unknown): void {
  if (!Array.isArray(requests)) return;
  for (const r of requests as { Driver?: string; Capabilities?: string[][] | null }[]) {
    const caps = (r?.Capabilities ?? []).map((c) => `[${c.join(' ')}]`).join(' ');
    throw new InvalidParameterError(`could not select device driver "${r?.Driver ?? ''}" with capabilities: [${caps}]`);
  }
}

/** Adds what the HostConfig asks for to a spec that buildSpec made. */
export async function applyHostConfig(spec: Record<string, unknown>, hc: HostConfig, rootfs: string): Promise<void> {
  applyResources(spec, hc);
  await applySecurity(spec, hc, rootfs);
}

/** An exec's privileges: the container's capabilities (all with `--privileged`), no-new-privileges and rlimits. */
export function execPrivileges(hc: HostConfig, uid: number, privileged: boolean): Record<string, unknown> {
  const rl = rlimits(hc);
  return { ...processSecurity(hc, uid, privileged), ...(rl ? { rlimits: rl } : {}) };
}

/**
 * `docker update`: the record's HostConfig with the request's limits and restart policy, checked as dockerd
 * checks them (zero means "unchanged", as the docker CLI sends every field).
 */
export function updatedHostConfig(current: HostConfig, body: Record<string, unknown>): { hostConfig: HostConfig; warnings: string[] } {
  const hc: HostConfig = { ...current };
  for (const k of UPDATABLE) {
    const v = body[k];
    if (v === undefined || v === null || v === 0 || v === '') continue;
    hc[k] = v;
  }
  if (typeof body.Memory === 'number' && body.Memory > 0 && !(typeof body.MemorySwap === 'number' && body.MemorySwap !== 0)) {
    const swap = typeof current.MemorySwap === 'number' ? current.MemorySwap : 0;
    if (swap > 0 && body.Memory > swap) {
      throw new InvalidParameterError('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
  }
  const rp = body.RestartPolicy as Partial<RestartPolicy> | undefined;
  if (rp?.Name) {
    if (current.AutoRemove) throw new InvalidParameterError('Restart policy cannot be updated because AutoRemove is enabled for the container');
    hc.RestartPolicy = checkRestartPolicy(rp, false);
  }
  const warnings = checkResources(hc, { update: true });
  return { hostConfig: hc, warnings };
}

/**
 * Every field of docker's HostConfig, in its order, with what a container the docker CLI made shows for one it
 * did not set: dockerd's inspect always has them all, and `inspect -f '{{.HostConfig.Dns}}'` must not fail on a
 * container another client made with fewer. `undefined` only places a field berth always sets.
 */
const HOST_CONFIG_SHAPE: Record<string, unknown> = {
  AutoRemove: undefined, Runtime: undefined, NetworkMode: undefined, RestartPolicy: undefined, Privileged: false,
  ReadonlyRootfs: false, CapAdd: null, CapDrop: null, Binds: null, LogConfig: undefined, ConsoleSize: undefined,
  ContainerIDFile: '', PortBindings: {}, VolumeDriver: '', VolumesFrom: null, CgroupnsMode: '', Dns: [],
  DnsOptions: [], DnsSearch: [], ExtraHosts: null, GroupAdd: null, IpcMode: '', Cgroup: '', Links: null,
  OomScoreAdj: 0, PidMode: '', PublishAllPorts: false, SecurityOpt: null, UTSMode: '', UsernsMode: '',
  ShmSize: undefined, Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0,
  BlkioWeightDevice: [], BlkioDeviceReadBps: [], BlkioDeviceWriteBps: [], BlkioDeviceReadIOps: [],
  BlkioDeviceWriteIOps: [], CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetCpus: '',
  CpusetMems: '', Devices: [], DeviceCgroupRules: null, DeviceRequests: null, MemoryReservation: 0, MemorySwap: 0,
  MemorySwappiness: null, OomKillDisable: null, PidsLimit: null, Ulimits: null, CpuCount: 0, CpuPercent: 0,
  IOMaximumIOps: 0, IOMaximumBandwidth: 0, MaskedPaths: null, ReadonlyPaths: null,
};

/** The HostConfig as inspect shows it: docker's fields in docker's order, those not set with their defaults, then berth's others. */
export function inspectedHostConfig(hc: HostConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(HOST_CONFIG_SHAPE)) {
    const mine = hc[k];
    if (mine !== undefined) out[k] = mine;
    else if (v !== undefined) out[k] = v;
  }
  for (const [k, v] of Object.entries(hc)) if (!(k in out)) out[k] = v;
  return out;
}
