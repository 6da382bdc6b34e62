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
 *   initrd-<kernel version>       the base initramfs: busybox, berth's init, the virtio modules
 *   accel                         the accelerator the probe chose (kvm or tcg)
 *   bundles/<id>/wrapper.sh       QEMU's command line and the exit-code logic
 *   bundles/<id>/{start,ctl}      FIFOs: start gate, and signals for the guest
 *   bundles/<id>/{initrd,status,console.log,qemu.log,qemu.pid}
 * The guest's root disk is <container dir>/vm-disk.img (beside the merged dir),
 * made once from the merged rootfs with `mkfs.ext4 -d`, so it goes with the container.
 */
import { constants } from 'node:fs';
import { chmod, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConflictError, InvalidParameterError, SystemError } from '../errors/index.js';
import { run } from '../host/index.js';
import { OciRuntime } from './oci.js';
import type { CreateOptions, ExecHandle, RuntimeState } from './types.js';
import { cpio, GUEST_INIT, runScript, S_IFDIR, S_IFREG, shQuote, type CpioEntry } from './vm-guest.js';

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
const MODULES = ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'virtio_console'];
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
  }

  /** What inspect shows for a VM container (kept by the containers part). */
  async describe(id: string): Promise<VmDetails | undefined> {
    return this.details.get(id) ?? JSON.parse(await readFile(join(this.bundle(id), 'vm.json'), 'utf8').catch(() => 'null')) ?? undefined;
  }

  // ---- the kernel, the accelerator, the initramfs ----

  async kernel(): Promise<{ path: string; version: string; modules: string }> {
    let path = this.kernelPath;
    if (!path) {
      const names = (await readdir('/boot').catch(() => [] as string[])).filter((n) => /^vmlinuz-.*-cloud-amd64$/.test(n))
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
      if (!names.length) throw new SystemError('the vm runtime needs a kernel: install linux-image-cloud-amd64 (no /boot/vmlinuz-*-cloud-amd64)');
      path = join('/boot', names.at(-1)!);
    }
    if (!(await stat(path).catch(() => undefined))) throw new SystemError(`the vm kernel ${path} does not exist`);
    const version = basename(path).replace(/^vmlinuz-/, '');
    const modules = join('/lib/modules', version);
    if (!(await stat(modules).catch(() => undefined))) throw new SystemError(`no modules for the vm kernel ${path}: ${modules} is missing`);
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
    const file = join(this.root, `initrd-${kernel.version}`);
    const cached = await readFile(file).catch(() => undefined);
    if (cached) return cached;
    const busybox = await readFile('/bin/busybox').catch(() => { throw new SystemError('the vm runtime needs a static busybox: install busybox-static'); });
    const found = (await run('find', [kernel.modules, '-name', '*.ko'], { allowFailure: true })).stdout.split('\n').filter(Boolean);
    const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'newroot'].map((name) => ({ name, mode: S_IFDIR | 0o755 }));
    entries.push({ name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox });
    entries.push({ name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(GUEST_INIT) });
    for (const m of MODULES) {
      const path = found.find((f) => basename(f) === `${m}.ko`);
      if (!path) throw new SystemError(`the vm kernel ${kernel.version} has no ${m}.ko module (compressed modules are not supported)`);
      entries.push({ name: `lib/modules/${m}.ko`, mode: S_IFREG | 0o644, data: await readFile(path) });
    }
    const archive = cpio(entries);
    await writeFile(`${file}.tmp`, archive);
    await rename(`${file}.tmp`, file);
    return archive;
  }

  // ---- create ----

  override async create(opts: CreateOptions): Promise<{ pid: number }> {
    // No TTY in the guest yet: the workload's output goes through virtio ports, never a console conmon would have to hold.
    return super.create({ ...opts, terminal: false });
  }

  protected override async prepareBundle(opts: CreateOptions, bundle: string): Promise<void> {
    const spec = opts.spec as {
      root: { path: string };
      hostname?: string;
      process: { args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
      mounts?: { destination: string; type: string; source: string }[];
      annotations?: Record<string, string>;
    };
    const kernel = await this.kernel();
    const [accel, base] = await Promise.all([this.accelerator(), this.baseInitrd(kernel)]);
    const disk = join(dirname(spec.root.path), 'vm-disk.img');
    await this.makeDisk(spec.root.path, disk);

    const config: CpioEntry[] = [{ name: 'berth', mode: S_IFDIR | 0o755 }, { name: 'berth/etc', mode: S_IFDIR | 0o755 }];
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

    const ann = spec.annotations ?? {};
    const memory = Math.max(Number(ann['berth.vm.memory']) || DEFAULT_MEMORY, 64 * 2 ** 20);
    const cpus = Math.max(1, Math.min(Math.round(Number(ann['berth.vm.cpus']) || 1), 64));
    const details: VmDetails = { Kernel: kernel.path, KernelVersion: kernel.version, Accelerator: accel, VCPUs: cpus, MemoryBytes: memory, Disk: disk };
    // Allocated bytes: the disk image is sparse.
    const sizeOf = (p: string) => stat(p).then((st) => st.blocks * 512, () => undefined);
    [details.KernelBytes, details.InitrdBytes, details.DiskBytes] = await Promise.all([sizeOf(kernel.path), sizeOf(join(bundle, 'initrd')), sizeOf(disk)]);
    this.details.set(opts.id, details);
    await writeFile(join(bundle, 'vm.json'), JSON.stringify(details));

    await run('mkfifo', [join(bundle, 'start'), join(bundle, 'ctl')]);
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
      '-device', 'virtio-serial-device,max_ports=8',
      // fds 3 and 4 are conmon's stdout and stderr pipes (the wrapper keeps them there; QEMU's own output goes to qemu.log).
      '-chardev', 'file,id=out,path=/proc/self/fd/3', '-device', 'virtserialport,chardev=out,name=berth.stdout',
      '-chardev', 'file,id=err,path=/proc/self/fd/4', '-device', 'virtserialport,chardev=err,name=berth.stderr',
      '-chardev', `file,id=st,path=${join(bundle, 'status')}`, '-device', 'virtserialport,chardev=st,name=berth.status',
      '-chardev', `pipe,id=ctl,path=${join(bundle, 'ctl')}`, '-device', 'virtserialport,chardev=ctl,name=berth.ctl',
      '-pidfile', join(bundle, 'qemu.pid'),
    ];
    await writeFile(join(bundle, 'wrapper.sh'), wrapperScript(bundle, qemu, BOOT_LIMIT[accel]), { mode: 0o755 });
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
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  }

  private async qemuPid(id: string): Promise<number | undefined> {
    return pidOf(join(this.bundle(id), 'qemu.pid'), this.bundle(id));
  }

  /** Writes one line to a FIFO without blocking: false when nobody reads it. */
  private async toFifo(path: string, line: string): Promise<boolean> {
    const fh = await open(path, constants.O_WRONLY | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENXIO' || e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!fh) return false;
    try { await fh.write(`${line}\n`); } finally { await fh.close(); }
    return true;
  }

  override async start(id: string): Promise<void> {
    const fifo = join(this.bundle(id), 'start');
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await this.toFifo(fifo, 'start')) return;
      if (!(await this.wrapperPid(id))) throw new SystemError(`the VM's wrapper for ${id} is gone`);
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
      if (qemu) process.kill(qemu, 'SIGKILL'); else process.kill(wrapper, 'SIGKILL');
      return;
    }
    // Anything else goes to the workload in the guest, through berth's init.
    if (qemu && await this.toFifo(join(this.bundle(id), 'ctl'), sig)) return;
    process.kill(wrapper, `SIG${sig}` as NodeJS.Signals);
  }

  override async resize(): Promise<void> {
    // No TTY in the guest yet.
  }

  override async state(id: string): Promise<RuntimeState | undefined> {
    if (await this.wrapperPid(id)) return (await this.qemuPid(id)) ? 'running' : 'created';
    return (await this.holds(id)) ? 'stopped' : undefined;
  }

  override async exec(): Promise<ExecHandle> {
    throw new ConflictError('exec is not supported by the vm runtime yet');
  }

  protected override async runtimeDelete(id: string): Promise<void> {
    const pids = [await this.qemuPid(id), await this.wrapperPid(id)].filter((p): p is number => !!p);
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    // Wait until they are gone, so that nothing of the VM outlives delete.
    for (let i = 0; i < 200 && pids.some(alive); i++) await sleep(10);
    this.details.delete(id);
  }
}

/** The host's TSC frequency in kHz: the guest kernel under TCG needs it (tsc_early_khz) not to hang calibrating. */
async function hostTscKhz(): Promise<number> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : 2_000_000;
}

function wrapperScript(bundle: string, qemu: string[], bootLimit: number): string {
  const B = shQuote(bundle);
  return `#!/bin/sh
# berth vm runtime: runs the VM for conmon and exits with the guest workload's exit code.
B=${B}
exec 3>&1 4>&2
read go < "$B/start" || exit 255
[ "$go" = start ] || exit 255
: > "$B/status"
${qemu.map(shQuote).join(' ')} >"$B/qemu.log" 2>&1 </dev/null &
q=$!
(
  n=0
  while kill -0 $q 2>/dev/null; do
    grep -q booted "$B/status" && exit 0
    n=$((n+1))
    if [ $n -gt ${bootLimit * 10} ]; then : > "$B/boot-timeout"; kill -9 $q; exit 0; fi
    sleep 0.1
  done
) &
w=$!
wait $q
rc=$?
kill $w 2>/dev/null
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
