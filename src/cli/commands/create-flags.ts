/** The flags `run` and `create` share, and the create request they turn into. */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { collect, FlagError, keyValues } from '../context.js';
import { addNetFlags, netBody, type NetFlags } from './net-flags.js';
import { addVolFlags, volBody, type VolFlags } from './vol-flags.js';
import { addHostFlags, healthcheckBody, hostConfigBody, int, parseBytes, type HostFlags } from './host-flags.js';
import { addDeviceFlags, deviceHostConfig, type DeviceFlags } from './device-flags.js';
import { addCompatFlags, compatBody, type CompatFlags } from './compat-flags.js';

export interface CreateFlags extends NetFlags, HostFlags, VolFlags, DeviceFlags, CompatFlags {
  vmKernel?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  name?: string;
  entrypoint?: string;
  user?: string;
  hostname?: string;
  label?: string[];
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  runtime?: string;
  network?: string;
  readOnly?: boolean;
  stopSignal?: string;
  stopTimeout?: string;
  memory?: string;
  cpus?: string;
  domainname?: string;
  pid?: string;
  ipc?: string;
  uts?: string;
  userns?: string;
  cgroupns?: string;
  logDriver?: string;
  logOpt?: string[];
  cidfile?: string;
  pull?: string;
  platform?: string;
  sysctl?: string[];
  oomScoreAdj?: string;
  labelFile?: string[];
  quiet?: boolean;
  attach?: string[];
  annotation?: string[];
  cgroupParent?: string;
}

export function addCreateFlags(cmd: Command): Command {
  return addCompatFlags(addDeviceFlags(addHostFlags(addVolFlags(addNetFlags(cmd)))))
    .option('-e, --env <list>', 'Set environment variables', collect)
    .option('--env-file <file>', 'Read in a file of environment variables', collect)
    .option('-w, --workdir <dir>', 'Working directory inside the container')
    .option('--name <name>', 'Assign a name to the container')
    .option('--entrypoint <cmd>', 'Overwrite the default ENTRYPOINT of the image')
    .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-h, --hostname <name>', 'Container host name')
    .option('-l, --label <list>', 'Set meta data on a container', collect)
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--rm', 'Automatically remove the container and its associated anonymous volumes when it exits')
    .option('--runtime <name>', 'Runtime to use for this container (oci, vm)')
    .option('-m, --memory <bytes>', 'Memory limit (for --runtime vm: the VM\'s RAM, default 256m)')
    .option('--cpus <number>', 'Number of CPUs (for --runtime vm: the VM\'s vCPUs, default 1)')
    .option('--vm-kernel <path>', 'For --runtime vm: the kernel to boot (default: the daemon\'s --vm-kernel, else the newest /boot/vmlinuz-*-cloud-amd64)')
    .option('--network <mode>', 'Connect a container to a network (bridge, host, none or a network\'s name)')
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('--stop-signal <signal>', 'Signal to stop the container')
    .option('--stop-timeout <seconds>', 'Timeout (in seconds) to stop a container')
    .option('--domainname <string>', 'Container NIS domain name')
    .option('--pid <string>', 'PID namespace to use (host, or container:NAME)')
    .option('--ipc <mode>', 'IPC mode to use (private, shareable, host)')
    .option('--uts <string>', 'UTS namespace to use (host)')
    .option('--userns <string>', 'User namespace to use (host: berth has no remapping)')
    .option('--cgroupns <string>', "Cgroup namespace to use (host|private)")
    .option('--log-driver <string>', 'Logging driver for the container (recorded; berth keeps its own log)')
    .option('--log-opt <list>', 'Log driver options', collect)
    .option('--cidfile <file>', 'Write the container ID to the file')
    .option('--pull <string>', 'Pull image before running ("always", "missing", "never")', 'missing')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('--sysctl <map>', 'Sysctl options', collectSysctl)
    .option('--oom-score-adj <int>', "Tune host's OOM preferences (-1000 to 1000)")
    .option('--label-file <file>', 'Read in a line delimited file of labels', collect)
    .option('-q, --quiet', 'Suppress the pull output')
    .option('-a, --attach <stream>', 'Attach to STDIN, STDOUT or STDERR', collectStream)
    .option('--annotation <map>', 'Add an annotation to the container (passed through to the OCI runtime)', collect)
    .option('--cgroup-parent <string>', 'Optional parent cgroup for the container');
}

