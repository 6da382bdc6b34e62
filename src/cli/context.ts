/** What every command needs: the client for the chosen daemon, and docker's error exits. */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { API_VERSION } from '../api/index.js';
import { ApiError, Client, DaemonUnreachable, resolveHost, type TlsConfig } from './client.js';

interface RootOptions { host?: string; tls?: boolean; tlsverify?: boolean; tlscacert?: string; tlscert?: string; tlskey?: string }

export function clientOf(cmd: Command): Client {
  let root = cmd;
  while (root.parent) root = root.parent;
  const o = root.opts<RootOptions>();
  const host = resolveHost(o.host);
  return new Client(host, host.startsWith('tcp://') ? tlsConfig(o) : undefined);
}

/**
 * The docker CLI's TLS flags: --tlsverify (or DOCKER_TLS_VERIFY, with BERTH_USE_DOCKER_HOST=1) checks the
 * daemon against the CA, --tls only encrypts. Files default to DOCKER_CERT_PATH or ~/.docker (ca.pem,
 * cert.pem, key.pem); a default that is not there is skipped, a file named on the command line must be.
 */
function tlsConfig(o: RootOptions): TlsConfig | undefined {
  const envVerify = process.env.BERTH_USE_DOCKER_HOST === '1' && !!process.env.DOCKER_TLS_VERIFY;
  const verify = !!o.tlsverify || envVerify;
  if (!verify && !o.tls) return undefined;
  const dir = process.env.DOCKER_CERT_PATH || join(homedir(), '.docker');
  const read = (what: string, given: string | undefined, file: string): Buffer | undefined => {
    try { return readFileSync(given ?? join(dir, file)); } catch (e) {
      if (given === undefined && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ExitError(1, `could not read ${what} "${given ?? join(dir, file)}": ${(e as Error).message}`);
    }
  };
  return {
    verify,
    ca: read('CA certificate', o.tlscacert, 'ca.pem'),
    cert: read('X509 key pair', o.tlscert, 'cert.pem'),
    key: read('X509 key pair', o.tlskey, 'key.pem'),
  };
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

/** A flag's value the CLI itself refuses (`--cpus abc`): docker prints these with the command's usage and exits 125. */
export class FlagError extends Error {}

/**
 * A flag the docker CLI sends only to a daemon of a newer API than berth's: refused as the docker CLI
 * refuses it against berth's socket, before any request.
 */
export function needsApi(flag: string, version: string): never {
  throw new ExitError(1, `"--${flag}" requires API version ${version}, but the Docker daemon API version is ${API_VERSION}`);
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

/** `berth network create`: the command's words, from the program down. */
export function commandPath(cmd: Command | undefined): string {
  const names: string[] = [];
  for (let c = cmd; c; c = c.parent ?? undefined) names.unshift(c.name());
  return names.length ? names.join(' ') : 'berth';
}

/** A flag error as the docker CLI prints it (exit 125): what is wrong, the command's usage, where its help is. */
export function flagErrorText(text: string, cmd: Command | undefined): string {
  const path = commandPath(cmd);
  return `${text}${cmd ? `\n\nUsage:  ${path} ${cmd.usage()}` : ''}\n\nRun '${path} --help' for more information`;
}
