/** `berth update`: new limits or restart policy for containers, running or not. */
import type { Command } from 'commander';
import { clientOf, forEachArg } from '../context.js';
import { parseCpus } from './create-flags.js';
import { addResourceFlags, parseBytes, resourceBody, restartPolicy, type ResourceFlags } from './host-flags.js';

interface UpdateFlags extends ResourceFlags { memory?: string; cpus?: string; restart?: string }

export function updateBody(f: UpdateFlags): Record<string, unknown> {
  const b = resourceBody(f);
  if (f.memory) b.Memory = parseBytes(f.memory);
  if (f.cpus) b.NanoCpus = parseCpus(f.cpus);
  if (f.restart) b.RestartPolicy = restartPolicy(f.restart);
  return b;
}

export function registerUpdate(program: Command): void {
  addResourceFlags(program.command('update').description('Update configuration of one or more containers'))
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .argument('<container...>')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--cpus <number>', 'Number of CPUs')
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
