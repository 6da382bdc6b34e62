/** Where `save` and `export` put the archive the daemon streams: a file (-o) or stdout, never a terminal. */
import { createWriteStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsPromises } from './builtins.js';
import { ExitError } from './context.js';

/** docker's checks, made before the daemon is asked for anything. */
export async function checkOutput(output: string | undefined): Promise<void> {
  if (!output && process.stdout.isTTY) throw new ExitError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  if (output && !(await fsPromises().stat(dirname(output)).then((s) => s.isDirectory(), () => false))) {
    throw new ExitError(1, `invalid output path: directory "${dirname(output)}" does not exist`);
  }
}

/**
 * Copies `tar` to `output` through a temporary file in the same directory,
 * renamed into place only when the whole archive arrived (as docker does),
 * so a failed save never leaves a short archive under the real name.
 */
export async function writeTar(tar: Readable, output: string | undefined): Promise<void> {
  if (!output) {
    await pipeline(tar, process.stdout);
    return;
  }
  const tmp = join(dirname(output), `.${basename(output)}.berth-${process.pid}`);
  try {
    await pipeline(tar, createWriteStream(tmp));
    await fsPromises().rename(tmp, output);
  } catch (e) {
    await fsPromises().rm(tmp, { force: true });
    throw e;
  }
}
