/**
 * The host side of a bridge network: the Linux bridge with the gateway address. berth makes it when
 * the network is made (as dockerd does), so the subnet's route claims the address space at once and
 * the DNS server can listen on the gateway; CNI's bridge plugin finds it there and plugs veths in.
 */
import { existsSync, readFileSync } from 'node:fs';
import { InvalidParameterError } from '../errors/index.js';
import { run } from '../host/index.js';
import { formatCidr, overlaps, parseCidr, type Cidr } from './ipam.js';

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** The MTU of the interface the default route leaves through; 1500 when there is none. */
export async function defaultRouteMtu(): Promise<number> {
  const r = await run('ip', ['-o', '-4', 'route', 'show', 'default'], { allowFailure: true });
  const dev = / dev (\S+)/.exec(r.stdout)?.[1];
  if (!dev) return 1500;
  try { return Number(readFileSync(`/sys/class/net/${dev}/mtu`, 'utf8').trim()) || 1500; } catch { return 1500; }
}

/** IPv4 routes of the host that are not on `except`: the address space already in use. */
export async function hostRoutes(except: string[] = []): Promise<{ dst: Cidr; dev: string }[]> {
  const r = await run('ip', ['-o', '-4', 'route', 'show', 'table', 'main'], { allowFailure: true });
  const out: { dst: Cidr; dev: string }[] = [];
  for (const line of r.stdout.split('\n')) {
    const [dst] = line.trim().split(/\s+/);
    const dev = / dev (\S+)/.exec(line)?.[1] ?? '';
    if (!dst || dst === 'default' || except.includes(dev)) continue;
    try { out.push({ dst: parseCidr(dst.includes('/') ? dst : `${dst}/32`), dev }); } catch { /* not an address */ }
  }
  return out;
}

/** A host route (other than the bridge's own) that overlaps `subnet`, if any. */
export async function conflictingRoute(subnet: Cidr, bridge: string): Promise<string | undefined> {
  const hit = (await hostRoutes([bridge])).find((r) => overlaps(r.dst, subnet));
  return hit ? `${formatCidr(hit.dst)} dev ${hit.dev}` : undefined;
}

/**
 * A Linux bridge name berth may make, and write into iptables rules: an interface name (15 bytes at
 * most) without the characters iptables reads specially (`+` is its wildcard) or a restore script would.
 */
export function checkBridgeName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(name)) {
    throw new InvalidParameterError(`invalid bridge name "${name}": use up to 15 of [A-Za-z0-9_.-], starting with a letter or digit`);
  }
}

/** Makes the bridge with `gateway/bits` and brings it up; leaves one that is already right alone, and refuses an interface that is no bridge. */
export async function ensureBridge(name: string, gateway: string, bits: number, mtu: number): Promise<void> {
  checkBridgeName(name);
  if (linkExists(name) && !existsSync(`/sys/class/net/${name}/bridge`)) {
    throw new InvalidParameterError(`bridge name ${name} is in use by a network interface that is not a bridge`);
  }
  if (!linkExists(name)) {
    const r = await run('ip', ['link', 'add', name, 'mtu', String(mtu), 'type', 'bridge'], { allowFailure: true });
    if (r.code !== 0 && !linkExists(name)) throw new Error(`ip link add ${name}: ${r.stderr.trim()}`);
  }
  const addrs = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', name]);
  if (!addrs.stdout.includes(` ${gateway}/${bits} `)) {
    const r = await run('ip', ['addr', 'add', `${gateway}/${bits}`, 'dev', name], { allowFailure: true });
    if (r.code !== 0 && !/File exists/.test(r.stderr)) throw new Error(`ip addr add ${gateway}/${bits} dev ${name}: ${r.stderr.trim()}`);
  }
  await run('ip', ['link', 'set', name, 'up']);
}

export async function removeBridge(name: string): Promise<void> {
  if (linkExists(name)) await run('ip', ['link', 'del', name], { allowFailure: true });
}
