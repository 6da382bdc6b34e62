/**
 * Built-in modules only some commands need, loaded on first use. Every module of the CLI's bundle runs at
 * start-up, so a static import of one of these is paid by every command: node:child_process (with dgram
 * and internal/child_process; ssh:// hosts and a terminal's stty use it) and node:fs/promises (with
 * readline, fs/dir and fs watchers; saved logins, save, export and load) about 1 ms each of every `run` and `ps`.
 * node:zlib (3-5 ms) is for `build --compress` alone. (node:http is not loaded at all: see http-client.ts.)
 * test/cli-lean.test.ts keeps these out of the start-ups that do not need them. Their types stay static imports.
 */
import { createRequire } from 'node:module';

let required: NodeJS.Require | undefined;
const load = (id: string): unknown => (required ??= createRequire(import.meta.url))(id);

export const childProcess = (): typeof import('node:child_process') => load('node:child_process') as typeof import('node:child_process');
export const fsPromises = (): typeof import('node:fs/promises') => load('node:fs/promises') as typeof import('node:fs/promises');
/** `build --compress` alone gzips. */
export const zlib = (): typeof import('node:zlib') => load('node:zlib') as typeof import('node:zlib');