/** docker's `--sysctl` check: only the namespaced sysctls it knows (kernel IPC limits, fs.mqueue.*, net.*). */
const SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
function collectSysctl(v: string, previous: string[] = []): string[] {
  const key = v.split('=')[0]!;
  if (!v.includes('=') || !(SYSCTLS.includes(key) || key.startsWith('net.') || key.startsWith('fs.mqueue.'))) {
    throw new InvalidArgumentError(`sysctl '${v}' is not allowed`);
  }
  return [...previous, v];
}

/** `-a stdout`: the streams to attach, lower-cased, as the docker CLI checks them. */
function collectStream(v: string, previous: string[] = []): string[] {
  const stream = v.toLowerCase();
  if (!['stdin', 'stdout', 'stderr'].includes(stream)) throw new InvalidArgumentError('valid streams are STDIN, STDOUT and STDERR');
  return [...previous, stream];
}

/** Which streams a foreground run attaches: all by default, or those `-a` names (stdin also with -i, as docker). */
export function attachedStreams(f: CreateFlags): { stdin: boolean; stdout: boolean; stderr: boolean } {
  const a = f.attach;
  return { stdin: !!f.interactive || !!a?.includes('stdin'), stdout: !a || a.includes('stdout'), stderr: !a || a.includes('stderr') };
}

