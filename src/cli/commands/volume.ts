/** `berth volume create|ls|inspect|rm|prune` */
import type { Command } from 'commander';
import { clientOf, collect, forEachArg, keyValues } from '../context.js';
import { humanSize, table } from '../format.js';
import { formatList, labelMethod } from '../go-format.js';
import { filterQuery } from './images.js';
import { inspectEach } from './inspect.js';

interface Volume { Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string> | null; Scope?: string }

/** The docker CLI's column names for the fields of `volume ls --format`. */
const VOLUME_HEADERS: Record<string, string> = {
  Availability: 'AVAILABILITY', Driver: 'DRIVER', Group: 'GROUP', Labels: 'LABELS', Links: 'LINKS', Mountpoint: 'MOUNTPOINT',
  Name: 'VOLUME NAME', Scope: 'SCOPE', Size: 'SIZE', Status: 'STATUS',
};

/** One volume as the docker CLI's volume formatter sees it. */
function volumeRow(v: Volume): Record<string, unknown> {
  return {
    Availability: 'N/A',
    Driver: v.Driver,
    Group: 'N/A',
    Labels: Object.entries(v.Labels ?? {}).map(([k, x]) => `${k}=${x}`).join(','),
    Links: 'N/A',
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Scope: v.Scope ?? 'local',
    Size: 'N/A',
    Status: 'N/A',
    Label: labelMethod(v.Labels),
  };
}

export function registerVolume(program: Command): void {
  const vol = program.command('volume').description('Manage volumes').usage('COMMAND');

  vol.command('create').description('Create a volume').usage('[OPTIONS] [VOLUME]')
    .argument('[name]')
    .option('--name <name>', 'Specify volume name')
    .option('-d, --driver <driver>', 'Specify volume driver name', 'local')
    .option('--label <list>', 'Set metadata for a volume', collect)
    .option('-o, --opt <list>', 'Set driver specific options', collect)
    .action(async (name: string | undefined, o: { name?: string; driver: string; label?: string[]; opt?: string[] }, cmd: Command) => {
      const v = await clientOf(cmd).json<Volume>('POST', '/volumes/create', {
        body: { Name: name ?? o.name ?? '', Driver: o.driver, DriverOpts: keyValues(o.opt), Labels: keyValues(o.label) },
      });
      process.stdout.write(`${v.Name}\n`);
    });

  vol.command('ls').alias('list').description('List volumes')
    .option('-q, --quiet', 'Only display volume names')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "dangling=true")', collect)
    .option('--format <template>', 'Format output using a Go-style template path')
    .action(async (o: { quiet?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
      const out = await clientOf(cmd).json<{ Volumes: Volume[] | null }>('GET', '/volumes', { query: { filters: filterQuery(o.filter ?? []) } });
      const list = (out.Volumes ?? []).sort((a, b) => a.Name.localeCompare(b.Name));
      if (o.quiet) { process.stdout.write(list.map((v) => `${v.Name}\n`).join('')); return; }
      if (o.format) {
        const format = o.format === 'json' ? '{{json .}}' : o.format;
        process.stdout.write(formatList(format, list.map(volumeRow), VOLUME_HEADERS, 'table {{.Driver}}\t{{.Name}}', '*formatter.volumeContext'));
        return;
      }
      process.stdout.write(table([['DRIVER', 'VOLUME NAME'], ...list.map((v) => [v.Driver, v.Name])]));
    });

  vol.command('inspect').description('Display detailed information on one or more volumes')
    .argument('<volume...>')
    .option('-f, --format <template>', 'Format output using a Go-style template path')
    .action(async (names: string[], o: { format?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      await inspectEach(names, (n) => client.json('GET', `/volumes/${encodeURIComponent(n)}`), o.format, 'volume.Volume');
    });

  vol.command('rm').alias('remove').description('Remove one or more volumes')
    .argument('<volume...>')
    .option('-f, --force', 'Do not error if the volume does not exist')
    .action(async (names: string[], o: { force?: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      await forEachArg(names, async (n) => {
        await client.call('DELETE', `/volumes/${encodeURIComponent(n)}`, { query: { force: !!o.force } });
        process.stdout.write(`${n}\n`);
      });
    });

  vol.command('prune').description('Remove unused local volumes')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<label>")', collect)
    .action(async (o: { all?: boolean; filter?: string[] }, cmd: Command) => {
      const filters = [...(o.filter ?? []), ...(o.all ? ['all=true'] : [])];
      const out = await clientOf(cmd).json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters: filterQuery(filters) } });
      if (out.VolumesDeleted?.length) process.stdout.write(`Deleted Volumes:\n${out.VolumesDeleted.join('\n')}\n\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(out.SpaceReclaimed)}\n`);
    });

  for (const c of vol.commands) c.helpOption('--help', 'Print usage').exitOverride().configureOutput({ outputError: () => {} });
}
