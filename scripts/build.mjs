// Bundles the CLI (and, split off, the daemon) so `berth ps` loads only what it needs.
import { build } from 'esbuild';

await build({
  entryPoints: { berth: 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // Native addons are loaded from node_modules at run time.
  external: ['better-sqlite3', 'node-unix-socket'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
