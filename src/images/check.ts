/**
 * `berth system check` for the images part: the records in SQLite against what is on disk.
 * Every image must be complete (manifest, config and layer blobs present, each unpacked layer
 * there), every blob must hash to its name, every layer directory must be known, and nothing may
 * be left in the temporary areas. With `repair`, what can be undone is: a missing layer directory
 * is unpacked again from its blob, a broken image is untagged and removed (only untagged while a
 * container uses it), orphaned blobs, layer directories and temporary files are deleted.
 *
 * Things made by an operation still running in this daemon (a pull that has blobs but no record
 * yet) are not orphans: the caller passes them as `recent` and they are skipped.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../store/index.js';
import type { ContentStore } from './content-store.js';
import { parseManifest } from './manifest.js';
import type { ImageConfig } from './types.js';

export interface CheckProblem {
  /** What kind of thing is wrong: image, tag, blob, layer, temp, container, mount. */
  kind: string;
  /** The image, blob, layer or path it is about. */
  subject: string;
  message: string;
  /** Set by a repair: what was done about it. */
  repaired?: string;
}

export interface ImageCheckContext {
  store: Store;
  content: ContentStore;
  blobsRoot: string;
  layersRoot: string;
  /** Blob digests, layer hexes and temp names this daemon made for operations that may still run. */
  recent: Set<string>;
  inUse: (imageId: string) => string[];
  /** Unpacks a layer again from its blob (true when it could). */
  reunpack: (chainId: string, blobDigest: string, mediaType: string, diffId: string) => Promise<boolean>;
  /** Removes an image as `rmi -f` does, with garbage collection. */
  removeImage: (id: string) => Promise<void>;
  collectGarbage: () => Promise<void>;
}

const hex = (d: string) => d.slice('sha256:'.length);

