/**
 * Where the HostConfig meets the lifecycle: its checks at create and update, and what it adds to the
 * OCI spec at start (limits, privileges, seccomp, devices, tmpfs, init) for the `oci` runtime.
 */
import { InvalidParameterError } from '../errors/index.js';
import { applyResources, checkResources, rlimits } from './resources.js';
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
  return warnings;
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
