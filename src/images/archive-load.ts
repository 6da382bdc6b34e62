/**
 * `docker load`: images from a docker-archive (manifest.json, as `docker
 * save` writes it, old or new) or from an OCI image layout (index.json, as
 * skopeo, buildkit and podman write it), as a tar stream, plain or
 * compressed.
 *
 * The whole archive is staged and checked before the store sees any of it:
 * every blob against its digest, every config and manifest parsed, every
 * referenced file present, every tag valid. Then blobs go into the content
 * store and each image is added (which unpacks its layers and checks their
 * diff IDs). If that fails, the images this load made and the blobs it put
 * are removed again, and the store is as it was. Tags are set last.
 *
 * For a docker-archive, the image's manifest is the OCI manifest in blobs/
 * when the archive is also an OCI layout (docker 25+, berth), so the
 * manifest digest survives; otherwise berth writes one that names the layer
 * files as they are (gzip, zstd or plain tar, told by their magic bytes):
 * nothing is recompressed, and the blobs are exactly the archive's bytes.
 */
import type { Readable } from 'node:stream';
import { isIndexMediaType, selectPlatform } from '../registry/index.js';
import { ArchiveError, StagedArchive, type StagedFile } from './archive-read.js';
import type { ImageService } from './index.js';
import { MANIFEST_TYPES, parseManifest } from './manifest.js';
import { canonical, familiar, parseReference, type Reference } from './reference.js';
import { compressionOf } from './unpack.js';
import { CONFIG_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, type Descriptor, type ImageConfig, type Manifest } from './types.js';

/** One image to load: its manifest, the archive files it needs, and its tags. */
interface Plan {
  manifestBytes: Buffer;
  id: string;           // the config digest
  files: StagedFile[];
  tags: Reference[];
}

interface ManifestItem { Config?: unknown; RepoTags?: unknown; Layers?: unknown }

type IndexEntry = Descriptor & { platform?: { os?: string; architecture?: string; variant?: string } };

interface OciIndex { manifests?: IndexEntry[] }

const IMAGE_CONFIG_TYPES = new Set([CONFIG_MEDIA_TYPE, 'application/vnd.docker.container.image.v1+json']);

const LAYER_TYPES: Record<string, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

/** Loads every image in the archive; returns docker's report lines ("Loaded image: busybox:latest"). */
export async function loadImages(images: ImageService, input: Readable): Promise<string[]> {
  const dir = images.content.tempPath();
  try {
    const staged = await StagedArchive.read(input, dir);
    try {
      const plans = staged.get('manifest.json') ? await dockerArchivePlans(staged) : await ociLayoutPlans(staged);
      if (!plans.length) throw new ArchiveError('it holds no image for this platform');
      return await commit(images, staged, plans);
    } finally {
      await staged.remove();
    }
  } finally {
    images.content.recent.delete(dir);
  }
}

async function dockerArchivePlans(staged: StagedArchive): Promise<Plan[]> {
  const items = await staged.json<ManifestItem[]>(staged.require('manifest.json', 'the docker-archive manifest'));
  if (!Array.isArray(items)) throw new ArchiveError('manifest.json is not a list of images');
  const own = await ociManifests(staged).catch(() => []);
  const plans: Plan[] = [];
  for (const [i, item] of items.entries()) {
    if (typeof item?.Config !== 'string' || !Array.isArray(item.Layers) || !item.Layers.every((l) => typeof l === 'string')) {
      throw new ArchiveError(`manifest.json entry ${i + 1} has no Config or Layers`);
    }
    const configFile = staged.require(item.Config, 'the image config');
    const config = await readConfig(staged, configFile);
    const layerPaths = item.Layers as string[];
    if (config.rootfs.diff_ids.length !== layerPaths.length) {
      throw new ArchiveError(`invalid manifest, layers length mismatch: expected ${layerPaths.length}, got ${config.rootfs.diff_ids.length}`);
    }
    const layers = layerPaths.map((p) => staged.require(p, 'the layer'));
    const tags = repoTags(item.RepoTags);
    const digests = layers.map((l) => l.digest);
    const found = own.find((m) => m.manifest.config.digest === configFile.digest
      && m.manifest.layers.length === digests.length && m.manifest.layers.every((l, j) => l.digest === digests[j]));
    let manifestBytes = found?.bytes;
    if (!manifestBytes) {
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MANIFEST_MEDIA_TYPE,
        config: { mediaType: CONFIG_MEDIA_TYPE, digest: configFile.digest, size: configFile.size },
        layers: await Promise.all(layers.map(async (l) => ({ mediaType: LAYER_TYPES[sniff(await staged.head(l))]!, digest: l.digest, size: l.size }))),
      };
      manifestBytes = Buffer.from(JSON.stringify(manifest));
    }
    plans.push({ manifestBytes, id: configFile.digest, files: [configFile, ...layers], tags });
  }
  return plans;
}

