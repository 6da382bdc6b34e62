/**
 * A container process's environment as dockerd makes it: the image's variables under the user's, then
 * PATH, HOSTNAME, TERM (with a TTY) and HOME filled in where neither set them.
 */
import { DEFAULT_PATH } from '../common/default-path.js';

/** `override`'s variables over `base`'s, by name; a bare `NAME` (unset where the client ran) is dropped. */
export function mergeEnv(base: string[], override: string[]): string[] {
  const out = [...base];
  for (const e of override) {
    const key = e.split('=')[0]!;
    const i = out.findIndex((x) => x.split('=')[0] === key);
    if (!e.includes('=')) continue; // `-e NAME` without value and unset on the client side
    if (i >= 0) out[i] = e; else out.push(e);
  }
  return out;
}

/** What dockerd adds to every process: PATH, HOSTNAME (always the container's), TERM with a TTY, the user's HOME. */
export function withDefaults(env: string[], hostname: string, tty: boolean, home: string): string[] {
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  const out: string[] = [];
  if (!has('PATH')) out.push(`PATH=${DEFAULT_PATH}`);
  out.push(`HOSTNAME=${hostname}`);
  if (tty && !has('TERM')) out.push('TERM=xterm');
  out.push(...env.filter((e) => !e.startsWith('HOSTNAME=')));
  if (!has('HOME')) out.push(`HOME=${home}`);
  return out;
}
