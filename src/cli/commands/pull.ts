/** `berth pull`, through POST /images/create with docker's progress messages. */
import type { Command } from 'commander';
import type { Writable } from 'node:stream';
import { jsonLines, type Client } from '../client.js';
import { clientOf } from '../context.js';

interface Progress { status?: string; id?: string; progress?: string; error?: string; errorDetail?: { message: string } }

export async function pullImage(client: Client, image: string, out: Writable): Promise<void> {
  const at = image.indexOf('@');
  const colon = image.lastIndexOf(':');
  const slash = image.lastIndexOf('/');
  let fromImage = image; let tag: string | undefined;
  if (at >= 0) { fromImage = image.slice(0, at); tag = image.slice(at + 1); }
  else if (colon > slash) { fromImage = image.slice(0, colon); tag = image.slice(colon + 1); }
  const res = await client.raw('POST', '/images/create', { query: { fromImage, tag: tag ?? 'latest' } });
  for await (const p of jsonLines<Progress>(res)) {
    if (p.error) throw new Error(p.error);
    out.write(`${p.id ? `${p.id}: ` : ''}${p.status ?? ''}${p.progress ? ` ${p.progress}` : ''}\n`);
  }
}

export function registerPull(program: Command): void {
  program.command('pull').description('Download an image from a registry').argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await pullImage(clientOf(cmd), name, process.stdout);
    });
}
