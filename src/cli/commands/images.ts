/** `berth images`, `rmi`, `tag`, `import` */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { jsonLines } from '../client.js';
import { ago, humanSize, shortId, table } from '../format.js';
import { clientOf, collect, forEachArg } from '../context.js';

interface ImageSummary { Id: string; RepoTags: string[] | null; Created: number; Size: number }

function splitTag(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  return i > ref.lastIndexOf('/') ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
}

export function registerImages(program: Command): void {
  program.command('images').description('List images')
    .argument('[repository]')
    .option('-q, --quiet', 'Only show image IDs')
    .option('-a, --all', 'Show all images')
    .option('--no-trunc', "Don't truncate output")
    .action(async (repo: string | undefined, o: { quiet?: boolean; trunc?: boolean }, cmd: Command) => {
      const list = await clientOf(cmd).json<ImageSummary[]>('GET', '/images/json');
      const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
      const ids: string[] = [];
      for (const img of list) {
        const tags = img.RepoTags?.length ? img.RepoTags : ['<none>:<none>'];
        for (const t of tags) {
          const [r, tag] = splitTag(t);
          if (repo && r !== repo) continue;
          const id = o.trunc === false ? img.Id : shortId(img.Id);
          ids.push(id);
          rows.push([r, tag, id, ago(img.Created), humanSize(img.Size)]);
        }
      }
      process.stdout.write(o.quiet ? [...new Set(ids)].map((i) => `${i}\n`).join('') : table(rows));
    });

  program.command('rmi').description('Remove one or more images')
    .argument('<image...>')
    .option('-f, --force', 'Force removal of the image')
    .action(async (names: string[], o: { force?: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      await forEachArg(names, async (n) => {
        const out = await client.json<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${n}`, { query: { force: !!o.force } });
        for (const item of out) process.stdout.write(item.Untagged ? `Untagged: ${item.Untagged}\n` : `Deleted: ${item.Deleted}\n`);
      });
    });

  program.command('tag').description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>').argument('<target>')
    .action(async (source: string, target: string, _o: unknown, cmd: Command) => {
      const [repo, tag] = splitTag(target);
      await clientOf(cmd).call('POST', `/images/${source}/tag`, { query: { repo, tag } });
    });

  program.command('import').description('Import the contents from a tarball to create a filesystem image')
    .argument('<file>', 'a tarball (plain or gzip), or - for stdin').argument('[reference]')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <text>', 'Set commit message for imported image')
    .action(async (file: string, ref: string | undefined, o: { change?: string[]; message?: string }, cmd: Command) => {
      const stream: Readable = file === '-' ? process.stdin : createReadStream(file);
      const id = await importTarball(clientOf(cmd), stream, ref, o.change ?? [], o.message);
      process.stdout.write(`${id}\n`);
    });
}

export async function importTarball(client: import('../client.js').Client, stream: Readable, ref: string | undefined, changes: string[], message?: string): Promise<string> {
  const [repo, tag] = ref ? splitTag(ref) : [undefined, undefined];
  const res = await client.raw('POST', '/images/create', {
    query: { fromSrc: '-', repo, tag, changes, message },
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
