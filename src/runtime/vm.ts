/**
 * The `vm` driver: the same bundle, booted as a QEMU `-M microvm` guest with
 * its own (Debian cloud) kernel. It reuses conmon, as the `oci` driver does:
 * conmon's `-r` program is a small OCI-runtime-compatible shim whose `create`
 * starts the bundle's wrapper script (conmon's stdio, its PID in the pid
 * file). The wrapper waits on a FIFO until `start`, runs QEMU, and exits with
 * the guest workload's exit code, which berth's init in the guest reports on a
 * virtio port. So conmon holds stdio, writes the log and the exit file, serves
 * attach and outlives the daemon, exactly as for a container.
 *
 * Layout under <exec root>/vm (the oci driver's layout, plus):
 *   shim                          the `-r` program conmon runs (create only; the driver does the rest)
 *   initrd-<kernel version>-<tag> the base initramfs (tag: a hash of the init and module list): busybox, berth's init, the virtio modules
 *   accel                         the accelerator the probe chose (kvm or tcg)
 *   bundles/<id>/wrapper.sh       QEMU's command line and the exit-code logic
 *   bundles/<id>/{start,guest.ctl} FIFOs: start gate, and requests for the guest's init (not `ctl`: that is
 *                                 conmon's own FIFO, which conmon reads too)
 *   bundles/<id>/{initrd,status,console.log,qemu.log,qemu.pid}
 * The guest's root disk is <container dir>/vm-disk.img (beside the merged dir),
 * made once from the merged rootfs with `mkfs.ext4 -d`, so it goes with the container.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConflictError, InvalidParameterError, SystemError } from '../errors/index.js';
import { run } from '../host/index.js';
import { OciRuntime } from './oci.js';
import { ExecStartError } from './oci-exec.js';
import type { CreateOptions, ExecHandle, ExecOptions, RuntimeState, RuntimeUsage, Spec } from './types.js';
import { nextSeq, SlotConnection, toFifo, waitStatus } from './vm-exec.js';
import { procStat } from './proc-stat.js';
import { cpio, devTemplate, GUEST_INIT, runScript, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, shQuote, type CpioEntry } from './vm-guest.js';
import { vmNetwork } from './vm-net.js';
import { Qmp } from './vm-qmp.js';

export interface VmRuntimeOptions {
  execRoot: string;
  /** A kernel image; default the newest /boot/vmlinuz-*-cloud-amd64. Its modules come from /lib/modules/<version>. */
  kernel?: string;
  conmonPath?: string;
  qemuPath?: string;
  /** Skip the KVM probe: 'kvm' or 'tcg'. Default from BERTH_VM_ACCEL, else probed. */
  accel?: 'kvm' | 'tcg';
}

export type VmDetails = {
  Kernel: string;
  KernelVersion: string;
  Accelerator: 'kvm' | 'tcg';
  VCPUs: number;
  MemoryBytes: number;
  Disk: string;
  /** Bytes the VM needs besides the image: the kernel, its initramfs (base + this run's), the root disk image. */
  KernelBytes?: number;
  InitrdBytes?: number;
  DiskBytes?: number;
};

const DEFAULT_MEMORY = 256 * 2 ** 20;
/**
 * The FIFO QEMU's berth.ctl port reads. Not the bundle's `ctl`: conmon makes and reads that one (resize and log
 * reopen), and two readers of one FIFO split its lines between them, so requests went missing at random.
 */
const GUEST_CTL = 'guest.ctl';
const MODULES = ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'virtio_console', 'failover', 'net_failover', 'virtio_net'];
/** Exec sessions a VM serves at once: each slot is four virtio ports (in, out, err, and a console for -t). */
const SLOTS = 4;
/** Seconds the guest may take to reach the workload before the wrapper gives up. */
const BOOT_LIMIT = { kvm: 30, tcg: 120 };

/** conmon's `-r`: `create` starts the bundle's wrapper with conmon's stdio and writes its PID; the rest is done by the driver. */
const SHIM = `#!/bin/sh
# berth vm runtime: the OCI-runtime-compatible program conmon runs. Global options (--root, --log, ...) are ignored.
cmd=
while [ $# -gt 0 ]; do
  case "$1" in create|start|state|kill|delete) cmd=$1; shift; break ;; *) shift ;; esac
done
case "$cmd" in
create)
  bundle=; pidfile=
  while [ $# -gt 1 ]; do
    case "$1" in
      --bundle|-b) bundle=$2; shift 2 ;;
      --bundle=*) bundle=\${1#*=}; shift ;;
      --pid-file) pidfile=$2; shift 2 ;;
      --pid-file=*) pidfile=\${1#*=}; shift ;;
      --console-socket) shift 2 ;;
      *) shift ;;
    esac
  done
  if [ -z "$bundle" ] || [ -z "$pidfile" ] || [ ! -f "$bundle/wrapper.sh" ]; then
    echo "berth vm shim: create needs --bundle (with wrapper.sh) and --pid-file" >&2; exit 1
  fi
  # A background job's stdin is /dev/null unless it is redirected explicitly.
  exec 5<&0
  sh "$bundle/wrapper.sh" <&5 5<&- &
  echo $! > "$pidfile"
  exit 0 ;;
start|state|kill|delete) exit 0 ;;
*) echo "berth vm shim: unknown command" >&2; exit 1 ;;
esac
`;

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

