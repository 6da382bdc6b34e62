/**
 * `pull`: manifest (an index resolved to this platform), config, then the
 * layers three at a time, as dockerd does. Each blob is verified while it
 * streams into the content store, and unpacked from the same stream as it
 * arrives (dockerd downloads first, then unpacks). A layer already unpacked is not
 * fetched at all. Completed blobs stay after a failure, so pulling again
 * resumes from them; a partial one is discarded.
 */
import { PassThrough, Transform, type Readable } from 'node:stream';
import { InvalidParameterError } from '../errors/index.js';
import type { Credentials, Platform, RegistryClient } from '../registry/index.js';
import { hostPlatform, isIndexMediaType } from '../registry/index.js';
import type { ImageService } from './index.js';
import { chainIdsOf, parseManifest } from './manifest.js';
import { canonical, familiar, familiarRepository, isNameOnly, parseReference, repository, type Reference } from './reference.js';
import type { Image, ImageConfig } from './types.js';

export interface ProgressEvent { id?: string; status: string; current?: number; total?: number }

export interface PullOptions {
  platform?: Platform;
  creds?: Credentials;
  onProgress: (ev: ProgressEvent) => void;
  /** Called once the manifest is known, before any layer is fetched. */
  onStart?: () => void;
}

export interface PullResult { image: Image; digest: string; upToDate: boolean }

const CONCURRENT_DOWNLOADS = 3;

