/**
 * The tar format's smallest parts, shared by the readers and writers that work on tar streams block by
 * block (a layer's scan on unpack, the extended attributes added to and picked out of node-tar's streams):
 * header fields, checksums and PAX records.
 */

export const BLOCK = 512;
/** Largest PAX or long-name header accepted; real ones are a few hundred bytes. */
export const MAX_META = 16 * 1024 * 1024;

export const roundUp = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

/** A NUL-terminated field. */
export function field(b: Buffer, off: number, len: number): Buffer {
  const end = b.indexOf(0, off);
  return b.subarray(off, end >= off && end < off + len ? end : off + len);
}

/** An octal number field, or GNU's base-256 for large values. NaN when it is neither. */
export function numeric(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    if (b[off] === 0xff) return NaN; // negative
    let n = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + b[off + i]!;
    return n;
  }
  const s = field(b, off, len).toString('latin1').trim();
  if (!s) return 0;
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : NaN;
}

/** Whether a header's checksum holds, summed as unsigned bytes or, as some old tars did, signed ones. */
export function checksumOk(b: Buffer): boolean {
  const stored = numeric(b, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

export function setChecksum(b: Buffer): void {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** PAX records, values as raw bytes. A malformed record ends the parse (nothing after it is used). */
export function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(buf.toString('latin1', i, sp));
    if (!Number.isInteger(len) || len <= sp - i + 1 || i + len > buf.length || buf[i + len - 1] !== 0x0a) break;
    const rec = buf.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.toString('utf8', 0, eq), rec.subarray(eq + 1));
    i += len;
  }
  return out;
}

/** One PAX record: "LEN KEY=VALUE\n", LEN counting its own digits. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let digits = 1;
  while (String(body.length + digits).length > digits) digits++;
  return Buffer.concat([Buffer.from(String(body.length + digits)), body]);
}
