/**
 * `push`: layers and config first (skipping blobs the registry has, mounting
 * from another repository of the same registry when berth knows one that has
 * the blob), then the manifest, byte for byte as stored, so the digest the
 * registry reports is the digest berth has.
 */
import { Transform } from 'node:stream';
import { InvalidParameterError, NotFoundError } from '../errors/index.js';
import type { Credentials, RegistryClient } from '../registry/index.js';
import type { ImageService } from './index.js';
import type { ProgressEvent } from './pull.js';
import { canonical, familiarRepository, isNameOnly, parseReference, repository, type Reference } from './reference.js';
import type { Image } from './types.js';

export interface PushOptions {
  creds?: Credentials;
  onProgress: (ev: ProgressEvent) => void;
  /** Blobs larger than this go up in PATCH chunks of this size; smaller ones in one PUT. */
  chunkSize?: number;
}

const CONCURRENT_UPLOADS = 5;
const DEFAULT_CHUNK = 16 << 20;

/**
 * One tag. As with dockerd, the "refers to" line comes first and a missing image fails inside the
 * stream after it: in dockerd's words for a repository with no tags here, or without this one.
 */
export async function pushImage(images: ImageService, registry: RegistryClient, refText: string, opts: PushOptions): Promise<{ digest: string; size: number }> {
  const ref = parseReference(refText);
  const tag = ref.tag ?? 'latest';
  opts.onProgress({ status: `The push refers to repository [${repository(ref)}]` });
  const image = await images.find(canonical({ ...ref, digest: undefined, tag }));
  if (!image) {
    if (!images.tagsIn(repository(ref)).length) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarRepository(ref)}`);
    throw new NotFoundError(`tag does not exist: ${familiarRepository(ref)}:${tag}`);
  }
  return pushOne(images, registry, { ...ref, tag }, image, opts);
}

/**
 * `push -a`: every local tag of the repository, in tag order, one after the other, under one
 * "The push refers to repository" line, as dockerd's pushRepository does. The line comes first, so
 * a repository without tags fails inside the stream, as it does with dockerd.
 */
export async function pushAllTags(images: ImageService, registry: RegistryClient, name: string, opts: PushOptions): Promise<{ tag: string; digest: string; size: number }[]> {
  if (!isNameOnly(name)) throw new InvalidParameterError("tag can't be used with --all-tags/-a");
  const ref = parseReference(name);
  opts.onProgress({ status: `The push refers to repository [${repository(ref)}]` });
  const tags = images.tagsIn(repository(ref));
  if (!tags.length) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarRepository(ref)}`);
  const pushed = [];
  for (const { tag } of tags) {
    // Looked up again: a tag removed or moved since the listing pushes what it names now, or fails as dockerd's does.
    const image = await images.find(canonical({ ...ref, digest: undefined, tag }));
    if (!image) throw new NotFoundError(`tag does not exist: ${familiarRepository(ref)}:${tag}`);
    pushed.push({ tag, ...(await pushOne(images, registry, { ...ref, digest: undefined, tag }, image, opts)) });
  }
  return pushed;
}

/** One tag's layers, config and manifest, down to its "TAG: digest: … size: …" line. */
async function pushOne(images: ImageService, registry: RegistryClient, ref: Reference & { tag: string }, image: Image, opts: PushOptions): Promise<{ digest: string; size: number }> {
  const tag = ref.tag;
  const host = ref.domain;
  const repo = ref.path;
  const progress = opts.onProgress;
  const { bytes, manifest } = await images.manifestOf(image);

  const layers = manifest.layers;
  const short = (d: string) => d.slice(7, 19);
  for (const l of layers) progress({ id: short(l.digest), status: 'Preparing' });
  layers.slice(CONCURRENT_UPLOADS).forEach((l) => progress({ id: short(l.digest), status: 'Waiting' }));

  const upload = async (digest: string, size: number, id?: string) => {
    if (await registry.blobExists(host, repo, digest, opts.creds)) {
      if (id) progress({ id, status: 'Layer already exists' });
      return;
    }
    for (const from of images.blobSources(digest, host).filter((r) => r !== repo)) {
      if (await registry.mountBlob(host, repo, digest, from, opts.creds).catch(() => false)) {
        if (id) progress({ id, status: `Mounted from ${from}` });
        return;
      }
    }
    const stream = () => {
      let current = 0;
      const count = new Transform({
        transform(chunk: Buffer, _e, cb) {
          current += chunk.length;
          if (id) progress({ id, status: 'Pushing', current, total: size });
          cb(null, chunk);
        },
      });
      return images.content.stream(digest).pipe(count);
    };
    const chunk = opts.chunkSize ?? DEFAULT_CHUNK;
    await registry.pushBlob(host, repo, digest, size, stream, opts.creds, size > chunk ? { chunkSize: chunk } : {});
    if (id) progress({ id, status: 'Pushed' });
  };

  // Layers a few at a time, like dockerd's max-concurrent-uploads.
  let next = 0;
  let failed: unknown;
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_UPLOADS, layers.length) }, async () => {
    while (next < layers.length && failed === undefined) {
      const l = layers[next++]!;
      try { await upload(l.digest, l.size, short(l.digest)); } catch (e) { failed ??= e; }
    }
  }));
  if (failed !== undefined) throw failed;
  await upload(manifest.config.digest, manifest.config.size);

  const mediaType = manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  const digest = await registry.putManifest(host, repo, tag, bytes, mediaType, opts.creds);
  images.recordBlobSource(host, repo, layers.map((l) => l.digest));
  images.recordRepoDigest(`${repository(ref)}@${digest}`, image.id);
  progress({ status: `${tag}: digest: ${digest} size: ${bytes.length}` });
  return { digest, size: bytes.length };
}