/** A file the CLI reads for a flag (`--env-file`, `--label-file`); a failure in Go's words, as the docker CLI's. */
function readFlagFile(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const why = ({ ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a directory' } as Record<string, string>)[code];
    throw why ? new Error(`${code === 'EISDIR' ? 'read' : 'open'} ${path}: ${why}`) : e;
  }
}

/** A file of `KEY=VALUE` lines, as docker reads them: blank lines and `#` comments skipped. */
function kvLines(path: string): string[] {
  return readFlagFile(path).split('\n').map((l) => l.replace(/^\s+/, '').replace(/\r$/, '')).filter((l) => l && !l.startsWith('#'));
}

function envFromClient(entry: string): string | undefined {
  if (entry.startsWith('=')) throw new FlagError(`invalid argument "${entry}" for "-e, --env" flag: invalid environment variable: ${entry}`);
  if (entry.includes('=')) return entry;
  const v = process.env[entry];
  return v === undefined ? undefined : `${entry}=${v}`;
}

/** `--env-file` then `-e` as the API's Env list: a bare `-e NAME` takes the client's value, or is left out. */
export function envList(f: { env?: string[]; envFile?: string[] }): string[] {
  return [...(f.envFile ?? []).flatMap(parseEnvFile), ...(f.env ?? []).map(envFromClient).filter((e): e is string => !!e)];
}

export function parseEnvFile(path: string): string[] {
  return kvLines(path).map(envFromClient).filter((e): e is string => !!e);
}

/** The docker CLI's own checks of the namespace flags, before the daemon's. */
function checkModes(f: CreateFlags): void {
  const container = (v: string) => /^container:.+/.test(v);
  if (f.pid && f.pid !== 'host' && !container(f.pid)) throw new Error('--pid: invalid PID mode');
  if (f.uts && f.uts !== 'host') throw new Error('--uts: invalid UTS mode');
  if (f.userns && f.userns !== 'host') throw new Error('--userns: invalid USER mode');
  if (f.cgroupns && f.cgroupns !== 'host' && f.cgroupns !== 'private') throw new Error('--cgroupns: invalid CGROUP mode');
}

export function createBody(image: string, args: string[], f: CreateFlags, detach: boolean, host = ''): Record<string, unknown> {
  checkModes(f);
  const env = envList(f);
  // A label file's line without `=` names nothing (the docker CLI drops it; `-l key` keeps an empty value).
  const labels = keyValues([...(f.labelFile ?? []).flatMap(kvLines).filter((l) => l.includes('=')), ...(f.label ?? [])]);
  const attach = !detach;
  const streams = attachedStreams(f);
  const net = netBody(f);
  const vol = volBody(f);
  const size: [number, number] = f.tty && process.stdout.isTTY ? [process.stdout.rows, process.stdout.columns] : [0, 0];
  const healthcheck = healthcheckBody(f);
  const compat = compatBody(f, host);
  // --use-api-socket's bind joins --mount's.
  const mounts = [...((vol.HostConfig.Mounts as unknown[] | undefined) ?? []), ...((compat.Mounts as unknown[] | undefined) ?? [])];
  return {
    Image: image,
    Cmd: args.length ? args : null,
    ...(f.entrypoint !== undefined ? { Entrypoint: [f.entrypoint] } : {}),
    Env: env,
    WorkingDir: f.workdir ?? '',
    User: f.user ?? '',
    Hostname: f.hostname ?? '',
    ...(f.domainname ? { Domainname: f.domainname } : {}),
    Labels: labels,
    Tty: !!f.tty,
    OpenStdin: !!f.interactive,
    StdinOnce: !!f.interactive && attach,
    AttachStdin: streams.stdin && attach,
    AttachStdout: streams.stdout && attach,
    AttachStderr: streams.stderr && attach,
    ...(f.stopSignal ? { StopSignal: f.stopSignal } : {}),
    ...(f.stopTimeout ? { StopTimeout: Number(f.stopTimeout) } : {}),
    ...(net.ExposedPorts ? { ExposedPorts: net.ExposedPorts } : {}),
    ...(net.NetworkingConfig ? { NetworkingConfig: net.NetworkingConfig } : {}),
    ...(vol.Volumes ? { Volumes: vol.Volumes } : {}),
    ...(healthcheck ? { Healthcheck: healthcheck } : {}),
    HostConfig: {
      ...net.HostConfig,
      ...vol.HostConfig,
      AutoRemove: !!f.rm,
      ...(f.runtime ? { Runtime: f.runtime } : {}),
      ...(f.memory ? { Memory: parseBytes(f.memory) } : {}),
      ...(f.cpus ? { NanoCpus: parseCpus(f.cpus) } : {}),
      ...(f.vmKernel || f.annotation?.length ? { Annotations: { ...keyValues(f.annotation), ...(f.vmKernel ? { 'berth.vm.kernel': f.vmKernel } : {}) } } : {}),
      ...(f.cgroupParent ? { CgroupParent: f.cgroupParent } : {}),
      ...deviceHostConfig(f),
      ...compat,
      ...(mounts.length ? { Mounts: mounts } : {}),
      ...hostConfigBody(f, !!f.rm),
      ...(f.network ? { NetworkMode: f.network } : {}),
      ReadonlyRootfs: !!f.readOnly,
      ConsoleSize: size,
      ...(f.pid ? { PidMode: f.pid } : {}),
      ...(f.ipc ? { IpcMode: f.ipc } : {}),
      ...(f.uts ? { UTSMode: f.uts } : {}),
      ...(f.userns ? { UsernsMode: f.userns } : {}),
      ...(f.cgroupns ? { CgroupnsMode: f.cgroupns } : {}),
      ...(f.sysctl?.length ? { Sysctls: keyValues(f.sysctl) } : {}),
      ...(f.oomScoreAdj !== undefined ? { OomScoreAdj: int(f.oomScoreAdj, '--oom-score-adj') } : {}),
      ...(f.logDriver || f.logOpt?.length ? { LogConfig: { Type: f.logDriver ?? '', Config: keyValues(f.logOpt) } } : {}),
    },
  };
}

export function parseCpus(v: string): number {
  const n = Number(v);
  if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(v) || !Number.isFinite(n)) throw new FlagError(`invalid argument "${v}" for "--cpus" flag: failed to parse ${v} as a rational number`);
  return Math.round(n * 1e9);
}
