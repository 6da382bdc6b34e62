/**
 * The images part: references, the content store, layers and the image
 * records. Other parts see images only through `ImageService`.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ConflictError, InvalidParameterError, NotFoundError, noSuchImage } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { applyChanges } from './changes.js';
import { checkImages, type CheckProblem } from './check.js';
import { ContentStore } from './content-store.js';
import { LAYER_MEDIA_TYPE, layerFromTarball, storeTarStream, type LayerBlob } from './layers.js';
import { compressionOf, unpackStream } from './unpack.js';
import { chainIdsOf, parseManifest } from './manifest.js';
import { canonical, familiarString, parseReference, repository } from './reference.js';
import {
  CONFIG_MEDIA_TYPE, DEFAULT_PATH, MANIFEST_MEDIA_TYPE, goArch,
  type ContainerConfigSection, type HistoryEntry, type Image, type ImageConfig, type Manifest,
} from './types.js';

export * from './types.js';
export { parseReference, familiarString, familiarRepository, canonical, isNameOnly } from './reference.js';
export { applyChanges } from './changes.js';
export type { LayerBlob } from './layers.js';
export type { CheckProblem } from './check.js';
export { saveImages } from './archive-save.js';
export { loadImages } from './archive-load.js';
export { chainIdsOf, parseManifest } from './manifest.js';
export { pullImage, pullAllTags, parsePlatform, type PullOptions, type PullResult, type ProgressEvent } from './pull.js';
export { pushImage, pushAllTags, type PushOptions } from './push.js';

export interface ImportOptions {
  tag?: string;          // e.g. busybox:latest
  changes?: string[];
  message?: string;
  source?: string;       // for history: "-" or a file name
  /** `import --platform`: what the config claims; the layer is taken as it is (dockerd runs nothing to check it). */
  platform?: { os: string; architecture: string; variant?: string };
}

export interface DeleteResponseItem { Untagged?: string; Deleted?: string }

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

export class ImageService {
  readonly content: ContentStore;
  private readonly layersRoot: string;

  constructor(private readonly store: Store, root: string) {
    this.content = new ContentStore(join(root, 'blobs'));
    this.layersRoot = join(root, 'layers');
  }

  async init(): Promise<void> {
    await this.content.init();
    await mkdir(this.layersRoot, { recursive: true });
  }

  /** An image by name (`busybox`, `busybox:1`), full or short ID. */
  async resolve(nameOrId: string): Promise<Image> {
    const id = this.findId(nameOrId);
    if (!id) throw noSuchImage(nameOrId);
    return this.load(id);
  }

  /** Like resolve, but undefined instead of an error. */
  async find(nameOrId: string): Promise<Image | undefined> {
    const id = this.findId(nameOrId);
    return id ? this.load(id) : undefined;
  }

  private findId(nameOrId: string): string | undefined {
    const idLike = nameOrId.replace(/^sha256:/, '');
    if (/^[a-f0-9]{4,64}$/.test(idLike)) {
      const matches = this.store.listImages().filter((i) => hexOf(i.id).startsWith(idLike));
      if (matches.length === 1) return matches[0]!.id;
    }
    try {
      const ref = parseReference(nameOrId);
      if (ref.digest && !ref.tag) {
        return this.store.resolveRepoDigest(canonical(ref)) ?? this.store.listImages().find((i) => i.manifestDigest === ref.digest)?.id;
      }
      return this.store.resolveTag(canonical({ ...ref, digest: undefined }));
    } catch {
      return undefined;
    }
  }

  private async load(id: string): Promise<Image> {
    const row = this.store.getImage(id);
    if (!row) throw noSuchImage(id);
    const config = await this.content.readJson<ImageConfig>(id);
    const chain = this.store.imageChain(id);
    return {
      id,
      config,
      manifestDigest: row.manifestDigest,
      repoTags: this.store.tagsOf(id).map(familiarString),
      repoDigests: this.store.repoDigestsOf(id).map(familiarString),
      parent: this.store.parentOf(id),
      size: row.size,
      created: row.created,
      layerDirs: chain.map((c) => this.layerDir(c)),
      layerSizes: chain.map((c) => this.store.getLayer(c)?.size ?? 0),
    };
  }

