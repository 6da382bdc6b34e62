/** `berth export`: a container's filesystem as a tar archive. */
import type { Command } from 'commander';
import { clientOf } from '../context.js';
import { checkOutput, writeTar } from '../tar-output.js';

export function registerExport(program: Command): void {
  program.command('export').description("Export a container's filesystem as a tar archive")
    .argument('<container>')
    .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
    .action(async (container: string, o: { output?: string }, cmd: Command) => {
      await checkOutput(o.output);
      const res = await clientOf(cmd).raw('GET', `/containers/${encodeURIComponent(container)}/export`);
      await writeTar(res, o.output);
    });
}
