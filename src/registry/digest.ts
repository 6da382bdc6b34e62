import { createHash, type Hash } from 'node:crypto';
import { InvalidParameterError } from '../errors/index.js';

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

export function parseDigest(digest: string): { algorithm: string; hex: string } {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
  if (!m || HEX_LENGTH[m[1]!] !== m[2]!.length) throw new InvalidParameterError(`invalid digest: ${digest}`);
  return { algorithm: m[1]!, hex: m[2]! };
}

export const isDigest = (ref: string) => /^[a-z0-9]+:[a-f0-9]{32,}$/.test(ref);

export const sha256Digest = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The same algorithm as `digest`, so a sha512 reference is checked with sha512. */
export function digestOf(bytes: Buffer, like: string): string {
  const { algorithm } = parseDigest(like);
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export function hasherFor(digest: string): Hash {
  return createHash(parseDigest(digest).algorithm);
}
