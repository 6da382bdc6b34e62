/** What every command needs: the client for the chosen daemon, and docker's error exits. */
import type { Command } from 'commander';
import { ApiError, Client, DaemonUnreachable, resolveHost } from './client.js';

export function clientOf(cmd: Command): Client {
  let root = cmd;
  while (root.parent) root = root.parent;
  return new Client(resolveHost(root.opts<{ host?: string }>().host));
}

/** An exit with a status code and an optional message for stderr, as docker's StatusError. */
export class ExitError extends Error {
  constructor(readonly code: number, message = '') { super(message); }
}

/** docker prints daemon errors as "Error response from daemon: …". */
export function describe(err: unknown): string {
  if (err instanceof ApiError) return `Error response from daemon: ${err.message}`;
  if (err instanceof DaemonUnreachable) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Runs a verb over several containers/images, printing each failure and exiting 1 if any failed. */
export async function forEachArg(args: string[], fn: (arg: string) => Promise<void>): Promise<void> {
  let failed = false;
  for (const a of args) {
    try { await fn(a); } catch (e) {
      if (e instanceof DaemonUnreachable) throw e;
      process.stderr.write(`${describe(e)}\n`);
      failed = true;
    }
  }
  if (failed) throw new ExitError(1);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Repeated `KEY=VALUE` flags (`--label`, `-o`) as an object; a bare `KEY` is the empty string, as docker has it. */
export function keyValues(list: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}
