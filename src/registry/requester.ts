/**
 * One request to a registry, authorized: credentials go only to the
 * registry's own origin, and a 401 is answered once by learning the challenge
 * and asking again (with a fresh body from the caller's factory).
 */
import { Authorizer, type AuthTarget } from './auth.js';
import { errorFromResponse, incorrectCredentials } from './errors.js';
import type { HostRules } from './hosts.js';
import { send, type Body } from './transport.js';
import type { Credentials } from './types.js';

export interface Call {
  registry: string;
  method: string;
  /** A path under the API base (/v2/…), or an absolute URL such as an upload's Location. */
  path: string;
  scopes: string[];
  creds?: Credentials;
  headers?: Record<string, string>;
  /** Called for each attempt, so a body can be sent again after a 401. */
  body?: () => Body;
  /** Ask for a refresh token while authenticating (docker login's IdentityToken). */
  offline?: boolean;
}

export class Requester {
  readonly auth: Authorizer;

  constructor(readonly hosts: HostRules, readonly timeoutMs: number, readonly userAgent: string) {
    this.auth = new Authorizer(timeoutMs, userAgent);
  }

  url(registry: string, path: string): string {
    const base = this.hosts.baseUrl(registry);
    return new URL(path, `${base}/`).toString();
  }

  /** Any status but 401 comes back to the caller; a 401 that survives the retry throws. */
  async request(call: Call): Promise<Response> {
    const url = this.url(call.registry, call.path);
    const sameOrigin = new URL(url).origin === new URL(this.hosts.baseUrl(call.registry)).origin;
    const target: AuthTarget = { registry: call.registry, scopes: [...call.scopes], creds: call.creds };
    const attempt = async () => {
      const authorization = sameOrigin ? await this.auth.header(target, { offline: call.offline }) : undefined;
      const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...call.headers };
      if (authorization) headers.Authorization = authorization;
      const body = call.body?.();
      const res = await send(url, { method: call.method, headers, body }, this.timeoutMs);
      return { res, authorization, body };
    };
    let { res, authorization, body } = await attempt();
    if (res.status === 401 && sameOrigin && this.auth.learn(target, res, authorization)) {
      await res.body?.cancel();
      // A stream the server refused before reading (a file, often) would otherwise stay open.
      (body as { destroy?: () => void } | undefined)?.destroy?.();
      ({ res, authorization } = await attempt());
    }
    if (res.status !== 401) return res;
    if (authorization?.startsWith('Basic ')) {
      await res.body?.cancel();
      throw incorrectCredentials();
    }
    throw await errorFromResponse(res);
  }

  refreshToken(registry: string, creds?: Credentials): string | undefined {
    return this.auth.refreshToken({ registry, scopes: [], creds });
  }
}

export const pullScope = (repo: string) => `repository:${repo}:pull`;
export const pushScope = (repo: string) => `repository:${repo}:pull,push`;
