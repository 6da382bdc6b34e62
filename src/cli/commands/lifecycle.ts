/** `start`, `stop`, `kill`, `rm`, `wait`: verbs over one or more containers. */
import type { Command } from 'commander';
import { startAttached } from '../attach.js';
import { ApiError } from '../client.js';
import { clientOf, ExitError, forEachArg } from '../context.js';

export function registerLifecycle(program: Command): void {
  program.command('start').description('Start one or more stopped containers')
    .argument('<container...>')
    .option('-a, --attach', "Attach STDOUT/STDERR and forward signals")
    .option('-i, --interactive', "Attach container's STDIN")
    .action(async (ids: string[], o: { attach?: boolean; interactive?: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      if (o.attach || o.interactive) {
        if (ids.length > 1) throw new ExitError(1, 'you cannot start and attach multiple containers at once');
        const c = await client.json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${ids[0]}/json`);
        const tty = c.Config.Tty; const stdin = !!o.interactive;
        throw new ExitError(await startAttached(client, c.Id, { tty, stdin, condition: 'next-exit' }));
      }
      await forEachArg(ids, async (id) => {
        await client.call('POST', `/containers/${id}/start`);
        process.stdout.write(`${id}\n`);
      });
    });

  program.command('stop').description('Stop one or more running containers')
    .argument('<container...>')
    .option('-t, --time <seconds>', 'Seconds to wait before killing the container')
    .option('-s, --signal <signal>', 'Signal to send to the container')
    .action(async (ids: string[], o: { time?: string; signal?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      await forEachArg(ids, async (id) => {
        await client.call('POST', `/containers/${id}/stop`, { query: { t: o.time, signal: o.signal } });
        process.stdout.write(`${id}\n`);
      });
    });

  program.command('kill').description('Kill one or more running containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'Signal to send to the container')
    .action(async (ids: string[], o: { signal?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      await forEachArg(ids, async (id) => {
        await client.call('POST', `/containers/${id}/kill`, { query: { signal: o.signal } });
        process.stdout.write(`${id}\n`);
      });
    });

  program.command('rm').description('Remove one or more containers')
    .argument('<container...>')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .action(async (ids: string[], o: { force?: boolean; volumes?: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      await forEachArg(ids, async (id) => {
        await client.call('DELETE', `/containers/${id}`, { query: { force: !!o.force, v: !!o.volumes } });
        process.stdout.write(`${id}\n`);
      });
    });

  program.command('wait').description('Block until one or more containers stop, then print their exit codes')
    .argument('<container...>')
    .action(async (ids: string[], _o: unknown, cmd: Command) => {
      const client = clientOf(cmd);
      await forEachArg(ids, async (id) => {
        const r = await client.json<{ StatusCode: number }>('POST', `/containers/${id}/wait`);
        process.stdout.write(`${r.StatusCode}\n`);
      });
    });
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}
