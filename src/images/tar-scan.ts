/**
 * The gate between a layer's tar stream and `tar -x`: it reads every header
 * (ustar, PAX `x`/`g`, GNU long names, old GNU sparse) and passes on only
 * what berth has checked, in a form GNU tar cannot read differently:
 *
 * - each entry it passes gets a fresh PAX header of its own with the `path`
 *   (and a hard link's `linkpath`) berth checked, normalised to a relative
 *   path without `..`; the layer's own PAX, long-name and global headers are
 *   never passed on, so no second name (`GNU.sparse.name`, a long name, a
 *   ustar prefix read another way) can reach tar;
 * - entries that are not regular files (directories, links, devices) go on
 *   with a size of 0 and their data is dropped, as Go's archive/tar reads
 *   them, so tar and berth always agree on where the next header starts;
 * - symlinks, whiteouts (`.wh.NAME`) and opaque markers are not passed on but
 *   collected, for berth to make after tar is done: while tar runs, the
 *   target holds no symlink at all, so nothing can be written through one;
 * - entries with `..` in their path or link target, or deeper than 1024
 *   levels, are dropped and reported; unknown entry types are dropped;
 * - PAX records pass only when tar needs them (size, owners, mtime) or they
 *   are extended attributes berth keeps (see xattrs.ts);
 * - the first zero block ends the archive; what follows is not passed on.
 *
 * Paths are handled as bytes (latin1 strings), so names that are not UTF-8
 * reach the disk unchanged.
 */
import { posix } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { BLOCK, checksumOk, field, MAX_META, numeric, parsePax, paxRecord, roundUp, setChecksum } from '../common/tar-blocks.js';
import { InvalidParameterError } from '../errors/index.js';
import { keepXattr } from './xattrs.js';

/** node-tar's limit, which berth kept. */
const MAX_DEPTH = 1024;
const ZERO = Buffer.alloc(BLOCK);
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
export { parsePax, paxRecord };

export type Xattrs = [name: string, value: Buffer][];

export interface Collected {
  /** Symlinks, made by berth after tar: path (utf8), target as its raw bytes. */
  symlinks: { path: string; target: Buffer; xattrs: Xattrs }[];
  whiteouts: string[];
  opaque: string[];
}

/** The name of a ustar header: POSIX ustar joins the prefix field; old GNU and v7 headers have none. */
function headerName(b: Buffer): Buffer {
  const name = field(b, 0, 100);
  if (b.toString('latin1', 257, 263) !== 'ustar\0') return name;
  const prefix = field(b, 345, 155);
  return prefix.length ? Buffer.concat([prefix, Buffer.from('/'), name]) : name;
}

