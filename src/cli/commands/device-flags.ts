/**
 * The per-device flags of `run` and `create`: block I/O limits by device (`--device-read-bps` …,
 * `--blkio-weight-device`) and `--gpus`, each checked as the docker CLI checks it, in its words.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { parseBytes } from './host-flags.js';

export interface DeviceFlags {
  deviceReadBps?: { Path: string; Rate: number }[];
  deviceWriteBps?: { Path: string; Rate: number }[];
  deviceReadIops?: { Path: string; Rate: number }[];
  deviceWriteIops?: { Path: string; Rate: number }[];
  blkioWeightDevice?: { Path: string; Weight: number }[];
  gpus?: Record<string, unknown>[];
  deviceCgroupRule?: string[];
}

/** `PATH:VALUE` with a /dev path, split as the docker CLI's validators split it. */
function devicePair(v: string): [string, string] {
  const i = v.indexOf(':');
  if (i < 0) throw new InvalidArgumentError(`bad format: ${v}`);
  const path = v.slice(0, i);
  if (!path.startsWith('/dev/')) throw new InvalidArgumentError(`bad format for device path: ${v}`);
  return [path, v.slice(i + 1)];
}

function bps(v: string, previous: DeviceFlags['deviceReadBps'] = []): NonNullable<DeviceFlags['deviceReadBps']> {
  const [Path, value] = devicePair(v);
  let Rate: number;
  try { Rate = parseBytes(value); } catch {
    throw new InvalidArgumentError(`invalid rate for device: ${v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`);
  }
  return [...previous, { Path, Rate }];
}

function iops(v: string, previous: DeviceFlags['deviceReadIops'] = []): NonNullable<DeviceFlags['deviceReadIops']> {
  const [Path, value] = devicePair(v);
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`invalid rate for device: ${v}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  return [...previous, { Path, Rate: Number(value) }];
}

function weight(v: string, previous: DeviceFlags['blkioWeightDevice'] = []): NonNullable<DeviceFlags['blkioWeightDevice']> {
  const [Path, value] = devicePair(v);
  const w = Number(value);
  if (!/^\d+$/.test(value) || (w !== 0 && (w < 10 || w > 1000))) throw new InvalidArgumentError(`invalid weight for device: ${v}`);
  return [...previous, { Path, Weight: w }];
}

/** `--gpus all`, `--gpus 2` or `--gpus count=1,capabilities=utility,driver=nvidia,device=0`: one DeviceRequest. */
function gpus(v: string, previous: Record<string, unknown>[] = []): Record<string, unknown>[] {
  const req: Record<string, unknown> = { Driver: '', Count: 0, DeviceIDs: null, Capabilities: [['gpu']], Options: {} };
  const fields = v.split(',');
  for (const field of fields) {
    const i = field.indexOf('=');
    const key = i < 0 ? (fields.length === 1 ? 'count' : field) : field.slice(0, i);
    const value = i < 0 ? field : field.slice(i + 1);
    if (key === 'count') {
      if (value === 'all') req.Count = -1;
      else if (/^\d+$/.test(value)) req.Count = Number(value);
      else throw new InvalidArgumentError(`invalid count (${value}): value must be either "all" or an integer`);
    } else if (key === 'device') req.DeviceIDs = value.split(',');
    else if (key === 'driver') req.Driver = value;
    else if (key === 'capabilities') req.Capabilities = [['gpu', ...value.split(' ')]];
    else throw new InvalidArgumentError(`unexpected key '${key}' in '${field}'`);
  }
  return [...previous, req];
}

/** `c 1:3 rwm`, `a *:* m`: the docker CLI's check of a device cgroup rule. */
function cgroupRule(v: string, previous: string[] = []): string[] {
  if (!/^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.test(v)) throw new InvalidArgumentError(`invalid device cgroup format '${v}'`);
  return [...previous, v];
}

export function addDeviceFlags(cmd: Command): Command {
  return cmd
    .option('--device-read-bps <list>', 'Limit read rate (bytes per second) from a device', bps)
    .option('--device-write-bps <list>', 'Limit write rate (bytes per second) to a device', bps)
    .option('--device-read-iops <list>', 'Limit read rate (IO per second) from a device', iops)
    .option('--device-write-iops <list>', 'Limit write rate (IO per second) to a device', iops)
    .option('--blkio-weight-device <list>', 'Block IO weight (relative device weight)', weight)
    .option('--gpus <gpu-request>', "GPU devices to add to the container ('all' to pass all GPUs)", gpus)
    .option('--device-cgroup-rule <list>', 'Add a rule to the cgroup allowed devices list', cgroupRule);
}

/** The HostConfig fields these flags fill. */
export function deviceHostConfig(f: DeviceFlags): Record<string, unknown> {
  return {
    ...(f.deviceReadBps ? { BlkioDeviceReadBps: f.deviceReadBps } : {}),
    ...(f.deviceWriteBps ? { BlkioDeviceWriteBps: f.deviceWriteBps } : {}),
    ...(f.deviceReadIops ? { BlkioDeviceReadIOps: f.deviceReadIops } : {}),
    ...(f.deviceWriteIops ? { BlkioDeviceWriteIOps: f.deviceWriteIops } : {}),
    ...(f.blkioWeightDevice ? { BlkioWeightDevice: f.blkioWeightDevice } : {}),
    ...(f.gpus ? { DeviceRequests: f.gpus } : {}),
    ...(f.deviceCgroupRule ? { DeviceCgroupRules: f.deviceCgroupRule } : {}),
  };
}
