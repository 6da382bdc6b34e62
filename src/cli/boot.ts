/**
 * The CLI's entry: runs the bundled CLI (cli.cjs) from V8's code cache. Node 20 has no compile cache
 * of its own (22 does), and compiling the bundle was a third of `berth ps`'s start-up. A cache is
 * made on a command's first run (or after a rebuild or a Node upgrade, when V8 rejects the old one) from
 * the functions that run compiled, and written atomically under cache/ beside the bundle; when the
 * directory is not writable the CLI just runs uncached. There is one cache per command word: a cache
 * holds only what the run that made it compiled, so with one for all, a `run` after a first `images`
 * compiled its own code at every start (about 6 ms).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { COMMAND_WORDS, commandIndex } from './command-word.js';

// bin/berth puts `--` before the arguments so that Node leaves them alone (see there).
if (process.argv[2] === '--') process.argv.splice(2, 1);

const file = join(__dirname, 'cli.cjs');
const args = process.argv.slice(2);
const word = args[commandIndex(args)];
// Help, flags alone and words that are no command share one: a cache file per word typed would pile up.
const cacheDir = join(__dirname, 'cache');
const cacheFile = join(cacheDir, `${word !== undefined && COMMAND_WORDS.has(word) ? word : 'berth'}.cache`);

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
      try {
        mkdirSync(cacheDir, { recursive: true });
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch { /* read-only install */ }
    });
  }
  const mod = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void).call(mod.exports, mod.exports, createRequire(file), mod, file, __dirname);
}
