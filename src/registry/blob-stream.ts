/**
 * A blob download as a Readable that checks the digest while the bytes pass
 * through and fails at the end, before `end`, if they do not match. A
 * connection that breaks mid-body is picked up again with a Range request from
 * the byte reached; a server that ignores Range is read from the start with
 * the bytes already delivered skipped.
 */
import type { Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { InvalidParameterError } from '../errors/index.js';
import { DigestMismatchError, RegistryConnectionError, errorFromResponse } from './errors.js';
import { hasherFor } from './digest.js';
import { checkRepo } from './names.js';
import { pullScope, type Requester } from './requester.js';
import { readWithin } from './transport.js';
import type { Credentials } from './types.js';

export interface GetBlobOptions {
  /** Start at this byte, to finish a download already partly on disk. */
  offset?: number;
  /**
   * With `offset`: a hash (the digest's algorithm) already fed the bytes
   * before it, so that the whole blob is verified. The stream takes it over.
   */
  hash?: Hash;
  /** How often a broken connection is resumed; 3 by default. */
  retries?: number;
}

interface Source { registry: string; repo: string; digest: string; creds?: Credentials }

export class BlobStream extends Readable {
  /** The whole blob's size, when the server said it. */
  size: number | undefined;
  private position: number;
  private skip = 0;
  private retriesLeft: number;
  private pulling = false;
  private reader!: ReadableStreamDefaultReader<Uint8Array>;

  private constructor(
    private readonly r: Requester, private readonly src: Source, readonly offset: number, private readonly hash: Hash, retries: number,
  ) {
    super();
    this.position = offset;
    this.retriesLeft = retries;
  }

  static async open(r: Requester, src: Source, opts: GetBlobOptions = {}): Promise<BlobStream> {
    checkRepo(src.repo);
    const offset = opts.offset ?? 0;
    if (offset > 0 && !opts.hash) throw new InvalidParameterError('resuming a blob download needs the hash of the bytes before the offset');
    const s = new BlobStream(r, src, offset, opts.hash ?? hasherFor(src.digest), opts.retries ?? 3);
    await s.connect();
    return s;
  }

  /** (Re)opens the body at `position`. */
  private async connect(): Promise<void> {
    const { registry, repo, digest, creds } = this.src;
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
    if (this.position > 0) headers.Range = `bytes=${this.position}-`;
    const res = await this.r.request({ registry, method: 'GET', path: `/v2/${repo}/blobs/${digest}`, scopes: [pullScope(repo)], creds, headers });
    if (res.status === 416 && this.position > 0 && this.size === undefined) {
      // Asked to start at the very end: nothing is left to read, only the check.
      await res.body?.cancel();
      this.reader = new ReadableStream<Uint8Array>({ start: (c) => c.close() }).getReader();
      return;
    }
    if (!res.ok) throw await errorFromResponse(res);
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== this.position) {
        await res.body?.cancel();
        throw new RegistryConnectionError('ERANGE', `blob ${digest}: asked for bytes from ${this.position}, got ${res.headers.get('content-range')}`);
      }
      if (m[3] !== '*') this.size = Number(m[3]);
      this.skip = 0;
    } else {
      if (Number.isFinite(length)) this.size = length;
      this.skip = this.position;
    }
    this.reader = res.body!.getReader();
  }

  override _read(): void {
    if (!this.pulling) void this.pull();
  }

  private async pull(): Promise<void> {
    this.pulling = true;
    try {
      for (;;) {
        let chunk: Uint8Array;
        try {
          const next = await readWithin(this.reader, this.r.timeoutMs, `blob ${this.src.digest}`);
          if (this.destroyed) return;
          if (next.done) {
            if (this.size !== undefined && this.position < this.size) {
              throw new RegistryConnectionError('ECONNRESET', `blob ${this.src.digest}: body ended at ${this.position} of ${this.size} bytes`);
            }
            return this.finish();
          }
          chunk = next.value;
        } catch (err) {
          if (this.destroyed) return;
          await this.reconnect(err);
          continue;
        }
        let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        if (this.skip > 0) {
          const n = Math.min(this.skip, buf.length);
          this.skip -= n;
          buf = buf.subarray(n);
          if (buf.length === 0) continue;
        }
        this.hash.update(buf);
        this.position += buf.length;
        if (!this.push(buf)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.pulling = false;
    }
  }

  /** After a network failure: connect again from `position`, a few times, with a growing pause. */
  private async reconnect(cause: unknown): Promise<void> {
    await this.reader.cancel().catch(() => {});
    for (let attempt = 1; ; attempt++) {
      if (!(cause instanceof RegistryConnectionError) || this.retriesLeft-- <= 0) throw cause;
      await new Promise((res) => setTimeout(res, 100 * attempt));
      try {
        return await this.connect();
      } catch (err) {
        cause = err;
      }
    }
  }

  private finish(): void {
    const algorithm = this.src.digest.split(':')[0]!;
    const actual = `${algorithm}:${this.hash.digest('hex')}`;
    if (actual !== this.src.digest) this.destroy(new DigestMismatchError(this.src.digest, actual));
    else this.push(null);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.reader?.cancel().catch(() => {});
    cb(err);
  }
}
