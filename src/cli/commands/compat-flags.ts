/**
 * `run`/`create` flags that docker has for other hosts or features berth lacks, taken so that a docker
 * command line still parses: each reaches the daemon, which refuses what it cannot do in dockerd's words
 * (`--isolation`, `--storage-opt`, `--volume-driver`), or is a client-side
 * matter (`--use-api-socket`, `--disable-content-trust`, and `--kernel-memory`, which docker 28 no longer sends).
 */
import type { Command } from 'commander';
import { collect, keyValues } from '../context.js';

export interface CompatFlags {
  kernelMemory?: string;
  isolation?: string;
  storageOpt?: string[];
  volumeDriver?: string;
  disableContentTrust?: boolean;
  useApiSocket?: boolean;
}

export function addCompatFlags(cmd: Command): Command {
  return cmd
    .option('--kernel-memory <bytes>', 'Kernel memory limit (deprecated: ignored, as by docker 28)')
    .option('--isolation <string>', 'Container isolation technology (Linux: default only)')
    .option('--storage-opt <list>', 'Storage driver options for the container (berth\'s overlay has none)', collect)
    .option('--volume-driver <string>', 'Optional volume driver for the container (local only)')
    .option('--disable-content-trust', 'Skip image verification (berth does not verify: no Notary)')
    .option('--use-api-socket', 'Bind mount the daemon\'s API socket at /var/run/docker.sock in the container');
}

/** The HostConfig fields these flags make; `host` is the daemon's address (`-H`), whose socket `--use-api-socket` mounts. */
export function compatBody(f: CompatFlags, host: string): Record<string, unknown> {
  const hostConfig: Record<string, unknown> = {};
  if (f.isolation) hostConfig.Isolation = f.isolation;
  if (f.storageOpt?.length) hostConfig.StorageOpt = keyValues(f.storageOpt);
  if (f.volumeDriver) hostConfig.VolumeDriver = f.volumeDriver;
  if (f.useApiSocket) {
    if (!host.startsWith('unix://')) throw new Error(`flag --use-api-socket can only be used with unix sockets: docker endpoint ${host} incompatible`);
    // The socket as the daemon's host sees it: berth's CLI and daemon share the machine, as the docker CLI assumes too.
    hostConfig.Mounts = [{ Type: 'bind', Source: host.slice('unix://'.length), Target: '/var/run/docker.sock', BindOptions: {} }];
  }
  return hostConfig;
}