  async list(): Promise<Image[]> {
    return Promise.all(this.store.listImages().map((r) => this.load(r.id)));
  }

  layerDir(chainId: string): string {
    return join(this.layersRoot, hexOf(chainId), 'diff');
  }

  /** `docker import`: one layer from a root filesystem tarball. */
  async importTarball(input: Readable, opts: ImportOptions = {}): Promise<Image> {
    const ref = opts.tag ? parseReference(opts.tag) : undefined;
    const layer = await layerFromTarball(this.content, input);
    const created = new Date().toISOString();
    let cfg: ContainerConfigSection = applyChanges({}, opts.changes ?? []);
    if (!cfg.Env?.some((e) => e.startsWith('PATH='))) cfg = { ...cfg, Env: [`PATH=${DEFAULT_PATH}`, ...(cfg.Env ?? [])] };
    const history: HistoryEntry = { created, created_by: '', comment: opts.message || `Imported from ${opts.source ?? '-'}` };
    return this.commitImage([layer], { config: cfg, history: [history], created, platform: opts.platform }, ref ? canonical(ref) : undefined);
  }

  /** Builds config and manifest for layers berth made itself, then adds the image. */
  async commitImage(
    layers: LayerBlob[],
    meta: { config: ContainerConfigSection; history: HistoryEntry[]; created: string; parent?: string; author?: string; platform?: ImportOptions['platform'] },
    tag?: string,
  ): Promise<Image> {
    const config: ImageConfig = {
      ...(meta.author ? { author: meta.author } : {}),
      architecture: meta.platform?.architecture ?? goArch(),
      ...(meta.platform?.variant ? { variant: meta.platform.variant } : {}),
      os: meta.platform?.os ?? 'linux',
      created: meta.created,
      config: meta.config,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: meta.history,
    };
    const configBlob = await this.content.put(JSON.stringify(config));
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: CONFIG_MEDIA_TYPE, digest: configBlob.digest, size: configBlob.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType ?? LAYER_MEDIA_TYPE, digest: l.digest, size: l.size })),
    };
    const img = await this.addImage(Buffer.from(JSON.stringify(manifest)), { tag }).catch(async (e: unknown) => {
      // The image was not made: its config and the layer blobs no image uses go, so a failed import or commit leaves nothing.
      const made = [configBlob.digest, ...layers.map((l) => l.digest)];
      for (const d of made) this.content.recent.delete(d);
      await this.collectGarbage(new Set(made));
      throw e;
    });
    if (meta.parent && meta.parent !== img.id) this.store.setParent(img.id, meta.parent);
    return { ...img, parent: meta.parent };
  }

  /** Whether an image is a build step's intermediate: untagged, with images built on it. */
  isIntermediate(img: Image): boolean {
    return img.repoTags.length === 0 && this.store.childrenOf(img.id).length > 0;
  }

  parentOf(id: string): string | undefined {
    return this.store.parentOf(id);
  }

  cachedBuildStep(key: string): string | undefined {
    const id = this.store.cachedBuildStep(key);
    return id && this.store.getImage(id) ? id : undefined;
  }

  cacheBuildStep(key: string, imageId: string): void {
    this.store.cacheBuildStep(key, imageId);
  }

  /**
   * Records an image from its manifest, byte for byte as given (pull, load
   * and commit all end here). The config and layer blobs must already be in
   * the content store. Missing layers are unpacked and checked against the
   * config's diff IDs; then the image, its tag and its repo digest are
   * recorded in one transaction: until that commit the image does not
   * exist, so a failure leaves nothing half-made.
   */
  async addImage(manifestBytes: Buffer, opts: { tag?: string; repoDigest?: string } = {}): Promise<Image> {
    const manifest = parseManifest(manifestBytes);
    const config = await this.content.readJson<ImageConfig>(manifest.config.digest);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidParameterError(`image config lists ${diffIds.length} layers but the manifest has ${manifest.layers.length}`);
    }
    const chainIds = chainIdsOf(diffIds);
    // allSettled: on a failure no other unpack may still be running when the caller cleans up.
    const unpacked = await Promise.allSettled(manifest.layers.map((l, i) => this.ensureUnpacked(chainIds[i]!, l.digest, l.mediaType, diffIds[i]!)));
    const failed = unpacked.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Layers this call unpacked that no image records would stay on disk for good.
      const made = (i: number) => { const r = unpacked[i]!; return r.status === 'fulfilled' && r.value; };
      await Promise.all(chainIds.map((c, i) => (made(i) && !this.store.getLayer(c) ? rm(join(this.layersRoot, hexOf(c)), { recursive: true, force: true }) : undefined)));
      throw failed.reason;
    }
    const sizes = await Promise.all(chainIds.map((c) => dirSize(this.layerDir(c))));
    manifest.layers.forEach((l, i) => {
      this.store.putLayer({ chainId: chainIds[i]!, diffId: diffIds[i]!, parent: i ? chainIds[i - 1]! : null, blobDigest: l.digest, size: sizes[i]! });
    });
    const stored = await this.content.put(manifestBytes);
    const id = manifest.config.digest;
    const created = config.created ?? new Date(0).toISOString();
    this.store.transaction(() => {
      this.store.putImage({ id, manifestDigest: stored.digest, size: sizes.reduce((a, b) => a + b, 0), created }, chainIds);
      if (opts.tag) this.store.setTag(canonical(parseReference(opts.tag)), id);
      if (opts.repoDigest) this.store.setRepoDigest(opts.repoDigest, id);
    });
    // Recorded now: no longer an operation's work in progress for `system check`.
    for (const d of [id, stored.digest, ...manifest.layers.map((l) => l.digest), ...chainIds.map(hexOf)]) this.content.recent.delete(d);
    return this.load(id);
  }

  /** The local tags of a repository (`docker.io/library/busybox`), sorted by tag. */
  tagsIn(repository: string): { tag: string; imageId: string }[] {
    return this.store.tagsIn(repository);
  }

  /** An image's layers as `commitImage` takes them, to build a new image on top. */
  async layersOf(image: Image): Promise<LayerBlob[]> {
    const { manifest } = await this.manifestOf(image);
    return manifest.layers.map((l, i) => ({
      digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: image.config.rootfs.diff_ids[i]!, uncompressedSize: 0,
    }));
  }

  /** Stores an uncompressed layer tar (from `commit` or a build step) as a gzip blob. */
  async storeLayer(tar: Readable): Promise<LayerBlob> {
    return storeTarStream(this.content, tar);
  }

  async manifestOf(image: Image): Promise<{ bytes: Buffer; manifest: Manifest }> {
    const bytes = await this.content.read(image.manifestDigest);
    return { bytes, manifest: parseManifest(bytes) };
  }

  /** Whether the layer with this chain ID is already unpacked (so a pull can skip its download). */
  async hasLayer(chainId: string): Promise<boolean> {
    return stat(this.layerDir(chainId)).then(() => true, () => false);
  }

  /**
   * Unpacks into a temporary directory and renames, so a layer directory is
   * always complete. True when this call made the directory. `from` unpacks a
   * blob while it downloads (pull): the directory appears only once the blob
   * has also matched its digest (`verified`).
   */
  async ensureUnpacked(chainId: string, blobDigest: string, mediaType: string, diffId: string, from?: { source: Readable; verified: Promise<unknown> }): Promise<boolean> {
    const final = join(this.layersRoot, hexOf(chainId));
    if (await stat(join(final, 'diff')).then(() => true, () => false)) return false;
    const tmp = `${final}.tmp-${randomBytes(4).toString('hex')}`;
    this.content.recent.add(hexOf(chainId));
    try {
      await unpackStream(from?.source ?? this.content.stream(blobDigest), compressionOf(mediaType), join(tmp, 'diff'), diffId);
      if (from) await from.verified;
      return await rename(tmp, final).then(() => true, (e: NodeJS.ErrnoException) => {
        // Another pull of the same layer finished first: its copy is as good as ours.
        if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
        return false;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async tag(source: string, target: string): Promise<void> {
    const img = await this.resolve(source);
    this.store.setTag(canonical(parseReference(target)), img.id);
  }

  /**
   * `docker rmi`: untags a name; deletes the image when no tag is left (or
   * when asked by ID). Images used by containers need `force`.
   */
  async remove(nameOrId: string, opts: { force?: boolean; noPrune?: boolean; inUse: (id: string) => string[] }): Promise<DeleteResponseItem[]> {
    const img = await this.resolve(nameOrId);
    const out: DeleteResponseItem[] = [];
    const byId = hexOf(img.id).startsWith(nameOrId.replace(/^sha256:/, ''));
    const tags = this.store.tagsOf(img.id);
    if (!byId) {
      const ref = canonical(parseReference(nameOrId));
      if (tags.length > 1) {
        this.store.deleteTag(ref);
        return [{ Untagged: familiarString(ref) }, ...this.dropRepoDigests(img.id, ref)];
      }
    } else if (tags.length > 1 && !opts.force) {
      throw new ConflictError(`conflict: unable to delete ${hexOf(img.id).slice(0, 12)} (must be forced) - image is referenced in multiple repositories`);
    }
    if (this.store.childrenOf(img.id).length) {
      throw new ConflictError(`conflict: unable to delete ${hexOf(img.id).slice(0, 12)} (cannot be forced) - image has dependent child images`);
    }
    const users = opts.inUse(img.id);
    if (users.length && !opts.force) {
      throw new ConflictError(`conflict: unable to remove repository reference "${nameOrId}" (must force) - container ${users[0]!.slice(0, 12)} is using its referenced image ${hexOf(img.id).slice(0, 12)}`);
    }
    for (const t of tags) out.push({ Untagged: familiarString(t) });
    if (users.length) {
      // Forced while in use: docker untags but keeps the image for its containers.
      for (const t of tags) this.store.deleteTag(t);
      for (const t of tags) out.push(...this.dropRepoDigests(img.id, t));
      return out;
    }
    // dockerd lists the image's repository digests as untagged too (deleteImage drops them).
    for (const d of this.store.repoDigestsOf(img.id)) out.push({ Untagged: familiarString(d) });
    const parent = this.store.parentOf(img.id);
    await this.deleteImage(img);
    out.push({ Deleted: img.id });
    // A build's intermediate images go with the last image that needed them, as docker's do (unless `noprune`).
    for (let p = opts.noPrune ? undefined : parent; p;) {
      if (this.store.tagsOf(p).length || this.store.childrenOf(p).length || opts.inUse(p).length || !this.store.getImage(p)) break;
      const next = this.store.parentOf(p);
      await this.deleteImage(await this.load(p));
      out.push({ Deleted: p });
      p = next;
    }
    return out;
  }

  /**
   * As dockerd's rmi: once `tag` is gone and the image has no other tag in that repository, its
   * `repo@sha256:…` references of that repository go too, each listed as untagged.
   */
  private dropRepoDigests(imageId: string, tag: string): DeleteResponseItem[] {
    const repo = (r: string) => repository(parseReference(r));
    const name = repo(tag);
    if (this.store.tagsOf(imageId).some((t) => repo(t) === name)) return [];
    const out: DeleteResponseItem[] = [];
    for (const d of this.store.repoDigestsOf(imageId)) {
      if (repo(d) !== name) continue;
      this.store.deleteRepoDigest(d);
      out.push({ Untagged: familiarString(d) });
    }
    return out;
  }

  /** `image prune`: dangling images (or, with `onlyDangling: false`, all unused ones) not used by a container. */
  async prune(opts: { onlyDangling: boolean; inUse: (id: string) => string[]; match?: (img: Image) => boolean }): Promise<{ deleted: DeleteResponseItem[]; reclaimed: number }> {
    const deleted: DeleteResponseItem[] = [];
    let reclaimed = 0;
    const before = await this.layersSize();
    for (const img of await this.list()) {
      if (opts.onlyDangling && img.repoTags.length) continue;
      if (opts.match && !opts.match(img)) continue;
      if (opts.inUse(img.id).length || this.store.childrenOf(img.id).length || !this.store.getImage(img.id)) continue;
      for (const t of this.store.tagsOf(img.id)) deleted.push({ Untagged: familiarString(t) });
      await this.deleteImage(img);
      deleted.push({ Deleted: img.id });
      // Its parents that nothing else needs go with it (dockerd deletes an image's unused parents too), so
      // an image listed before its child is not left behind.
      for (let p = img.parent; p;) {
        if ((opts.onlyDangling && this.store.tagsOf(p).length) || this.store.childrenOf(p).length || opts.inUse(p).length || !this.store.getImage(p)) break;
        const parent = await this.load(p);
        for (const t of this.store.tagsOf(p)) deleted.push({ Untagged: familiarString(t) });
        await this.deleteImage(parent);
        deleted.push({ Deleted: p });
        p = parent.parent;
      }
    }
    reclaimed = before - await this.layersSize();
    return { deleted, reclaimed };
  }

  /** Bytes of all unpacked layers, each counted once. */
  async layersSize(): Promise<number> {
    return this.store.totalLayerSize();
  }

  /** Remembers which registry repositories hold these blobs, so a push to another repository there can mount them. */
  recordBlobSource(registry: string, repo: string, digests: string[]): void {
    this.store.transaction(() => { for (const d of digests) this.store.addBlobSource(d, registry, repo); });
  }

  recordRepoDigest(ref: string, imageId: string): void {
    this.store.setRepoDigest(ref, imageId);
  }

  blobSources(digest: string, registry: string): string[] {
    return this.store.blobSources(digest, registry);
  }

  /**
   * Forgets an image, then removes what only it used: unpacked layers no other image lists, and blobs (its
   * manifest, config, layer blobs) no remaining image's manifest names. A layer can be the same diff under
   * different compressed blobs, and the same blob can sit in several images, so both are checked.
   */
  private async deleteImage(img: Image): Promise<void> {
    const { manifest } = await this.manifestOf(img).catch(() => ({ manifest: undefined }));
    this.store.deleteImage(img.id);
    const candidates = new Set([img.manifestDigest, img.id, ...(manifest?.layers.map((l) => l.digest) ?? [])]);
    await this.collectGarbage(candidates);
  }

  /** Blobs the remaining images still need: their manifests, configs and layer blobs. */
  private async referencedBlobs(): Promise<Set<string>> {
    const used = new Set<string>();
    for (const row of this.store.listImages()) {
      used.add(row.id);
      used.add(row.manifestDigest);
      const bytes = await this.content.read(row.manifestDigest).catch(() => undefined);
      if (bytes) for (const l of parseManifest(bytes).layers) used.add(l.digest);
    }
    return used;
  }

  /** Removes unpacked layers no image lists, and the given blobs (plus those layers' blobs) no image needs. */
  async collectGarbage(candidates = new Set<string>()): Promise<void> {
    for (let layers = this.store.unreferencedLayers(); layers.length; layers = this.store.unreferencedLayers()) {
      for (const chainId of layers) {
        const l = this.store.getLayer(chainId);
        this.store.deleteLayer(chainId);
        await rm(join(this.layersRoot, hexOf(chainId)), { recursive: true, force: true });
        if (l) candidates.add(l.blobDigest);
      }
    }
    if (!candidates.size) return;
    const used = await this.referencedBlobs();
    for (const digest of candidates) if (!used.has(digest)) await this.content.delete(digest);
  }

  /**
   * `system check` of the image store (see check.ts); `inUse` names the containers using an image,
   * which keeps a broken image (untagged) instead of removing it.
   */
  async check(opts: { repair: boolean; inUse: (id: string) => string[] }): Promise<{ problems: CheckProblem[]; counts: Record<string, number> }> {
    return checkImages({
      store: this.store, content: this.content, blobsRoot: this.content.root, layersRoot: this.layersRoot,
      recent: this.content.recent, inUse: opts.inUse,
      reunpack: (c, b, m, d) => this.ensureUnpacked(c, b, m, d),
      removeImage: async (id) => {
        if (this.store.getImage(id)) await this.deleteImage(await this.load(id).catch(() => ({ id, manifestDigest: this.store.getImage(id)!.manifestDigest } as Image)));
      },
      collectGarbage: () => this.collectGarbage(),
    }, opts);
  }

  async imageExists(nameOrId: string): Promise<boolean> {
    return this.findId(nameOrId) !== undefined;
  }

  notFound(ref: string): NotFoundError {
    return noSuchImage(ref);
  }
}

/** Bytes used by a directory tree, as docker reports an image's size. */
async function dirSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += (await lstat(p)).size;
    }
  };
  await walk(dir).catch(() => {});
  return total;
}
