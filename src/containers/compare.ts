/**
 * `berth compare`: the same image and command as a container and as a VM,
 * measured on this machine — what each needs stored, time to first output
 * and to exit, host memory while running, and the kernel each one saw.
 */
import { release } from 'node:os';
import type { Image, ImageService } from '../images/index.js';
import type { ContainerService } from './index.js';

export interface Side {
  runtime: string;
  exitCode: number;
  firstOutputMs: number | null;
  exitMs: number;
  peakMemoryBytes: number | null;
  kernel: string;
  output: string;
  storage: Record<string, number>;
  details?: Record<string, unknown>;
}

export interface Comparison {
  image: string;
  command: string[];
  hostKernel: string;
  sides: Side[];
}

const MARK = 'berth-compare-kernel:';

async function measure(cs: ContainerService, image: Image, imageRef: string, cmd: string[] | undefined, runtime: string, storage: Record<string, number>): Promise<Side> {
  const cfg = image.config.config ?? {};
  const argv = cmd?.length ? cmd : cfg.Cmd ?? [];
  // The kernel is read by the workload itself, through the image's own shell, then the command runs as it would.
  const { Id } = await cs.create({
    Image: imageRef,
    Entrypoint: ['/bin/sh', '-c', `echo "${MARK}$(uname -r)" >&2; exec "$@"`, 'sh', ...(cfg.Entrypoint ?? [])],
    Cmd: argv,
    AttachStdout: true, AttachStderr: true,
    HostConfig: { Runtime: runtime },
  });
  try {
    const { connection } = await cs.attach(Id);
    const exited = cs.wait(Id, 'next-exit');
    let kernel = '';
    let output = '';
    let first: number | null = null;
    let pending = '';
    const t0 = performance.now();
    const done = connection.then((conn) => new Promise<void>((resolve) => {
      conn.on('data', (_s, chunk) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) {
          if (!kernel && l.startsWith(MARK)) { kernel = l.slice(MARK.length); continue; }
          first ??= performance.now() - t0;
          if (output.length < 4096) output += `${l}\n`;
        }
      });
      conn.on('end', () => resolve());
      conn.on('error', () => resolve());
    }));
    let peak: number | null = null;
    let running = true;
    const sampler = (async () => {
      while (running) {
        const m = await cs.memoryOf(Id).catch(() => undefined);
        if (m !== undefined) peak = Math.max(peak ?? 0, m);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await cs.start(Id);
    const { StatusCode } = await exited;
    const exitMs = performance.now() - t0;
    running = false;
    await Promise.all([done, sampler]);
    if (pending) { first ??= exitMs; output += pending; }
    // A run shorter than the sampling's 50 ms is only in the runtime's own high-water mark (cgroup or QEMU), read at exit.
    const exitPeak = cs.peakMemoryOf(Id);
    if (exitPeak !== undefined) peak = Math.max(peak ?? 0, exitPeak);
    const rec = cs.get(Id);
    const vm = rec.VM as Record<string, number | string> | undefined;
    const extra: Record<string, number> = {};
    if (vm) {
      for (const [k, name] of [['KernelBytes', 'kernel'], ['InitrdBytes', 'initramfs'], ['DiskBytes', 'rootDisk']] as const) {
        if (typeof vm[k] === 'number') extra[name] = vm[k] as number;
      }
    }
    return {
      runtime, exitCode: StatusCode, firstOutputMs: first === null ? null : Math.round(first), exitMs: Math.round(exitMs),
      peakMemoryBytes: peak, kernel, output, storage: { ...storage, ...extra },
      ...(vm ? { details: { accelerator: vm.Accelerator, vcpus: vm.VCPUs, memoryBytes: vm.MemoryBytes, kernelPath: vm.Kernel } } : {}),
    };
  } finally {
    await cs.remove(Id, { force: true }).catch(() => {});
  }
}

export async function compareRuntimes(cs: ContainerService, images: ImageService, imageRef: string, cmd: string[] | undefined, runtimes: string[]): Promise<Comparison> {
  const image = await images.resolve(imageRef);
  const { manifest } = await images.manifestOf(image);
  const storage = {
    imageCompressed: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
    imageUnpacked: image.size,
  };
  const sides: Side[] = [];
  for (const rt of runtimes) sides.push(await measure(cs, image, imageRef, cmd, rt, storage));
  return { image: imageRef, command: cmd?.length ? cmd : image.config.config?.Cmd ?? [], hostKernel: release(), sides };
}
