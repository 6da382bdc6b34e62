// Two bundles: the CLI, kept small so `berth ps` starts fast, and the daemon, which the CLI loads only
// for `berth daemon`. No shared chunks: a chunk shared with the daemon would drag its code into every CLI start.
// The output is built beside dist/ and swapped in, so a CLI or daemon running from dist/ never sees it half-written.
import { cpSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

/**
 * commander requires node:child_process at its top level, only for executable subcommands (`git-foo`
 * style), which berth has none of; loading it (with dgram and internal/child_process) cost every CLI start
 * about 1 ms. This one line of commander's becomes a require on its first spawn. A commander whose line
 * reads otherwise fails the build rather than quietly loading child_process again (and test/cli-lean.test.ts).
 */
const lazyCommanderSpawn = {
  name: 'lazy-commander-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, ({ path }) => {
      const eager = "const childProcess = require('node:child_process');";
      const source = readFileSync(path, 'utf8');
      if (!source.includes(eager)) throw new Error(`${path}: commander no longer has "${eager}": update lazyCommanderSpawn in scripts/build.mjs`);
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) }; // berth: loaded on first use (scripts/build.mjs)";
      return { contents: source.replace(eager, lazy), loader: 'js' };
    });
  },
};

const next = `dist.next-${process.pid}`;
const old = `dist.old-${process.pid}`;
rmSync(next, { recursive: true, force: true });

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

try {
  await Promise.all([
    // The CLI is one CommonJS file that boot.ts (dist/berth.cjs) runs from V8's code cache; CommonJS because
    // a vm.Script can be cached and an ES module graph can't. Code it needs only sometimes (tar for `cp`) is
    // still evaluated lazily: esbuild turns those dynamic imports into on-demand initialisers.
    build({ ...common, format: 'cjs', entryPoints: { cli: 'src/cli/main.ts' }, outdir: next, outExtension: { '.js': '.cjs' },
      minifyWhitespace: true, minifySyntax: true,
      // import.meta.url as a getter: node:url's pathToFileURL is half a millisecond of every start, for the few
      // commands that use the URL.
      define: { 'import.meta.url': '__berth_meta.url' }, plugins: [lazyCommanderSpawn],
      banner: { js: "const __berth_meta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" } }),
    build({ ...common, format: 'cjs', entryPoints: { berth: 'src/cli/boot.ts' }, outdir: next, outExtension: { '.js': '.cjs' }, banner: {} }),
    build({ ...common, entryPoints: { daemon: 'src/daemon/index.ts' }, outdir: next }),
    // The dashboard's page (src/ui): its modules as one browser script; the HTML, CSS and icon copied beside it.
    // xterm.js and its fit addon (the container's terminal) come from node_modules into the same script.
    build({ entryPoints: { app: 'src/ui/static/app.js' }, outdir: `${next}/ui`, bundle: true, format: 'esm', platform: 'browser',
      target: ['chrome100', 'firefox100', 'safari15'], sourcemap: 'linked', logLevel: 'warning' }),
    // xterm.js's own stylesheet, beside app.css.
    build({ entryPoints: { xterm: '@xterm/xterm/css/xterm.css' }, outdir: `${next}/ui`, bundle: true, minify: true, logLevel: 'warning' }),
  ]);
  cpSync('src/ui/static', `${next}/ui`, { recursive: true, filter: (p) => !p.endsWith('.js') });
  // A script run from a code cache cannot import(); only `berth daemon`'s may stay, which boot.ts runs uncached.
  const dynamic = readFileSync(`${next}/cli.cjs`, 'utf8').match(/\bimport\((?!new URL\("\.\/daemon\.js")[^)]{0,40}/g);
  if (dynamic) throw new Error(`the CLI bundle keeps dynamic imports a cached script cannot run (import builtins statically): ${dynamic.join(', ')}`);
} catch (e) {
  rmSync(next, { recursive: true, force: true });
  throw e;
}
try { renameSync('dist', old); } catch { /* first build */ }
renameSync(next, 'dist');
rmSync(old, { recursive: true, force: true });
