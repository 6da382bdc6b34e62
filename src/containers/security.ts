/**
 * Hardening, as dockerd does it: the capability set (`--cap-add/--cap-drop`, ALL, `--privileged`),
 * seccomp (berth's default profile, `unconfined`, or a docker-format profile), no-new-privileges,
 * `--device`, `--tmpfs`, `--group-add` and `--init`. `checkSecurity` rejects bad input at create;
 * `applySecurity` puts the rest into a spec that buildSpec made.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors/index.js';
import { DEFAULT_CAPABILITIES } from './spec.js';
import { defaultProfile, profileFromJson } from './seccomp.js';
import type { HostConfig } from './types.js';

/** Every capability of Linux 5.9+, in number order. */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * The capabilities the daemon itself may hand out: its bounding set. runc cannot grant one the daemon
 * lacks (this VM's bounding set has no CAP_SYS_RESOURCE), so ALL and --privileged mean these.
 */
let available: string[] | undefined;
export function availableCaps(): string[] {
  if (!available) {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapBnd:'));
    const bits = line ? BigInt(`0x${line.split(/\s+/)[1]}`) : (1n << BigInt(ALL_CAPABILITIES.length)) - 1n;
    available = ALL_CAPABILITIES.filter((_c, i) => (bits & (1n << BigInt(i))) !== 0n);
  }
  return available;
}

/** The static init that `--init` runs as PID 1, bound in at docker's path. */
export const INIT_BINARIES = ['/usr/bin/tini-static', '/usr/bin/catatonit'];
export const INIT_PATH = '/sbin/docker-init';

/** `net_admin`, `CAP_NET_ADMIN`, `all` → `CAP_NET_ADMIN`, `ALL`; docker's message for names it does not know. */
function normalizeCaps(list: unknown): { caps: string[]; all: boolean } {
  if (list === null || list === undefined) return { caps: [], all: false };
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new InvalidParameterError('invalid capability list: must be a list of strings');
  const caps: string[] = [];
  let all = false;
  for (const raw of list as string[]) {
    const up = raw.trim().toUpperCase();
    if (up === 'ALL' || up === 'CAP_ALL') { all = true; continue; }
    const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
    if (!ALL_CAPABILITIES.includes(name)) throw new InvalidParameterError(`unknown capability: "${name}"`);
    if (!caps.includes(name)) caps.push(name);
  }
  return { caps, all };
}

/** moby's TweakCapabilities: privileged gets all; add ALL keeps all but the dropped; drop ALL keeps only the added. */
export function containerCaps(hc: HostConfig): string[] {
  if (hc.Privileged) return [...availableCaps()];
  const add = normalizeCaps(hc.CapAdd); const drop = normalizeCaps(hc.CapDrop);
  if (add.all) return availableCaps().filter((c) => !drop.caps.includes(c));
  if (drop.all) return add.caps;
  const out = DEFAULT_CAPABILITIES.filter((c) => !drop.caps.includes(c));
  for (const c of add.caps) if (!out.includes(c)) out.push(c);
  return out;
}

interface SecurityOpts { seccomp?: string; noNewPrivileges: boolean }

/** `--security-opt` as dockerd parses it: `key=value` (or the old `key:value`). */
export function parseSecurityOpts(list: unknown): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false };
  if (list === null || list === undefined) return out;
  if (!Array.isArray(list)) throw new InvalidParameterError('invalid SecurityOpt: must be a list of strings');
  for (const opt of list as string[]) {
    if (opt === 'no-new-privileges') { out.noNewPrivileges = true; continue; }
    const m = /^([a-z-]+)[=:]([\s\S]*)$/.exec(opt);
    if (!m) throw new InvalidParameterError(`invalid --security-opt 1: "${opt}"`);
    const [, key, value] = m as unknown as [string, string, string];
    switch (key) {
      case 'seccomp': out.seccomp = value; break;
      case 'no-new-privileges':
        if (!['true', 'false'].includes(value)) throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
        out.noNewPrivileges = value === 'true';
        break;
      case 'apparmor': case 'label': case 'systempaths': case 'writable-cgroups': break; // no LSM here; accepted as dockerd on a host without one
      default: throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

interface DeviceMapping { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }

interface HostDevice { path: string; type: 'c' | 'b'; major: number; minor: number; fileMode: number; uid: number; gid: number }

function deviceAt(path: string): HostDevice | undefined {
  const st = statSync(path);
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return undefined;
  const rdev = st.rdev;
  const major = (Math.floor(rdev / 256) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  return { path, type: st.isCharacterDevice() ? 'c' : 'b', major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** Every device node under the host's /dev, as runc's GetDevices (for `--privileged`). */
function hostDevices(dir = '/dev'): HostDevice[] {
  const out: HostDevice[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev'].includes(e.name)) out.push(...hostDevices(p));
      continue;
    }
    if (p === '/dev/console' || p === '/dev/ptmx' || (!e.isCharacterDevice() && !e.isBlockDevice())) continue;
    try { const d = deviceAt(p); if (d) out.push(d); } catch { /* gone meanwhile */ }
  }
  return out;
}

/** `--device`: the host node(s) behind one mapping; a directory maps every device under it. */
function mappedDevices(d: DeviceMapping): { dev: HostDevice; perms: string }[] {
  let st;
  try { st = statSync(d.PathOnHost); } catch (e) {
    throw new InvalidParameterError(`error gathering device information while adding custom device "${d.PathOnHost}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  const perms = d.CgroupPermissions || 'rwm';
  const inside = d.PathInContainer || d.PathOnHost;
  if (st.isDirectory()) {
    return hostDevices(d.PathOnHost).map((dev) => ({ dev: { ...dev, path: join(inside, dev.path.slice(d.PathOnHost.length)) }, perms }));
  }
  const dev = deviceAt(d.PathOnHost);
  if (!dev) throw new InvalidParameterError(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
  return [{ dev: { ...dev, path: inside }, perms }];
}

function parseTmpfs(hc: HostConfig): { destination: string; options: string[] }[] {
  const t = hc.Tmpfs as Record<string, string> | null | undefined;
  if (!t) return [];
  if (typeof t !== 'object' || Array.isArray(t)) throw new InvalidParameterError('invalid Tmpfs: must be a map of paths to options');
  return Object.entries(t).map(([dest, opts]) => {
    if (!dest.startsWith('/')) throw new InvalidParameterError(`invalid mount config for type "tmpfs": invalid mount path: '${dest}' mount path must be absolute`);
    if (dest === '/') throw new InvalidParameterError('invalid mount config for type "tmpfs": invalid specification: destination can\'t be \'/\'');
    const given = String(opts ?? '').split(',').map((o) => o.trim()).filter(Boolean);
    // docker's defaults, each overridable by the given options (exec, suid, dev).
    const base = ['noexec', 'nosuid', 'nodev'].filter((o) => !given.includes(o.replace(/^no/, '')));
    return { destination: dest, options: [...base, ...given] };
  });
}

function initBinary(): string | undefined {
  return INIT_BINARIES.find((p) => existsSync(p));
}

/** dockerd's checks of the security fields at create: unknown capabilities, bad options, a profile that does not parse, missing devices. */
export function checkSecurity(hc: HostConfig): void {
  const caps = containerCaps(hc);
  const sec = parseSecurityOpts(hc.SecurityOpt);
  if (sec.seccomp && sec.seccomp !== 'unconfined' && !hc.Privileged) profileFromJson(sec.seccomp, caps);
  for (const d of (hc.Devices as DeviceMapping[] | null | undefined) ?? []) {
    if (!d || typeof d.PathOnHost !== 'string' || !d.PathOnHost) throw new InvalidParameterError('invalid device mapping: PathOnHost is required');
    if (d.CgroupPermissions && !/^[rwm]{1,3}$/.test(d.CgroupPermissions)) throw new InvalidParameterError(`invalid device mode: ${d.CgroupPermissions}`);
    if (d.PathInContainer && !d.PathInContainer.startsWith('/')) throw new InvalidParameterError(`invalid device path in container: ${d.PathInContainer}`);
    mappedDevices(d);
  }
  deviceCgroupRules(hc);
  parseTmpfs(hc);
  if (hc.GroupAdd !== null && hc.GroupAdd !== undefined && !(Array.isArray(hc.GroupAdd) && hc.GroupAdd.every((g) => typeof g === 'string'))) {
    throw new InvalidParameterError('invalid GroupAdd: must be a list of strings');
  }
  if (hc.Init && !initBinary()) throw new InvalidParameterError(`--init: no init binary on the host (install Debian's tini: ${INIT_BINARIES[0]})`);
}

/** `--device-cgroup-rule 'c 1:3 rwm'`: device-cgroup allow rules, `*` for any major or minor, as dockerd parses them. */
function deviceCgroupRules(hc: HostConfig): Record<string, unknown>[] {
  const rules = hc.DeviceCgroupRules;
  if (rules === null || rules === undefined) return [];
  if (!Array.isArray(rules)) throw new InvalidParameterError('invalid DeviceCgroupRules: must be a list of strings');
  return rules.map((r: unknown) => {
    const m = typeof r === 'string' ? /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(r) : null;
    if (!m) throw new InvalidParameterError(`invalid device cgroup rule format: '${String(r)}'`);
    const num = (v: string) => (v === '*' ? -1 : Number(v));
    return { allow: true, type: m[1], major: num(m[2]!), minor: num(m[3]!), access: m[4] };
  });
}

/** `--group-add` names and numbers against the container's /etc/group. */
async function groupIds(rootfs: string, names: string[]): Promise<number[]> {
  const text = await readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => '');
  const rows = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  return names.map((n) => {
    const row = rows.find((r) => r[0] === n);
    if (row) return Number(row[2]);
    if (/^\d+$/.test(n)) return Number(n);
    throw new InvalidParameterError(`Unable to find group ${n}: no matching entries in group file`);
  });
}

/** The process's privileges: its capability sets (none effective for a non-root user, as docker since 23) and no-new-privileges. */
export function processSecurity(hc: HostConfig, uid: number, privilegedExec = false): Record<string, unknown> {
  const caps = privilegedExec ? [...availableCaps()] : containerCaps(hc);
  const active = uid === 0 ? caps : [];
  return {
    capabilities: { bounding: caps, effective: active, permitted: active },
    noNewPrivileges: parseSecurityOpts(hc.SecurityOpt).noNewPrivileges,
  };
}

interface Mount { destination: string; type: string; source: string; options: string[] }

/** Puts the security settings into a spec that buildSpec made for `rootfs`. */
export async function applySecurity(spec: Record<string, unknown>, hc: HostConfig, rootfs: string): Promise<void> {
  const proc = spec.process as Record<string, unknown> & { args: string[]; user: { uid: number; additionalGids?: number[] } };
  const linux = spec.linux as Record<string, unknown> & { resources: Record<string, unknown> };
  const mounts = spec.mounts as Mount[];
  const caps = containerCaps(hc);
  Object.assign(proc, processSecurity(hc, proc.user.uid));
  const sec = parseSecurityOpts(hc.SecurityOpt);

  if (!hc.Privileged && sec.seccomp !== 'unconfined') {
    linux.seccomp = sec.seccomp ? profileFromJson(sec.seccomp, caps) : defaultProfile(caps);
  }

  const devices: HostDevice[] = [];
  const rules: Record<string, unknown>[] = [...((linux.resources.devices as Record<string, unknown>[]) ?? [])];
  if (hc.Privileged) {
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
    for (const m of mounts) {
      if (m.destination === '/sys' || m.destination === '/sys/fs/cgroup') m.options = m.options.filter((o) => o !== 'ro').concat('rw');
    }
    devices.push(...hostDevices());
    rules.push({ allow: true, access: 'rwm' });
  }
  for (const d of (hc.Devices as DeviceMapping[] | null | undefined) ?? []) {
    for (const { dev, perms } of mappedDevices(d)) {
      devices.push(dev);
      rules.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access: perms });
    }
  }
  rules.push(...deviceCgroupRules(hc));
  if (devices.length) {
    const byPath = new Map(devices.map((d) => [d.path, d]));
    linux.devices = [...byPath.values()];
  }
  linux.resources.devices = rules;

  for (const t of parseTmpfs(hc)) {
    const i = mounts.findIndex((m) => m.destination === t.destination);
    const m = { destination: t.destination, type: 'tmpfs', source: 'tmpfs', options: t.options };
    if (i >= 0) mounts[i] = m; else mounts.push(m);
  }

  const groups = (hc.GroupAdd as string[] | null | undefined) ?? [];
  if (groups.length) {
    const extra = await groupIds(rootfs, groups);
    proc.user.additionalGids = [...new Set([...(proc.user.additionalGids ?? []), ...extra])];
  }

  if (hc.Init) {
    const bin = initBinary();
    if (!bin) throw new InvalidParameterError(`--init: no init binary on the host (install Debian's tini: ${INIT_BINARIES[0]})`);
    mounts.push({ destination: INIT_PATH, type: 'bind', source: bin, options: ['bind', 'ro'] });
    proc.args = [INIT_PATH, '--', ...proc.args];
  }
}