/** The image manifests index.json leads to, resolving nested indexes to this platform. */
async function ociManifests(staged: StagedArchive): Promise<{ descriptor: Descriptor; outer: IndexEntry; bytes: Buffer; manifest: Manifest }[]> {
  const index = await staged.json<OciIndex>(staged.require('index.json', 'the OCI index'));
  if (!Array.isArray(index.manifests)) throw new ArchiveError('index.json lists no manifests');
  const out = [];
  for (const outer of index.manifests) {
    // A layout may list each platform's manifest at the top instead of in a nested index.
    if (outer.platform && !forThisPlatform(outer)) continue;
    let descriptor: Descriptor = outer;
    if (isIndexMediaType(descriptor.mediaType)) {
      const inner = await blobBytes(staged, descriptor, 'the image index');
      descriptor = selectPlatform(inner);
    }
    if (!MANIFEST_TYPES.has(descriptor.mediaType)) continue;
    const bytes = await blobBytes(staged, descriptor, 'the manifest');
    out.push({ descriptor, outer, bytes, manifest: parseManifest(bytes) });
  }
  return out;
}

async function ociLayoutPlans(staged: StagedArchive): Promise<Plan[]> {
  if (!staged.get('index.json')) {
    throw new ArchiveError('neither manifest.json (docker save) nor index.json (an OCI image layout) is in it');
  }
  const layout = staged.get('oci-layout');
  if (layout) {
    const v = (await staged.json<{ imageLayoutVersion?: unknown }>(layout)).imageLayoutVersion;
    if (typeof v !== 'string' || !v.startsWith('1.')) throw new ArchiveError(`unsupported OCI image layout version ${JSON.stringify(v)}`);
  }
  const byManifest = new Map<string, Plan>();
  for (const { descriptor, outer, bytes, manifest } of await ociManifests(staged)) {
    // Artifacts (signatures, attestations) share the manifest type but are not images.
    if (!IMAGE_CONFIG_TYPES.has(manifest.config.mediaType)) continue;
    let plan = byManifest.get(descriptor.digest);
    if (!plan) {
      const configFile = requireBlob(staged, manifest.config, 'the image config');
      const config = await readConfig(staged, configFile);
      if (config.rootfs.diff_ids.length !== manifest.layers.length) {
        throw new ArchiveError(`manifest ${descriptor.digest} has ${manifest.layers.length} layers but its config lists ${config.rootfs.diff_ids.length}`);
      }
      const layers = manifest.layers.map((l) => {
        compressionOf(l.mediaType);
        return requireBlob(staged, l, 'the layer');
      });
      plan = { manifestBytes: bytes, id: configFile.digest, files: [configFile, ...layers], tags: [] };
      byManifest.set(descriptor.digest, plan);
    }
    const name = nameOf(outer.annotations ?? {});
    if (name && !plan.tags.some((t) => canonical(t) === canonical(name))) plan.tags.push(name);
  }
  return [...byManifest.values()];
}

