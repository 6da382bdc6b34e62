/**
 * The registry client: the distribution API's operations over one shared
 * authorizer, so a token fetched for one request serves the next. Bytes in,
 * bytes out; what a manifest means is for the caller.
 */
import type { Readable } from 'node:stream';
import { BlobStream, type GetBlobOptions } from './blob-stream.js';
import { errorFromResponse } from './errors.js';
import { HostRules } from './hosts.js';
import { getManifest, putManifest } from './manifests.js';
import { hostPlatform, selectPlatform } from './platform.js';
import { Requester } from './requester.js';
import { listTags } from './tags.js';
import { blobExists, mountBlob, pushBlob, type PushBlobOptions } from './upload.js';
import type { Credentials, Descriptor, FetchedManifest, Platform, RegistryClientOptions } from './types.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

export interface PingResult {
  /** How the registry asked to be authenticated: none, basic or bearer. */
  scheme: string;
  /** A refresh token the token server handed out for these credentials (docker's IdentityToken). */
  identityToken?: string;
}

export class RegistryClient {
  private readonly r: Requester;

  constructor(opts: RegistryClientOptions = {}) {
    this.r = new Requester(new HostRules(opts.insecureRegistries), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.userAgent ?? 'berth');
  }

  /** The API base a registry name maps to, e.g. docker.io → https://registry-1.docker.io */
  baseUrl(registry: string): string {
    return this.r.hosts.baseUrl(registry);
  }

  /** Checks that /v2/ answers and accepts the credentials (docker login). */
  async ping(registry: string, creds?: Credentials): Promise<PingResult> {
    const res = await this.r.request({ registry, method: 'GET', path: '/v2/', scopes: [], creds, offline: true });
    if (!res.ok) throw await errorFromResponse(res);
    await res.body?.cancel();
    const scheme = this.r.auth.scheme(registry) ?? 'none';
    return { scheme, identityToken: scheme === 'bearer' ? this.r.refreshToken(registry, creds) : undefined };
  }

  getManifest(registry: string, repo: string, reference: string, creds?: Credentials): Promise<FetchedManifest> {
    return getManifest(this.r, registry, repo, reference, creds);
  }

  putManifest(registry: string, repo: string, reference: string, bytes: Buffer, mediaType: string, creds?: Credentials): Promise<string> {
    return putManifest(this.r, registry, repo, reference, bytes, mediaType, creds);
  }

  /** Every tag of the repository, in the registry's order, through all the pages it answers in. */
  listTags(registry: string, repo: string, creds?: Credentials): Promise<string[]> {
    return listTags(this.r, registry, repo, creds);
  }

  selectPlatform(indexBytes: Buffer | string, want: Partial<Platform> = hostPlatform()): Descriptor {
    return selectPlatform(indexBytes, want);
  }

  /** The blob's bytes, verified against `digest` as they stream; resolves once the server has answered. */
  getBlob(registry: string, repo: string, digest: string, creds?: Credentials, opts?: GetBlobOptions): Promise<BlobStream> {
    return BlobStream.open(this.r, { registry, repo, digest, creds }, opts);
  }

  blobExists(registry: string, repo: string, digest: string, creds?: Credentials): Promise<boolean> {
    return blobExists(this.r, { registry, repo, creds }, digest);
  }

  mountBlob(registry: string, repo: string, digest: string, fromRepo: string, creds?: Credentials): Promise<boolean> {
    return mountBlob(this.r, { registry, repo, creds }, digest, fromRepo);
  }

  /** `source` is called for each attempt (a retry after a 401 needs the bytes again). */
  pushBlob(
    registry: string, repo: string, digest: string, size: number, source: () => Readable, creds?: Credentials, opts?: PushBlobOptions,
  ): Promise<void> {
    return pushBlob(this.r, { registry, repo, creds }, digest, size, source, opts);
  }
}
