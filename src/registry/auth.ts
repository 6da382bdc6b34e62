/**
 * Authorization for registry requests. A registry's scheme is learned from its
 * first 401 (`WWW-Authenticate`) and remembered, so later requests carry
 * credentials from the start. Bearer tokens are fetched from the challenge's
 * realm — with Basic credentials, or by the OAuth2 refresh-token grant for an
 * identity token — and cached per registry and credentials until shortly
 * before they expire. A cached token serves any request whose scopes it
 * covers, so the checks a push makes with `pull` reuse its `pull,push` token
 * rather than fetching another.
 */
import { createHash } from 'node:crypto';
import { parseChallenges, type Challenge } from './challenge.js';
import { RegistryError, errorFromResponse, incorrectCredentials } from './errors.js';
import { readBody, send } from './transport.js';
import type { Credentials } from './types.js';

export interface AuthTarget {
  registry: string;
  /** e.g. repository:library/busybox:pull; empty for /v2/ itself. */
  scopes: string[];
  creds?: Credentials;
}

interface CachedToken { token: string; expires: number; grants: Set<string> }

interface TokenResponse {
  token?: string; access_token?: string; refresh_token?: string; expires_in?: number;
}

/** Docker sends `docker`; registries use client_id only to label refresh tokens. */
const CLIENT_ID = 'berth';
/** The distribution spec: a token without expires_in lasts 60 seconds. */
const DEFAULT_TOKEN_SECONDS = 60;
const EXPIRY_MARGIN_SECONDS = 5;

const noToken = (realm: string) => new RegistryError('UNAUTHORIZED', `unauthorized: the token server ${realm} answered without a token`);

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** `repository:a:pull,push` → `repository:a:pull`, `repository:a:push`. */
function grants(scopes: string[]): Set<string> {
  const out = new Set<string>();
  for (const scope of scopes) {
    const i = scope.lastIndexOf(':');
    for (const action of scope.slice(i + 1).split(',')) out.add(`${scope.slice(0, i)}:${action}`);
  }
  return out;
}

function fingerprint(creds?: Credentials): string {
  if (!creds) return '-';
  const id = [creds.username ?? '', creds.password ?? '', creds.identitytoken ?? ''].join('\0');
  return createHash('sha256').update(id).digest('hex').slice(0, 16);
}

