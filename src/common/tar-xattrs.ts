/**
 * Extended attributes for the tars node-tar writes and reads (`cp` both ways, the build context,
 * COPY's layer): node-tar neither writes nor keeps `SCHILY.xattr.*` PAX records, so they are added
 * to its output and picked out of its input here, and read and set with attr's getfattr and
 * setfattr, since Node has no xattr API. Used by the daemon and the CLI alike: the programs are
 * started through a runner each side passes in.
 *
 * Which attributes: `copiedXattr` for what leaves or enters a container by `cp` (file capabilities
 * and `user.*`), images/xattrs.ts's `keepXattr` for layers (also `trusted.*`).
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { posix, relative } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { InvalidParameterError } from '../errors/index.js';
import { BLOCK, checksumOk, field, MAX_META, numeric, parsePax, paxRecord, roundUp, setChecksum } from './tar-blocks.js';

export type Xattrs = [name: string, value: Buffer][];
export type XattrFilter = (name: string) => boolean;
export type Runner = (cmd: string, args: string[], input?: string) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Runs a program as a child of this process: the CLI's runner (the daemon's goes through its host layer). */
export const spawnRunner: Runner = (cmd, args, input) => new Promise((resolve, reject) => {
  const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  child.on('error', reject);
  child.on('close', (code) => resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  // A program that exits without reading all of it reports why itself: EPIPE here says nothing more.
  child.stdin?.on('error', () => {});
  child.stdin?.end(input);
});

/**
 * File capabilities and `user.*` but overlayfs' own (`user.overlay.*` could fake whiteouts). dockerd's
 * archive writes `security.capability` alone; berth keeps `user.*` too, as GNU tar `--xattrs` and its
 * own layers do. `trusted.*` stays out: admin attributes have no business crossing to or from a host.
 */
export function copiedXattr(name: string): boolean {
  if (name === 'security.capability') return true;
  return name.startsWith('user.') && !name.startsWith('user.overlay.');
}

/** A relative path without `.` components or leading and trailing slashes; the root is `.`. */
export function tarName(p: string): string {
  const n = posix.normalize(p.replace(/^\/+/, '')).replace(/\/+$/, '');
  return n === '' || n === './' ? '.' : n;
}

/** A PAX extended header (`x`) block for a body of `size` bytes, named as GNU tar names them. */
function paxBlock(size: number, from?: Buffer): Buffer {
  const h = from ? Buffer.from(from) : Buffer.alloc(BLOCK);
  if (!from) {
    h.write('PaxHeaders/entry', 0, 'latin1');
    h.write('0000644\0', 100, 'latin1');
    h.write('0000000\0', 108, 'latin1');
    h.write('0000000\0', 116, 'latin1');
    h.write('00000000000\0', 136, 'latin1');
    h.write('x', 156, 'latin1');
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
  }
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  setChecksum(h);
  return h;
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc(roundUp(b.length) - b.length)]);

/** A header read off the stream, with the PAX records and long name that came before it. */
interface Entry { name: string; type: string; pax: Map<string, Buffer> }

/**
 * Walks a tar stream block by block and passes it on; `entry` sees each member's header (after its
 * PAX and long-name headers, which are held back until then) and may return PAX records to add.
 * Data passes through untouched; after the first zero block everything does.
 */
class TarWalk extends Transform {
  private state: 'header' | 'meta' | 'data' | 'end' = 'header';
  private partial = Buffer.alloc(0);
  private meta?: { type: string; header: Buffer; body: Buffer; fill: number };
  private held: { type: string; header: Buffer; body: Buffer }[] = [];
  private remaining = 0;

