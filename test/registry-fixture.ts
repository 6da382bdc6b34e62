/**
 * A real CNCF distribution registry (Debian's `docker-registry`) for tests, on
 * a free loopback port with its storage in a fresh temporary directory. With
 * `auth: 'htpasswd'` it takes Basic credentials (bcrypt, made by apache2-utils'
 * htpasswd); with `auth: 'token'` it sends Bearer challenges to a token server
 * started here. Every registry started is killed when the test process exits,
 * even if a test forgets `stop()`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTokenServer, type TokenServer } from './registry-token-server.js';

export { startTokenServer, TOKEN_ISSUER, TOKEN_SERVICE, type TokenRequest, type TokenServer } from './registry-token-server.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export type RegistryAuthMode = 'none' | 'htpasswd' | 'token';

export interface RegistryOptions {
  auth?: RegistryAuthMode;
  /** Users for htpasswd or the token server; defaults to DEFAULT_USERS. */
  users?: Record<string, string>;
  /** Token mode: anonymous clients may pull (as on Docker Hub). */
  anonymousPull?: boolean;
  /** Token mode: lifetime of issued tokens. */
  tokenTtlSeconds?: number;
}

export interface TestRegistry {
  /** host:port, as an image reference names it: 127.0.0.1:PORT */
  host: string;
  url: string;
  auth: RegistryAuthMode;
  dir: string;
  storageDir: string;
  users: Record<string, string>;
  tokenServer?: TokenServer;
  /** The file that holds a blob's bytes in the registry's storage. */
  blobDataPath(digest: string): string;
  /** Flips a byte of the first layer of `repo:tag` in the registry's storage; the result puts it back. */
  corruptLayer(repo: string, tag: string): Promise<() => void>;
  log(): string;
  stop(): Promise<void>;
}

export const DEFAULT_USERS: Record<string, string> = { alice: 'wonderland', bob: 's3cret:with:colons' };

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function configYaml(storageDir: string, port: number, auth: string): string {
  return `version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storageDir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: berth-test-secret
${auth}`;
}

function authYaml(mode: RegistryAuthMode, dir: string, users: Record<string, string>, token?: TokenServer): string {
  if (mode === 'htpasswd') {
    const lines = Object.entries(users).map(([u, p]) =>
      execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim());
    writeFileSync(join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
    return `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  if (mode === 'token' && token) {
    return `auth:\n  token:\n    realm: ${token.realm}\n    service: ${token.service}\n    issuer: ${token.issuer}\n    rootcertbundle: ${token.certPath}\n`;
  }
  return '';
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** Starts one registry; its port is picked free and retried if another test grabs it first. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const users = opts.users ?? DEFAULT_USERS;
  const dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const storageDir = join(dir, 'storage');
  const tokenServer = auth === 'token'
    ? await startTokenServer(dir, { users, anonymousPull: opts.anonymousPull, ttlSeconds: opts.tokenTtlSeconds })
    : undefined;
  const authSection = authYaml(auth, dir, users, tokenServer);
  let lastLog = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const configPath = join(dir, 'config.yml');
    writeFileSync(configPath, configYaml(storageDir, port, authSection));
    const proc = spawn(REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let logText = '';
    proc.stdout!.on('data', (b: Buffer) => { logText += b.toString(); });
    proc.stderr!.on('data', (b: Buffer) => { logText += b.toString(); });
    let exited = false;
    const exit = new Promise<void>((r) => proc.on('exit', () => { exited = true; live.delete(proc); r(); }));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    while (!exited && Date.now() < deadline && !(await answers(url))) await new Promise((r) => setTimeout(r, 50));
    if (!exited && Date.now() < deadline) {
      const stop = async () => {
        if (!exited) {
          proc.kill('SIGTERM');
          const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await exit;
          clearTimeout(killer);
        }
        await tokenServer?.stop();
        await rm(dir, { recursive: true, force: true });
      };
      const blobDataPath = (digest: string) => {
        const hex = digest.replace(/^sha256:/, '');
        return join(storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      };
      return {
        host: `127.0.0.1:${port}`, url, auth, dir, storageDir, users, tokenServer, blobDataPath,
        log: () => logText,
        stop,
        corruptLayer: async (repo, tag) => {
          const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
          const manifest = await res.json() as { layers: { digest: string }[] };
          const blob = blobDataPath(manifest.layers[0]!.digest);
          const good = readFileSync(blob);
          const bad = Buffer.from(good);
          bad[bad.length - 10]! ^= 0xff;
          writeFileSync(blob, bad);
          return () => writeFileSync(blob, good);
        },
      };
    }
    proc.kill('SIGKILL');
    await exit;
    lastLog = logText;
    if (!/address already in use/.test(logText)) break;
  }
  await tokenServer?.stop();
  await rm(dir, { recursive: true, force: true });
  throw new Error(`docker-registry did not start:\n${lastLog}`);
}
