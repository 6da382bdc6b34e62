/** `berth update`: new limits or restart policy for containers, running or not. */
import type { Command } from 'commander';
import { clientOf, forEachArg } from '../context.js';
import { parseBytes } from './create-flags.js';
import { restartPolicy } from './host-flags.js';

interface UpdateFlags {
  memory?: string; memorySwap?: string; memoryReservation?: string; cpus?: string; cpuShares?: string; cpusetCpus?: string;
  cpusetMems?: string; cpuPeriod?: string; cpuQuota?: string; pidsLimit?: string; blkioWeight?: string; restart?: string;
}

const int = (v: string, flag: string): number => {
  if (!/^-?\d+$/.test(v)) throw new Error(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
};

export function updateBody(f: UpdateFlags): Record<string, unknown> {
  const b: Record<string, unknown> = {};
  if (f.memory) b.Memory = parseBytes(f.memory);
  if (f.memorySwap) b.MemorySwap = f.memorySwap === '-1' ? -1 : parseBytes(f.memorySwap);
  if (f.memoryReservation) b.MemoryReservation = parseBytes(f.memoryReservation);
  if (f.cpus) {
    const n = Number(f.cpus);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid argument "${f.cpus}" for "--cpus" flag`);
    b.NanoCpus = Math.round(n * 1e9);
  }
  if (f.cpuShares) b.CpuShares = int(f.cpuShares, '--cpu-shares');
  if (f.cpusetCpus) b.CpusetCpus = f.cpusetCpus;
  if (f.cpusetMems) b.CpusetMems = f.cpusetMems;
  if (f.cpuPeriod) b.CpuPeriod = int(f.cpuPeriod, '--cpu-period');
  if (f.cpuQuota) b.CpuQuota = int(f.cpuQuota, '--cpu-quota');
  if (f.pidsLimit) b.PidsLimit = int(f.pidsLimit, '--pids-limit');
  if (f.blkioWeight) b.BlkioWeight = int(f.blkioWeight, '--blkio-weight');
  if (f.restart) b.RestartPolicy = restartPolicy(f.restart);
  return b;
}

export function registerUpdate(program: Command): void {
  program.command('update').description('Update configuration of one or more containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .argument('<container...>')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    .option('--memory-reservation <bytes>', 'Memory soft limit')
    .option('--cpus <number>', 'Number of CPUs')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <list>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)')
    .option('--blkio-weight <int>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable')
    .option('--restart <policy>', 'Restart policy to apply when a container exits')
    .action(async (refs: string[], o: UpdateFlags, cmd: Command) => {
      const client = clientOf(cmd);
      const body = updateBody(o);
      if (Object.keys(body).length === 0) throw new Error('you must provide one or more flags when using this command');
      await forEachArg(refs, async (ref) => {
        const r = await client.json<{ Warnings?: string[] }>('POST', `/containers/${encodeURIComponent(ref)}/update`, { body });
        for (const w of r?.Warnings ?? []) process.stderr.write(`${w}\n`);
        process.stdout.write(`${ref}\n`);
      });
    });
}