  constructor(private readonly entry: (e: Entry) => Promise<Buffer[]> | Buffer[]) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.consume(chunk).then(() => cb(), (e: Error) => cb(e));
  }

  override _flush(cb: TransformCallback): void {
    // A short stream goes on as short as it came: the reader on the other side says what is wrong with it.
    if (this.partial.length) this.push(this.partial);
    cb();
  }

  private async consume(chunk: Buffer): Promise<void> {
    let off = 0;
    if (this.partial.length) { chunk = Buffer.concat([this.partial, chunk]); this.partial = Buffer.alloc(0); }
    while (off < chunk.length) {
      if (this.state === 'end') { this.push(chunk.subarray(off)); return; }
      if (this.state === 'data') {
        const n = Math.min(this.remaining, chunk.length - off);
        this.push(chunk.subarray(off, off + n));
        this.remaining -= n; off += n;
        if (!this.remaining) this.state = 'header';
        continue;
      }
      if (this.state === 'meta') {
        const m = this.meta!;
        const n = Math.min(m.body.length - m.fill, chunk.length - off);
        chunk.copy(m.body, m.fill, off, off + n);
        m.fill += n; off += n;
        if (m.fill === m.body.length) { this.held.push(m); this.meta = undefined; this.state = 'header'; }
        continue;
      }
      if (chunk.length - off < BLOCK) { this.partial = Buffer.from(chunk.subarray(off)); return; }
      const block = chunk.subarray(off, off + BLOCK);
      off += BLOCK;
      await this.header(Buffer.from(block));
    }
  }

  private async header(block: Buffer): Promise<void> {
    if (block.every((c) => c === 0)) {
      for (const h of this.held) this.push(Buffer.concat([h.header, h.body]));
      this.held = [];
      this.push(block);
      this.state = 'end';
      return;
    }
    // Not a tar header (a bad checksum, a size that is no number): nothing more is read into the stream, and the
    // reader on the other side refuses it.
    if (!checksumOk(block) || !Number.isSafeInteger(numeric(block, 124, 12))) {
      for (const h of this.held) this.push(Buffer.concat([h.header, h.body]));
      this.held = [];
      this.push(block);
      this.state = 'end';
      return;
    }
    const raw = String.fromCharCode(block[156]!);
    const type = raw === '\0' ? '0' : raw;
    const size = numeric(block, 124, 12);
    if ('xgLK'.includes(type)) {
      if (size > MAX_META) throw new InvalidParameterError(`a ${size}-byte tar metadata header is too large`);
      this.meta = { type, header: block, body: Buffer.alloc(roundUp(size)), fill: 0 };
      this.state = 'meta';
      if (!size) { this.held.push(this.meta); this.meta = undefined; this.state = 'header'; }
      return;
    }
    const pax = new Map<string, Buffer>();
    let longName: string | undefined;
    let x: { header: Buffer; body: Buffer } | undefined;
    for (const h of this.held) {
      const len = numeric(h.header, 124, 12);
      if (h.type === 'x') { x = h; for (const [k, v] of parsePax(h.body.subarray(0, len))) pax.set(k, v); }
      if (h.type === 'L') longName = field(h.body, 0, len).toString();
    }
    let name = pax.get('path')?.toString() ?? longName;
    if (name === undefined) {
      name = field(block, 0, 100).toString();
      const prefix = block.toString('latin1', 257, 263) === 'ustar\0' ? field(block, 345, 155).toString() : '';
      if (prefix) name = `${prefix}/${name}`;
    }
    const records = await this.entry({ name, type, pax });
    if (records.length && x) {
      // One PAX header per member: a second would replace the first for Go's archive/tar, not add to it.
      const body = Buffer.concat([x.body.subarray(0, numeric(x.header, 124, 12)), ...records]);
      x.header = paxBlock(body.length, x.header);
      x.body = pad(body);
    }
    for (const h of this.held) this.push(Buffer.concat([h.header, h.body]));
    this.held = [];
    if (records.length && !x) {
      const body = Buffer.concat(records);
      this.push(Buffer.concat([paxBlock(body.length), pad(body)]));
    }
    this.push(block);
    const paxSize = pax.get('size');
    const dataSize = '123456'.includes(type) ? 0 : paxSize ? Number(paxSize.toString('latin1')) : size;
    this.remaining = roundUp(dataSize);
    this.state = this.remaining ? 'data' : 'header';
  }
}

/**
 * node-tar's output with each member's attributes added as `SCHILY.xattr.*` records; `lookup`
 * (awaited before the first header goes on) names them by the member's name as `tarName` gives it.
 */
export function injectXattrs(lookup: Promise<Map<string, Xattrs>>): Transform {
  // Failing before the first header is awaited must not count as unhandled: the stream reports it.
  lookup.catch(() => {});
  return new TarWalk(async (e) => {
    const found = (await lookup).get(tarName(e.name));
    if (!found?.length || e.type === '2') return [];
    return found.map(([n, v]) => paxRecord(`SCHILY.xattr.${n}`, v));
  });
}

export interface CollectedXattrs { path: string; type: string; xattrs: Xattrs }

/** Passes a tar stream on unchanged, noting each member's `SCHILY.xattr.*` records that `keep` takes. */
export function collectXattrs(keep: XattrFilter): Transform & { collected: CollectedXattrs[] } {
  const collected: CollectedXattrs[] = [];
  const walk = new TarWalk((e) => {
    const xattrs: Xattrs = [];
    for (const [k, v] of e.pax) {
      if (k.startsWith('SCHILY.xattr.') && keep(k.slice(13))) xattrs.push([k.slice(13), v]);
    }
    if (xattrs.length) collected.push({ path: tarName(e.name), type: e.type, xattrs });
    return [];
  });
  return Object.assign(walk, { collected });
}

/** attr's quoting undone: `\ooo` octal escapes and `\\`. */
function unquote(s: string): Buffer {
  const out: number[] = [];
  const b = Buffer.from(s);
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x5c && /^[0-7]{3}$/.test(b.toString('latin1', i + 1, i + 4))) { out.push(parseInt(b.toString('latin1', i + 1, i + 4), 8)); i += 3; continue; }
    if (b[i] === 0x5c && b[i + 1] === 0x5c) { out.push(0x5c); i++; continue; }
    out.push(b[i]!);
  }
  return Buffer.from(out);
}

