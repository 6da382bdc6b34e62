/**
 * The OCI runtime spec (config.json) for a container, with Docker's defaults:
 * its capability set, masked and read-only /proc paths, and the same mounts.
 */
import type { HostConfig } from './types.js';
import type { ResolvedUser } from './user.js';

export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface SpecInput {
  id: string;
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: ResolvedUser;
  hostname: string;
  terminal: boolean;
  consoleSize?: [number, number];
  readonlyRootfs: boolean;
  /** Files the engine manages inside the container: /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  etcFiles: { source: string; destination: string }[];
  cgroupsPath: string;
  annotations?: Record<string, string>;
  /** The network namespace: a netns file to join, `host` to share the host's, or unset for a new one with loopback only. */
  netns?: string;
  /** Volumes, bind mounts and tmpfs mounts, after the engine's own. */
  mounts?: { destination: string; type: string; source: string; options: string[] }[];
}

export type ProcessInput = Pick<SpecInput, 'args' | 'env' | 'cwd' | 'user' | 'terminal' | 'consoleSize'>;

/** The OCI `process`: the container's first process, and each `exec`, which gets the same privileges. */
export function buildProcess(s: ProcessInput): Record<string, unknown> {
  const caps = DEFAULT_CAPABILITIES;
  return {
    terminal: s.terminal,
    ...(s.terminal && s.consoleSize && s.consoleSize[0] > 0 ? { consoleSize: { height: s.consoleSize[0], width: s.consoleSize[1] } } : {}),
    user: { uid: s.user.uid, gid: s.user.gid, ...(s.user.additionalGids.length ? { additionalGids: s.user.additionalGids } : {}) },
    args: s.args,
    env: s.env,
    cwd: s.cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: false,
  };
}

export function buildSpec(s: SpecInput): Record<string, unknown> {
  return {
    ociVersion: '1.0.2',
    process: buildProcess(s),
    root: { path: s.rootfs, readonly: s.readonlyRootfs },
    hostname: s.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev', 'relatime'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      ...s.etcFiles.filter((f) => !s.mounts?.some((m) => m.destination === f.destination))
        .map((f) => ({ destination: f.destination, type: 'bind', source: f.source, options: ['rbind', 'rprivate'] })),
      ...(s.mounts ?? []),
    ],
    annotations: s.annotations ?? {},
    linux: {
      namespaces: [
        { type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' },
        ...(s.netns === 'host' ? [] : [{ type: 'network', ...(s.netns ? { path: s.netns } : {}) }]),
      ],
      cgroupsPath: s.cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/**
 * The spec's annotations: `--annotation`'s, as dockerd passes them to the runtime, and the resource settings
 * the vm driver sizes its VM by.
 */
export function runtimeAnnotations(hc: HostConfig): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((hc as { Annotations?: Record<string, unknown> }).Annotations ?? {})) if (typeof v === 'string') out[k] = v;
  if (typeof hc.Memory === 'number' && hc.Memory > 0) out['berth.vm.memory'] = String(hc.Memory);
  if (typeof hc.NanoCpus === 'number' && hc.NanoCpus > 0) out['berth.vm.cpus'] = String(hc.NanoCpus / 1e9);
  // `--vm-kernel` (docker: `--annotation berth.vm.kernel=PATH`).
  const kernel = (hc as { Annotations?: Record<string, unknown> }).Annotations?.['berth.vm.kernel'];
  if (typeof kernel === 'string' && kernel) out['berth.vm.kernel'] = kernel;
  return Object.keys(out).length ? out : undefined;
}
