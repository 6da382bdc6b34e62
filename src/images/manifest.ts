/** Image manifests as berth reads them, and the chain IDs its layers are stored under. */
import { InvalidParameterError } from '../errors/index.js';
import { sha256 } from './content-store.js';
import { MANIFEST_MEDIA_TYPE, type Manifest } from './types.js';

export const MANIFEST_TYPES = new Set([MANIFEST_MEDIA_TYPE, 'application/vnd.docker.distribution.manifest.v2+json']);

/** An image manifest (OCI or Docker schema 2); indexes are resolved by the caller first. */
export function parseManifest(bytes: Buffer): Manifest {
  let m: Manifest;
  try { m = JSON.parse(bytes.toString()) as Manifest; } catch { throw new InvalidParameterError('the manifest is not valid JSON'); }
  const type = m.mediaType ?? MANIFEST_MEDIA_TYPE;
  if (m.schemaVersion !== 2 || !MANIFEST_TYPES.has(type) || !m.config?.digest || !Array.isArray(m.layers)) {
    throw new InvalidParameterError(`unsupported manifest (media type ${type})`);
  }
  return m;
}

/** The OCI chain IDs: the first layer's diff ID, then sha256(parent + " " + diff ID). */
export function chainIdsOf(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length ? sha256(`${out[out.length - 1]} ${d}`) : d);
  return out;
}

