/**
 * Choosing one manifest from an index for a platform, with containerd's
 * normalization (x86_64 → amd64, aarch64 → arm64/v8, …) and its order of
 * preference for compatible ARM variants (a v7 machine takes v7, then v6, v5).
 */
import { InvalidParameterError, NotFoundError } from '../errors/index.js';
import type { Descriptor, Platform } from './types.js';

const ARCH_ALIASES: Record<string, [string, string?]> = {
  x86_64: ['amd64'], 'x86-64': ['amd64'], aarch64: ['arm64'], armhf: ['arm', 'v7'], armel: ['arm', 'v6'],
  i386: ['386'], i686: ['386'], x86: ['386'], ppc64el: ['ppc64le'],
};

const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

interface Normal { os: string; architecture: string; variant: string }

function normalize(p: Partial<Platform>): Normal {
  const os = (p.os ?? 'linux').toLowerCase();
  const raw = (p.architecture ?? '').toLowerCase();
  const [architecture, aliasVariant] = ARCH_ALIASES[raw] ?? [raw];
  let variant = (p.variant ?? aliasVariant ?? '').toLowerCase();
  if (architecture === 'arm64' && (variant === '8' || variant === 'v8')) variant = '';
  if (architecture === 'arm' && /^\d$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'arm' && variant === '') variant = 'v7';
  return { os, architecture, variant };
}

/** The platform berth runs on, in OCI terms. */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  const p: Platform = { os: process.platform === 'win32' ? 'windows' : process.platform, architecture };
  if (architecture === 'arm64') p.variant = 'v8';
  if (architecture === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    p.variant = `v${v ?? '7'}`;
  }
  return p;
}

/** Variants an entry may have, best first; undefined means any (preferring none). */
function acceptedVariants(want: Normal): string[] | undefined {
  if (want.architecture === 'arm') {
    const n = Number(want.variant.slice(1));
    return Number.isFinite(n) ? Array.from({ length: Math.max(n - 4, 1) }, (_, i) => `v${n - i}`) : [want.variant];
  }
  return want.variant ? [want.variant] : undefined;
}

const format = (p: Partial<Platform>) => [p.os ?? 'linux', p.architecture, p.variant].filter(Boolean).join('/');

/**
 * The index entry for `want` (the host's platform by default). A 404 with
 * docker's message when the index has none.
 */
export function selectPlatform(indexBytes: Buffer | string, want: Partial<Platform> = hostPlatform()): Descriptor {
  let manifests: Descriptor[];
  try {
    const doc = JSON.parse(indexBytes.toString()) as { manifests?: Descriptor[] };
    if (!Array.isArray(doc.manifests)) throw new Error('no manifests');
    manifests = doc.manifests;
  } catch (err) {
    throw new InvalidParameterError(`not an image index or manifest list: ${(err as Error).message}`);
  }
  const w = normalize(want);
  const variants = acceptedVariants(w);
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of manifests) {
    if (!d.platform) continue;
    const c = normalize(d.platform);
    if (c.os !== w.os || c.architecture !== w.architecture) continue;
    const rank = variants ? variants.indexOf(c.variant) : c.variant === '' ? 0 : 1;
    if (rank < 0) continue;
    if (!best || rank < best.rank) best = { d, rank };
  }
  if (!best) throw new NotFoundError(`no matching manifest for ${format(want)} in the manifest list entries`);
  return best.d;
}
