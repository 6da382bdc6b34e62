/** Fetching and storing manifests and indexes, by tag or digest, verified against their digest. */
import { DigestMismatchError, RegistryError, errorFromResponse } from './errors.js';
import { digestOf, isDigest, parseDigest, sha256Digest } from './digest.js';
import { MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST } from './media-types.js';
import { checkReference, checkRepo, displayReference } from './names.js';
import { pullScope, pushScope, type Requester } from './requester.js';
import { readBody } from './transport.js';
import type { Credentials, FetchedManifest } from './types.js';

/** containerd's limit: a manifest is small, and a larger answer is not one. */
export const MAX_MANIFEST_BYTES = 4 << 20;

function mediaTypeOf(contentType: string | null, bytes: Buffer): string {
  const type = contentType?.split(';')[0]!.trim();
  if (type && type !== 'application/json' && type !== 'text/plain' && type !== 'application/octet-stream') return type;
  // Some registries serve every manifest as JSON; the document then says what it is.
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown; config?: unknown };
    if (doc.mediaType) return doc.mediaType;
    return doc.manifests ? OCI_INDEX : OCI_MANIFEST;
  } catch {
    return type ?? OCI_MANIFEST;
  }
}

export async function getManifest(
  r: Requester, registry: string, repo: string, reference: string, creds?: Credentials,
): Promise<FetchedManifest> {
  const res = await r.request({
    registry, method: 'GET', path: `/v2/${checkRepo(repo)}/manifests/${checkReference(reference)}`,
    scopes: [pullScope(repo)], creds, headers: { Accept: MANIFEST_ACCEPT },
  });
  if (res.status === 404) {
    const err = await errorFromResponse(res);
    throw new RegistryError(err.code, `manifest for ${displayReference(registry, repo, reference)} not found: ${err.message}`, 404);
  }
  if (!res.ok) throw await errorFromResponse(res);
  const bytes = await readBody(res, MAX_MANIFEST_BYTES, r.timeoutMs, `manifest ${reference}`);
  const digest = sha256Digest(bytes);
  // By digest, the bytes must be what was asked for; by tag, they must at least be what the server says they are.
  const claimed = isDigest(reference) ? reference : res.headers.get('docker-content-digest') ?? undefined;
  if (claimed) {
    parseDigest(claimed);
    const actual = digestOf(bytes, claimed);
    if (actual !== claimed) throw new DigestMismatchError(claimed, actual, 'manifest');
  }
  return { bytes, mediaType: mediaTypeOf(res.headers.get('content-type'), bytes), digest };
}

export async function putManifest(
  r: Requester, registry: string, repo: string, reference: string, bytes: Buffer, mediaType: string, creds?: Credentials,
): Promise<string> {
  checkRepo(repo);
  checkReference(reference);
  const digest = sha256Digest(bytes);
  if (isDigest(reference) && digestOf(bytes, reference) !== reference) {
    throw new DigestMismatchError(reference, digestOf(bytes, reference), 'manifest');
  }
  const res = await r.request({
    registry, method: 'PUT', path: `/v2/${repo}/manifests/${reference}`, scopes: [pushScope(repo)], creds,
    headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) }, body: () => bytes,
  });
  if (!res.ok) throw await errorFromResponse(res);
  await res.body?.cancel();
  const claimed = res.headers.get('docker-content-digest');
  if (claimed && claimed.startsWith('sha256:') && claimed !== digest) throw new DigestMismatchError(digest, claimed, 'pushed manifest');
  return digest;
}

