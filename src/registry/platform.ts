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

export function normalize(p: Partial<Platform>): Normal {
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

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos']);
const KNOWN_ARCH = new Set(['386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm']);
const OS_PART = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$/;
const PART = /^[A-Za-z0-9_.-]+$/;

/**
 * A `--platform` value as containerd's platforms.Parse reads it, in its words: `os[/arch[/variant]]`, or a
 * lone OS (the host's architecture) or architecture (the host's OS). Aliases in os/arch stay as written; `samePlatform`
 * compares them normalized.
 */
export function parsePlatformSpecifier(spec: string): Platform {
  const bad = (why: string) => new InvalidParameterError(`${why}: invalid argument`);
  if (spec.includes('*')) throw bad(`${JSON.stringify(spec)}: wildcards not yet supported`);
  // containerd splits into at most four parts, so a fifth '/' lands in the last one and fails its check.
  const all = spec.split('/');
  const parts = all.length > 4 ? [...all.slice(0, 3), all.slice(3).join('/')] : all;
  const os = OS_PART.exec(parts[0]!);
  if (!os) throw bad(`${JSON.stringify(parts[0])} is an invalid OS component of ${JSON.stringify(spec)}: OSAndVersion specifier component must match ${JSON.stringify(OS_PART.source)}`);
  for (const p of parts.slice(1)) {
    if (!PART.test(p)) throw bad(`${JSON.stringify(p)} is an invalid component of ${JSON.stringify(spec)}: platform specifier component must match ${JSON.stringify(PART.source)}`);
  }
  const host = hostPlatform();
  const first = os[1]!.toLowerCase();
  if (parts.length === 1) {
    if (KNOWN_OS.has(first)) return { ...host, os: first };
    const { architecture, variant } = normalize({ architecture: first });
    if (KNOWN_ARCH.has(architecture)) return { os: host.os, architecture, ...(variant ? { variant } : {}) };
    throw bad(`${JSON.stringify(spec)}: unknown operating system or architecture`);
  }
  if (parts.length > 3) throw bad(`${JSON.stringify(spec)}: cannot parse platform specifier`);
  return { os: first, architecture: parts[1]!.toLowerCase(), ...(parts[2] ? { variant: parts[2].toLowerCase() } : {}) };
}

/** A `--platform` a Linux daemon can take: containerd's parse, and dockerd's words (image.CheckOS) for another OS. */
export function parseLinuxPlatform(spec: string): Platform {
  const p = parsePlatformSpecifier(spec);
  if (p.os !== 'linux') throw new InvalidParameterError('operating system is not supported');
  return p;
}

/** Whether two platforms name the same one once aliases are normalized (x86_64 is amd64, aarch64/v8 is arm64). */
export function samePlatform(a: Partial<Platform>, b: Partial<Platform>): boolean {
  const x = normalize(a);
  const y = normalize(b);
  // amd64's variants (v2, v3…) are levels of the same instruction set, not other machines.
  return x.os === y.os && x.architecture === y.architecture && (x.architecture === 'amd64' || x.variant === y.variant);
}

export { format as formatPlatform };
