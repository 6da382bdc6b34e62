/** The api part: the Docker Engine API server, and the wire formats its clients share. */
export { createApiServer } from './server.js';
export type { Engine, EngineEvent } from './engine.js';
export { API_VERSION, MIN_API_VERSION, BERTH_VERSION } from './version.js';
export { versionInfo } from './system.js';
export { frame, Demuxer, STDIN, STDOUT, STDERR } from './stdcopy.js';
