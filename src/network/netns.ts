/**
 * Network namespaces that outlive their first process, as `ip netns add` makes them: an empty file
 * with the namespace bind-mounted onto it, its loopback up. runc joins it through the spec's `path`; CNI
 * plugins get the path.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isMounted, runTool, tool, unmount } from '../host/index.js';

export async function createNetns(dir: string, name: string): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  writeFileSync(path, '', { mode: 0o444 });
  try {
    // unshare(1) creates the namespace, bind-mounts it onto the file and runs `ip` in it: one process start for
    // what CNI's loopback plugin would do in a second (a Go program, several times iproute2's start-up).
    await runTool('unshare', [`--net=${path}`, ...tool('ip'), 'link', 'set', 'lo', 'up'], { label: 'unshare ip' });
  } catch (e) {
    // unshare may have mounted the namespace before `ip` failed.
    await removeNetns(path).catch(() => {});
    throw e;
  }
  return path;
}

/** Unmounts and removes a namespace file; the namespace itself goes when nothing else holds it. Safe to call twice. */
export async function removeNetns(path: string): Promise<void> {
  if (await isMounted(path)) await unmount(path);
  await rm(path, { force: true });
}
