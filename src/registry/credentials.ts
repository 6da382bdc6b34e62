/**
 * Saved registry logins, in the shape of docker's ~/.docker/config.json:
 * `{ "auths": { "host": { "auth": base64(user:pass) } } }`. Docker Hub is
 * keyed as docker keys it (https://index.docker.io/v1/), so the two files read
 * alike. The file is replaced atomically and is readable by its owner only.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SystemError } from '../errors/index.js';
import { isDockerHub } from './hosts.js';
import type { Credentials } from './types.js';

let writes = 0;

interface AuthEntry { auth?: string; identitytoken?: string; username?: string; password?: string; [k: string]: unknown }

export interface CredentialsFile {
  auths?: Record<string, AuthEntry>;
  [k: string]: unknown;
}

const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** `https://host:5000/v1/` → `host:5000`; every Docker Hub spelling → docker.io. */
export function normalizeServer(server: string): string {
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  return isDockerHub(host) ? 'docker.io' : host;
}

export const credentialsKey = (server: string) => (normalizeServer(server) === 'docker.io' ? DOCKER_HUB_KEY : normalizeServer(server));

async function load(path: string): Promise<CredentialsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SystemError(`reading ${path}: ${(err as Error).message}`);
  }
  try {
    const doc = JSON.parse(text || '{}') as CredentialsFile;
    return typeof doc === 'object' && doc !== null ? doc : {};
  } catch (err) {
    throw new SystemError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

async function save(path: string, doc: CredentialsFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Unique per process and write; not from node:crypto, which the CLI would load at every start for this.
  const tmp = `${path}.${process.pid}.${Date.now()}.${++writes}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(doc, null, '\t')}\n`, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The saved login for a registry, undefined when there is none. */
export async function readCredentials(path: string, server: string): Promise<Credentials | undefined> {
  const want = normalizeServer(server);
  const entry = Object.entries((await load(path)).auths ?? {}).find(([key]) => normalizeServer(key) === want)?.[1];
  if (!entry) return undefined;
  const creds: Credentials = { serveraddress: want };
  if (entry.auth) {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon >= 0) {
      creds.username = plain.slice(0, colon);
      creds.password = plain.slice(colon + 1);
    }
  } else if (entry.username) {
    creds.username = entry.username;
    creds.password = entry.password;
  }
  if (creds.password === '') delete creds.password;
  if (entry.identitytoken) creds.identitytoken = entry.identitytoken;
  return creds.username || creds.identitytoken ? creds : undefined;
}

/** Saves a login, keeping whatever else the file holds; with an identity token, the password is not kept. */
export async function storeCredentials(path: string, server: string, creds: Credentials): Promise<void> {
  const doc = await load(path);
  const auths = doc.auths ?? {};
  const want = normalizeServer(server);
  for (const key of Object.keys(auths)) if (normalizeServer(key) === want) delete auths[key];
  const secret = creds.identitytoken ? '' : creds.password ?? '';
  const entry: AuthEntry = { auth: Buffer.from(`${creds.username ?? ''}:${secret}`).toString('base64') };
  if (creds.identitytoken) entry.identitytoken = creds.identitytoken;
  auths[credentialsKey(server)] = entry;
  doc.auths = auths;
  await save(path, doc);
}

/** Forgets a login; false when there was none. */
export async function removeCredentials(path: string, server: string): Promise<boolean> {
  const doc = await load(path);
  const want = normalizeServer(server);
  const keys = Object.keys(doc.auths ?? {}).filter((key) => normalizeServer(key) === want);
  if (keys.length === 0) return false;
  for (const key of keys) delete doc.auths![key];
  await save(path, doc);
  return true;
}
