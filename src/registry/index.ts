/**
 * The registry part: an OCI distribution-spec client (pull, push, auth,
 * platform selection) and the saved-login file. It depends on nothing in
 * berth but the errors; manifests and blobs stay bytes and streams here.
 */
export { RegistryClient, DEFAULT_TIMEOUT_MS, type PingResult } from './client.js';
export type { BlobStream, GetBlobOptions } from './blob-stream.js';
export type { PushBlobOptions } from './upload.js';
export type { Credentials, Descriptor, FetchedManifest, Platform, RegistryClientOptions } from './types.js';
export { RegistryError, DigestMismatchError, RegistryConnectionError } from './errors.js';
export { selectPlatform, hostPlatform, parsePlatformSpecifier, parseLinuxPlatform, samePlatform, formatPlatform, normalize as normalizePlatform } from './platform.js';
export { decodeRegistryAuth, encodeRegistryAuth } from './registry-auth.js';
export { readCredentials, storeCredentials, removeCredentials, normalizeServer, credentialsKey, type CredentialsFile } from './credentials.js';
export { sha256Digest } from './digest.js';
export { DOCKER_HUB_API, isDockerHub } from './hosts.js';
export {
  OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, MANIFEST_ACCEPT, isIndexMediaType,
} from './media-types.js';
