/** `berth system df`, `berth system check [--repair]`, `berth system prune` and the hidden `berth system dial-stdio` */
import type { Command } from 'commander';
import { humanSize } from '../format.js';
import { formatList } from '../go-format.js';
import { clientOf, collect, describe, ExitError } from '../context.js';
import { filterQuery } from './images.js';

interface Df {
  LayersSize: number;
  Images: { Id: string; Size: number; SharedSize: number; Containers: number }[];
  Containers: { Id: string; State: string; SizeRw: number }[];
  Volumes: { Name: string; UsageData?: { Size: number; RefCount: number } }[] | null;
}

/** The docker CLI's disk usage formatter: units.HumanSize (4 significant digits), whole percents rounded down. */
const size = (n: number) => humanSize(n, 4);
const reclaimable = (part: number, whole: number) => `${size(part)}${whole > 0 ? ` (${Math.floor((part * 100) / whole)}%)` : ''}`;

interface CheckProblem { Kind: string; Subject: string; Message: string; Repaired?: string }
interface CheckReport { Checked: Record<string, number>; Problems: CheckProblem[]; Remaining: CheckProblem[] }

export function registerSystem(program: Command): void {
  // What an ssh:// client runs on this host (ssh.ts, or the docker CLI's connhelper): our stdin and stdout
  // become a connection to the daemon. As docker's: stdin's end half-closes the connection and the relay goes
  // on until the daemon's side ends, which ends it without waiting for stdin (a terminal's never ends).
  program.command('system-dial-stdio', { hidden: true }).description('Proxy the stdio stream to the daemon connection. Should not be invoked manually.')
    .action(async (_o: unknown, cmd: Command) => {
      const client = clientOf(cmd);
      const conn = client.connect();
      await new Promise<void>((resolve, reject) => {
        let received = false;
        conn.on('error', (e: NodeJS.ErrnoException) => {
          const why = received ? `error while Copy (stream to stdout): ${e.message}` : `failed to open the raw stream connection: ${describe(client.connectError(e))}`;
          reject(new ExitError(1, why));
        });
        conn.on('data', (b: Buffer) => {
          received = true;
          if (!process.stdout.write(b)) { conn.pause(); process.stdout.once('drain', () => conn.resume()); }
        });
        conn.on('end', () => process.stdout.write('', () => resolve()));
        // ssh has gone: nobody is left to read what the daemon sends.
        process.stdout.on('error', () => resolve());
        process.stdin.pipe(conn);
      });
    });

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
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (o: { format?: string }, cmd: Command) => {
      const df = await clientOf(cmd).json<Df>('GET', '/system/df');
      const active = df.Images.filter((i) => i.Containers > 0);
      // What a container uses cannot be reclaimed: its image's layers, less those other images share.
      const used = active.reduce((n, i) => (i.Size < 0 || i.SharedSize < 0 ? n : n + i.Size - i.SharedSize), 0);
      const ctrSize = df.Containers.reduce((n, c) => n + c.SizeRw, 0);
      const isActive = (c: { State: string }) => ['running', 'paused', 'restarting'].includes(c.State);
      const stopped = df.Containers.filter((c) => !isActive(c)).reduce((n, c) => n + c.SizeRw, 0);
      const vols = df.Volumes ?? [];
      const volSize = vols.reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0);
      const volFree = vols.filter((v) => !v.UsageData?.RefCount).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0);
      // The docker CLI's rows (`{{json .}}` keys in its order).
      const rows = [
        { Active: String(active.length), Reclaimable: reclaimable(df.LayersSize - used, df.LayersSize), Size: size(df.LayersSize), TotalCount: String(df.Images.length), Type: 'Images' },
        { Active: String(df.Containers.filter(isActive).length), Reclaimable: reclaimable(stopped, ctrSize), Size: size(ctrSize), TotalCount: String(df.Containers.length), Type: 'Containers' },
        { Active: String(vols.filter((v) => v.UsageData?.RefCount).length), Reclaimable: reclaimable(volFree, volSize), Size: size(volSize), TotalCount: String(vols.length), Type: 'Local Volumes' },
        { Active: '0', Reclaimable: '0B', Size: '0B', TotalCount: '0', Type: 'Build Cache' },
      ];
      const headers = { Active: 'ACTIVE', Reclaimable: 'RECLAIMABLE', Size: 'SIZE', TotalCount: 'TOTAL', Type: 'TYPE' };
      const format = !o.format || o.format === 'table' ? 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' : o.format === 'json' ? '{{json .}}' : o.format;
      process.stdout.write(formatList(format, rows, headers, 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}', '*formatter.diskUsageContext'));
    });

  program.command('system-prune', { hidden: true }).description('Remove unused data')
    .option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--volumes', 'Prune anonymous volumes')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', collect)
    .action(async (o: { all?: boolean; volumes?: boolean; filter?: string[] }, cmd: Command) => {
      // As the docker CLI: containers, networks, volumes (when asked), images, build cache; each part's
      // list, then the total. berth has no BuildKit cache, so that part never lists anything.
      const client = clientOf(cmd);
      const filters = filterQuery(o.filter ?? []);
      let reclaimed = 0;
      const c = await client.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/containers/prune', { query: { filters } });
      reclaimed += c.SpaceReclaimed;
      if (c.ContainersDeleted?.length) process.stdout.write(`Deleted Containers:\n${c.ContainersDeleted.map((x) => `${x}\n`).join('')}\n`);
      const n = await client.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters } });
      if (n.NetworksDeleted?.length) process.stdout.write(`Deleted Networks:\n${n.NetworksDeleted.map((x) => `${x}\n`).join('')}\n`);
      if (o.volumes) {
        const v = await client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters } });
        reclaimed += v.SpaceReclaimed;
        if (v.VolumesDeleted?.length) process.stdout.write(`Deleted Volumes:\n${v.VolumesDeleted.map((x) => `${x}\n`).join('')}\n`);
      }
      const imageFilters = filterQuery([...(o.filter ?? []), `dangling=${o.all ? 'false' : 'true'}`]);
      const i = await client.json<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>('POST', '/images/prune', { query: { filters: imageFilters } });
      reclaimed += i.SpaceReclaimed;
      if (i.ImagesDeleted?.length) process.stdout.write(`Deleted Images:\n${i.ImagesDeleted.map((x) => (x.Untagged ? `untagged: ${x.Untagged}\n` : `deleted: ${x.Deleted}\n`)).join('')}\n`);
      const b = await client.json<{ SpaceReclaimed: number }>('POST', '/build/prune', { query: { all: o.all ? 1 : undefined } });
      reclaimed += b.SpaceReclaimed;
      process.stdout.write(`Total reclaimed space: ${size(reclaimed)}\n`);
    });
}
