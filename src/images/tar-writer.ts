/**
 * The few tar records `save` writes: directories and regular files with
 * fixed owners and times, so saving the same images twice gives the same
 * bytes. Names stay under 100 bytes (`blobs/sha256/<64 hex>` is 77), so
 * plain ustar headers suffice.
 */
import { Header } from 'tar';

const BLOCK = 512;

function header(path: string, type: 'File' | 'Directory', size: number, mtime: Date): Buffer {
  const mode = type === 'Directory' ? 0o755 : 0o644;
  const h = new Header({ path, type, size, mode, uid: 0, gid: 0, uname: '', gname: '', mtime });
  if (h.encode()) throw new Error(`tar name too long for a ustar header: ${path}`);
  return h.block!;
}

export function fileHeader(path: string, size: number, mtime: Date): Buffer {
  return header(path, 'File', size, mtime);
}

export function dirHeader(path: string, mtime: Date): Buffer {
  return header(path.endsWith('/') ? path : `${path}/`, 'Directory', 0, mtime);
}

/** The zeros that round a file's data up to whole blocks. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
