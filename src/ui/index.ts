/**
 * The ui part: the web dashboard the daemon serves when asked (`berth daemon --ui [HOST:]PORT`).
 * The page is static files (src/ui/static, bundled into dist/ui by scripts/build.mjs) that speak
 * the Engine API through `/api/…` on the dashboard's own listener.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startUiServer, type UiServer } from './server.js';

export { parseUiAddress, isLoopbackHost, UiError, type UiAddress } from './address.js';
export { refusal, TOKEN_HEADER, type UiServer } from './server.js';

/** dist/ui beside the daemon's bundle; src/ui/static (plain ES modules) when run from source. */
export function defaultAssetDir(): string {
  const built = fileURLToPath(new URL('./ui/', import.meta.url));
  return existsSync(built) ? built : fileURLToPath(new URL('./static/', import.meta.url));
}

export function startUi(opts: { address: string; api?: Server; log?: (msg: string) => void; assetDir?: string }): Promise<UiServer> {
  return startUiServer({ ...opts, assetDir: opts.assetDir ?? defaultAssetDir() });
}
