/**
 * The CLI's entry: runs the bundled CLI (cli.cjs) from V8's code cache. Node 20 has no compile cache
 * of its own (22 does), and compiling the bundle was a third of `berth ps`'s start-up. The cache is
 * made on the first run (or after a rebuild or a Node upgrade, when V8 rejects the old one) from
 * the functions that run compiled, and written atomically beside the bundle; when the directory is
 * not writable the CLI just runs uncached.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

// bin/berth puts `--` before the arguments so that Node leaves them alone (see there).
if (process.argv[2] === '--') process.argv.splice(2, 1);

const file = join(__dirname, 'cli.cjs');
const cacheFile = join(__dirname, 'cli.cache');

// `berth daemon` imports the daemon's ES module bundle, and a script run from a code cache cannot
// import (Node 20 drops its import callback). The daemon starts once: it loads the CLI plainly.
if (process.argv.includes('daemon')) {
  require(file);
} else {
  let cachedData: Buffer | undefined;
  try { cachedData = readFileSync(cacheFile); } catch { /* first run */ }
  const script = new Script((Module as unknown as { wrap(s: string): string }).wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    // At exit the cache holds every function this run compiled, not just the top level.
    process.once('exit', () => {
      const tmp = `${cacheFile}.${process.pid}`;
      try { writeFileSync(tmp, script.createCachedData()); renameSync(tmp, cacheFile); } catch { /* read-only install */ }
    });
  }
  const mod = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void).call(mod.exports, mod.exports, createRequire(file), mod, file, __dirname);
}