/**
 * Into the store: blobs, then images, then tags. A failure before the tags
 * removes what this load added.
 */
async function commit(images: ImageService, staged: StagedArchive, plans: Plan[]): Promise<string[]> {
  const added: string[] = [];
  const created: string[] = [];
  try {
    for (const p of plans) {
      if (await images.imageExists(p.id)) continue;
      for (const f of p.files) {
        if (await images.content.has(f.digest)) continue;
        await images.content.putStream(staged.stream(f), f.digest);
        added.push(f.digest);
      }
      created.push((await images.addImage(p.manifestBytes)).id);
    }
  } catch (e) {
    for (const id of created.reverse()) await images.remove(id, { force: true, inUse: () => [] }).catch(() => {});
    for (const d of added) await images.content.delete(d);
    throw e;
  }
  const lines: string[] = [];
  for (const p of plans) {
    for (const ref of p.tags) {
      const prev = await images.find(canonical(ref));
      if (prev && prev.id !== p.id) lines.push(`The image ${familiar(ref)} already exists, renaming the old one with ID ${prev.id} to empty string\n`);
      await images.tag(p.id, canonical(ref));
      lines.push(`Loaded image: ${familiar(ref)}\n`);
    }
    if (!p.tags.length) lines.push(`Loaded image ID: ${p.id}\n`);
  }
  return lines;
}

function requireBlob(staged: StagedArchive, d: Descriptor, what: string): StagedFile {
  const f = staged.blob(d.digest);
  if (!f) throw new ArchiveError(`${what} ${d.digest} is not in blobs/`);
  if (typeof d.size === 'number' && f.size !== d.size) throw new ArchiveError(`${what} ${d.digest} has ${f.size} bytes but its descriptor says ${d.size}`);
  return f;
}

async function blobBytes(staged: StagedArchive, d: Descriptor, what: string): Promise<Buffer> {
  return staged.bytes(requireBlob(staged, d, what));
}

async function readConfig(staged: StagedArchive, f: StagedFile): Promise<ImageConfig> {
  const config = await staged.json<ImageConfig>(f);
  const ids = config?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw new ArchiveError(`${f.path} is not an image config (it has no valid rootfs.diff_ids)`);
  }
  if (config.os && config.os !== 'linux') throw new ArchiveError(`cannot load ${config.os} image on linux`);
  return config;
}

/** docker-archive RepoTags: each must be `name:tag`. */
function repoTags(value: unknown): Reference[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new ArchiveError('RepoTags in manifest.json is not a list');
  return value.map((t) => {
    const ref = typeof t === 'string' && !t.includes('@') && t.lastIndexOf(':') > t.lastIndexOf('/') ? tryParse(t) : undefined;
    if (!ref) throw new ArchiveError(`invalid tag ${JSON.stringify(t)} in manifest.json`);
    return ref;
  });
}

/**
 * The name an OCI index entry gives its image: containerd's full name, or
 * `org.opencontainers.image.ref.name` when that is a full reference. A bare
 * ref.name ("latest") names no repository, so that image loads untagged.
 */
function nameOf(annotations: Record<string, string>): Reference | undefined {
  for (const text of [annotations['io.containerd.image.name'], annotations['org.opencontainers.image.ref.name']]) {
    if (!text || !/[/:]/.test(text)) continue;
    const ref = tryParse(text);
    if (!ref) throw new ArchiveError(`invalid image name ${JSON.stringify(text)} in index.json`);
    if (ref.tag) return { ...ref, digest: undefined };
  }
  return undefined;
}

function forThisPlatform(entry: IndexEntry): boolean {
  try {
    selectPlatform(JSON.stringify({ manifests: [entry] }));
    return true;
  } catch {
    return false;
  }
}

function tryParse(text: string): Reference | undefined {
  try { return parseReference(text); } catch { return undefined; }
}

function sniff(head: Buffer): 'gzip' | 'zstd' | 'none' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}
