/** What the API serves: the parts it calls, assembled by the daemon. */
import type { ContainerService } from '../containers/index.js';
import type { ImageService } from '../images/index.js';
import type { NetworkService } from '../network/index.js';
import type { VolumeService } from '../volumes/index.js';
import type { RegistryClient } from '../registry/index.js';
import type { Runtime } from '../runtime/index.js';

export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  status?: string;
  id?: string;
  from?: string;
  scope: 'local';
  time: number;
  timeNano: number;
}

export interface Engine {
  id: string;
  dataRoot: string;
  cgroupVersion: string;
  images: ImageService;
  containers: ContainerService;
  runtimes: Record<string, Runtime>;
  registry: RegistryClient;
  network: NetworkService;
  volumes: VolumeService;
  onEvent(listener: (ev: EngineEvent) => void): () => void;
}
