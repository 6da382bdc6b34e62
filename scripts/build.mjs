// Two bundles: the CLI, kept small so `berth ps` starts fast, and the daemon, which the CLI loads only
// for `berth daemon`. No shared chunks: a chunk shared with the daemon would drag its code into every CLI start.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // Native addons load from node_modules at run time.
  external: ['better-sqlite3', 'node-unix-socket'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, entryPoints: { berth: 'src/cli/main.ts' }, outdir: 'dist', splitting: true }),
  build({ ...common, entryPoints: { daemon: 'src/daemon/index.ts' }, outdir: 'dist' }),
]);