/** attr's quoting for `setfattr --restore`: backslash, `=` and anything unprintable as \ooo. */
function quote(b: Buffer): string {
  let s = '';
  for (const c of b) s += c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x3d ? `\\${c.toString(8).padStart(3, '0')}` : String.fromCharCode(c);
  return s;
}

/**
 * A capability set inside a user namespace (VFS_CAP_REVISION_3) names that namespace's root; as
 * dockerd's archive does, it goes out as revision 2, which means the same in any namespace.
 */
function portableCapability(v: Buffer): Buffer {
  if (v.length < 20 || v[3] !== 3) return v;
  const out = Buffer.from(v.subarray(0, 20));
  out[3] = 2;
  return out;
}

/**
 * The attributes `keep` takes of everything under `top` (itself included), keyed by the name that
 * `nameOf` gives a path relative to `base`; one getfattr for the whole tree. Symlinks are not
 * followed (nor read: they carry nothing berth keeps) unless `follow`, as `cp -L` follows them.
 */
export async function readXattrs(run: Runner, base: string, top: string, opts: { keep: XattrFilter; follow?: boolean; nameOf?: (rel: string) => string }): Promise<Map<string, Xattrs>> {
  const out = new Map<string, Xattrs>();
  const r = await run('getfattr', [opts.follow ? '-L' : '-P', ...(opts.follow ? [] : ['-h']), '-R', '-d', '-m', '^(security\\.capability|user\\.|trusted\\.)', '-e', 'base64', '--absolute-names', '--', top]);
  let at: string | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      const path = unquote(line.slice(8)).toString();
      at = opts.nameOf ? opts.nameOf(tarName(relative(base, path))) : tarName(relative(base, path));
      continue;
    }
    const eq = line.indexOf('=');
    if (at === undefined || eq <= 0) continue;
    const name = unquote(line.slice(0, eq)).toString();
    const v = line.slice(eq + 1);
    if (!opts.keep(name) || !v.startsWith('0s')) continue;
    const value = Buffer.from(v.slice(2), 'base64');
    if (!out.has(at)) out.set(at, []);
    out.get(at)!.push([name, name === 'security.capability' ? portableCapability(value) : value]);
  }
  return out;
}

/** O_PATH: a descriptor that names a file without opening it for I/O; Node's constants lack it (x86-64 and arm64 value). */
const O_PATH = 0o10000000;

/**
 * Opens `rel` under `root` one component at a time, never through a symlink (each step is relative to
 * the directory before it, with O_NOFOLLOW): a tree a container can change under us cannot lead the
 * write anywhere else. Only regular files and directories: other files take no attribute berth keeps.
 */
function openUnder(root: string, rel: string): number | undefined {
  const parts = rel.split('/').filter((p) => p && p !== '.');
  if (parts.includes('..')) return undefined;
  let fd: number;
  try { fd = openSync(root, O_PATH | constants.O_DIRECTORY); } catch { return undefined; }
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    let next: number;
    try {
      next = openSync(`/proc/self/fd/${fd}/${parts[i]}`, O_PATH | constants.O_NOFOLLOW | (last ? 0 : constants.O_DIRECTORY));
    } catch {
      closeSync(fd);
      return undefined;
    }
    closeSync(fd);
    fd = next;
  }
  const st = fstatSync(fd);
  if (st.isFile() || st.isDirectory()) return fd;
  closeSync(fd);
  return undefined;
}

/**
 * Sets the collected attributes under `root` once the tar is unpacked (after every chown, which
 * clears a capability), with one `setfattr --restore` on the files' descriptors. A filesystem
 * without the namespace (ENOTSUP) and a caller without the right (EPERM: a capability needs
 * CAP_SETFCAP) skip the attribute, as dockerd's best-effort extraction does; other failures throw.
 */
export async function applyXattrs(run: Runner, root: string, entries: CollectedXattrs[]): Promise<void> {
  const fds: number[] = [];
  try {
    const lines: string[] = [];
    for (const e of entries) {
      if (e.type === '2' || !e.xattrs.length) continue;
      const fd = openUnder(root, e.path);
      if (fd === undefined) continue;
      fds.push(fd);
      // The descriptor's /proc link leads to the file itself, wherever its path now points.
      lines.push(`# file: /proc/${process.pid}/fd/${fd}`);
      for (const [n, v] of e.xattrs) lines.push(`${quote(Buffer.from(n))}=0s${v.toString('base64')}`);
      lines.push('');
    }
    if (!lines.length) return;
    const r = await run('setfattr', ['--restore=-'], lines.join('\n'));
    const bad = r.stderr.split('\n').filter((l) => l.trim() && !/Operation not permitted|Operation not supported/.test(l));
    if (r.code !== 0 && bad.length) throw new Error(`setting extended attributes failed: ${bad.slice(0, 3).join('; ')}`);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
