/** The mount flags of `run` and `create`: -v, --mount, --volumes-from (`--tmpfs` is in host-flags.ts). */
import type { Command } from 'commander';
import { collect } from '../context.js';
import { parseMountFlag } from '../../volumes/mounts.js';

export interface VolFlags {
  volume?: string[];
  mount?: string[];
  volumesFrom?: string[];
}

export function addVolFlags(cmd: Command): Command {
  return cmd
    .option('-v, --volume <list>', 'Bind mount a volume', collect)
    .option('--mount <mount>', 'Attach a filesystem mount to the container', collect)
    .option('--volumes-from <list>', 'Mount volumes from the specified container(s)', collect);
}

/**
 * As the docker CLI sends them: `-v /path` alone is an anonymous volume in `Volumes`, the other `-v`s
 * go to `HostConfig.Binds`, `--mount` to `HostConfig.Mounts`.
 */
export function volBody(f: VolFlags): { Volumes?: Record<string, object>; HostConfig: Record<string, unknown> } {
  const volumes: Record<string, object> = {};
  const binds: string[] = [];
  for (const v of f.volume ?? []) {
    // The docker CLI's own check, before the daemon's (which names the rest).
    if (v.startsWith(':')) throw new Error(`invalid spec: ${v}: empty section between colons`);
    if (!v.includes(':')) volumes[v] = {}; else binds.push(v);
  }
  const hc: Record<string, unknown> = {};
  if (binds.length) hc.Binds = binds;
  if (f.mount?.length) hc.Mounts = f.mount.map(parseMountFlag);
  if (f.volumesFrom?.length) hc.VolumesFrom = f.volumesFrom;
  return { ...(Object.keys(volumes).length ? { Volumes: volumes } : {}), HostConfig: hc };
}
