/** `berth system df` */
import type { Command } from 'commander';
import { humanSize, table } from '../format.js';
import { clientOf } from '../context.js';

interface Df {
  LayersSize: number;
  Images: { Id: string; Size: number; Containers: number }[];
  Containers: { Id: string; State: string; SizeRw: number }[];
}

export function registerSystem(program: Command): void {
  program.command('system-df', { hidden: true }).description('Show berth disk usage')
    .action(async (_o: unknown, cmd: Command) => {
      const df = await clientOf(cmd).json<Df>('GET', '/system/df');
      const activeImages = df.Images.filter((i) => i.Containers > 0);
      const unusedImages = df.Images.filter((i) => i.Containers === 0).reduce((n, i) => n + i.Size, 0);
      const ctrSize = df.Containers.reduce((n, c) => n + c.SizeRw, 0);
      const stopped = df.Containers.filter((c) => c.State !== 'running').reduce((n, c) => n + c.SizeRw, 0);
      const pct = (part: number, whole: number) => (whole ? ` (${Math.round((part / whole) * 100)}%)` : '');
      process.stdout.write(table([
        ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
        ['Images', String(df.Images.length), String(activeImages.length), humanSize(df.LayersSize), `${humanSize(Math.min(unusedImages, df.LayersSize))}${pct(Math.min(unusedImages, df.LayersSize), df.LayersSize)}`],
        ['Containers', String(df.Containers.length), String(df.Containers.filter((c) => c.State === 'running').length), humanSize(ctrSize), `${humanSize(stopped)}${pct(stopped, ctrSize)}`],
        ['Local Volumes', '0', '0', '0B', '0B'],
        ['Build Cache', '0', '0', '0B', '0B'],
      ]));
    });
}
