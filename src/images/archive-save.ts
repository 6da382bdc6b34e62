/**
 * `docker save`: one tar that is both a docker-archive and an OCI image
 * layout, as docker 25+ writes it:
 *
 *   blobs/sha256/<hex>   layers, configs and manifests, exactly as stored
 *   index.json           OCI index: one descriptor per tag (io.containerd.image.name
 *                        and org.opencontainers.image.ref.name), one without
 *                        annotations for an image saved by ID
 *   manifest.json        docker-archive: [{Config, RepoTags, Layers}], paths into blobs/
 *   oci-layout           {"imageLayoutVersion": "1.0.0"}
 *   repositories         legacy {name: {tag: top layer}}
 *
 * Layers go out as stored (gzip, zstd or plain) instead of decompressed as
 * docker does. The manifest in blobs/ is then the image's own manifest, byte
 * for byte, so the manifest digest survives save and load, and the archive is
 * the size of the image rather than of its unpacked layers. Readers accept
 * it: `docker load` decompresses each entry of `Layers` by its magic bytes
 * (moby image/tarexport/load.go, compression.DecompressStream) and checks it
 * against the config's diff IDs; skopeo's docker-archive source does the
 * same (AutoDecompress) and reports the layers by diff ID; an OCI reader
 * follows the media types. Only a tool that untars `Layers` entries by hand
 * would need plain tars. See docs/save-load.md.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { InvalidParameterError, SystemError } from '../errors/index.js';
import type { ImageService } from './index.js';
import { canonical, familiar, familiarRepository, parseReference, type Reference } from './reference.js';
import { dirHeader, END_OF_ARCHIVE, fileHeader, padding } from './tar-writer.js';
import type { Descriptor, Image } from './types.js';

export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const OCI_LAYOUT = '{"imageLayoutVersion": "1.0.0"}';

/** One image to save and the tags it is saved under. */
interface Selected { image: Image; refs: Reference[] }

const EPOCH = new Date(0);
const hex = (digest: string) => digest.slice('sha256:'.length);
const blobPath = (digest: string) => `blobs/sha256/${hex(digest)}`;

/** `busybox` (every tag of the repository), not `busybox:1` or `busybox@sha256:…`. */
function isNameOnly(name: string): boolean {
  return !name.includes('@') && name.lastIndexOf(':') <= name.lastIndexOf('/');
}

/**
 * docker's rules for what a name saves: an ID saves the image untagged, a
 * digest reference too, a tagged name that tag, and a bare repository name
 * every tag of that repository (or, when it has none, the image with that
 * short ID).
 */
async function select(images: ImageService, names: string[]): Promise<Selected[]> {
  const byId = new Map<string, Selected>();
  const add = (image: Image, ref?: Reference) => {
    const s = byId.get(image.id) ?? { image, refs: [] };
    byId.set(image.id, s);
    if (ref && !s.refs.some((r) => canonical(r) === canonical(ref))) s.refs.push(ref);
  };
  for (const name of names) {
    if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) { add(await images.resolve(name)); continue; }
    const ref = parseReference(name);
    if (ref.digest || familiarRepository(ref) === 'sha256') { add(await images.resolve(name)); continue; }
    if (isNameOnly(name)) {
      const repo = familiarRepository(ref);
      let found = false;
      for (const image of await images.list()) {
        for (const t of image.repoTags) {
          const tagged = parseReference(t);
          if (familiarRepository(tagged) === repo) { add(image, tagged); found = true; }
        }
      }
      // No such repository: docker then takes the name for a short image ID.
      if (!found) add(await images.resolve(name));
      continue;
    }
    add(await images.resolve(name), ref);
  }
  return [...byId.values()];
}

interface Blob { digest: string; mtime: Date }

/**
 * The archive for `names`, as a stream. Names are resolved and every blob is
 * checked to be there before the stream starts, so those errors can still
 * be an HTTP status; blobs are verified again while they are written.
 */
export async function saveImages(images: ImageService, names: string[]): Promise<Readable> {
  if (!names.length) throw new InvalidParameterError('no image names given');
  const selected = await select(images, names);
  const blobs = new Map<string, Blob>();
  const manifestJson: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const indexManifests: Descriptor[] = [];
  const repositories: Record<string, Record<string, string>> = {};

  for (const { image, refs } of selected) {
    const { bytes, manifest } = await images.manifestOf(image);
    const created = new Date(image.created);
    const mtime = Number.isNaN(created.getTime()) ? EPOCH : created;
    for (const d of [...manifest.layers.map((l) => l.digest), manifest.config.digest, image.manifestDigest]) {
      if (!(await images.content.has(d))) throw new SystemError(`cannot save ${image.id}: blob ${d} is missing from the content store`);
      if (!blobs.has(d)) blobs.set(d, { digest: d, mtime });
    }
    const tags = refs.map((r) => familiar(r));
    manifestJson.push({ Config: blobPath(manifest.config.digest), RepoTags: tags.length ? tags : null, Layers: manifest.layers.map((l) => blobPath(l.digest)) });
    const platform = { architecture: image.config.architecture, os: image.config.os };
    const descriptor: Descriptor & { platform: typeof platform } = {
      mediaType: manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', digest: image.manifestDigest, size: bytes.length, platform,
    };
    if (!refs.length) indexManifests.push(descriptor);
    for (const r of refs) {
      indexManifests.push({ ...descriptor, annotations: { 'io.containerd.image.name': canonical(r), 'org.opencontainers.image.ref.name': r.tag! } });
      const top = manifest.layers.at(-1);
      if (top) (repositories[familiarRepository(r)] ??= {})[r.tag!] = hex(top.digest);
    }
  }

  const metadata: [string, string][] = [
    ['index.json', JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: indexManifests })],
    ['manifest.json', `${JSON.stringify(manifestJson)}\n`],
    ['oci-layout', OCI_LAYOUT],
  ];
  if (Object.keys(repositories).length) metadata.push(['repositories', `${JSON.stringify(repositories)}\n`]);

  async function* records(): AsyncGenerator<Buffer> {
    yield dirHeader('blobs', EPOCH);
    yield dirHeader('blobs/sha256', EPOCH);
    for (const b of blobs.values()) {
      const size = await images.content.size(b.digest);
      yield fileHeader(blobPath(b.digest), size, b.mtime);
      const hash = createHash('sha256');
      let written = 0;
      for await (const chunk of images.content.stream(b.digest)) {
        hash.update(chunk as Buffer);
        written += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      // A blob that changed on disk would make an archive no reader accepts: stop here instead.
      if (written !== size || `sha256:${hash.digest('hex')}` !== b.digest) throw new SystemError(`blob ${b.digest} in the content store is damaged`);
      yield padding(size);
    }
    for (const [name, text] of metadata) {
      const data = Buffer.from(text);
      yield fileHeader(name, data.length, EPOCH);
      yield data;
      yield padding(data.length);
    }
    yield END_OF_ARCHIVE;
  }
  return Readable.from(records(), { objectMode: false });
}
