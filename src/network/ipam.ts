/**
 * IPv4 address arithmetic for subnets, gateways and the default address pool. Leases themselves
 * are CNI host-local's business; this only checks and picks subnets, as docker's IPAM does.
 */
import { InvalidParameterError } from '../errors/index.js';

export interface Cidr { base: number; bits: number }

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** `10.1.2.3/24` → the network `10.1.2.0/24` (and the address as given, for `--bip`). */
export function parseCidr(s: string): Cidr & { addr: number } {
  const [ip, len, ...rest] = s.trim().split('/');
  const addr = parseIp(ip ?? '');
  const bits = Number(len);
  if (addr === undefined || rest.length || len === undefined || !/^\d+$/.test(len) || bits > 32) {
    throw new InvalidParameterError(`invalid CIDR address: ${s}`);
  }
  return { base: (addr & mask(bits)) >>> 0, bits, addr };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.bits}`;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.bits)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  return ((a.base & mask(bits)) >>> 0) === ((b.base & mask(bits)) >>> 0);
}

/** The n-th address of a subnet (1 = the first host, docker's default gateway). */
export function nth(c: Cidr, n: number): number {
  return (c.base + n) >>> 0;
}

export function broadcast(c: Cidr): number {
  return (c.base | (~mask(c.bits) >>> 0)) >>> 0;
}

/** Checks a gateway (or a fixed container address) against its subnet: inside it, neither network nor broadcast address. */
export function checkHostAddress(c: Cidr, ip: string, what: string): number {
  const n = parseIp(ip);
  if (n === undefined) throw new InvalidParameterError(`invalid ${what}: ${ip}`);
  if (!contains(c, n)) throw new InvalidParameterError(`no matching subnet for ${what} ${ip}`);
  if (c.bits < 31 && (n === c.base || n === broadcast(c))) throw new InvalidParameterError(`invalid ${what} ${ip}: it is the network or broadcast address of ${formatCidr(c)}`);
  return n;
}

/** docker's `--default-address-pool base=10.10.0.0/16,size=24`. */
export interface AddressPool { base: Cidr; size: number }

export function parsePool(spec: string): AddressPool {
  const kv = Object.fromEntries(spec.split(',').map((p) => p.split('=', 2) as [string, string]));
  if (!kv.base || !kv.size) throw new InvalidParameterError(`invalid default address pool: ${spec} (want base=CIDR,size=N)`);
  const base = parseCidr(kv.base);
  const size = Number(kv.size);
  if (!Number.isInteger(size) || size < base.bits || size > 30) throw new InvalidParameterError(`invalid default address pool size ${kv.size} for ${kv.base}`);
  return { base: { base: base.base, bits: base.bits }, size };
}

/** The first subnet of the pool that overlaps none of `taken`. */
export function allocateSubnet(pool: AddressPool, taken: Cidr[]): Cidr | undefined {
  const count = 2 ** (pool.size - pool.base.bits);
  const step = 2 ** (32 - pool.size);
  for (let i = 0; i < count; i++) {
    const cand = { base: (pool.base.base + i * step) >>> 0, bits: pool.size };
    if (!taken.some((t) => overlaps(t, cand))) return cand;
  }
  return undefined;
}

/**
 * The runs of consecutive addresses in [first, last] once `holes` are taken out. host-local has no exclusion
 * list, but takes a set of ranges in one subnet and never hands out an address outside them: auxiliary
 * addresses become the gaps between runs, with no state on disk to get out of step with the network.
 */
export function carve(first: number, last: number, holes: number[]): [number, number][] {
  const runs: [number, number][] = [];
  let start = first;
  for (const h of [...new Set(holes)].sort((a, b) => a - b)) {
    if (h < start || h > last) continue;
    if (h > start) runs.push([start, h - 1]);
    start = h + 1;
  }
  if (start <= last) runs.push([start, last]);
  return runs;
}

/**
 * dockerd's ValidateIPAM for auxiliary addresses: each must parse and lie in its subnet. The messages, one per
 * address, are joined as dockerd joins them under "invalid network config:".
 */
export function auxErrors(subnet: Cidr | undefined, subnetText: string, aux: Record<string, string>): string[] {
  if (!Object.keys(aux).length) return [];
  if (!subnet) return [`invalid subnet ${subnetText}: invalid CIDR block notation`];
  return Object.entries(aux).flatMap(([name, ip]) => {
    const n = parseIp(ip);
    // An IPv6 address parses in dockerd, and is then of the wrong family.
    if (n === undefined) return [`invalid auxiliary address ${name}: ${/^[0-9a-f:.]*:[0-9a-f:.]*$/i.test(ip) ? 'parent subnet is an IPv4 block' : 'invalid address'}`];
    return contains(subnet, n) ? [] : [`invalid auxiliary address ${name}: parent subnet ${formatCidr(subnet)} doesn't contain this address`];
  });
}

/** dockerd's joined validation errors: one as it is, several as a bullet list. */
export function joinErrors(errs: string[]): string {
  return errs.length === 1 ? errs[0]! : `* ${errs.join('\n* ')}`;
}
