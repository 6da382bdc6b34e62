/**
 * Small synthetic images for registry tests: a config and one random layer
 * pushed as blobs, then an OCI manifest (or an index of several) over them.
 * The registry checks that referenced blobs exist, not what is in them.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { OCI_INDEX, OCI_MANIFEST, RegistryClient, sha256Digest, type Credentials } from '../src/registry/index.js';

export interface PushedBlob { bytes: Buffer; digest: string }
export interface PushedImage { config: PushedBlob; layer: PushedBlob; manifest: Buffer; digest: string }

export async function pushBytes(
  client: RegistryClient, host: string, repo: string, bytes: Buffer, creds?: Credentials, chunkSize?: number,
): Promise<PushedBlob> {
  const digest = sha256Digest(bytes);
  await client.pushBlob(host, repo, digest, bytes.length, () => Readable.from([bytes]), creds, { chunkSize });
  return { bytes, digest };
}

export async function pushImage(
  client: RegistryClient, host: string, repo: string, tag: string,
  opts: { creds?: Credentials; architecture?: string; variant?: string; layerSize?: number } = {},
): Promise<PushedImage> {
  const architecture = opts.architecture ?? 'amd64';
  const configJson = { architecture, os: 'linux', ...(opts.variant ? { variant: opts.variant } : {}), rootfs: { type: 'layers', diff_ids: [] }, config: {} };
  const config = await pushBytes(client, host, repo, Buffer.from(JSON.stringify(configJson)), opts.creds);
  const layer = await pushBytes(client, host, repo, randomBytes(opts.layerSize ?? 4096), opts.creds);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.bytes.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.bytes.length }],
  }));
  const digest = await client.putManifest(host, repo, tag, manifest, OCI_MANIFEST, opts.creds);
  return { config, layer, manifest, digest };
}

export function indexOf(entries: { image: PushedImage; architecture: string; variant?: string }[], mediaType = OCI_INDEX): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    manifests: entries.map((e) => ({
      mediaType: OCI_MANIFEST, digest: e.image.digest, size: e.image.manifest.length,
      platform: { os: 'linux', architecture: e.architecture, ...(e.variant ? { variant: e.variant } : {}) },
    })),
  }));
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
