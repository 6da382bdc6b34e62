/** `berth ps` */
import type { Command } from 'commander';
import { ago, ellipsis, goTime, humanSize, shortId, table } from '../format.js';
import { formatList, labelMethod } from '../go-format.js';
import { clientOf, collect } from '../context.js';
import { filterQuery } from './images.js';
import { displayPorts, type ApiPort } from './port.js';

interface Summary {
  Id: string; Names: string[]; Image: string; Command: string; Created: number; Status: string; State: string; Ports: ApiPort[];
  SizeRw?: number; SizeRootFs?: number;
  Labels?: Record<string, string>; Mounts?: { Name?: string; Source?: string }[]; NetworkSettings?: { Networks?: Record<string, unknown> };
}

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** The docker CLI's column names for the fields of `ps --format`. */
const HEADERS: Record<string, string> = {
  Command: 'COMMAND', CreatedAt: 'CREATED AT', ID: 'CONTAINER ID', Image: 'IMAGE', Labels: 'LABELS', LocalVolumes: 'LOCAL VOLUMES',
  Mounts: 'MOUNTS', Names: 'NAMES', Networks: 'NETWORKS', Ports: 'PORTS', RunningFor: 'CREATED', Size: 'SIZE', State: 'STATE', Status: 'STATUS',
};

/** One container as the docker CLI's ps formatter sees it (keys in the order `{{json .}}` prints them). */
function row(c: Summary, trunc: boolean): Record<string, unknown> {
  const mounts = (c.Mounts ?? []).map((m) => m.Name || m.Source || '').filter(Boolean);
  return {
    Command: JSON.stringify(trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: goTime(c.Created),
    ID: trunc ? shortId(c.Id) : c.Id,
    Image: c.Image,
    Labels: Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Name).length),
    Mounts: mounts.map((m) => (trunc ? ellipsis(m, 15) : m)).join(','),
    Names: c.Names.map((n) => n.slice(1)).join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    // docker 28's row has the image platform, which API 1.45 does not carry.
    Platform: null,
    Ports: displayPorts(c.Ports ?? []),
    RunningFor: ago(c.Created),
    // As docker's formatter: the writable layer, and with the image's layers when the daemon counted them.
    Size: c.SizeRootFs ? `${humanSize(c.SizeRw ?? 0)} (virtual ${humanSize(c.SizeRootFs)})` : humanSize(c.SizeRw ?? 0),
    State: c.State,
    Status: c.Status,
    Label: labelMethod(c.Labels),
  };
}

export function registerPs(program: Command): void {
  program.command('ps').description('List containers')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-q, --quiet', 'Only display container IDs')
    .option('--no-trunc', "Don't truncate output")
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('-n, --last <n>', 'Show n last created containers (includes all states)')
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .option('-s, --size', 'Display total file sizes')
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (o: { all?: boolean; quiet?: boolean; trunc?: boolean; filter?: string[]; last?: string; latest?: boolean; size?: boolean; format?: string }, cmd: Command) => {
      const limit = o.latest ? 1 : o.last ? Number(o.last) : undefined;
      // As the docker CLI: a template that shows .Size asks the daemon for sizes too.
      const size = !o.quiet && (!!o.size || /\.Size\b/.test(o.format ?? ''));
      const list = await clientOf(cmd).json<Summary[]>('GET', '/containers/json', {
        query: { all: !!o.all, filters: filterQuery(o.filter ?? []), limit, size: size || undefined },
      });
      const trunc = o.trunc !== false;
      if (o.quiet) {
        process.stdout.write(list.map((c) => `${trunc ? shortId(c.Id) : c.Id}\n`).join(''));
        return;
      }
      if (o.format && o.format !== 'table') {
        const format = o.format === 'json' ? '{{json .}}' : o.format;
        process.stdout.write(formatList(format, list.map((c) => row(c, trunc)), HEADERS, DEFAULT_TABLE, '*formatter.ContainerContext'));
        return;
      }
      const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES', ...(size ? ['SIZE'] : [])]];
      for (const c of list) {
        const r = row(c, trunc);
        rows.push([r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names, ...(size ? [r.Size] : [])] as string[]);
      }
      process.stdout.write(table(rows));
    });
}
