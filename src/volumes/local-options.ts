/**
 * The `local` driver's options, as dockerd's (`docker volume create -o type=tmpfs -o device=tmpfs -o
 * o=size=64m`, `-o type=none -o o=bind -o device=/srv/data`, compose's `driver_opts`): such a volume is a
 * mount of `device` on its `_data` directory, made when the first container that uses it starts and
 * undone when the last one stops. `size` asks for a quota, which berth has no support for.
 */
import { InvalidParameterError, SystemError } from '../errors/index.js';
import { isMounted, run, unmount } from '../host/index.js';
import { sizeInBytes } from './mounts.js';

const VALID = ['type', 'o', 'device', 'size'];
/** What each option needs beside it, checked in this order. */
const NEEDS: [string, string[]][] = [['device', ['type']], ['type', ['device']], ['o', ['device', 'type']]];

/** dockerd's checks of a create's options (its messages; the caller puts `create NAME: ` before them). */
export function checkLocalOptions(opts: Record<string, string>): void {
  for (const k of Object.keys(opts)) if (!VALID.includes(k)) throw new InvalidParameterError(`invalid option: "${k}"`);
  if (opts.size !== undefined) {
    const bytes = sizeInBytes(opts.size);
    if (bytes === undefined) throw new InvalidParameterError(`invalid size: '${opts.size}'`);
    if (bytes > 0) throw new InvalidParameterError('quota size requested but no quota support');
  }
  for (const [opt, needs] of NEEDS) {
    if (!(opt in opts)) continue;
    for (const n of needs) if (!(n in opts)) throw new InvalidParameterError(`missing required option: "${n}"`);
  }
}

/** Whether a volume with these options is a mount of its own (a `device` or a `type`), not a plain directory. */
export function needsMount(opts: Record<string, string> | null | undefined): opts is Record<string, string> {
  return !!opts && !!(opts.device || opts.type);
}

/** Mounts the volume's device on `path`, as dockerd's local driver does (`mount -t TYPE -o O DEVICE PATH`). */
export async function mountLocal(opts: Record<string, string>, path: string): Promise<void> {
  if (await isMounted(path)) return; // a daemon that restarted finds it mounted, as dockerd's restoreIfMounted
  const args = ['-t', opts.type || 'none', ...(opts.o ? ['-o', opts.o] : []), '--', opts.device!, path];
  const r = await run('mount', args, { allowFailure: true });
  if (r.code !== 0) {
    // mount(8)'s first line says why ("mount: PATH: special device X does not exist."); later ones point at dmesg.
    const why = (r.stderr.trim().split('\n')[0] ?? '').replace(/^mount: [^:]*: /, '').trim();
    // The options may hold a CIFS password: it is not repeated in an error.
    const data = (opts.o ?? '').replace(/password=[^,]*/g, 'password=********');
    throw new SystemError(`error while mounting volume '${path}': failed to mount local volume: mount ${opts.device}:${path}, data: ${data}: ${why || `exit ${r.code}`}`);
  }
}

/** Undoes mountLocal; fails if the path is still a mount afterwards (a busy one is detached lazily by unmount). */
export async function unmountLocal(path: string): Promise<void> {
  if (!(await isMounted(path))) return;
  await unmount(path);
  if (await isMounted(path)) throw new SystemError(`failed to unmount volume at ${path}`);
}