/** A PAX extended header (`x`) carrying these records, padded to whole blocks. */
export function paxHeader(records: Buffer[]): Buffer {
  const body = Buffer.concat(records);
  const h = Buffer.alloc(BLOCK);
  h.write('PaxHeaders/entry', 0, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('x', 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  setChecksum(h);
  return Buffer.concat([h, body, Buffer.alloc(roundUp(body.length) - body.length)]);
}

/** The xattrs a PAX record set carries that berth keeps. */
export function xattrsOf(pax: Map<string, Buffer>): Xattrs {
  const out: Xattrs = [];
  for (const [k, v] of pax) {
    if (k.startsWith('SCHILY.xattr.') && keepXattr(k.slice('SCHILY.xattr.'.length))) out.push([k.slice('SCHILY.xattr.'.length), v]);
  }
  return out;
}

/** Entry types tar unpacks (besides hard links): files, contiguous files, directories, devices, FIFOs, old GNU sparse files. */
const UNPACKED = new Set(['0', '7', '5', '3', '4', '6', 'S']);

/** Records passed on to tar besides path and linkpath. */
const PASSED = new Set(['uid', 'gid', 'uname', 'gname', 'mtime']);

/** A relative path without `.` components, leading or trailing slashes; the root is `.`. */
function normalise(p: string): string {
  const n = posix.normalize(p.replace(/^\/+/, '')).replace(/\/+$/, '');
  return n === '' ? '.' : n;
}

const cut = (s: string) => (s.length > 120 ? `${s.slice(0, 120)}…` : s);
const text = (latin1: string) => Buffer.from(latin1, 'latin1').toString('utf8');

export class LayerScanner extends Transform {
  readonly collected: Collected = { symlinks: [], whiteouts: [], opaque: [] };
  /** Entries dropped as unsafe, in node-tar's words. */
  readonly refused: string[] = [];
  private state: 'header' | 'meta' | 'data' | 'ext' | 'end' = 'header';
  private hdr = Buffer.alloc(BLOCK);
  private hdrFill = 0;
  private meta?: { type: string; buf: Buffer; fill: number; size: number };
  private remaining = 0;
  private forward = false;
  private pending = 0; // data bytes that follow the sparse extension blocks
  private pax?: Map<string, Buffer>;
  private global = new Map<string, Buffer>();
  private longName?: Buffer;
  private longLink?: Buffer;
  private position = 0;
  private name = '';
  private out: Buffer[] = [];

  constructor() {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    const out = this.out;
    this.out = [];
    if (out.length) this.push(out.length === 1 ? out[0] : Buffer.concat(out));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.state === 'data' || this.state === 'meta' || this.state === 'ext' || this.hdrFill) {
      const need = this.state === 'data' ? this.remaining : this.state === 'meta' ? roundUp(this.meta!.size) - this.meta!.fill : BLOCK - this.hdrFill;
      cb(new InvalidParameterError(`refused layer: not a valid tar stream (Truncated input: ${this.name ? `the entry ${cut(text(this.name))}` : 'a header'} needs ${need} more bytes)`));
      return;
    }
    this.push(END_OF_ARCHIVE);
    cb();
  }

  private bad(what: string): InvalidParameterError {
    return new InvalidParameterError(`refused layer: not a valid tar stream (${what} at byte ${this.position})`);
  }

  private consume(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      switch (this.state) {
        case 'end':
          return; // the rest was hashed; tar gets the end-of-archive blocks from _flush
        case 'data': {
          const n = Math.min(this.remaining, chunk.length - off);
          if (this.forward) this.out.push(chunk.subarray(off, off + n));
          this.remaining -= n;
          off += n;
          this.position += n;
          if (!this.remaining) this.state = 'header';
          break;
        }
        case 'meta': {
          const m = this.meta!;
          const padded = roundUp(m.size);
          const n = Math.min(padded - m.fill, chunk.length - off);
          if (m.fill < m.size) chunk.copy(m.buf, m.fill, off, off + Math.min(n, m.size - m.fill));
          m.fill += n;
          off += n;
          this.position += n;
          if (m.fill === padded) this.metaDone();
          break;
        }
        case 'header':
        case 'ext': {
          let block: Buffer;
          if (this.hdrFill === 0 && chunk.length - off >= BLOCK) {
            block = chunk.subarray(off, off + BLOCK);
            off += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.hdrFill, chunk.length - off);
            chunk.copy(this.hdr, this.hdrFill, off, off + n);
            this.hdrFill += n;
            off += n;
            if (this.hdrFill < BLOCK) break;
            this.hdrFill = 0;
            block = this.hdr;
          }
          if (this.state === 'ext') this.sparseExtension(block);
          else this.header(block);
          this.position += BLOCK;
          break;
        }
      }
    }
  }

  private header(block: Buffer): void {
    if (block.equals(ZERO)) { this.state = 'end'; return; }
    if (!checksumOk(block)) throw this.bad('a header with a bad checksum');
    const raw = String.fromCharCode(block[156]!);
    const type = raw === '\0' ? '0' : raw;
    const size = numeric(block, 124, 12);
    if (!Number.isSafeInteger(size)) throw this.bad('a header with a bad size');

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_META) throw new InvalidParameterError(`refused layer: a ${size}-byte ${type === 'L' || type === 'K' ? 'long name' : 'PAX'} header, more than berth accepts (${MAX_META})`);
      this.meta = { type, buf: Buffer.alloc(size), fill: 0, size };
      this.state = 'meta';
      if (size === 0) this.metaDone();
      return;
    }

    const pax = new Map(this.global);
    for (const [k, v] of this.pax ?? []) pax.set(k, v);
    this.pax = undefined;
    const nul = (b: Buffer) => { const i = b.indexOf(0); return i >= 0 ? b.subarray(0, i) : b; };
    const rawPath = nul(pax.get('path') ?? this.longName ?? headerName(block)).toString('latin1');
    const rawLink = nul(pax.get('linkpath') ?? this.longLink ?? field(block, 157, 100)).toString('latin1');
    this.longName = undefined;
    this.longLink = undefined;
    this.name = rawPath;

    // Go's archive/tar: a v7 regular file whose name ends in a slash is a directory.
    const dirByName = raw === '\0' && rawPath.endsWith('/');
    const headerOnly = dirByName || '123456'.includes(type);
    let dataSize = size;
    const paxSize = pax.get('size');
    // Old GNU sparse entries keep their stored size in the header, where tar reads it.
    if (paxSize !== undefined && type !== 'S') {
      dataSize = Number(paxSize.toString('latin1'));
      if (!Number.isSafeInteger(dataSize) || dataSize < 0) throw this.bad('a PAX size that is not a number');
    }
    if (headerOnly) dataSize = 0;
    const extended = type === 'S' && block[482] !== 0;

    const forward = this.decide(type, dirByName, rawPath, rawLink, pax, block, dataSize);
    this.forward = forward;
    this.remaining = roundUp(dataSize);
    if (extended) { this.pending = this.remaining; this.state = 'ext'; } else this.state = this.remaining ? 'data' : 'header';
  }

  /** Collects or refuses the entry, or passes it on (its own PAX header, then its header): true when passed on. */
  private decide(type: string, dirByName: boolean, rawPath: string, rawLink: string, pax: Map<string, Buffer>, block: Buffer, dataSize: number): boolean {
    if (rawPath.split('/').includes('..')) { this.refused.push(`path contains '..': ${cut(text(rawPath))}`); return false; }
    const path = normalise(rawPath);
    if (path.split('/').length > MAX_DEPTH) { this.refused.push(`path excessively deep: ${cut(text(path))}`); return false; }
    const base = posix.basename(path);
    const dir = posix.dirname(path);
    if (base === '.wh..wh..opq') { this.collected.opaque.push(text(dir)); return false; }
    if (base.startsWith('.wh.')) { this.collected.whiteouts.push(text(posix.join(dir, base.slice(4)))); return false; }
    if (type === '2') {
      this.collected.symlinks.push({ path: text(path), target: Buffer.from(rawLink, 'latin1'), xattrs: xattrsOf(pax) });
      return false;
    }
    const records = [paxRecord('path', Buffer.from(path, 'latin1'))];
    if (type === '1') {
      if (rawLink.split('/').includes('..')) { this.refused.push(`linkpath contains '..': ${cut(text(rawPath))} -> ${cut(text(rawLink))}`); return false; }
      if (!rawLink) { this.refused.push(`a hard link without a target: ${cut(text(rawPath))}`); return false; }
      records.push(paxRecord('linkpath', Buffer.from(normalise(rawLink), 'latin1')));
    } else if (!dirByName && !UNPACKED.has(type)) {
      return false; // an entry type berth does not unpack (node-tar skipped them too)
    }
    for (const [k, v] of pax) if (PASSED.has(k)) records.push(paxRecord(k, v));
    if ((type === '0' || type === '7') && !dirByName) records.push(paxRecord('size', Buffer.from(String(dataSize))));
    for (const [k, v] of xattrsOf(pax)) records.push(paxRecord(`SCHILY.xattr.${k}`, v));
    const h = Buffer.from(block);
    if (dirByName || '123456'.includes(type)) {
      if (dirByName) h.write('5', 156, 'latin1');
      h.write('00000000000\0', 124, 'latin1');
      setChecksum(h);
    }
    this.out.push(paxHeader(records), h);
    return true;
  }

  /** Old GNU sparse headers continue in extension blocks, each saying whether another follows. */
  private sparseExtension(block: Buffer): void {
    if (this.forward) this.out.push(Buffer.from(block));
    if (block[504] === 0) {
      this.remaining = this.pending;
      this.state = this.remaining ? 'data' : 'header';
    }
  }

  private metaDone(): void {
    const m = this.meta!;
    this.meta = undefined;
    this.state = 'header';
    if (m.type === 'x') {
      const recs = parsePax(m.buf);
      this.pax ??= new Map();
      for (const [k, v] of recs) { if (v.length) this.pax.set(k, v); else this.pax.delete(k); }
    } else if (m.type === 'g') {
      for (const [k, v] of parsePax(m.buf)) {
        if (k === 'path' || k === 'linkpath' || k === 'size') continue;
        if (v.length) this.global.set(k, v); else this.global.delete(k);
      }
    } else {
      const i = m.buf.indexOf(0);
      const name = i >= 0 ? m.buf.subarray(0, i) : m.buf;
      if (m.type === 'L') this.longName = name; else this.longLink = name;
    }
  }
}
