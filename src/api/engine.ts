/** What the API serves: the parts it calls, assembled by the daemon. */
import type { ContainerService } from '../containers/index.js';
import type { ImageService } from '../images/index.js';
import type { NetworkService } from '../network/index.js';
import type { VolumeService } from '../volumes/index.js';
import type { RegistryClient } from '../registry/index.js';
import type { Runtime } from '../runtime/index.js';
import type { EventLog } from '../events/index.js';

export type { EngineEvent } from '../events/index.js';

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
  /** Where every part's events go; `GET /events` reads it. */
  events: EventLog;
}
