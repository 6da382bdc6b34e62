/** `berth commit` and `berth diff` */
import type { Command } from 'commander';
import { clientOf, collect } from '../context.js';

export function registerCommit(program: Command): void {
  program.command('commit').description("Create a new image from a container's changes").usage('[OPTIONS] CONTAINER [REPOSITORY[:TAG]]')
    .argument('<container>').argument('[repository]')
    .option('-a, --author <author>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <text>', 'Commit message')
    .option('-p, --pause', 'Pause container during commit', true)
    .option('--no-pause', 'Do not pause the container during commit')
    .action(async (container: string, repository: string | undefined, o: { author?: string; change?: string[]; message?: string; pause: boolean }, cmd: Command) => {
      let repo: string | undefined; let tag: string | undefined;
      if (repository) {
        const i = repository.lastIndexOf(':');
        [repo, tag] = i > repository.lastIndexOf('/') ? [repository.slice(0, i), repository.slice(i + 1)] : [repository, undefined];
      }
      const out = await clientOf(cmd).json<{ Id: string }>('POST', '/commit', {
        query: { container, repo, tag, author: o.author, comment: o.message, changes: o.change, pause: o.pause },
        body: {},
      });
      process.stdout.write(`${out.Id}\n`);
    });

  program.command('diff').description("Inspect changes to files or directories on a container's filesystem")
    .argument('<container>')
    .action(async (container: string, _o: unknown, cmd: Command) => {
      const changes = await clientOf(cmd).json<{ Path: string; Kind: number }[] | null>('GET', `/containers/${container}/changes`);
      process.stdout.write((changes ?? []).map((c) => `${'CAD'[c.Kind]} ${c.Path}\n`).join(''));
    });
}