async function digestOf(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

export async function checkImages(ctx: ImageCheckContext, opts: { repair: boolean }): Promise<{ problems: CheckProblem[]; counts: Record<string, number> }> {
  const problems: CheckProblem[] = [];
  const { store } = ctx;

  // Every blob hashes to its name (a corrupt one is deleted on repair: the images that need it are then broken, below).
  const blobDir = join(ctx.blobsRoot, 'sha256');
  const blobs = new Set<string>();
  for (const name of await readdir(blobDir).catch(() => [] as string[])) {
    const digest = `sha256:${name}`;
    if (!/^[a-f0-9]{64}$/.test(name)) {
      problems.push({ kind: 'blob', subject: name, message: 'a file in the blob store that is not named by a digest' });
      if (opts.repair) { await rm(join(blobDir, name), { recursive: true, force: true }); problems.at(-1)!.repaired = 'removed'; }
      continue;
    }
    const actual = await digestOf(join(blobDir, name)).catch(() => 'unreadable');
    if (actual !== digest) {
      problems.push({ kind: 'blob', subject: digest, message: `content does not match its digest (it hashes to ${actual})` });
      if (opts.repair) { await ctx.content.delete(digest); problems.at(-1)!.repaired = 'removed'; }
      continue;
    }
    blobs.add(digest);
  }

  // Every image is complete.
  const referenced = new Set<string>();
  const broken = new Map<string, string>();
  const images = store.listImages();
  for (const img of images) {
    referenced.add(img.id);
    referenced.add(img.manifestDigest);
    const fail = (message: string) => { if (!broken.has(img.id)) broken.set(img.id, message); };
    if (!blobs.has(img.manifestDigest)) { fail(`its manifest ${img.manifestDigest} is missing`); continue; }
    let manifest;
    try { manifest = parseManifest(await ctx.content.read(img.manifestDigest)); } catch (e) { fail(`its manifest cannot be read: ${(e as Error).message}`); continue; }
    for (const l of manifest.layers) referenced.add(l.digest);
    if (manifest.config.digest !== img.id) { fail(`its manifest names the config ${manifest.config.digest}`); continue; }
    if (!blobs.has(img.id)) { fail(`its config ${img.id} is missing`); continue; }
    let config: ImageConfig;
    try { config = await ctx.content.readJson<ImageConfig>(img.id); } catch { fail('its config is not valid JSON'); continue; }
    const diffIds = config.rootfs?.diff_ids ?? [];
    const chain = store.imageChain(img.id);
    if (chain.length !== manifest.layers.length || diffIds.length !== chain.length) {
      fail(`it lists ${chain.length} layers, its manifest ${manifest.layers.length} and its config ${diffIds.length}`);
      continue;
    }
    for (const [i, chainId] of chain.entries()) {
      const desc = manifest.layers[i]!;
      const row = store.getLayer(chainId);
      if (!row) { fail(`its layer ${chainId} is not recorded`); break; }
      if (!blobs.has(desc.digest)) fail(`its layer blob ${desc.digest} is missing`);
      if (!(await exists(join(ctx.layersRoot, hex(chainId), 'diff')))) {
        problems.push({ kind: 'layer', subject: chainId, message: `unpacked layer of image ${hex(img.id).slice(0, 12)} is missing` });
        if (opts.repair && blobs.has(desc.digest)) {
          const ok = await ctx.reunpack(chainId, desc.digest, desc.mediaType, diffIds[i]!).then(() => true, () => false);
          if (ok) problems.at(-1)!.repaired = 'unpacked again from its blob';
          else fail(`its layer ${chainId} is missing and cannot be unpacked again`);
        } else {
          fail(`its layer ${chainId} is missing`);
        }
      }
    }
  }
  for (const [id, message] of broken) {
    const tags = store.tagsOf(id);
    problems.push({ kind: 'image', subject: id, message: `image ${hex(id).slice(0, 12)}${tags.length ? ` (${tags.join(', ')})` : ''} is incomplete: ${message}` });
    if (!opts.repair) continue;
    const users = ctx.inUse(id);
    if (users.length) {
      for (const t of tags) store.deleteTag(t);
      problems.at(-1)!.repaired = `untagged; kept for container ${users[0]!.slice(0, 12)}`;
    } else {
      await ctx.removeImage(id);
      problems.at(-1)!.repaired = 'removed';
    }
  }

  // Tags and repo digests point at images that exist (the foreign keys make this hold; a damaged database may not).
  for (const img of images) for (const r of store.repoDigestsOf(img.id)) referenced.add(r.slice(r.lastIndexOf('@') + 1));

  // Layer directories are known; no half-unpacked ones.
  const layerRows = new Set<string>();
  for (const name of await readdir(ctx.layersRoot).catch(() => [] as string[])) {
    const recorded = /^[a-f0-9]{64}$/.test(name) && store.getLayer(`sha256:${name}`);
    if (recorded) { layerRows.add(name); continue; }
    if (ctx.recent.has(name) || ctx.recent.has(name.replace(/\.tmp-.*$/, ''))) continue;
    problems.push({ kind: 'layer', subject: name, message: /\.tmp-/.test(name) ? 'a half-unpacked layer directory is left' : 'a layer directory no record knows' });
    if (opts.repair) { await rm(join(ctx.layersRoot, name), { recursive: true, force: true }); problems.at(-1)!.repaired = 'removed'; }
  }
  const unreferencedLayers = store.unreferencedLayers();
  if (unreferencedLayers.length) {
    problems.push({ kind: 'layer', subject: unreferencedLayers.join(', '), message: `${unreferencedLayers.length} recorded layer(s) no image uses` });
    if (opts.repair) { await ctx.collectGarbage(); problems.at(-1)!.repaired = 'removed'; }
  }

  // Blobs no image needs (a pull cut short leaves its finished blobs for a retry; a check counts them as orphans).
  for (const digest of blobs) {
    if (referenced.has(digest) || ctx.recent.has(digest)) continue;
    problems.push({ kind: 'blob', subject: digest, message: 'a blob no image uses' });
    if (opts.repair) { await ctx.content.delete(digest); problems.at(-1)!.repaired = 'removed'; }
  }

  // Temporary files of the content store (staged loads, partial downloads).
  const tmpDir = join(ctx.blobsRoot, 'tmp');
  for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
    if (ctx.recent.has(join(tmpDir, name))) continue;
    problems.push({ kind: 'temp', subject: join(tmpDir, name), message: 'a temporary file of an interrupted download or load' });
    if (opts.repair) { await rm(join(tmpDir, name), { recursive: true, force: true }); problems.at(-1)!.repaired = 'removed'; }
  }

  return { problems, counts: { images: images.length, blobs: blobs.size, layers: layerRows.size } };
}
