/**
 * seccomp: berth's default profile, and docker-format profiles (`--security-opt seccomp=FILE`)
 * turned into the OCI spec's `linux.seccomp`.
 *
 * The default is a denylist (default action SCMP_ACT_ALLOW, listed calls fail with EPERM), written
 * for berth. Docker's own default is an allowlist; this one blocks the calls docker's blocks for a
 * container with docker's default capabilities, and, as docker's, lifts a group of them when the
 * container holds the capability that guards it (`--cap-add SYS_ADMIN` allows mount, unshare, setns…).
 * Calls a kernel gained after the list was written are allowed where docker's allowlist would refuse them.
 */
import { release } from 'node:os';
import { InvalidParameterError } from '../errors/index.js';

const EPERM = 1;
const ENOSYS = 38;

/** clone flags that make new namespaces: NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET. */
const CLONE_NS_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

/** Always refused: key management, obsolete or dangerous calls no container needs. */
const ALWAYS_DENIED = [
  'add_key', 'keyctl', 'request_key', 'nfsservctl', 'uselib', 'ustat', 'sysfs', '_sysctl', 'vm86', 'vm86old',
  'afs_syscall', 'create_module', 'get_kernel_syms', 'query_module', 'lookup_dcookie', 'userfaultfd',
  // As docker since 25.0: io_uring has been a steady source of kernel escalations.
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
];

/** Refused unless the container holds the capability. */
const GUARDED: Record<string, string[]> = {
  CAP_SYS_ADMIN: [
    'mount', 'umount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'fsopen', 'fsconfig', 'fsmount', 'fspick',
    'unshare', 'setns', 'pivot_root', 'swapon', 'swapoff', 'quotactl', 'quotactl_fd', 'sethostname', 'setdomainname',
    'fanotify_init', 'bpf', 'perf_event_open', 'name_to_handle_at', 'iopl',
  ],
  CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
  CAP_SYS_BOOT: ['reboot', 'kexec_load', 'kexec_file_load'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64', 'adjtimex'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev'],
  CAP_SYS_RAWIO: ['ioperm'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'move_pages', 'migrate_pages'],
  CAP_SYSLOG: ['syslog'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
};

interface SeccompArg { index: number; value: number; valueTwo?: number; op: string }
interface SeccompRule { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }

/** berth's default profile for a container holding `caps`. */
export function defaultProfile(caps: string[]): Record<string, unknown> {
  const has = new Set(caps);
  const denied = [...ALWAYS_DENIED];
  for (const [cap, names] of Object.entries(GUARDED)) if (!has.has(cap)) denied.push(...names);
  const syscalls: SeccompRule[] = [{ names: denied, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }];
  if (!has.has('CAP_SYS_ADMIN')) {
    // clone with any namespace flag fails (one rule per flag: the rules of one call are or-ed);
    // clone3 hides its flags in memory, so it answers ENOSYS and libc falls back to clone.
    for (const flag of CLONE_NS_FLAGS) {
      syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }] });
    }
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  // AF_VSOCK sockets reach the host's hypervisor channels.
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: 40, op: 'SCMP_CMP_EQ' }] });
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  };
}

interface DockerProfile {
  defaultAction?: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  flags?: string[];
  listenerPath?: string;
  syscalls?: {
    name?: string; names?: string[]; action: string; errnoRet?: number; args?: SeccompArg[] | null;
    includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
    excludes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  }[];
}

const HOST_ARCH = 'SCMP_ARCH_X86_64';
const ARCH_ALIASES: Record<string, string> = { amd64: 'SCMP_ARCH_X86_64', x86_64: 'SCMP_ARCH_X86_64', '386': 'SCMP_ARCH_X86', x86: 'SCMP_ARCH_X86', x32: 'SCMP_ARCH_X32' };

function kernelAtLeast(min: string): boolean {
  const [a = 0, b = 0] = release().split('.').map((x) => Number.parseInt(x, 10));
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

/**
 * A docker-format profile (what `--security-opt seccomp=FILE` sends: the file's JSON) as the spec's
 * `linux.seccomp`, with the rules that `includes`/`excludes` tie to capabilities and architectures
 * resolved for this container, as dockerd does.
 */
export function profileFromJson(text: string, caps: string[]): Record<string, unknown> {
  let p: DockerProfile;
  try {
    p = JSON.parse(text) as DockerProfile;
  } catch (e) {
    throw new InvalidParameterError(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw new InvalidParameterError('Decoding seccomp profile failed: the profile is not a JSON object');
  if (!p.defaultAction) throw new InvalidParameterError('Decoding seccomp profile failed: defaultAction is missing');
  if (p.architectures?.length && p.archMap?.length) throw new InvalidParameterError("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  const has = new Set(caps);
  let arches = p.architectures ?? [];
  if (p.archMap?.length) {
    const mine = p.archMap.find((a) => a.architecture === HOST_ARCH);
    arches = mine ? [mine.architecture, ...(mine.subArchitectures ?? [])] : [];
  }
  const syscalls: SeccompRule[] = [];
  for (const s of p.syscalls ?? []) {
    const names = s.names ?? (s.name ? [s.name] : []);
    if (s.name && s.names?.length) throw new InvalidParameterError("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
    if (!names.length) continue;
    const inc = s.includes ?? {}; const exc = s.excludes ?? {};
    const arch = (a: string) => ARCH_ALIASES[a] ?? a;
    if (inc.arches?.length && !inc.arches.map(arch).includes(HOST_ARCH)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => has.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(inc.minKernel)) continue;
    if (exc.arches?.length && exc.arches.map(arch).includes(HOST_ARCH)) continue;
    if (exc.caps?.length && exc.caps.some((c) => has.has(c))) continue;
    if (exc.minKernel && kernelAtLeast(exc.minKernel)) continue;
    syscalls.push({
      names, action: s.action,
      ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
      ...(s.args?.length ? { args: s.args } : {}),
    });
  }
  return {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    ...(arches.length ? { architectures: arches } : {}),
    ...(p.flags?.length ? { flags: p.flags } : {}),
    ...(p.listenerPath ? { listenerPath: p.listenerPath } : {}),
    syscalls,
  };
}