export class Authorizer {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken[]>();
  private readonly refreshTokens = new Map<string, string>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly timeoutMs: number, private readonly userAgent: string) {}

  /** The Authorization header to send, or undefined while the registry's scheme is unknown (or needs none). */
  async header(t: AuthTarget, opts: { offline?: boolean } = {}): Promise<string | undefined> {
    if (t.creds?.registrytoken) return `Bearer ${t.creds.registrytoken}`;
    const ch = this.challenges.get(t.registry);
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      return t.creds?.username !== undefined ? basic(t.creds.username, t.creds.password ?? '') : undefined;
    }
    return `Bearer ${await this.token(t, ch, opts.offline ?? false)}`;
  }

  /**
   * Learns from a 401: records the challenge and drops a token the registry
   * refused. True when asking again with new authorization can succeed.
   */
  learn(t: AuthTarget, res: Response, sent: string | undefined): boolean {
    const all = parseChallenges(res.headers.get('www-authenticate'));
    const ch = all.find((c) => c.scheme === 'bearer' && c.params.realm) ?? all.find((c) => c.scheme === 'basic');
    if (!ch) return false;
    const { scope, error: _error, ...params } = ch.params;
    this.challenges.set(t.registry, { scheme: ch.scheme, params });
    if (scope) for (const s of scope.split(' ')) if (!t.scopes.includes(s)) t.scopes.push(s);
    if (ch.scheme === 'basic') return t.creds?.username !== undefined && !sent?.startsWith('Basic ');
    if (sent?.startsWith('Bearer ')) this.forget(t, sent.slice('Bearer '.length));
    return !t.creds?.registrytoken;
  }

  /** The scheme a registry asked for, once it has asked: 'basic' or 'bearer'. */
  scheme(registry: string): string | undefined {
    return this.challenges.get(registry)?.scheme;
  }

  /** The refresh token a login with `offline` handed out (Docker's IdentityToken), if any. */
  refreshToken(t: AuthTarget): string | undefined {
    return this.refreshTokens.get(this.key(t));
  }

  private key(t: AuthTarget): string {
    return `${t.registry}|${fingerprint(t.creds)}`;
  }

  private forget(t: AuthTarget, token: string): void {
    const list = this.tokens.get(this.key(t));
    if (list) this.tokens.set(this.key(t), list.filter((c) => c.token !== token));
  }

  private async token(t: AuthTarget, ch: Challenge, offline: boolean): Promise<string> {
    const key = this.key(t);
    const want = grants(t.scopes);
    const now = Date.now();
    const list = (this.tokens.get(key) ?? []).filter((c) => c.expires > now);
    this.tokens.set(key, list);
    const cached = list.find((c) => [...want].every((g) => c.grants.has(g)));
    if (cached && !offline) return cached.token;
    // Layers downloaded in parallel meet the same challenge at once: one token request serves them all.
    const flight = `${key}|${[...want].sort().join(' ')}|${offline}`;
    let pending = this.pending.get(flight);
    if (!pending) {
      pending = this.fetchAndKeep(t, ch, offline, want).finally(() => this.pending.delete(flight));
      this.pending.set(flight, pending);
    }
    return pending;
  }

  private async fetchAndKeep(t: AuthTarget, ch: Challenge, offline: boolean, want: Set<string>): Promise<string> {
    const body = t.creds?.identitytoken ? await this.refreshGrant(t, ch) : await this.getToken(t, ch, offline);
    const token = body.token ?? body.access_token;
    if (!token) throw noToken(ch.params.realm!);
    const key = this.key(t);
    if (body.refresh_token) this.refreshTokens.set(key, body.refresh_token);
    const seconds = body.expires_in && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    const list = this.tokens.get(key) ?? [];
    list.push({ token, expires: Date.now() + (seconds - EXPIRY_MARGIN_SECONDS) * 1000, grants: want });
    this.tokens.set(key, list);
    return token;
  }

  private async getToken(t: AuthTarget, ch: Challenge, offline: boolean): Promise<TokenResponse> {
    const url = new URL(ch.params.realm!);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    for (const s of t.scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, Accept: 'application/json' };
    if (t.creds?.username !== undefined) {
      headers.Authorization = basic(t.creds.username, t.creds.password ?? '');
      url.searchParams.set('account', t.creds.username);
      if (offline) { url.searchParams.set('offline_token', 'true'); url.searchParams.set('client_id', CLIENT_ID); }
    }
    return this.fetchToken(url.toString(), { method: 'GET', headers }, t);
  }

  private async refreshGrant(t: AuthTarget, ch: Challenge): Promise<TokenResponse> {
    const form = new URLSearchParams({
      grant_type: 'refresh_token', refresh_token: t.creds!.identitytoken!, client_id: CLIENT_ID, access_type: 'offline',
    });
    if (ch.params.service) form.set('service', ch.params.service);
    if (t.scopes.length) form.set('scope', t.scopes.join(' '));
    const headers = { 'User-Agent': this.userAgent, 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
    return this.fetchToken(ch.params.realm!, { method: 'POST', headers, body: form.toString() }, t);
  }

  private async fetchToken(url: string, init: { method: string; headers: Record<string, string>; body?: string }, t: AuthTarget): Promise<TokenResponse> {
    const res = await send(url, init, this.timeoutMs);
    if (res.status === 401 && (t.creds?.username !== undefined || t.creds?.identitytoken)) {
      await res.body?.cancel();
      throw incorrectCredentials();
    }
    if (!res.ok) throw await errorFromResponse(res);
    const text = await readBody(res, 1 << 20, this.timeoutMs, 'token response');
    try {
      return JSON.parse(text.toString('utf8')) as TokenResponse;
    } catch {
      throw noToken(url);
    }
  }
}
