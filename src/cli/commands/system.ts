/** `berth system df` and `berth system check [--repair]` */
import type { Command } from 'commander';
import { humanSize, table } from '../format.js';
import { clientOf, ExitError } from '../context.js';

interface Df {
  LayersSize: number;
  Images: { Id: string; Size: number; SharedSize: number; Containers: number }[];
  Containers: { Id: string; State: string; SizeRw: number }[];
}

/** The docker CLI's disk usage formatter: units.HumanSize (4 significant digits), whole percents rounded down. */
const size = (n: number) => humanSize(n, 4);
const reclaimable = (part: number, whole: number) => `${size(part)}${whole > 0 ? ` (${Math.floor((part * 100) / whole)}%)` : ''}`;

interface CheckProblem { Kind: string; Subject: string; Message: string; Repaired?: string }
interface CheckReport { Checked: Record<string, number>; Problems: CheckProblem[]; Remaining: CheckProblem[] }

export function registerSystem(program: Command): void {
  program.command('system-check', { hidden: true }).description('Check the consistency of berth\'s store')
    .option('--repair', 'remove orphans and broken images, unpack missing layers again, and list what was done')
    .action(async (o: { repair?: boolean }, cmd: Command) => {
      const r = await clientOf(cmd).json<CheckReport>('POST', '/berth/system/check', { query: { repair: o.repair ? 1 : undefined } });
      const counts = Object.entries(r.Checked).map(([k, n]) => `${n} ${k}`).join(', ');
      process.stdout.write(`checked ${counts}\n`);
      for (const p of r.Problems) {
        process.stdout.write(`${p.Repaired ? 'repaired' : 'problem'}: ${p.Kind} ${p.Subject}: ${p.Message}${p.Repaired ? ` (${p.Repaired})` : ''}\n`);
      }
      if (o.repair) for (const p of r.Remaining) process.stdout.write(`remaining: ${p.Kind} ${p.Subject}: ${p.Message}\n`);
      if (r.Remaining.length) throw new ExitError(1, `${r.Remaining.length} problem(s)${o.repair ? ' remain after repair' : ' found; berth system check --repair fixes what it can'}`);
      process.stdout.write(o.repair && r.Problems.length ? `repaired ${r.Problems.filter((p) => p.Repaired).length} problem(s); the store is consistent\n` : 'the store is consistent\n');
    });

  program.command('system-df', { hidden: true }).description('Show berth disk usage')
    .action(async (_o: unknown, cmd: Command) => {
      const df = await clientOf(cmd).json<Df>('GET', '/system/df');
      const active = df.Images.filter((i) => i.Containers > 0);
      // What a container uses cannot be reclaimed: its image's layers, less those other images share.
      const used = active.reduce((n, i) => (i.Size < 0 || i.SharedSize < 0 ? n : n + i.Size - i.SharedSize), 0);
      const ctrSize = df.Containers.reduce((n, c) => n + c.SizeRw, 0);
      const isActive = (c: { State: string }) => ['running', 'paused', 'restarting'].includes(c.State);
      const stopped = df.Containers.filter((c) => !isActive(c)).reduce((n, c) => n + c.SizeRw, 0);
      process.stdout.write(table([
        ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
        ['Images', String(df.Images.length), String(active.length), size(df.LayersSize), reclaimable(df.LayersSize - used, df.LayersSize)],
        ['Containers', String(df.Containers.length), String(df.Containers.filter(isActive).length), size(ctrSize), reclaimable(stopped, ctrSize)],
        ['Local Volumes', '0', '0', '0B', '0B'],
        ['Build Cache', '0', '0', '0B', '0B'],
      ]));
    });
}
