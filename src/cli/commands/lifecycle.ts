/** `start`, `stop`, `kill`, `rm`, `wait`: verbs over one or more containers. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { checkTty, DETACHED, openAttach, pumpAttach, startAttached } from '../attach.js';
import { ApiError, DaemonUnreachable, type RequestOptions } from '../client.js';
import { clientOf, collect, describe, ExitError, forEachArg } from '../context.js';
import { filterQuery } from './images.js';
import { humanSize } from '../format.js';
import { tabwrite } from '../go-template.js';

/** docker's `-t, --timeout` (and its older `--time`): an integer, checked as the docker CLI checks it. */
function seconds(v: string): string {
  if (!/^[-+]?\d+$/.test(v)) throw new InvalidArgumentError(`strconv.ParseInt: parsing "${v}": invalid syntax`);
  return v;
}

export function registerLifecycle(program: Command): void {
  program.command('start').description('Start one or more stopped containers')
    .argument('<container...>')
    .option('-a, --attach', "Attach STDOUT/STDERR and forward signals")
    .option('-i, --interactive', "Attach container's STDIN")
    .option('--detach-keys <keys>', 'Override the key sequence for detaching a container')
    .option('--checkpoint <string>', 'Restore from this checkpoint (needs an experimental daemon: berth has none)')
    .option('--checkpoint-dir <string>', 'Use a custom checkpoint storage directory')
    .action(async (ids: string[], o: { attach?: boolean; interactive?: boolean; detachKeys?: string; checkpoint?: string; checkpointDir?: string }, cmd: Command) => {
      for (const flag of ['checkpoint', 'checkpoint-dir'] as const) {
        if (o[flag === 'checkpoint' ? 'checkpoint' : 'checkpointDir'] !== undefined) throw new ExitError(1, `"--${flag}" is only supported on a Docker daemon with experimental features enabled`);
      }
      const client = clientOf(cmd);
      if (o.attach || o.interactive) {
        if (ids.length > 1) throw new ExitError(1, 'you cannot start and attach multiple containers at once');
        const c = await client.json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${ids[0]}/json`);
        const tty = c.Config.Tty; const stdin = !!o.interactive;
        const code = await startAttached(client, c.Id, { tty, stdin, condition: 'next-exit', detachKeys: o.detachKeys });
        throw new ExitError(code === DETACHED ? 0 : code);
      }
      await forEachArg(ids, async (id) => {
        await client.call('POST', `/containers/${id}/start`);
        process.stdout.write(`${id}\n`);
      });
    });

  program.command('attach').description("Attach local standard input, output, and error streams to a running container")
    .argument('<container>')
    .option('--no-stdin', 'Do not attach STDIN')
    .option('--detach-keys <keys>', 'Override the key sequence for detaching a container')
    .option('--sig-proxy', 'Proxy all received signals to the process (--sig-proxy=false: do not)')
    .option('--no-sig-proxy', 'Do not proxy received signals')
    .action(async (ref: string, o: { stdin: boolean; detachKeys?: string; sigProxy: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      const c = await client.json<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean }; State: { Running: boolean } }>('GET', `/containers/${ref}/json`);
      if (!c.State.Running) throw new ExitError(1, 'You cannot attach to a stopped container, start it first');
      checkTty(o.stdin, c.Config.Tty);
      const tty = c.Config.Tty; const stdin = o.stdin && c.Config.OpenStdin;
      const [sock, waitRes] = await Promise.all([
        openAttach(client, c.Id, { tty, stdin }),
        client.raw('POST', `/containers/${c.Id}/wait`, { query: { condition: 'next-exit' } }),
      ]);
      if (await pumpAttach(client, c.Id, sock, { tty, stdin, detachKeys: o.detachKeys, proxySignals: o.sigProxy })) {
        waitRes.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      for await (const ch of waitRes) chunks.push(ch as Buffer);
      throw new ExitError((JSON.parse(Buffer.concat(chunks).toString()) as { StatusCode: number }).StatusCode);
    });

  program.command('restart').description('Restart one or more containers')
    .argument('<container...>')
    .option('-t, --timeout <seconds>', 'Seconds to wait before killing the container', seconds)
    .addOption(new Option('--time <seconds>').argParser(seconds).hideHelp())
    .option('-s, --signal <signal>', 'Signal to send to the container')
    .action((ids: string[], o: { timeout?: string; time?: string; signal?: string }, cmd: Command) =>
      echoEach(cmd, ids, 'POST', (id) => `/containers/${id}/restart`, { t: o.timeout ?? o.time, signal: o.signal }));

  program.command('rename').description('Rename a container')
    .argument('<container>').argument('<new-name>')
    .action(async (ref: string, name: string, _o: unknown, cmd: Command) => {
      try {
        await clientOf(cmd).call('POST', `/containers/${ref}/rename`, { query: { name } });
      } catch (e) {
        if (e instanceof DaemonUnreachable) throw e;
        // The docker CLI names the rename after the daemon's reason.
        throw new ExitError(1, `${describe(e)}\nError: failed to rename container named ${ref}`);
      }
    });

  for (const [verb, what] of [['pause', 'Pause all processes within one or more containers'], ['unpause', 'Unpause all processes within one or more containers']] as const) {
    program.command(verb).description(what).argument('<container...>')
      .action((ids: string[], _o: unknown, cmd: Command) => echoEach(cmd, ids, 'POST', (id) => `/containers/${id}/${verb}`));
  }

  program.command('top').description('Display the running processes of a container').usage('CONTAINER [ps OPTIONS]')
    .argument('<container>').argument('[ps-options...]')
    // As docker: everything after the container goes to ps, flags too (`top C -o pid,comm`).
    .allowUnknownOption().passThroughOptions()
    .action(async (ref: string, psArgs: string[], _o: unknown, cmd: Command) => {
      const top = await clientOf(cmd).json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${ref}/top`, { query: { ps_args: psArgs.length ? psArgs.join(' ') : undefined } });
      // The docker CLI's own tabwriter for top: min width 20, padding 3.
      process.stdout.write(tabwrite(`${[top.Titles, ...top.Processes].map((r) => r.join('\t')).join('\n')}\n`, 20, 3));
    });

  program.command('prune-containers', { hidden: true }).description('Remove all stopped containers')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .action(async (o: { filter?: string[] }, cmd: Command) => {
      const out = await clientOf(cmd).json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/containers/prune', { query: { filters: filterQuery(o.filter ?? []) } });
      if (out.ContainersDeleted?.length) process.stdout.write(`Deleted Containers:\n${out.ContainersDeleted.join('\n')}\n\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(out.SpaceReclaimed)}\n`);
    });

  program.command('stop').description('Stop one or more running containers')
    .argument('<container...>')
    .option('-t, --timeout <seconds>', 'Seconds to wait before killing the container', seconds)
    .addOption(new Option('--time <seconds>').argParser(seconds).hideHelp())
    .option('-s, --signal <signal>', 'Signal to send to the container')
    .action((ids: string[], o: { timeout?: string; time?: string; signal?: string }, cmd: Command) =>
      echoEach(cmd, ids, 'POST', (id) => `/containers/${id}/stop`, { t: o.timeout ?? o.time, signal: o.signal }));

  program.command('kill').description('Kill one or more running containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'Signal to send to the container')
    .action((ids: string[], o: { signal?: string }, cmd: Command) =>
      echoEach(cmd, ids, 'POST', (id) => `/containers/${id}/kill`, { signal: o.signal }));

  program.command('rm').description('Remove one or more containers')
    .argument('<container...>')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .option('-l, --link', 'Remove the specified link')
    .action((ids: string[], o: { force?: boolean; volumes?: boolean; link?: boolean }, cmd: Command) =>
      // A link's name keeps its slash in the path (/PARENT/ALIAS), as the docker CLI sends it.
      echoEach(cmd, ids, 'DELETE', (id) => `/containers/${o.link ? id.replace(/^\//, '') : id}`, { force: !!o.force, v: !!o.volumes, ...(o.link ? { link: true } : {}) }, !!o.force));

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

/** One request per named container, echoing each name that succeeded, as docker's multi-container verbs do. */
async function echoEach(cmd: Command, ids: string[], method: string, path: (id: string) => string, query?: RequestOptions['query'], missingOk = false): Promise<void> {
  const client = clientOf(cmd);
  await forEachArg(ids, async (id) => {
    try {
      await client.call(method, path(id), { query });
    } catch (e) {
      // docker's `rm -f`: a container that is not there is said on stderr, and is no failure (exit 0).
      if (!missingOk || !isNotFound(e)) throw e;
      process.stderr.write(`${describe(e)}\n`);
      return;
    }
    process.stdout.write(`${id}\n`);
  });
}
