/**
 * Which extended attributes a layer carries, in both directions (unpacking a
 * layer, and making one from a container's changes): file capabilities
 * (`security.capability`, e.g. ping's cap_net_raw), `user.*` and `trusted.*`,
 * but never overlayfs' own (`trusted.overlay.*`, `user.overlay.*` in userxattr
 * mode): in an image those could fake whiteouts, opaque or redirected
 * directories; in an upper dir they are the kernel's bookkeeping.
 * `security.selinux`, ACLs and the rest stay out, as dockerd leaves them out.
 *
 * In a tar stream they are PAX records `SCHILY.xattr.NAME=VALUE` with the raw
 * bytes as the value, as GNU tar, Go's archive/tar and libarchive write them.
 * Setting and reading them uses GNU tar's `--xattrs` (files) and `setfattr
 * --restore` (symlinks, one exec for a whole layer), since Node has no xattr API.
 */
import { run } from '../host/index.js';

export function keepXattr(name: string): boolean {
  if (name === 'security.capability') return true;
  if (name.startsWith('user.')) return !name.startsWith('user.overlay.');
  if (name.startsWith('trusted.')) return !name.startsWith('trusted.overlay.');
  return false;
}

/** The same rule as GNU tar options, for `tar -c` and `tar -x`. */
export const TAR_XATTR_ARGS = [
  '--xattrs',
  '--xattrs-include=security.capability', '--xattrs-include=user.*', '--xattrs-include=trusted.*',
  '--xattrs-exclude=trusted.overlay.*', '--xattrs-exclude=user.overlay.*',
];

/** attr's quoting for `getfattr`/`setfattr --restore`: backslash, `=` and anything unprintable as \ooo. */
function quote(b: Buffer): string {
  let s = '';
  for (const c of b) s += c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x3d ? `\\${c.toString(8).padStart(3, '0')}` : String.fromCharCode(c);
  return s;
}

export interface XattrTarget { path: string; xattrs: [name: string, value: Buffer][] }

/**
 * Sets these attributes with one `setfattr -h --restore`, on the links themselves. A symlink takes
 * `trusted.*` but not `user.*` (EPERM), and a filesystem may lack a namespace (ENOTSUP): those are
 * skipped, as dockerd skips them; any other failure throws.
 */
export async function restoreXattrs(targets: XattrTarget[]): Promise<void> {
  const lines: string[] = [];
  for (const t of targets) {
    const keep = t.xattrs.filter(([n]) => keepXattr(n));
    if (!keep.length) continue;
    lines.push(`# file: ${quote(Buffer.from(t.path))}`);
    for (const [n, v] of keep) lines.push(`${quote(Buffer.from(n))}=0s${v.toString('base64')}`);
    lines.push('');
  }
  if (!lines.length) return;
  const r = await run('setfattr', ['-h', '--restore=-'], { input: lines.join('\n'), allowFailure: true });
  const bad = r.stderr.split('\n').filter((l) => l.trim() && !/Operation not permitted|Operation not supported/.test(l));
  if (r.code !== 0 && bad.length) throw new Error(`setting extended attributes failed: ${bad.slice(0, 3).join('; ')}`);
}
