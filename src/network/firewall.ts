/**
 * dockerd's firewall model for berth's bridges: rules per network, written when a network's bridge
 * is made or removed, and none per container. (CNI's `firewall` plugin and the bridge plugin's
 * `ipMasq` wrote and deleted a chain of rules for every container, about 100 ms of iptables runs in
 * each `run --rm`.) Per network:
 *
 * - NAT out: `-s SUBNET ! -o BRIDGE -j MASQUERADE`, unless the network is internal;
 * - forwarding: replies and what a published port's DNAT let in go to the bridge, everything from it
 *   goes out; an internal network's traffic stays on its bridge;
 * - isolation: nothing crosses from one berth bridge to another.
 *
 * berth owns its chains whole: each change rewrites them from the full list of networks in one
 * `iptables-restore --noflush`, which flushes and refills the chains it declares and touches nothing
 * else. Each daemon has its own chains (named after its exec root), so daemons side by side keep out
 * of each other's rules. Port publishing stays with CNI's portmap, whose rules are per container.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { run } from '../host/index.js';

export interface BridgeNetwork {
  name: string;
  bridge: string;
  subnet: string;
  internal: boolean;
}

const DEFAULT_EXEC_ROOT = '/run/berth';

/** The chains of the daemon whose exec root is `execRoot`: `BERTH-FORWARD` and so on, tagged unless it is the default one. */
export function firewallChains(execRoot: string): { forward: string; isolation: string; postrouting: string } {
  const root = resolve(execRoot);
  const tag = root === DEFAULT_EXEC_ROOT ? '' : `-${createHash('sha256').update(root).digest('hex').slice(0, 6)}`;
  return { forward: `BERTH-FORWARD${tag}`, isolation: `BERTH-ISOLATION${tag}`, postrouting: `BERTH-POSTROUTING${tag}` };
}

export class Firewall {
  private readonly chains: ReturnType<typeof firewallChains>;

  constructor(execRoot: string) {
    this.chains = firewallChains(execRoot);
  }

  /** Makes berth's chains say exactly what `nets` need, and hooks them into FORWARD and POSTROUTING once. */
  async apply(nets: BridgeNetwork[]): Promise<void> {
    const { forward, isolation, postrouting } = this.chains;
    const hooked = await Promise.all([
      this.hooked('filter', 'FORWARD', forward),
      this.hooked('nat', 'POSTROUTING', postrouting),
    ]);
    const filter = [`:${forward} - [0:0]`, `:${isolation} - [0:0]`];
    const nat = [`:${postrouting} - [0:0]`];
    for (const n of nets) {
      const c = `-m comment --comment "berth network ${n.name}"`;
      filter.push(`-A ${forward} -i ${n.bridge} ! -o ${n.bridge} ${c} -j ${isolation}`);
      filter.push(`-A ${isolation} -o ${n.bridge} ${c} -j DROP`);
    }
    for (const n of nets) {
      const c = `-m comment --comment "berth network ${n.name}"`;
      if (n.internal) {
        filter.push(`-A ${forward} -i ${n.bridge} ! -o ${n.bridge} ${c} -j DROP`, `-A ${forward} -o ${n.bridge} ! -i ${n.bridge} ${c} -j DROP`);
        filter.push(`-A ${forward} -i ${n.bridge} -o ${n.bridge} ${c} -j ACCEPT`);
        continue;
      }
      filter.push(`-A ${forward} -o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED ${c} -j ACCEPT`);
      // A published port: portmap's DNAT made the connection. Nothing else comes in from outside, even where
      // the host forwards everything (FORWARD's policy ACCEPT): only mapped ports are reachable, as with dockerd.
      filter.push(`-A ${forward} -o ${n.bridge} -m conntrack --ctstate DNAT ${c} -j ACCEPT`);
      filter.push(`-A ${forward} -i ${n.bridge} ${c} -j ACCEPT`);
      filter.push(`-A ${forward} -o ${n.bridge} ! -i ${n.bridge} ${c} -j DROP`);
      nat.push(`-A ${postrouting} -s ${n.subnet} ! -o ${n.bridge} ${c} -j MASQUERADE`);
    }
    if (!hooked[0]) filter.push(`-I FORWARD 1 -j ${forward}`);
    if (!hooked[1]) nat.push(`-A POSTROUTING -j ${postrouting}`);
    const script = `*filter\n${filter.join('\n')}\nCOMMIT\n*nat\n${nat.join('\n')}\nCOMMIT\n`;
    await run('iptables-restore', ['-w', '--noflush'], { input: script });
  }

  /** Unhooks and deletes berth's chains: the last bridge is gone. Safe when they are not there. */
  async remove(): Promise<void> {
    const { forward, isolation, postrouting } = this.chains;
    const ipt = (table: string, ...args: string[]) => run('iptables', ['-w', '-t', table, ...args], { allowFailure: true });
    // Every hook, should one have been added twice.
    for (let i = 0; i < 8 && (await ipt('filter', '-D', 'FORWARD', '-j', forward)).code === 0; i++);
    for (let i = 0; i < 8 && (await ipt('nat', '-D', 'POSTROUTING', '-j', postrouting)).code === 0; i++);
    for (const [table, chain] of [['filter', forward], ['filter', isolation], ['nat', postrouting]] as const) {
      await ipt(table, '-F', chain);
      await ipt(table, '-X', chain);
    }
  }

  private async hooked(table: string, chain: string, target: string): Promise<boolean> {
    return (await run('iptables', ['-w', '-t', table, '-C', chain, '-j', target], { allowFailure: true })).code === 0;
  }
}