/** `linux/amd64`, `linux/arm64/v8` */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture) throw new Error(`invalid platform ${s}: expected os/arch[/variant]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try { await fn(items[i]!, i); } catch (e) { failed ??= e; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/**
 * Holds a blob to the size its descriptor declares: a registry (or a man in the middle) that sends
 * more is cut off at the first byte too many, instead of filling the disk before the digest check.
 */
function sizeGuard(digest: string, declared: number, source: NodeJS.ReadableStream & { destroy?: (e?: Error) => void }): Transform {
  let seen = 0;
  const guard = new Transform({
    transform(chunk: Buffer, _e, cb) {
      seen += chunk.length;
      if (typeof declared === 'number' && seen > declared) {
        const err = new InvalidParameterError(`blob ${digest} is larger than the ${declared} bytes its manifest declares`);
        source.destroy?.(err);
        cb(err);
        return;
      }
      cb(null, chunk);
    },
    flush(cb) {
      cb(typeof declared === 'number' && seen !== declared
        ? new InvalidParameterError(`blob ${digest} has ${seen} bytes, but its manifest declares ${declared}`) : null);
    },
  });
  source.on('error', (e: Error) => guard.destroy(e));
  return guard;
}

export async function pullImage(images: ImageService, registry: RegistryClient, refText: string, opts: PullOptions): Promise<PullResult> {
  const ref = parseReference(refText);
  const result = await pullOne(images, registry, ref, opts);
  opts.onProgress({ status: `${result.upToDate ? 'Status: Image is up to date for' : 'Status: Downloaded newer image for'} ${familiar(ref)}` });
  return result;
}

/**
 * `pull -a`: every tag the registry lists, one after the other, each as a pull of its own (a tag
 * pulled stays pulled if a later one fails, as with dockerd), then one status line for the repository.
 */
export async function pullAllTags(images: ImageService, registry: RegistryClient, name: string, opts: PullOptions): Promise<PullResult[]> {
  if (!isNameOnly(name)) throw new InvalidParameterError("tag can't be used with --all-tags/-a");
  const ref = parseReference(name);
  const tags = await registry.listTags(ref.domain, ref.path, opts.creds);
  const results: PullResult[] = [];
  for (const tag of tags) results.push(await pullOne(images, registry, { ...ref, tag, digest: undefined }, opts));
  // As dockerd: "up to date" unless some tag brought an image or moved; no tags at all is up to date too.
  const upToDate = results.every((r) => r.upToDate);
  opts.onProgress({ status: `${upToDate ? 'Status: Image is up to date for' : 'Status: Downloaded newer image for'} ${familiarRepository(ref)}` });
  return results;
}

/** One tag or digest, up to its "Digest:" line; the caller says what it amounts to. */
async function pullOne(images: ImageService, registry: RegistryClient, ref: Reference, opts: PullOptions): Promise<PullResult> {
  const host = ref.domain;
  const repo = ref.path;
  const reference = ref.digest ?? ref.tag ?? 'latest';
  const progress = opts.onProgress;

  const top = await registry.getManifest(host, repo, reference, opts.creds);
  let manifestBytes = top.bytes;
  if (isIndexMediaType(top.mediaType)) {
    const desc = registry.selectPlatform(top.bytes, opts.platform ?? hostPlatform());
    manifestBytes = (await registry.getManifest(host, repo, desc.digest, opts.creds)).bytes;
  }
  const manifest = parseManifest(manifestBytes);
  opts.onStart?.();
  progress({ id: ref.digest ? ref.digest : reference, status: `Pulling from ${repo}` });

  const tag = ref.tag && !ref.digest ? canonical({ ...ref, digest: undefined }) : undefined;
  const repoDigest = `${repository(ref)}@${top.digest}`;
  const existing = await images.find(manifest.config.digest);
  if (existing && (await images.content.has(top.digest) || existing.manifestDigest === top.digest)) {
    // As dockerd: "up to date" only when the tag already named this image; a tag set now is "newer".
    const upToDate = !tag || (await images.find(tag))?.id === existing.id;
    const image = await images.addImage(manifestBytes, { tag, repoDigest });
    progress({ status: `Digest: ${top.digest}` });
    return { image, digest: top.digest, upToDate };
  }

  if (!(await images.content.has(manifest.config.digest))) {
    const body = await registry.getBlob(host, repo, manifest.config.digest, opts.creds);
    await images.content.putStream(body.pipe(sizeGuard(manifest.config.digest, manifest.config.size, body)), manifest.config.digest);
  }
  const config = await images.content.readJson<ImageConfig>(manifest.config.digest);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new Error(`image config lists ${diffIds.length} layers but the manifest has ${manifest.layers.length}`);
  }
  const chainIds = chainIdsOf(diffIds);
  const short = (digest: string) => digest.slice('sha256:'.length, 'sha256:'.length + 12);

  const todo: number[] = [];
  for (let i = 0; i < manifest.layers.length; i++) {
    const id = short(manifest.layers[i]!.digest);
    if (await images.hasLayer(chainIds[i]!)) progress({ id, status: 'Already exists' });
    else { progress({ id, status: 'Pulling fs layer' }); todo.push(i); }
  }
  todo.slice(CONCURRENT_DOWNLOADS).forEach((i) => progress({ id: short(manifest.layers[i]!.digest), status: 'Waiting' }));

  const unpacking: Promise<void>[] = [];
  let downloadFailure: unknown;
  await pool(todo, CONCURRENT_DOWNLOADS, async (i) => {
    const layer = manifest.layers[i]!;
    const id = short(layer.digest);
    const extract = (from?: { source: Readable; verified: Promise<unknown> }) =>
      images.ensureUnpacked(chainIds[i]!, layer.digest, layer.mediaType, diffIds[i]!, from);
    const extracted = (done: Promise<unknown>) => unpacking.push(done.then(() => {
      progress({ id, status: 'Extracting', current: layer.size, total: layer.size });
      progress({ id, status: 'Pull complete' });
    }));
    if (await images.content.has(layer.digest)) {
      // Fetched by an earlier pull that did not finish: unpacked from the store, beside the next downloads.
      progress({ id, status: 'Download complete' });
      progress({ id, status: 'Extracting', current: 0, total: layer.size });
      extracted(extract());
      return;
    }
    const body = await registry.getBlob(host, repo, layer.digest, opts.creds);
    let current = 0;
    const count = new Transform({
      transform(chunk: Buffer, _e, cb) {
        current += chunk.length;
        progress({ id, status: 'Downloading', current, total: layer.size });
        cb(null, chunk);
      },
    });
    body.on('error', (e: Error) => count.destroy(e));
    const guard = sizeGuard(layer.digest, layer.size, body);
    guard.on('error', (e: Error) => count.destroy(e));
    const blob = body.pipe(guard).pipe(count);
    // The blob streams into the store and into tar at once: the layer unpacks while it downloads
    // (the slower of the two sets the pace). Its directory appears only once the blob matched its
    // digest. A failed download stops the unpack; a failed unpack lets the download finish (it is
    // held to its declared size), so a blob that does not match its digest is reported as that.
    const toStore = new PassThrough({ highWaterMark: 1 << 20 });
    const toUnpack = new PassThrough({ highWaterMark: 1 << 20 });
    // Their errors reach the pull through putStream and the unpack; an unpack that is already over has no listener left.
    for (const t of [toStore, toUnpack]) t.on('error', () => {});
    blob.on('error', (e: Error) => { toStore.destroy(e); toUnpack.destroy(e); });
    blob.pipe(toStore);
    blob.pipe(toUnpack);
    const stored = images.content.putStream(toStore, layer.digest);
    stored.catch((e: Error) => blob.destroy(e)); // a full disk or a digest mismatch stops the unpack too
    const unpacked = extract({ source: toUnpack, verified: stored });
    // An unpack that ends without reading everything (refused, or made meanwhile by another pull) must not hold the download.
    const drain = () => { toUnpack.resume(); };
    unpacked.then(drain, drain);
    extracted(Promise.all([stored, unpacked]));
    await stored;
    progress({ id, status: 'Verifying Checksum' });
    progress({ id, status: 'Download complete' });
    progress({ id, status: 'Extracting', current: 0, total: layer.size });
  }).catch((e: unknown) => { downloadFailure = e; });
  // Every unpack has ended (and cleaned up) before the pull reports; a download's failure comes first.
  const results = await Promise.allSettled(unpacking);
  if (downloadFailure !== undefined) throw downloadFailure;
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;

  // The top manifest (an index, when there was one) is kept too, so `save` can hand it back unchanged.
  if (top.bytes !== manifestBytes) await images.content.put(top.bytes);
  const image = await images.addImage(manifestBytes, { tag, repoDigest });
  images.recordBlobSource(host, repo, manifest.layers.map((l) => l.digest));
  progress({ status: `Digest: ${top.digest}` });
  return { image, digest: top.digest, upToDate: false };
}