async function pidOf(file: string, marker: string): Promise<number | undefined> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (!pid) return undefined;
  // Only a process that is still ours: its command line names the bundle (PIDs are reused).
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes(marker) ? pid : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class VmRuntime extends OciRuntime {
  override readonly name = 'vm';
  // The guest's launcher runs QEMU in the daemon's cgroup: no migration to keep the lock warm for.
  protected override readonly joinsCgroup = false;
  private readonly root: string;
  private readonly qemu: string;
  private readonly kernelPath?: string;
  private readonly forcedAccel?: 'kvm' | 'tcg';
  private accelP?: Promise<'kvm' | 'tcg'>;
  private readonly initrds = new Map<string, Promise<Buffer>>();
  private readonly details = new Map<string, VmDetails>();

  constructor(opts: VmRuntimeOptions) {
    const root = join(opts.execRoot, 'vm');
    super({ execRoot: root, runtimePath: join(root, 'shim'), conmonPath: opts.conmonPath });
    this.root = root;
    this.qemu = opts.qemuPath ?? '/usr/bin/qemu-system-x86_64';
    this.kernelPath = opts.kernel;
    const env = process.env.BERTH_VM_ACCEL;
    this.forcedAccel = opts.accel ?? (env === 'kvm' || env === 'tcg' ? env : undefined);
  }

  override async init(): Promise<void> {
    await super.init();
    await writeFile(join(this.root, 'shim'), SHIM, { mode: 0o755 });
    await chmod(join(this.root, 'shim'), 0o755);
    // A default kernel named by the daemon's --vm-kernel must be there and be a kernel: said at start, not at the first VM.
    if (this.kernelPath) await this.kernel();
  }

  /** What inspect shows for a VM container (kept by the containers part). */
  async describe(id: string): Promise<VmDetails | undefined> {
    return this.details.get(id) ?? JSON.parse(await readFile(join(this.bundle(id), 'vm.json'), 'utf8').catch(() => 'null')) ?? undefined;
  }

  /** For `info`: how VMs are run here by default. Fields are absent when, say, no kernel is installed (the error says why). */
  override async info(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = { path: this.qemu, Machine: 'microvm', DefaultVCPUs: 1, DefaultMemoryBytes: DEFAULT_MEMORY };
    try {
      const k = await this.kernel();
      Object.assign(out, { Kernel: k.path, KernelVersion: k.version, Accelerator: await this.accelerator() });
    } catch (e) {
      out.Error = (e as Error).message;
    }
    return out;
  }

  // ---- the kernel, the accelerator, the initramfs ----

  /** The kernel a VM boots: `--vm-kernel` (the spec's `berth.vm.kernel` annotation), else the daemon's, else the newest cloud kernel. */
  async kernel(override?: string): Promise<{ path: string; version: string; modules: string }> {
    let path = override || this.kernelPath;
    if (!path) {
      const names = (await readdir('/boot').catch(() => [] as string[])).filter((n) => /^vmlinuz-.*-cloud-amd64$/.test(n))
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
      if (!names.length) throw new SystemError('the vm runtime needs a kernel: install linux-image-cloud-amd64 (no /boot/vmlinuz-*-cloud-amd64)');
      path = join('/boot', names.at(-1)!);
    }
    if (!(await stat(path).catch(() => undefined))) throw new InvalidParameterError(`the vm kernel ${path} does not exist`);
    const version = await kernelVersion(path);
    const modules = join('/lib/modules', version);
    if (!(await stat(modules).catch(() => undefined))) throw new InvalidParameterError(`no modules for the vm kernel ${path} (version ${version}): ${modules} is missing`);
    return { path, version, modules };
  }

  /** KVM when a probe boot of the kernel ends within a bounded time (nested KVM hangs), TCG otherwise. */
  accelerator(): Promise<'kvm' | 'tcg'> {
    if (this.forcedAccel) return Promise.resolve(this.forcedAccel);
    return (this.accelP ??= (async () => {
      const file = join(this.root, 'accel');
      const known = (await readFile(file, 'utf8').catch(() => '')).trim();
      if (known === 'kvm' || known === 'tcg') return known;
      const result = await this.probeKvm();
      await writeFile(file, `${result}\n`);
      return result;
    })());
  }

  private async probeKvm(): Promise<'kvm' | 'tcg'> {
    const fd = await open('/dev/kvm', 'r+').catch(() => undefined);
    if (!fd) return 'tcg';
    await fd.close();
    const { path } = await this.kernel();
    // No root and panic=-1: a working KVM reaches the panic and the reboot (which -no-reboot turns into an exit) in about a second.
    const res = await run('timeout', ['-s', 'KILL', '4', this.qemu, '-M', 'microvm,x-option-roms=off,rtc=off', '-accel', 'kvm', '-cpu', 'host',
      '-m', '128M', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-kernel', path,
      '-append', 'console=ttyS0 panic=-1 quiet', '-serial', 'null'], { allowFailure: true });
    return res.code === 0 ? 'kvm' : 'tcg';
  }

  private baseInitrd(kernel: { version: string; modules: string }): Promise<Buffer> {
    let p = this.initrds.get(kernel.version);
    if (!p) {
      p = this.buildBaseInitrd(kernel);
      this.initrds.set(kernel.version, p);
      p.catch(() => this.initrds.delete(kernel.version));
    }
    return p;
  }

  private async buildBaseInitrd(kernel: { version: string; modules: string }): Promise<Buffer> {
    // Named by what is in it, so a new init (or module list) never boots from an old cache.
    const tag = createHash('sha256').update(GUEST_INIT).update(MODULES.join(',')).update(JSON.stringify(devTemplate(SLOTS))).digest('hex').slice(0, 12);
    const file = join(this.root, `initrd-${kernel.version}-${tag}`);
    const cached = await readFile(file).catch(() => undefined);
    if (cached) return cached;
    const busybox = await readFile('/bin/busybox').catch(() => { throw new SystemError('the vm runtime needs a static busybox: install busybox-static'); });
    const found = (await run('find', [kernel.modules, '-name', '*.ko'], { allowFailure: true })).stdout.split('\n').filter(Boolean);
    const mods = `lib/modules/${kernel.version}`;
    const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', mods, 'newroot', 'berth'].map((name) => ({ name, mode: S_IFDIR | 0o755 }));
    // In /berth, which the container sees at /dev/.berth: the exec scripts run it from there.
    entries.push({ name: 'berth/busybox', mode: S_IFREG | 0o755, data: busybox });
    entries.push({ name: 'bin/busybox', mode: S_IFLNK | 0o777, data: Buffer.from('/berth/busybox') });
    entries.push({ name: 'berth/tick', mode: S_IFIFO | 0o600 });
    entries.push({ name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(GUEST_INIT) });
    entries.push(...devTemplate(SLOTS));
    for (const m of MODULES) {
      const path = found.find((f) => basename(f) === `${m}.ko`);
      if (!path) throw new SystemError(`the vm kernel ${kernel.version} has no ${m}.ko module (compressed modules are not supported)`);
      entries.push({ name: `${mods}/${m}.ko`, mode: S_IFREG | 0o644, data: await readFile(path) });
    }
    // No dependencies listed: the init names the modules in their load order, and modprobe -a loads them so.
    entries.push({ name: `${mods}/modules.dep`, mode: S_IFREG | 0o644, data: Buffer.from(MODULES.map((m) => `${m}.ko:\n`).join('')) });
    const archive = cpio(entries);
    await writeFile(`${file}.tmp`, archive);
    await rename(`${file}.tmp`, file);
    return archive;
  }

  // ---- create ----

  override async create(opts: CreateOptions): Promise<{ pid: number }> {
    // conmon never holds a console: with -t the guest's /dev/hvc0 is the workload's TTY, its bytes on conmon's stdout pipe.
    return super.create({ ...opts, terminal: false, guestTerminal: opts.terminal } as CreateOptions);
  }

  protected override async prepareBundle(opts: CreateOptions, ociSpec: Spec, bundle: string): Promise<void> {
    const spec = ociSpec as {
      root: { path: string; readonly?: boolean };
      hostname?: string;
      process: { args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
      mounts?: { destination: string; type: string; source: string }[];
      annotations?: Record<string, string>;
      linux?: { namespaces?: { type: string; path?: string }[] };
    };
    const ann = spec.annotations ?? {};
    const terminal = !!(opts as { guestTerminal?: boolean }).guestTerminal;
    const kernel = await this.kernel(ann['berth.vm.kernel']);
    const [accel, base] = await Promise.all([this.accelerator(), this.baseInitrd(kernel)]);
    const disk = join(dirname(spec.root.path), 'vm-disk.img');
    await this.makeDisk(spec.root.path, disk);

    const config: CpioEntry[] = [{ name: 'berth', mode: S_IFDIR | 0o755 }, { name: 'berth/etc', mode: S_IFDIR | 0o755 }];
    const netnsPath = spec.linux?.namespaces?.find((n) => n.type === 'network')?.path;
    const net = netnsPath ? await vmNetwork(netnsPath) : { nics: [], script: '' };
    if (net.script) config.push({ name: 'berth/net.sh', mode: S_IFREG | 0o644, data: Buffer.from(net.script) });
    const [rows, cols] = opts.consoleSize ?? [0, 0];
    const settings = { READONLY: spec.root.readonly ? 1 : 0, STDIN: opts.stdin ? 1 : 0, TTY: terminal ? 1 : 0, ROWS: Math.floor(rows) || 0, COLS: Math.floor(cols) || 0, NET: net.nics.length ? 1 : 0, SLOTS, PORTS: 6 };
    config.push({ name: 'berth/config', mode: S_IFREG | 0o644, data: Buffer.from(Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join('')) });
    const p = spec.process;
    config.push({ name: 'berth/run.sh', mode: S_IFREG | 0o644, data: Buffer.from(runScript({ args: p.args, env: p.env, cwd: p.cwd || '/', uid: p.user.uid, gid: p.user.gid })) });
    config.push({ name: 'berth/hostname', mode: S_IFREG | 0o644, data: Buffer.from(`${spec.hostname ?? ''}\n`) });
    for (const m of spec.mounts ?? []) {
      const name = { '/etc/hostname': 'hostname', '/etc/hosts': 'hosts', '/etc/resolv.conf': 'resolv.conf' }[m.destination];
      if (m.type !== 'bind' || !name) continue;
      const data = await readFile(m.source).catch(() => undefined);
      if (data) config.push({ name: `berth/etc/${name}`, mode: S_IFREG | 0o644, data });
    }
    await writeFile(join(bundle, 'initrd'), Buffer.concat([base, cpio(config)]));

    const memory = Math.max(Number(ann['berth.vm.memory']) || DEFAULT_MEMORY, 64 * 2 ** 20);
    const cpus = Math.max(1, Math.min(Math.round(Number(ann['berth.vm.cpus']) || 1), 64));
    const details: VmDetails = { Kernel: kernel.path, KernelVersion: kernel.version, Accelerator: accel, VCPUs: cpus, MemoryBytes: memory, Disk: disk };
    // Allocated bytes: the disk image is sparse.
    const sizeOf = (p: string) => stat(p).then((st) => st.blocks * 512, () => undefined);
    [details.KernelBytes, details.InitrdBytes, details.DiskBytes] = await Promise.all([sizeOf(kernel.path), sizeOf(join(bundle, 'initrd')), sizeOf(disk)]);
    this.details.set(opts.id, details);
    await writeFile(join(bundle, 'vm.json'), JSON.stringify(details));

    await run('mkfifo', [join(bundle, 'start'), join(bundle, GUEST_CTL), join(bundle, 'st.in'), join(bundle, 'st.out')]);
    const socks = this.slotDir(opts.id);
    await rm(socks, { recursive: true, force: true });
    await mkdir(socks, { recursive: true });
    const nics = net.nics.flatMap((n, i) => ['-netdev', `tap,id=n${i},ifname=${n.tap},script=no,downscript=no`, '-device', `virtio-net-device,netdev=n${i},mac=${n.mac}`]);
    const append = ['console=ttyS0', 'panic=-1', 'rdinit=/init', 'loglevel=4'];
    if (accel === 'tcg') append.push(`tsc_early_khz=${await hostTscKhz()}`);
    const qemu = [
      this.qemu, '-M', 'microvm,x-option-roms=off,rtc=off', '-accel', accel, ...(accel === 'kvm' ? ['-cpu', 'host'] : []),
      '-m', `${Math.floor(memory / 2 ** 20)}M`, '-smp', String(cpus),
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-kernel', kernel.path, '-initrd', join(bundle, 'initrd'), '-append', append.join(' '),
      '-chardev', `file,id=con,path=${join(bundle, 'console.log')}`, '-serial', 'chardev:con',
      '-drive', `id=root,file=${disk},format=raw,if=none,cache=unsafe`,
      '-device', 'virtio-blk-device,drive=root',
      '-device', 'virtio-serial-device,id=vs,max_ports=31',
      // hvc0, first of the consoles (so /dev/hvc0 in the guest): the workload's TTY with -t, on QEMU's stdin and stdout,
      // which the wrapper points at conmon's stdin and stdout pipes. At the stdin's EOF QEMU tells the guest the port closed.
      ...(terminal ? ['-chardev', 'stdio,id=tty,signal=off'] : ['-chardev', 'null,id=tty']),
      '-device', 'virtconsole,chardev=tty,name=berth.tty',
      // fds 3 and 4 are conmon's stdout and stderr pipes (the wrapper keeps them there; QEMU's own output goes to qemu.log).
      ...(opts.stdin && !terminal ? ['-chardev', 'stdio,id=in,signal=off'] : ['-chardev', 'null,id=in']),
      '-device', 'virtserialport,chardev=in,name=berth.stdin',
      '-chardev', 'file,id=out,path=/proc/self/fd/3', '-device', 'virtserialport,chardev=out,name=berth.stdout',
      '-chardev', 'file,id=err,path=/proc/self/fd/4', '-device', 'virtserialport,chardev=err,name=berth.stderr',
      // A pipe chardev on st.in/st.out (QEMU holds both FIFOs open): the wrapper copies each line into `status` and
      // switches the VM off at `exit N`, without waiting for the guest kernel's power-off (over a second under TCG).
      '-chardev', `pipe,id=st,path=${join(bundle, 'st')}`, '-device', 'virtserialport,chardev=st,name=berth.status',
      '-chardev', `pipe,id=ctl,path=${join(bundle, GUEST_CTL)}`, '-device', 'virtserialport,chardev=ctl,name=berth.ctl',
      // The exec slots' ports are plugged through the monitor at the first attached exec (plugSlots), not at boot.
      '-qmp', `unix:${join(socks, 'qmp')},server=on,wait=off`,
      ...nics,
      '-pidfile', join(bundle, 'qemu.pid'),
    ];
    // With a network, QEMU runs in the container's netns, where its taps are.
    if (net.nics.length) qemu.unshift('nsenter', `--net=${netnsPath}`, '--');
    const stdio = terminal ? '<&5 >&3 2>"$B/qemu.log"' : opts.stdin ? '<&5 >"$B/qemu.log" 2>&1' : '</dev/null >"$B/qemu.log" 2>&1';
    await writeFile(join(bundle, 'wrapper.sh'), wrapperScript(bundle, qemu, BOOT_LIMIT[accel], stdio), { mode: 0o755 });
  }

  /** The guest's root disk: an ext4 image of the merged rootfs, made once per container (so its writes are kept with it). */
  private async makeDisk(rootfs: string, disk: string): Promise<void> {
    if (await stat(disk).catch(() => undefined)) return;
    const du = await run('du', ['-sxk', rootfs], { allowFailure: true });
    const usedKiB = Number(du.stdout.split('\t')[0]) || 0;
    // Sparse: free space costs nothing on the host until the guest writes it.
    const sizeKiB = Math.max(256 * 1024, usedKiB * 2 + 256 * 1024);
    const tmp = `${disk}.tmp`;
    await rm(tmp, { force: true });
    const res = await run('mkfs.ext4', ['-q', '-F', '-t', 'ext4', '-O', '^has_journal', '-i', '8192', '-E', 'root_owner=0:0,lazy_itable_init=0', '-L', 'berth-root', '-d', rootfs, tmp, `${sizeKiB}k`], { allowFailure: true });
    if (res.code !== 0) {
      await rm(tmp, { force: true });
      throw new SystemError(`cannot make the VM's root disk: mkfs.ext4: ${(res.stderr || res.stdout).trim()}`);
    }
    await rename(tmp, disk);
  }

  // ---- the running VM ----

  private async wrapperPid(id: string): Promise<number | undefined> {
    // Right after create it may still be the shim's fork (`shim … create --bundle B`), before it runs wrapper.sh: both name the bundle.
    return pidOf(join(this.bundle(id), 'pidfile'), this.bundle(id));
  }

  /** The VM costs the host what QEMU holds: guest RAM the guest touched plus QEMU itself. */
  override async memoryUsage(id: string): Promise<number | undefined> {
    const pid = await this.qemuPid(id);
    if (!pid) return undefined;
    return statusBytes(`/proc/${pid}/status`, 'VmRSS');
  }

  /**
   * A VM has its own kernel: there is no namespace of the host's, or of another container's, it could join. Said at
   * create, rather than a VM that runs with its own namespaces while the container claims the host's.
   */
  refuses(hc: Record<string, unknown>): string | undefined {
    const modes: [string, string][] = [['NetworkMode', 'network'], ['PidMode', 'PID namespace'], ['IpcMode', 'IPC namespace'], ['UTSMode', 'UTS namespace']];
    for (const [field, what] of modes) {
      const mode = typeof hc[field] === 'string' ? hc[field] as string : '';
      if (mode === 'host' || mode.startsWith('container:')) {
        return `the vm runtime cannot share ${mode === 'host' ? "the host's" : "another container's"} ${what} (${field} ${mode}): a VM runs its own kernel`;
      }
    }
    return undefined;
  }

  /**
   * `stats` of a VM: QEMU's CPU time (every vCPU thread is QEMU's) and RSS against the VM's RAM; QEMU runs in the
   * container's network namespace, so its view of /proc/net/dev is the container's traffic.
   */
  async usage(id: string): Promise<RuntimeUsage | undefined> {
    const pid = await this.qemuPid(id);
    if (!pid) return undefined;
    const fields = await procStat(pid);
    // utime and stime, in clock ticks.
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    const memory = await statusBytes(`/proc/${pid}/status`, 'VmRSS') ?? 0;
    const limit = (await this.describe(id))?.MemoryBytes ?? 0;
    return { cpuNs: ticks * 1e7, memory, memoryLimit: limit, pids: 1, netPid: pid };
  }

  /** QEMU's peak RSS (VmHWM), which the wrapper reads when the guest reports the exit, just before it stops QEMU. */
  override async peakMemoryUsage(id: string): Promise<number | undefined> {
    return statusBytes(join(this.bundle(id), 'qemu.hwm'), 'VmHWM');
  }

  /**
   * SIGKILLs every process of a VM but conmon, and says which: the shim or wrapper and the wrapper's subshells,
   * QEMU (all name the bundle in their command lines), and the boot timer's `sleep` (which does not; its parent,
   * a subshell, does). The wrapper ends what it started as it exits; one that is SIGKILLed cannot (say, killed
   * before QEMU wrote its PID file), and the timer would live on until the boot's time limit, QEMU for good.
   */
  private async killVmProcesses(id: string): Promise<number[]> {
    const bundle = this.bundle(id);
    const pids: number[] = [];
    for (const p of (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n))) {
      if (!(await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).includes(bundle)) continue;
      if ((await readFile(`/proc/${p}/comm`, 'utf8').catch(() => '')).trim() !== 'conmon') pids.push(Number(p));
    }
    const sleeper = Number((await readFile(join(bundle, 'boot-timer.pid'), 'utf8').catch(() => '')).trim());
    if (sleeper && pids.includes(Number((await procStat(sleeper))[1]))) pids.push(sleeper);
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    return pids;
  }

  private async qemuPid(id: string): Promise<number | undefined> {
    return pidOf(join(this.bundle(id), 'qemu.pid'), this.bundle(id));
  }

  /** Where a VM's exec slots' sockets are: short, since a socket path must fit in 108 bytes. */
  private slotDir(id: string): string {
    return join(this.root, 'x', id.slice(0, 12));
  }

  /**
   * Sends one request to the guest's init and waits for its acknowledgement, sending it again (same
   * sequence number; the init serves it once) while none came. False when the VM never acknowledged.
   */
  private async request(id: string, words: (string | number)[], waitMs = 20_000): Promise<boolean> {
    const bundle = this.bundle(id);
    const seq = words[1] as number;
    const gone = async () => !(await this.qemuPid(id));
    const deadline = Date.now() + waitMs;
    // A VM booted by a berth before guest.ctl reads the bundle's ctl (conmon's too: some requests are sent again).
    const fifo = join(bundle, existsSync(join(bundle, GUEST_CTL)) ? GUEST_CTL : 'ctl');
    while (Date.now() < deadline) {
      if (!(await toFifo(fifo, words.join(' ')))) return false;
      const acked = await waitStatus(bundle, new RegExp(`^ack ${seq}$`, 'm'), { timeoutMs: Math.min(3000, deadline - Date.now()), pollMs: 200, gone });
      if (acked) return true;
      if (await gone()) return false;
    }
    return false;
  }

  override async start(id: string): Promise<void> {
    const fifo = join(this.bundle(id), 'start');
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await toFifo(fifo, 'start')) return;
      // Looked at twice: a process in the middle of exec (the shim becoming wrapper.sh) can read as no one.
      if (!(await this.wrapperPid(id)) && (await sleep(50), !(await this.wrapperPid(id)))) throw new SystemError(`the VM's wrapper for ${id} is gone`);
      if (Date.now() > deadline) throw new SystemError(`the VM's wrapper for ${id} did not wait for start`);
      await sleep(2);
    }
  }

  override async kill(id: string, signal: string): Promise<void> {
    const sig = signal.replace(/^SIG/, '');
    if (!/^[A-Z0-9]+$/.test(sig)) throw new InvalidParameterError(`Invalid signal: ${signal}`);
    const wrapper = await this.wrapperPid(id);
    if (!wrapper) throw new ConflictError(`Container ${id} is not running`);
    const qemu = await this.qemuPid(id);
    if (sig === 'KILL' || sig === '9') {
      // The guest is not asked: the VM is switched off (the wrapper then exits 137).
      if (qemu) { process.kill(qemu, 'SIGKILL'); return; }
      // No QEMU PID yet (not started, or starting): all of the VM's processes go, QEMU among them if it is there.
      await this.killVmProcesses(id);
      return;
    }
    // A paused guest cannot take it: it waits for the resume, as a signal to a frozen process waits for the thaw.
    const held = this.heldSignals.get(id);
    if (qemu && held) { held.push(sig); return; }
    // Anything else goes to the workload in the guest, through berth's init, which acknowledges it.
    if (qemu) {
      if (await this.request(id, ['sig', nextSeq(), sig])) return;
      if (await this.qemuPid(id)) throw new SystemError(`the VM of ${id} did not acknowledge ${sig}`);
      return; // it went meanwhile
    }
    process.kill(wrapper, `SIG${sig}` as NodeJS.Signals);
  }

  override async resize(id: string, height: number, width: number): Promise<void> {
    if (!(await this.qemuPid(id))) return;
    await this.request(id, ['winch', nextSeq(), 0, Math.floor(height), Math.floor(width)], 5000);
  }

  override async state(id: string): Promise<RuntimeState | undefined> {
    if (await this.wrapperPid(id)) return (await this.qemuPid(id)) ? 'running' : 'created';
    return (await this.holds(id)) ? 'stopped' : undefined;
  }

  /**
   * `pause`: the whole VM stops (QMP `stop`: its vCPUs halt, so the guest's clock and every process in it freeze,
   * as the cgroup freezer freezes a container's), and `cont` resumes it. conmon and QEMU's own threads keep running.
   */
  override async pause(id: string): Promise<void> {
    await this.monitor(id, 'stop');
    this.heldSignals.set(id, []);
  }

  override async resume(id: string): Promise<void> {
    await this.monitor(id, 'cont');
    const held = this.heldSignals.get(id) ?? [];
    this.heldSignals.delete(id);
    for (const sig of held) await this.kill(id, sig).catch(() => {});
  }

  /** Signals sent to a paused VM, delivered at its resume (in memory: a daemon restart forgets that it is paused). */
  private readonly heldSignals = new Map<string, string[]>();

  private async monitor(id: string, command: string): Promise<void> {
    const path = join(this.slotDir(id), 'qmp');
    if (!existsSync(path)) throw new InvalidParameterError(`the VM of ${id.slice(0, 12)} was booted without a monitor: restart it to ${command === 'stop' ? 'pause' : 'unpause'} it`);
    const qmp = await Qmp.open(path, 10_000);
    try { await qmp.execute(command); } finally { qmp.close(); }
  }

  private readonly busySlots = new Map<string, Set<number>>();
  private readonly plugged = new Map<string, Promise<void>>();

  /**
   * Plugs the exec slots' ports into the running VM, once, at its first attached exec: in slot order, so
   * that slot N's console is the guest's /dev/hvcN. A daemon that restarted finds what is plugged (a port
   * whose chardev came but whose device did not is completed); one that fails stops the plugging there,
   * so no later port takes its place in the order. VMs booted with the slots on QEMU's command line
   * (before there was a monitor) have them already.
   */
  private plugSlots(id: string): Promise<void> {
    let p = this.plugged.get(id);
    if (!p) {
      const dir = this.slotDir(id);
      p = (async () => {
        if (!existsSync(join(dir, 'qmp')) && existsSync(join(dir, '1i'))) return;
        const qmp = await Qmp.open(join(dir, 'qmp'), 10_000);
        try {
          const chardevs = new Set(((await qmp.execute('query-chardev')) as { label: string }[]).map((c) => c.label));
          const devices = new Set(((await qmp.execute('qom-list', { path: '/machine/peripheral' })) as { name: string }[]).map((d) => d.name));
          for (let i = 1; i <= SLOTS; i++) {
            for (const [k, driver, port] of [['i', 'virtserialport', 'in'], ['o', 'virtserialport', 'out'], ['e', 'virtserialport', 'err'], ['t', 'virtconsole', 'tty']] as const) {
              const chardev = `x${i}${k}`;
              if (devices.has(`d${chardev}`)) continue;
              if (!chardevs.has(chardev)) {
                const path = join(dir, `${i}${k}`);
                await qmp.execute('chardev-add', { id: chardev, backend: { type: 'socket', data: { addr: { type: 'unix', data: { path } }, server: true, wait: false } } });
              }
              try {
                await qmp.execute('device_add', { driver, id: `d${chardev}`, bus: 'vs.0', chardev, name: `berth.x${i}.${port}` });
              } catch (e) {
                await qmp.execute('chardev-remove', { id: chardev }).catch(() => {});
                throw e;
              }
            }
          }
        } finally {
          qmp.close();
        }
      })();
      const mine = p;
      this.plugged.set(id, mine);
      mine.catch(() => { if (this.plugged.get(id) === mine) this.plugged.delete(id); });
    }
    return p;
  }

  /**
   * `exec` in the guest: the process runs in the container's root with its env, cwd and user (the same
   * script as the workload's), its stdio on one of the VM's exec slots, its exit code on berth.status.
   */
  override async exec(id: string, _execId: string, opts: ExecOptions): Promise<ExecHandle> {
    const qemu = await this.qemuPid(id);
    if (!qemu) throw new ConflictError(`Container ${id} is not running`);
    const bundle = this.bundle(id);
    // A VM that is still booting is waited for (as long as its boot may take), not refused.
    const gone = async () => !(await this.qemuPid(id));
    const accel = (await this.describe(id))?.Accelerator ?? 'tcg';
    if (!(await waitStatus(bundle, /^booted$/m, { timeoutMs: BOOT_LIMIT[accel] * 1000, pollMs: 250, gone }))) {
      throw new ConflictError(`the VM of container ${id} did not boot`);
    }
    const p = opts.process as { args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
    const script = runScript({ args: p.args, env: p.env, cwd: p.cwd || '/', uid: p.user.uid, gid: p.user.gid });
    const detached = !opts.attach;
    const busy = this.busySlots.get(id) ?? new Set<number>();
    this.busySlots.set(id, busy);
    let slot = 0;
    if (!detached) {
      for (let i = 1; i <= SLOTS && !slot; i++) if (!busy.has(i)) slot = i;
      if (!slot) throw new ExecStartError(`the VM of container ${id} serves ${SLOTS} attached exec sessions at once; all are in use`, 126);
      busy.add(slot);
    }
    const free = () => { if (slot) busy.delete(slot); };
    const seq = nextSeq();
    let conn: SlotConnection | undefined;
    try {
      if (slot) {
        await this.plugSlots(id).catch((e: Error) => { throw new ExecStartError(`cannot add the exec ports to the VM of container ${id}: ${e.message}`, 126); });
        conn = await SlotConnection.open(this.slotDir(id), slot, opts.terminal);
      }
      const flags = `${opts.stdin ? 'i' : ''}${opts.terminal ? 't' : ''}${detached ? 'd' : ''}-`;
      const size = opts.terminal && opts.consoleSize && opts.consoleSize[0] > 0 ? [Math.floor(opts.consoleSize[0]), Math.floor(opts.consoleSize[1])] : [];
      if (!(await this.request(id, ['exec', seq, slot, flags, Buffer.from(script).toString('base64'), ...size]))) {
        throw new ExecStartError(`the VM of container ${id} did not take the exec request`, 126);
      }
      // The guest waits for this line on the input (a TTY's, or the stdin port's) before it runs anything; sent once
      // the request was acknowledged, when the slot's console is sure to be held without echo.
      if (conn && (opts.terminal || opts.stdin)) conn.hello(seq);
    } catch (e) {
      conn?.finish();
      free();
      throw e;
    }
    const exited = waitStatus(bundle, new RegExp(`^x ${seq} (\\d+)$`, 'm'), { pollMs: 1000, gone }).then(async (m) => {
      if (conn) {
        // Output written before the exit is already in the sockets' buffers: two turns of the event loop read it.
        // A TTY's console pushes its last bytes from a kernel thread, so it gets until its output pauses.
        for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
        if (opts.terminal) for (let i = 0; i < 20 && Date.now() - conn.lastData < 100; i++) await sleep(50);
        conn.finish();
      }
      free();
      return m ? Number(m[1]) : 137;
    });
    return {
      pid: qemu,
      connection: conn,
      exited,
      resize: async (h, w) => { if (slot && opts.terminal) await this.request(id, ['winch', nextSeq(), slot, Math.floor(h), Math.floor(w)], 5000); },
    };
  }

  protected override async runtimeDelete(id: string): Promise<void> {
    this.heldSignals.delete(id);
    const pids = await this.killVmProcesses(id);
    // Wait until they are gone, so that nothing of the VM outlives delete.
    for (let i = 0; i < 200 && pids.some(alive); i++) await sleep(10);
    await rm(this.slotDir(id), { recursive: true, force: true });
    this.busySlots.delete(id);
    this.plugged.delete(id);
    this.details.delete(id);
  }
}

