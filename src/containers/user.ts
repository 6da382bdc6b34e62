/**
 * `--user` resolution against the container's own /etc/passwd and
 * /etc/group, as docker does it: names or numbers, `user:group`, and the
 * supplementary groups the user is listed in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../errors/index.js';

export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; home: string }

function readTable(rootfs: string, file: string): string[][] {
  // Read through the rootfs path without following links out of it: these are plain files in every sane image.
  // Read synchronously: two small files on the way to every start, where an awaited read is a threadpool round trip.
  let text = '';
  try { text = readFileSync(join(rootfs, file), 'utf8'); } catch { /* none */ }
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  const [userPart = '', groupPart] = (spec || '0').split(':');
  const passwd = readTable(rootfs, 'etc/passwd');
  const groups = readTable(rootfs, 'etc/group');
  let uid: number; let gid: number; let home = '/'; let name: string | undefined;
  const entry = passwd.find((p) => p[0] === userPart) ?? (/^\d+$/.test(userPart) ? passwd.find((p) => p[2] === userPart) : undefined);
  if (entry) {
    name = entry[0]; uid = Number(entry[2]); gid = Number(entry[3]); home = entry[5] || '/';
  } else if (/^\d+$/.test(userPart)) {
    uid = Number(userPart); gid = 0;
    if (uid === 0) home = '/root';
  } else {
    throw new InvalidParameterError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const explicitGroup = groupPart !== undefined && groupPart !== '';
  if (explicitGroup) {
    const g = groups.find((x) => x[0] === groupPart) ?? (/^\d+$/.test(groupPart) ? groups.find((x) => x[2] === groupPart) : undefined);
    if (g) gid = Number(g[2]);
    else if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else throw new InvalidParameterError(`unable to find group ${groupPart}: no matching entries in group file`);
  }
  // As runc/moby: supplementary groups from /etc/group only when no group was given (`user`, not `user:group`).
  const additionalGids = name && !explicitGroup
    ? groups.filter((g) => (g[3] ?? '').split(',').includes(name!)).map((g) => Number(g[2])).filter((g) => g !== gid)
    : [];
  return { uid, gid, additionalGids, home };
}
