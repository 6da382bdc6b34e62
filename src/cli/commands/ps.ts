/** `berth ps` */
import type { Command } from 'commander';
import { ago, ellipsis, shortId, table } from '../format.js';
import { clientOf, collect } from '../context.js';
import { filterQuery } from './images.js';
import { displayPorts, type ApiPort } from './port.js';

interface Summary { Id: string; Names: string[]; Image: string; Command: string; Created: number; Status: string; Ports: ApiPort[] }

export function registerPs(program: Command): void {
  program.command('ps').description('List containers')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-q, --quiet', 'Only display container IDs')
    .option('--no-trunc', "Don't truncate output")
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('-n, --last <n>', 'Show n last created containers (includes all states)')
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .action(async (o: { all?: boolean; quiet?: boolean; trunc?: boolean; filter?: string[]; last?: string; latest?: boolean }, cmd: Command) => {
      const limit = o.latest ? 1 : o.last ? Number(o.last) : undefined;
      const list = await clientOf(cmd).json<Summary[]>('GET', '/containers/json', {
        query: { all: !!o.all || limit !== undefined, filters: filterQuery(o.filter ?? []), limit },
      });
      const trunc = o.trunc !== false;
      if (o.quiet) {
        process.stdout.write(list.map((c) => `${trunc ? shortId(c.Id) : c.Id}\n`).join(''));
        return;
      }
      const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
      for (const c of list) {
        rows.push([
          trunc ? shortId(c.Id) : c.Id, c.Image, JSON.stringify(trunc ? ellipsis(c.Command, 20) : c.Command), ago(c.Created), c.Status, displayPorts(c.Ports ?? []),
          c.Names.map((n) => n.slice(1)).join(','),
        ]);
      }
      process.stdout.write(table(rows));
    });
}
