/** `berth pull`, `push`, `login`, `logout`: the daemon talks to the registry; the CLI keeps the credentials. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import type { Command } from 'commander';
import { encodeRegistryAuth, type Credentials } from '../../registry/index.js';
import type { Client } from '../client.js';
import { clientOf, ExitError, needsApi } from '../context.js';
import { renderProgress } from '../progress.js';

/** ~/.berth/config.json (or $BERTH_CONFIG/config.json), mode 0600, in docker's config.json shape. */
export function credentialsPath(): string {
  return join(process.env.BERTH_CONFIG ?? join(homedir(), '.berth'), 'config.json');
}

/**
 * The credentials file's functions, loaded when a pull, push, login or logout reads or writes it: the
 * module loads node:fs/promises, which a static import would cost every command's start-up (see builtins.ts).
 */
const credentials = () => import('../../registry/credentials.js');

/** The registry host a reference names, as credentials are keyed: docker.io for Docker Hub. */
export function registryOf(ref: string): string {
  const first = ref.split('/')[0]!;
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

async function authHeader(ref: string): Promise<Record<string, string>> {
  const creds = await (await credentials()).readCredentials(credentialsPath(), registryOf(ref));
  return creds ? { 'X-Registry-Auth': encodeRegistryAuth(creds) } : {};
}

function splitRef(image: string): { name: string; tag?: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { name: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? { name: image.slice(0, colon), tag: image.slice(colon + 1) } : { name: image };
}

/** docker's full name for the last line of a pull: docker.io/library/busybox:latest (no tag for a whole repository). */
function canonicalName(image: string, allTags = false): string {
  const { name, tag } = splitRef(image);
  const host = registryOf(name);
  const path = host === 'docker.io' && !name.startsWith('docker.io/') ? (name.includes('/') ? name : `library/${name}`) : name.replace(/^docker\.io\//, '');
  const full = host === 'docker.io' ? `docker.io/${path.replace(/^docker\.io\//, '')}` : path;
  if (allTags) return full;
  return `${full}${tag ? (tag.startsWith('sha256:') ? `@${tag}` : `:${tag}`) : ':latest'}`;
}

/** `-a` takes a repository alone; without it, a repository alone means :latest, which docker says out loud. */
function checkAllTags(image: string, allTags: boolean | undefined, quiet: boolean | undefined): void {
  const { tag } = splitRef(image);
  if (allTags && tag !== undefined) throw new ExitError(1, "tag can't be used with --all-tags/-a");
  if (!allTags && tag === undefined && !quiet) process.stdout.write('Using default tag: latest\n');
}

export async function pullImage(client: Client, image: string, out: Writable & { isTTY?: boolean }, platform?: string, allTags = false): Promise<void> {
  const { name, tag } = splitRef(image);
  // No tag at all asks the daemon for every tag of the repository.
  const query = { fromImage: name, tag: allTags ? undefined : tag ?? 'latest', platform };
  const res = await client.raw('POST', '/images/create', { query, headers: await authHeader(name) });
  await renderProgress(res, out);
}

const discard = () => Object.assign(new PassThrough().resume(), { isTTY: false });

export function registerPull(program: Command): void {
  program.command('pull').description('Download an image from a registry').usage('[OPTIONS] NAME[:TAG|@DIGEST]').argument('<name>')
    .option('-a, --all-tags', 'Download all tagged images in the repository')
    .option('--platform <platform>', 'Set platform if server is multi-platform capable (os/arch[/variant])')
    .option('-q, --quiet', 'Suppress verbose output')
    .option('--disable-content-trust', 'Skip image verification (berth does not verify: no Notary)')
    .action(async (name: string, o: { allTags?: boolean; platform?: string; quiet?: boolean }, cmd: Command) => {
      checkAllTags(name, o.allTags, o.quiet);
      await pullImage(clientOf(cmd), name, o.quiet ? discard() : process.stdout, o.platform, o.allTags);
      process.stdout.write(`${canonicalName(name, o.allTags)}\n`);
    });

  program.command('push').description('Upload an image to a registry').usage('[OPTIONS] NAME[:TAG]').argument('<name>')
    .option('-a, --all-tags', 'Push all tags of an image to the repository')
    .option('-q, --quiet', 'Suppress verbose output')
    .option('--disable-content-trust', 'Skip image signing (berth does not sign: no Notary)')
    .option('--platform <string>', 'Push a platform-specific manifest as a single-platform image (API 1.46)')
    .action(async (image: string, o: { allTags?: boolean; quiet?: boolean; platform?: string }, cmd: Command) => {
      if (o.platform) needsApi('platform', '1.46');
      checkAllTags(image, o.allTags, o.quiet);
      const { name, tag } = splitRef(image);
      // Without a tag the daemon pushes every local tag of the repository.
      const query = { tag: o.allTags ? undefined : tag ?? 'latest' };
      const res = await clientOf(cmd).raw('POST', `/images/${name}/push`, { query, headers: await authHeader(name) });
      await renderProgress(res, o.quiet ? discard() : process.stdout);
      // docker -q names what it pushed, and only then.
      if (o.quiet) process.stdout.write(`${canonicalName(image, o.allTags)}\n`);
    });

  program.command('login').description('Log in to a registry').argument('[server]')
    .option('-u, --username <name>', 'Username')
    .option('-p, --password <password>', 'Password')
    .option('--password-stdin', 'Take the password from stdin')
    .action(async (server: string | undefined, o: { username?: string; password?: string; passwordStdin?: boolean }, cmd: Command) => {
      const host = server ? server.replace(/^https?:\/\//, '').replace(/\/.*$/, '') : 'docker.io';
      let password = o.password;
      if (o.passwordStdin) {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        password = Buffer.concat(chunks).toString().replace(/\r?\n$/, '');
      }
      if (!o.username || password === undefined) throw new ExitError(1, 'Error: Cannot perform an interactive login from a non TTY device: pass -u and -p or --password-stdin');
      if (o.password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      const creds: Credentials = { username: o.username, password, serveraddress: host };
      const res = await clientOf(cmd).json<{ Status: string }>('POST', '/auth', { body: creds });
      await (await credentials()).storeCredentials(credentialsPath(), host, creds);
      process.stdout.write(`${res.Status}\n`);
    });

  program.command('logout').description('Log out from a registry').argument('[server]')
    .action(async (server: string | undefined) => {
      const host = server ? server.replace(/^https?:\/\//, '').replace(/\/.*$/, '') : 'docker.io';
      const removed = await (await credentials()).removeCredentials(credentialsPath(), host);
      process.stdout.write(removed ? `Removing login credentials for ${host}\n` : `Not logged in to ${host}\n`);
    });
}
