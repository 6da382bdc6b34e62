/**
 * `docker export`: the container's filesystem as one tar stream, read in a
 * private mount namespace that lives only as long as the tar process. A
 * running container's overlay is already mounted there (the namespace
 * starts as a copy of the daemon's), and that copy stays even if the
 * container exits meanwhile. Otherwise the overlay is mounted read-only
 * there, the upper dir as the top lower layer, so the export never writes
 * into the container. Either way no mount is left behind, even if the
 * daemon dies.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { runStream } from '../host/index.js';

// Entries without a leading "./" and no entry for the root, as docker's export; of the xattrs, file capabilities
// (all docker's export keeps) and user.* but overlay's own, as cp carries them; owners as numbers, because the
// host's names mean nothing in an image.
const SCRIPT = `
set -u
mountpoint -q "$2" || mount -t overlay overlay -o "ro,index=off,lowerdir=$1" "$2" || exit
cd "$2" || exit
find . -mindepth 1 -maxdepth 1 -printf '%P\\0' | LC_ALL=C sort -z | tar -cf - --null -T - --sort=name --numeric-owner \\
  --format=posix --pax-option=delete=atime,delete=ctime,delete=mtime --xattrs \\
  --xattrs-include=security.capability --xattrs-include='user.*' --xattrs-exclude='user.overlay.*'
s=("\${PIPESTATUS[@]}")
# tar exits 1 when a file changed while it was read (a running container): the archive is still complete.
[ "\${s[0]}" = 0 ] && [ "\${s[1]}" = 0 ] && [ "\${s[2]}" -le 1 ]
`;

/** Tars the merged view of `dir`'s upper directory over the image layers (bottom layer first). */
export async function exportRootfs(dir: string, layerDirs: string[]): Promise<Readable> {
  const lower = [join(dir, 'upper'), ...[...layerDirs].reverse()];
  if (lower.length === 1) {
    // overlay needs two lower dirs when it has no upper dir.
    await mkdir(join(dir, 'empty'), { recursive: true });
    lower.push(join(dir, 'empty'));
  }
  // The container's own merged dir: in the private namespace, mounting there touches nothing the container or the daemon sees.
  return runStream('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', SCRIPT, 'bash', lower.join(':'), join(dir, 'merged')]);
}
