/**
 * Blob uploads: existence checks, cross-repository mounts, and pushes either
 * monolithic (POST, then one PUT with the whole body) or chunked (PATCH each
 * chunk with its Content-Range, then an empty PUT with the digest).
 */
import type { Readable } from 'node:stream';
import { InvalidParameterError } from '../errors/index.js';
import { errorFromResponse } from './errors.js';
import { parseDigest } from './digest.js';
import { checkRepo } from './names.js';
import { pullScope, pushScope, type Requester } from './requester.js';
import type { Credentials } from './types.js';

export interface PushBlobOptions {
  /** Upload in PATCH requests of this many bytes (the registry may ask for more with OCI-Chunk-Min-Length). */
  chunkSize?: number;
}

interface Target { registry: string; repo: string; creds?: Credentials }

const OCTETS = 'application/octet-stream';

export async function blobExists(r: Requester, t: Target, digest: string): Promise<boolean> {
  parseDigest(digest);
  const res = await r.request({
    registry: t.registry, method: 'HEAD', path: `/v2/${checkRepo(t.repo)}/blobs/${digest}`, scopes: [pullScope(t.repo)], creds: t.creds,
  });
  if (res.status !== 404 && !res.ok) throw await errorFromResponse(res);
  await res.body?.cancel();
  return res.ok;
}

/** True when the registry mounted the blob from `fromRepo`; false when it would rather have it uploaded. */
export async function mountBlob(r: Requester, t: Target, digest: string, fromRepo: string): Promise<boolean> {
  parseDigest(digest);
  const query = new URLSearchParams({ mount: digest, from: checkRepo(fromRepo) });
  const res = await r.request({
    registry: t.registry, method: 'POST', path: `/v2/${checkRepo(t.repo)}/blobs/uploads/?${query}`,
    scopes: [pushScope(t.repo), pullScope(fromRepo)], creds: t.creds, headers: { 'Content-Length': '0' },
  });
  if (res.status !== 201 && res.status !== 202) throw await errorFromResponse(res);
  await res.body?.cancel();
  if (res.status === 201) return true;
  // 202: the registry opened an upload instead; nothing will be sent to it.
  await cancelUpload(r, t, res.headers.get('location'));
  return false;
}

export async function pushBlob(
  r: Requester, t: Target, digest: string, size: number, source: () => Readable, opts: PushBlobOptions = {},
): Promise<void> {
  parseDigest(digest);
  const start = await r.request({
    registry: t.registry, method: 'POST', path: `/v2/${checkRepo(t.repo)}/blobs/uploads/`,
    scopes: [pushScope(t.repo)], creds: t.creds, headers: { 'Content-Length': '0' },
  });
  if (start.status !== 202) throw await errorFromResponse(start);
  await start.body?.cancel();
  const location = start.headers.get('location');
  if (!location) throw new InvalidParameterError(`registry ${t.registry} opened an upload without a Location`);
  try {
    if (opts.chunkSize && opts.chunkSize > 0) {
      const min = Number(start.headers.get('oci-chunk-min-length') ?? 0) || 0;
      await chunked(r, t, location, digest, size, source, Math.max(opts.chunkSize, min));
    } else {
      await finish(r, t, location, digest, { length: size, body: source });
    }
  } catch (err) {
    await cancelUpload(r, t, location);
    throw err;
  }
}

async function chunked(
  r: Requester, t: Target, first: string, digest: string, size: number, source: () => Readable, chunkSize: number,
): Promise<void> {
  let location = first;
  let offset = 0;
  for await (const piece of pieces(source(), chunkSize)) {
    const res = await r.request({
      registry: t.registry, method: 'PATCH', path: location, scopes: [pushScope(t.repo)], creds: t.creds, body: () => piece,
      headers: { 'Content-Type': OCTETS, 'Content-Length': String(piece.length), 'Content-Range': `${offset}-${offset + piece.length - 1}` },
    });
    if (res.status !== 202) throw await errorFromResponse(res);
    await res.body?.cancel();
    location = res.headers.get('location') ?? location;
    offset += piece.length;
  }
  if (offset !== size) throw new InvalidParameterError(`blob ${digest}: the source gave ${offset} bytes, not ${size}`);
  await finish(r, t, location, digest, { length: 0 });
}

/** The closing PUT ?digest=, with the whole body (monolithic) or none (after chunks). */
async function finish(
  r: Requester, t: Target, location: string, digest: string, content: { length: number; body?: () => Readable },
): Promise<void> {
  const url = new URL(r.url(t.registry, location));
  url.searchParams.set('digest', digest);
  const res = await r.request({
    registry: t.registry, method: 'PUT', path: url.toString(), scopes: [pushScope(t.repo)], creds: t.creds,
    headers: { 'Content-Type': OCTETS, 'Content-Length': String(content.length) }, body: content.body,
  });
  if (res.status !== 201 && res.status !== 204) throw await errorFromResponse(res);
  await res.body?.cancel();
}

async function cancelUpload(r: Requester, t: Target, location: string | null): Promise<void> {
  if (!location) return;
  await r.request({ registry: t.registry, method: 'DELETE', path: location, scopes: [pushScope(t.repo)], creds: t.creds })
    .then((res) => res.body?.cancel(), () => {});
}

/** The source cut into pieces of exactly `size` bytes (the last one shorter). */
async function* pieces(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let have = 0;
  for await (const chunk of source) {
    held.push(chunk);
    have += chunk.length;
    while (have >= size) {
      const all = Buffer.concat(held);
      yield all.subarray(0, size);
      held = [all.subarray(size)];
      have -= size;
    }
  }
  if (have > 0) yield Buffer.concat(held);
}
