/**
 * Per-device block I/O limits: `--device-read-bps/-write-bps/-read-iops/-write-iops` and
 * `--blkio-weight-device` (HostConfig's Blkio* lists of `{Path, Rate|Weight}`), turned into the spec's
 * `linux.resources.blockIO` entries by the device's major and minor numbers, which runc writes to the
 * blkio (v1) or io (v2) controller.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors/index.js';
import { cgroupV2 } from './cgroups.js';
import type { HostConfig } from './types.js';

interface DeviceRate { Path: string; Rate: number }
interface DeviceWeight { Path: string; Weight: number }

/** HostConfig's throttle lists, the spec's names for them, and the words of dockerd's warning when the kernel lacks them. */
const THROTTLES = [
  { field: 'BlkioDeviceReadBps', spec: 'throttleReadBpsDevice', file: 'blkio.throttle.read_bps_device', what: 'BPS Block I/O read limit', dropped: 'Block I/O BPS read limit' },
  { field: 'BlkioDeviceWriteBps', spec: 'throttleWriteBpsDevice', file: 'blkio.throttle.write_bps_device', what: 'BPS Block I/O write limit', dropped: 'Block I/O BPS write limit' },
  { field: 'BlkioDeviceReadIOps', spec: 'throttleReadIOPSDevice', file: 'blkio.throttle.read_iops_device', what: 'IOPS Block read limit', dropped: 'Block I/O IOPS read limit' },
  { field: 'BlkioDeviceWriteIOps', spec: 'throttleWriteIOPSDevice', file: 'blkio.throttle.write_iops_device', what: 'IOPS Block write limit', dropped: 'Block I/O IOPS write limit' },
] as const;

const BLKIO = '/sys/fs/cgroup/blkio';

/** What the kernel offers, as dockerd's sysinfo reads it: v2's io controller has both; v1 has the files or not. */
function supports(file: string): boolean {
  if (cgroupV2()) return true;
  return existsSync(join(BLKIO, file));
}

function weightSupported(): boolean {
  return cgroupV2() || supports('blkio.weight') || supports('blkio.bfq.weight');
}

function weightDeviceSupported(): boolean {
  return cgroupV2() || supports('blkio.weight_device') || supports('blkio.bfq.weight_device');
}

/** A block device's major and minor numbers; a missing path or another kind of file is refused. */
function blockDevice(path: string): { major: number; minor: number } {
  let st;
  try { st = statSync(path, { bigint: true }); } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
    throw new InvalidParameterError(`could not parse device ${path}: ${why}`);
  }
  if (!st.isBlockDevice()) throw new InvalidParameterError(`${path}: not a block device`);
  const rdev = st.rdev;
  // glibc's gnu_dev_major/minor: the 64-bit dev_t splits each number across two fields.
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function list<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/**
 * Checks the lists at create: each path must be a block device now, and a limit the kernel cannot apply is
 * dropped with dockerd's warning (as is `--blkio-weight` without a weight file). Mutates `hc`; returns warnings.
 */
export function checkBlockIo(hc: HostConfig): string[] {
  const warnings: string[] = [];
  if (typeof hc.BlkioWeight === 'number' && hc.BlkioWeight > 0 && !weightSupported()) {
    warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    hc.BlkioWeight = 0;
  }
  const weights = list<DeviceWeight>(hc.BlkioWeightDevice);
  if (weights.length && !weightDeviceSupported()) {
    warnings.push('Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
    hc.BlkioWeightDevice = [];
  }
  for (const w of list<DeviceWeight>(hc.BlkioWeightDevice)) {
    blockDevice(w.Path);
    if (w.Weight !== 0 && (w.Weight < 10 || w.Weight > 1000)) throw new InvalidParameterError(`invalid weight for device: ${w.Path}:${w.Weight}`);
  }
  for (const t of THROTTLES) {
    const rates = list<DeviceRate>(hc[t.field]);
    if (!rates.length) continue;
    if (!supports(t.file)) {
      warnings.push(`Your kernel does not support ${t.what} or the cgroup is not mounted. ${t.dropped} discarded.`);
      hc[t.field] = [];
      continue;
    }
    for (const r of rates) blockDevice(r.Path);
  }
  return warnings;
}

/** The spec's `blockIO` entries for the lists (empty when there are none). */
export function blockIoResources(hc: HostConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const t of THROTTLES) {
    const rates = list<DeviceRate>(hc[t.field]);
    if (rates.length) out[t.spec] = rates.map((r) => ({ ...blockDevice(r.Path), rate: r.Rate }));
  }
  const weights = list<DeviceWeight>(hc.BlkioWeightDevice);
  if (weights.length) out.weightDevice = weights.map((w) => ({ ...blockDevice(w.Path), weight: w.Weight }));
  return out;
}
