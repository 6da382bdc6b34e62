/** `berth run` and `berth create`: create (pulling when the image is missing), attach, start, wait. */
import { existsSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { ApiError, type Client } from '../client.js';
import { checkTty, DETACHED, startAttached } from '../attach.js';
import { clientOf, ExitError, FlagError, flagErrorText } from '../context.js';
import { pullImage } from './pull.js';
import { addCreateFlags, attachedStreams, createBody, type CreateFlags } from './create-flags.js';

interface RunFlags extends CreateFlags { detach?: boolean; detachKeys?: string; sigProxy?: boolean }

/** Docker's exit codes for a container that could not start: 127 not found, 126 not executable, 125 otherwise. */
export function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory/.test(message)) return 127;
  if (/permission denied/.test(message)) return 126;
  return 125;
}

function familiar(image: string): string {
  return /[:@]/.test(image.split('/').pop() ?? '') ? image : `${image}:latest`;
}

export async function createContainer(client: Client, image: string, args: string[], flags: CreateFlags, detach: boolean): Promise<string> {
  const pull = flags.pull ?? 'missing';
  if (!['always', 'missing', 'never'].includes(pull)) throw new Error(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  const body = createBody(image, args, flags, detach, client.host);
  const query = { name: flags.name, platform: flags.platform };
  // As the docker CLI: an ID file left by another container is not overwritten.
  if (flags.cidfile && existsSync(flags.cidfile)) throw new Error(`container ID file found, make sure the other container isn't running or delete ${flags.cidfile}`);
  // -q: the pull says nothing, as the docker CLI's.
  const pullOut = flags.quiet ? new Writable({ write: (_c, _e, done) => done() }) : process.stderr;
  if (pull === 'always') await pullImage(client, image, pullOut, flags.platform);
  let created: { Id: string; Warnings?: string[] | null };
  try {
    created = await client.json<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', { query, body });
  } catch (e) {
    if (pull !== 'missing' || !(e instanceof ApiError) || e.status !== 404 || !/No such image/.test(e.message)) throw e;
    if (!flags.quiet) process.stderr.write(`Unable to find image '${familiar(image)}' locally\n`);
    await pullImage(client, image, pullOut, flags.platform);
    created = await client.json<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', { query, body });
  }
  // The daemon's warnings (a limit the kernel cannot apply, ports discarded in host mode), as the docker CLI prints them.
  for (const w of created.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  if (flags.cidfile) writeFileSync(flags.cidfile, created.Id);
  return created.Id;
}

export function registerRun(program: Command): void {
  addCreateFlags(
    program.command('run').description('Create and run a new container from an image')
      .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
      .argument('<image>').argument('[command...]')
      .option('-d, --detach', 'Run container in background and print container ID')
      .option('--detach-keys <keys>', 'Override the key sequence for detaching a container (default ctrl-p,ctrl-q)')
      .option('--sig-proxy', 'Proxy received signals to the process (--sig-proxy=false: do not)')
      .option('--no-sig-proxy', 'Do not proxy received signals')
      .passThroughOptions(),
  ).action(async (image: string, args: string[], flags: RunFlags, cmd: Command) => {
    const client = clientOf(cmd);
    const detach = !!flags.detach;
    if (detach && flags.attach?.length) throw new ExitError(1, 'conflicting options: cannot specify both --attach and --detach');
    if (!detach) checkTty(!!flags.interactive, !!flags.tty);
    let id: string;
    try {
      id = await createContainer(client, image, args, flags, detach);
    } catch (e) {
      throw new ExitError(125, withHelp(e, cmd));
    }
    if (detach) {
      try { await client.call('POST', `/containers/${id}/start`); } catch (e) {
        throw new ExitError(e instanceof ApiError ? startFailureCode(e.message) : 125, withHelp(e, cmd));
      }
      process.stdout.write(`${id}\n`);
      return;
    }
    const tty = !!flags.tty;
    const stdin = !!flags.interactive;
    let code: number;
    try {
      const { stdout, stderr } = attachedStreams(flags);
      code = await startAttached(client, id, { tty, stdin, stdout, stderr, condition: flags.rm ? 'removed' : 'next-exit', detachKeys: flags.detachKeys, proxySignals: flags.sigProxy });
    } catch (e) {
      throw new ExitError(e instanceof ApiError ? startFailureCode(e.message) : 125, withHelp(e, cmd));
    }
    throw new ExitError(code === DETACHED ? 0 : code);
  });
}

/** `berth create`: a registrar of its own, so that `run` does not build create's hundred flags too (and the reverse). */
export function registerCreate(program: Command): void {
  addCreateFlags(
    program.command('create').description('Create a new container')
      .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
      .argument('<image>').argument('[command...]')
      .passThroughOptions(),
  ).action(async (image: string, args: string[], flags: CreateFlags, cmd: Command) => {
    const client = clientOf(cmd);
    try {
      process.stdout.write(`${await createContainer(client, image, args, flags, false)}\n`);
    } catch (e) {
      throw new ExitError(125, withHelp(e, cmd));
    }
  });
}

/**
 * As the docker CLI words a failed run or create: the error, then where to find the command's help; a flag's
 * value the CLI refused is a flag error, shown with the usage as commander's are.
 */
function withHelp(e: unknown, cmd: Command): string {
  if (e instanceof FlagError) return flagErrorText(e.message, cmd);
  return `berth: ${describeRun(e)}\n\nRun 'berth ${cmd.name()} --help' for more information`;
}

function describeRun(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
