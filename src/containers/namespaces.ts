/**
 * `--pid`, `--ipc`, `--uts` (and `--userns`, `--cgroupns`, which have nothing to change here): dockerd's checks
 * at create, and what the modes change in the OCI spec at start. `host` leaves the namespace out, so the
 * container sees the host's processes, IPC objects or hostname; `--pid container:NAME` joins that container's.
 */
import { ConflictError, InvalidParameterError, noSuchContainer } from '../errors/index.js';
import type { ContainerRecord, HostConfig } from './types.js';

const mode = (hc: HostConfig, key: string) => (typeof hc[key] === 'string' ? (hc[key] as string) : '');

/** dockerd's checks of the namespace modes of a create request. */
export function checkNamespaceModes(hc: HostConfig, hostname: string | undefined): void {
  const pid = mode(hc, 'PidMode');
  if (pid && pid !== 'host' && !/^container:.+/.test(pid)) throw new InvalidParameterError(`invalid PID mode: ${pid}`);
  const ipc = mode(hc, 'IpcMode');
  if (ipc && !['host', 'private', 'shareable', 'none'].includes(ipc)) {
    if (/^container:.+/.test(ipc)) throw new InvalidParameterError(`berth does not support IPC mode ${ipc} yet (host, private and shareable work)`);
    throw new InvalidParameterError(`invalid IPC mode: ${ipc}`);
  }
  const uts = mode(hc, 'UTSMode');
  if (uts && uts !== 'host') throw new InvalidParameterError(`invalid UTS mode: ${uts}`);
  if (uts === 'host' && hostname) throw new InvalidParameterError('conflicting options: hostname and the UTS mode');
  const userns = mode(hc, 'UsernsMode');
  if (userns && userns !== 'host') throw new InvalidParameterError(`invalid USER mode: ${userns} (berth has no user namespace remapping)`);
  const cgroupns = mode(hc, 'CgroupnsMode');
  if (cgroupns && cgroupns !== 'host' && cgroupns !== 'private') throw new InvalidParameterError(`invalid cgroup namespace mode: ${cgroupns}`);
}

/** Whether the container shares the host's UTS namespace, so its hostname is the host's. */
export function hostUts(hc: HostConfig): boolean {
  return mode(hc, 'UTSMode') === 'host';
}

type Mount = { destination: string; type: string; source: string; options: string[] };

/** Changes a spec from buildSpec for the container's PID, IPC and UTS modes, its domain name and sysctls; `find` looks up `container:` references. */
export function applyNamespaceModes(spec: Record<string, unknown>, hc: HostConfig, domainname: string, find: (ref: string) => ContainerRecord | undefined): void {
  const linux = spec.linux as { namespaces: { type: string; path?: string }[] };
  const mounts = spec.mounts as Mount[];
  const without = (type: string) => { linux.namespaces = linux.namespaces.filter((n) => n.type !== type); };
  const pid = mode(hc, 'PidMode');
  if (pid === 'host') without('pid');
  else if (pid.startsWith('container:')) {
    const ref = pid.slice('container:'.length);
    const other = find(ref);
    if (!other) throw noSuchContainer(ref);
    if (other.State.Restarting) throw new ConflictError(`cannot join PID of a restarting container: ${ref}`);
    if (!other.State.Running || !other.State.Pid) throw new ConflictError(`cannot join PID of a non running container: ${ref}`);
    linux.namespaces = linux.namespaces.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${other.State.Pid}/ns/pid` } : n));
  }
  if (mode(hc, 'IpcMode') === 'host') {
    without('ipc');
    // As dockerd: the host's /dev/shm, not a fresh one (the mqueue mount, made in the host's IPC namespace now, is the host's already).
    const i = mounts.findIndex((m) => m.destination === '/dev/shm');
    if (i >= 0) mounts[i] = { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] };
  }
  // `--sysctl`: runc sets them in the container's namespaces, and refuses those that are not namespaced.
  const sysctls = hc.Sysctls && typeof hc.Sysctls === 'object' ? hc.Sysctls as Record<string, string> : {};
  if (Object.keys(sysctls).length) {
    const l = spec.linux as { sysctl?: Record<string, string> };
    l.sysctl = { ...l.sysctl, ...sysctls };
  }
  if (hostUts(hc)) {
    without('uts');
    // runc refuses a hostname without a UTS namespace of the container's own.
    delete spec.hostname;
  } else if (domainname) {
    // As dockerd: through the kernel.domainname sysctl, which runc 1.1 sets in the new UTS namespace (it has no domainname field).
    const l = spec.linux as { sysctl?: Record<string, string> };
    l.sysctl = { ...l.sysctl, 'kernel.domainname': domainname };
  }
}
