/**
 * A tiny Docker token server for tests: it answers the registry's Bearer
 * challenge the way Docker Hub's auth service does (GET with Basic
 * credentials, or the OAuth2 POST with a refresh token), and signs JWTs with a
 * throwaway self-signed RSA certificate that the registry trusts through
 * `auth.token.rootcertbundle`.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface TokenRequest {
  method: string;
  /** The user the request authenticated as (Basic or refresh token); undefined when anonymous. */
  user?: string;
  scopes: string[];
  grantType?: string;
}

export interface TokenServerOptions {
  users: Record<string, string>;
  /** Anonymous requests get `pull` on every repository; without it they get no access at all. */
  anonymousPull?: boolean;
  ttlSeconds?: number;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Every token request seen, oldest first (to check caching). */
  requests: TokenRequest[];
  stop(): Promise<void>;
}

export const TOKEN_SERVICE = 'berth-test-registry';
export const TOKEN_ISSUER = 'berth-test-issuer';

/** Writes a self-signed RSA key and certificate into `dir` with openssl. */
function makeCert(dir: string): { key: KeyObject; certPath: string; certDer: Buffer } {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath,
    '-days', '2', '-subj', '/CN=berth-test-token-issuer'], { stdio: 'ignore' });
  const certDer = new X509Certificate(readFileSync(certPath)).raw;
  return { key: createPrivateKey(readFileSync(keyPath)), certPath, certDer };
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  // repository:library/busybox:pull,push — the name may itself hold a colon (a registry port).
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

export async function startTokenServer(dir: string, opts: TokenServerOptions): Promise<TokenServer> {
  const { key, certPath, certDer } = makeCert(dir);
  const ttl = opts.ttlSeconds ?? 300;
  const requests: TokenRequest[] = [];
  const refreshTokens = new Map<string, string>();

  const issue = (user: string | undefined, scopes: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map(parseScope).filter((s) => s !== undefined).map((s) => ({
      ...s,
      actions: user ? s.actions : opts.anonymousPull && s.type === 'repository' ? s.actions.filter((a) => a === 'pull') : [],
    }));
    // distribution 2.8 finds the signing key through x5c; `aud` must be a plain string there.
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: TOKEN_ISSUER, sub: user ?? '', aud: TOKEN_SERVICE,
      exp: now + ttl, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), key))}`;
  };

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/token') return reply(res, 404, { details: 'not found' });
      if (req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        const grantType = form.get('grant_type') ?? '';
        let user: string | undefined;
        if (grantType === 'refresh_token') user = refreshTokens.get(form.get('refresh_token') ?? '');
        else if (grantType === 'password' && opts.users[form.get('username') ?? ''] === form.get('password')) user = form.get('username')!;
        requests.push({ method: 'POST', user, scopes, grantType });
        if (!user) return reply(res, 401, { details: 'incorrect username or password' });
        const refresh = `rt-${randomBytes(8).toString('hex')}`;
        refreshTokens.set(refresh, user);
        return reply(res, 200, { access_token: issue(user, scopes), refresh_token: refresh, expires_in: ttl });
      }
      const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      let user: string | undefined;
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
      if (basic) {
        const [name, ...rest] = Buffer.from(basic[1]!, 'base64').toString().split(':');
        if (opts.users[name ?? ''] === undefined || opts.users[name!] !== rest.join(':')) {
          requests.push({ method: 'GET', scopes });
          return reply(res, 401, { details: 'incorrect username or password' });
        }
        user = name;
      }
      requests.push({ method: 'GET', user, scopes });
      const body: Record<string, unknown> = { token: issue(user, scopes), expires_in: ttl, issued_at: new Date().toISOString() };
      if (user && url.searchParams.get('offline_token') === 'true') {
        const refresh = `rt-${randomBytes(8).toString('hex')}`;
        refreshTokens.set(refresh, user);
        body.refresh_token = refresh;
      }
      reply(res, 200, body);
    })().catch((err) => reply(res, 500, { details: String(err) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: TOKEN_SERVICE,
    issuer: TOKEN_ISSUER,
    certPath,
    requests,
    stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