/**
 * A kernel image's version, from its bzImage setup header (boot protocol 2.00+: "HdrS" at 0x202, a
 * pointer at 0x20e to the version string, 0x200 on); the file name (vmlinuz-VERSION) otherwise.
 */
async function kernelVersion(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    // The pointer is 16 bits, from 0x200: the string is within the first 0x10200 bytes.
    const head = Buffer.alloc(0x10200);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < 0x210 || head.toString('latin1', 0x202, 0x206) !== 'HdrS') {
      throw new InvalidParameterError(`the vm kernel ${path} is not a bootable Linux kernel image (no bzImage header)`);
    }
    const at = head.readUInt16LE(0x20e) + 0x200;
    const text = head.toString('latin1', at, Math.min(at + 256, bytesRead)).split('\0')[0] ?? '';
    const version = text.split(' ')[0];
    if (version) return version;
  } finally { await fh.close(); }
  return basename(path).replace(/^vmlinuz-/, '');
}

/** A `FIELD:  N kB` line of a /proc/PID/status text (or a copy of one), in bytes. */
async function statusBytes(file: string, field: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
  return kb ? Number(kb) * 1024 : undefined;
}

/** The host's TSC frequency in kHz: the guest kernel under TCG needs it (tsc_early_khz) not to hang calibrating. */
async function hostTscKhz(): Promise<number> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : 2_000_000;
}

