/** `berth images`, `rmi`, `tag`, `import` */
import { createReadStream, existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { jsonLines } from '../client.js';
import { ago, ellipsis, goTime, humanSize, shortId, table } from '../format.js';
import { formatList } from '../go-format.js';
import { clientOf, collect, ExitError, forEachArg, needsApi } from '../context.js';

interface ImageSummary { Id: string; RepoTags: string[] | null; RepoDigests: string[] | null; Created: number; Size: number; SharedSize?: number; Containers?: number }

/** The docker CLI's column names for the fields of `images --format`. */
const IMAGE_HEADERS: Record<string, string> = {
  Containers: 'CONTAINERS', CreatedAt: 'CREATED AT', CreatedSince: 'CREATED', Digest: 'DIGEST', ID: 'IMAGE ID', Repository: 'REPOSITORY',
  SharedSize: 'SHARED SIZE', Size: 'SIZE', Tag: 'TAG', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'SIZE',
};

/** One `images` row as the docker CLI's image formatter sees it (keys in `{{json .}}` order). */
function imageRow(img: ImageSummary, repo: string, tag: string, digest: string, trunc: boolean): Record<string, unknown> {
  const na = (n: number | undefined) => (n === undefined || n < 0 ? 'N/A' : humanSize(n));
  return {
    Containers: img.Containers === undefined || img.Containers < 0 ? 'N/A' : String(img.Containers),
    CreatedAt: goTime(img.Created),
    CreatedSince: ago(img.Created),
    Digest: digest,
    ID: trunc ? shortId(img.Id) : img.Id,
    Repository: repo,
    SharedSize: na(img.SharedSize),
    Size: humanSize(img.Size),
    Tag: tag,
    UniqueSize: img.SharedSize === undefined || img.SharedSize < 0 ? 'N/A' : humanSize(img.Size - img.SharedSize),
    // docker prints this one with units.HumanSize (four digits), Size with three.
    VirtualSize: humanSize(img.Size, 4),
  };
}

function splitTag(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  return i > ref.lastIndexOf('/') ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
}

export function registerImages(program: Command): void {
  program.command('images').description('List images').usage('[OPTIONS] [REPOSITORY[:TAG]]')
    .argument('[repository]')
    .option('-q, --quiet', 'Only show image IDs')
    .option('-a, --all', 'Show all images')
    .option('--digests', 'Show digests')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided (dangling, reference, label, before, since)', collect)
    .option('--no-trunc', "Don't truncate output")
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .option('--tree', 'List multi-platform images as a tree (API 1.47)')
    .action(async (repo: string | undefined, o: { quiet?: boolean; trunc?: boolean; digests?: boolean; filter?: string[]; format?: string; tree?: boolean }, cmd: Command) => {
      if (o.tree) needsApi('tree', '1.47');
      const filters = filterQuery([...(o.filter ?? []), ...(repo ? [`reference=${repo}`] : [])]);
      const list = await clientOf(cmd).json<ImageSummary[]>('GET', '/images/json', { query: { filters } });
      const rows = [['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE']];
      const ids: string[] = [];
      const formatted: Record<string, unknown>[] = [];
      for (const img of list) {
        const tags = img.RepoTags?.length ? img.RepoTags : ['<none>:<none>'];
        for (const t of tags) {
          const [r, tag] = splitTag(t);
          const id = o.trunc === false ? img.Id : shortId(img.Id);
          const digest = img.RepoDigests?.find((d) => d.startsWith(`${r}@`))?.split('@')[1] ?? '<none>';
          ids.push(id);
          formatted.push(imageRow(img, r, tag, digest, o.trunc !== false));
          rows.push([r, tag, ...(o.digests ? [digest] : []), id, ago(img.Created), humanSize(img.Size)]);
        }
      }
      if (!o.quiet && o.format) {
        const defaultTable = `table {{.Repository}}\t{{.Tag}}\t${o.digests ? '{{.Digest}}\t' : ''}{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`;
        const format = o.format === 'json' ? '{{json .}}' : o.format;
        process.stdout.write(formatList(format, formatted, IMAGE_HEADERS, defaultTable, '*formatter.imageContext'));
        return;
      }
      process.stdout.write(o.quiet ? [...new Set(ids)].map((i) => `${i}\n`).join('') : table(rows));
    });

  program.command('history').description('Show the history of an image')
    .argument('<image>')
    .option('-q, --quiet', 'Only show image IDs')
    .option('--no-trunc', "Don't truncate output")
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .option('-H, --human', 'Print sizes and dates in human readable format (default true; --human=false: bytes and RFC 3339)')
    .option('--no-human', 'Print sizes in bytes and dates in RFC 3339')
    .option('--platform <string>', 'Show history for the given platform (API 1.48)')
    .action(async (name: string, o: { quiet?: boolean; trunc?: boolean; format?: string; human?: boolean; platform?: string }, cmd: Command) => {
      if (o.platform) needsApi('platform', '1.48');
      const hist = await clientOf(cmd).json<{ Id: string; Created: number; CreatedBy: string; Size: number; Comment: string }[]>('GET', `/images/${name}/history`);
      if (o.quiet) { process.stdout.write(hist.map((h) => `${h.Id === '<missing>' || o.trunc === false ? h.Id : shortId(h.Id)}\n`).join('')); return; }
      if (o.format) {
        // The docker CLI's history formatter: its fields, `{{json .}}` keys in its order, CreatedAt in RFC 3339.
        const rows = hist.map((h) => {
          const by = h.CreatedBy.replace(/\t/g, ' ');
          return {
            Comment: h.Comment,
            CreatedAt: rfc3339(h.Created),
            CreatedBy: o.trunc === false ? by : ellipsis(by, 45),
            CreatedSince: o.human === false ? rfc3339(h.Created) : ago(h.Created),
            ID: h.Id === '<missing>' || o.trunc === false ? h.Id : shortId(h.Id),
            Size: o.human === false ? String(h.Size) : humanSize(h.Size),
          };
        });
        const headers = { Comment: 'COMMENT', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', CreatedSince: 'CREATED', ID: 'IMAGE', Size: 'SIZE' };
        const format = o.format === 'json' ? '{{json .}}' : o.format;
        process.stdout.write(formatList(format, rows, headers, 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', '*formatter.historyContext'));
        return;
      }
      const rows = [['IMAGE', o.human === false ? 'CREATED AT' : 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']];
      for (const h of hist) {
        const by = o.trunc === false ? h.CreatedBy : ellipsis(h.CreatedBy, 45);
        rows.push([h.Id === '<missing>' ? h.Id : o.trunc === false ? h.Id : shortId(h.Id), o.human === false ? rfc3339(h.Created) : ago(h.Created), by,
          o.human === false ? String(h.Size) : humanSize(h.Size), h.Comment]);
      }
      process.stdout.write(table(rows));
    });

  program.command('prune-images', { hidden: true }).description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .action(async (o: { all?: boolean; filter?: string[] }, cmd: Command) => {
      const filters = { ...filterMap(o.filter ?? []), dangling: [o.all ? 'false' : 'true'] };
      const out = await clientOf(cmd).json<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>(
        'POST', '/images/prune', { query: { filters: JSON.stringify(filters) } });
      if (out.ImagesDeleted?.length) {
        process.stdout.write('Deleted Images:\n');
        for (const i of out.ImagesDeleted) process.stdout.write(i.Untagged ? `untagged: ${i.Untagged}\n` : `deleted: ${i.Deleted}\n`);
        process.stdout.write('\n');
      }
      process.stdout.write(`Total reclaimed space: ${humanSize(out.SpaceReclaimed)}\n`);
    });

  program.command('rmi').description('Remove one or more images')
    .argument('<image...>')
    .option('-f, --force', 'Force removal of the image')
    .option('--no-prune', 'Do not delete untagged parents')
    .option('--platform <platform>', 'Remove only the given platform variant (API 1.50)')
    .action(async (names: string[], o: { force?: boolean; prune: boolean; platform?: string }, cmd: Command) => {
      if (o.platform) needsApi('platform', '1.50');
      const client = clientOf(cmd);
      await forEachArg(names, async (n) => {
        const out = await client.json<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${n}`, { query: { force: !!o.force, noprune: !o.prune || undefined } });
        for (const item of out) process.stdout.write(item.Untagged ? `Untagged: ${item.Untagged}\n` : `Deleted: ${item.Deleted}\n`);
      });
    });

  program.command('tag').description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE').usage('SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]')
    .argument('<source>').argument('<target>')
    .action(async (source: string, target: string, _o: unknown, cmd: Command) => {
      const [repo, tag] = splitTag(target);
      await clientOf(cmd).call('POST', `/images/${source}/tag`, { query: { repo, tag } });
    });

  program.command('import').description('Import the contents from a tarball to create a filesystem image')
    .argument('<file>', 'a tarball (plain or gzip), or - for stdin').argument('[reference]')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <text>', 'Set commit message for imported image')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .action(async (file: string, ref: string | undefined, o: { change?: string[]; message?: string; platform?: string }, cmd: Command) => {
      if (file !== '-' && !existsSync(file)) throw new ExitError(1, `open ${file}: no such file or directory`);
      const stream: Readable = file === '-' ? process.stdin : createReadStream(file);
      const id = await importTarball(clientOf(cmd), stream, ref, o.change ?? [], o.message, o.platform);
      process.stdout.write(`${id}\n`);
    });
}

export async function importTarball(client: import('../client.js').Client, stream: Readable, ref: string | undefined, changes: string[], message?: string, platform?: string): Promise<string> {
  const [repo, tag] = ref ? splitTag(ref) : [undefined, undefined];
  const res = await client.raw('POST', '/images/create', {
    query: { fromSrc: '-', repo, tag, changes, message, platform },
    stream,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  let id = '';
  for await (const m of jsonLines<{ status?: string; error?: string }>(res)) {
    if (m.error) throw new Error(m.error);
    if (m.status) id = m.status;
  }
  return id;
}

/** `-f key=value` flags as the API's `filters` object. */
export function filterMap(flags: string[]): Record<string, string[]> {
  const filters: Record<string, string[]> = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    (filters[i < 0 ? f : f.slice(0, i)] ??= []).push(i < 0 ? '' : f.slice(i + 1));
  }
  return filters;
}

/** The same as the `filters` query parameter's JSON, or nothing when there are none. */
export function filterQuery(flags: string[]): string | undefined {
  const filters = filterMap(flags);
  return Object.keys(filters).length ? JSON.stringify(filters) : undefined;
}

/** Unix seconds as Go's time.RFC3339 prints them in UTC. */
function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}
