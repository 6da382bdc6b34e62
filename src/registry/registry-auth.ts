/**
 * Docker's `X-Registry-Auth` header: base64url of a JSON auth config. Clients
 * differ on padding and on URL-safe versus standard alphabet, so both decode.
 */
import { InvalidParameterError } from '../errors/index.js';
import type { Credentials } from './types.js';

interface AuthConfigJson {
  username?: string; password?: string; auth?: string; email?: string;
  serveraddress?: string; identitytoken?: string; registrytoken?: string;
}

/**
 * Undefined when the header is absent or carries nothing; a 400 when it is not base64 JSON. `check` sees
 * the decoded object before any of its fields is read (the API types it as dockerd's AuthConfig there).
 */
export function decodeRegistryAuth(header: string | undefined | null, check?: (json: object) => void): Credentials | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  let json: AuthConfigJson;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    json = parsed as AuthConfigJson;
  } catch (err) {
    throw new InvalidParameterError(`invalid X-Registry-Auth header: ${(err as Error).message}`);
  }
  check?.(json);
  const creds: Credentials = {};
  let { username, password } = json;
  // The config file's `auth` form (base64 of user:pass) is accepted here too.
  if (!username && json.auth) {
    const plain = Buffer.from(json.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) { username = plain.slice(0, colon); password = plain.slice(colon + 1); }
  }
  if (username) creds.username = username;
  if (password) creds.password = password;
  if (json.identitytoken) creds.identitytoken = json.identitytoken;
  if (json.registrytoken) creds.registrytoken = json.registrytoken;
  if (json.serveraddress) creds.serveraddress = json.serveraddress;
  return Object.keys(creds).some((k) => k !== 'serveraddress') ? creds : undefined;
}

export function encodeRegistryAuth(creds: Credentials): string {
  return Buffer.from(JSON.stringify(creds)).toString('base64url');
}