function wrapperScript(bundle: string, qemu: string[], bootLimit: number, stdio: string): string {
  const B = shQuote(bundle);
  return `#!/bin/sh
# berth vm runtime: runs the VM for conmon and exits with the guest workload's exit code.
B=${B}
exec 3>&1 4>&2 5<&0
read go < "$B/start" || exit 255
[ "$go" = start ] || exit 255
: > "$B/status"
${qemu.map(shQuote).join(' ')} ${stdio} &
q=$!
# The boot's time limit: one sleep, cancelled when the guest reports "booted" (no polling: the host is busy enough).
(
  sleep ${bootLimit} &
  echo $! > "$B/boot-timer.pid"
  # Only a sleep that ran out (not one cancelled at "booted" or at QEMU's exit) is a timeout.
  if wait $!; then grep -q booted "$B/status" || { : > "$B/boot-timeout"; kill -9 $q; }; fi
) 2>/dev/null &
w=$!
# The guest's status lines, into the status file; at the workload's exit (the guest synced its disk first), QEMU is stopped.
(
  while IFS= read -r l; do
    printf '%s\n' "$l" >> "$B/status"
    case $l in
      booted) kill $(cat "$B/boot-timer.pid" 2>/dev/null) 2>/dev/null ;;
      "exit "*) grep VmHWM "/proc/$q/status" > "$B/qemu.hwm" 2>/dev/null; kill $q 2>/dev/null; exit 0 ;;
    esac
  done <> "$B/st.out"
) &
r=$!
trap 'kill $r $(cat "$B/boot-timer.pid" 2>/dev/null) 2>/dev/null' EXIT
wait $q
rc=$?
kill $(cat "$B/boot-timer.pid" 2>/dev/null) 2>/dev/null
wait $w 2>/dev/null
code=$(sed -n 's/^exit \\([0-9][0-9]*\\)$/\\1/p' "$B/status")
[ -n "$code" ] && exit "$code"
if ! grep -q booted "$B/status"; then
  [ $rc -eq 137 ] && [ ! -e "$B/boot-timeout" ] && exit 137
  if [ -e "$B/boot-timeout" ]; then why="it did not reach the workload within ${bootLimit} s"; else why="QEMU exited with $rc"; fi
  echo "berth: the VM failed to boot: $why. The kernel's last lines:" >&4
  tail -n 20 "$B/console.log" >&4
  tail -n 5 "$B/qemu.log" >&4
  exit 125
fi
[ $rc -ge 128 ] && exit $rc
echo "berth: the VM stopped before the workload exited (QEMU exited with $rc)" >&4
tail -n 20 "$B/console.log" >&4
exit 255
`;
}
