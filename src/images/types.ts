/** The OCI image config and manifest, as far as berth reads and writes them. */

export interface ContainerConfigSection {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  variant?: string;
  os: string;
  created?: string;
  author?: string;
  config: ContainerConfigSection;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';

/** An image as the rest of the engine sees it. */
export interface Image {
  id: string;
  config: ImageConfig;
  manifestDigest: string;
  repoTags: string[];      // familiar form: busybox:latest
  repoDigests: string[];   // familiar form: busybox@sha256:…
  /** The image a build step started from (docker's ParentId). */
  parent?: string;
  size: number;
  created: string;
  /** Unpacked layer directories, bottom layer first. */
  layerDirs: string[];
  /** Unpacked size of each layer in bytes, bottom layer first. */
  layerSizes: number[];
}

export { DEFAULT_PATH } from '../common/default-path.js';

export function goArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
  return map[process.arch] ?? process.arch;
}
