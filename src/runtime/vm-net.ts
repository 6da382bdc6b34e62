/**
 * A VM's network: the container's own netns, as the networks part made it (veth on the bridge,
 * address, routes, published ports DNATed to that address). The VM takes the container's place in it,
 * as Kata Containers' "tcfilter" mode does: for each interface a tap is made beside it, and two tc
 * filters redirect every frame arriving on the interface to the tap and every frame from the tap out
 * of the interface. QEMU runs inside the netns, on the tap; the guest's NIC gets the interface's MAC,
 * addresses and routes. So the guest *is* the container's address: `-p`, DNS names, user networks and
 * NAT egress work unchanged, and the taps and filters go with the netns when the container stops.
 */
import { run } from '../host/index.js';
import { SystemError } from '../errors/index.js';
import { shQuote } from './vm-guest.js';

export interface GuestNic {
  /** The interface in the netns (eth0, …), also the guest's name for it. */
  name: string;
  mac: string;
  mtu: number;
  /** address/prefix */
  addrs: string[];
  tap: string;
}

interface IpAddr { ifname: string; address?: string; mtu?: number; link_type?: string; addr_info?: { family: string; local: string; prefixlen: number }[] }
interface IpRoute { dst: string; gateway?: string; dev?: string; protocol?: string }

async function inNetns(netns: string, cmd: string, args: string[]): Promise<string> {
  const res = await run('nsenter', [`--net=${netns}`, '--', cmd, ...args], { allowFailure: true });
  if (res.code !== 0) throw new SystemError(`cannot set up the VM's network: ${cmd} ${args.join(' ')}: ${(res.stderr || res.stdout).trim()}`);
  return res.stdout;
}

/** Makes the taps and filters in `netns`; returns what the guest must configure (empty: loopback only). */
export async function vmNetwork(netns: string): Promise<{ nics: GuestNic[]; script: string }> {
  // One process start for both questions, one for all the plumbing: each costs milliseconds.
  const [addrText, routeText] = (await inNetns(netns, 'sh', ['-c', 'ip -j addr show && echo && ip -j route show'])).split('\n\n');
  const links = JSON.parse(addrText!) as IpAddr[];
  const routes = JSON.parse(routeText || '[]') as IpRoute[];
  const nics: GuestNic[] = [];
  for (const l of links) {
    if (l.link_type !== 'ether' || !l.address || l.ifname.startsWith('vt')) continue;
    const tap = `vt${l.ifname}`.slice(0, 15);
    const addrs = (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
    nics.push({ name: l.ifname, mac: l.address, mtu: l.mtu ?? 1500, addrs, tap });
  }
  const cmds: string[][] = [];
  for (const n of nics) {
    cmds.push(['ip', 'tuntap', 'add', 'dev', n.tap, 'mode', 'tap'], ['ip', 'link', 'set', n.tap, 'mtu', String(n.mtu), 'up']);
    for (const [from, to] of [[n.name, n.tap], [n.tap, n.name]] as const) {
      cmds.push(['tc', 'qdisc', 'add', 'dev', from, 'ingress'],
        ['tc', 'filter', 'add', 'dev', from, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u8', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', to]);
    }
  }
  if (cmds.length) await inNetns(netns, 'sh', ['-ec', cmds.map((c) => c.map(shQuote).join(' ')).join('\n')]);
  // The guest's side: find each NIC by its MAC, give it the netns interface's name, addresses and routes.
  // Renamed through a temporary name only when two NICs would swap names; `read`, not `cat`: no process per NIC.
  const lines: string[] = [];
  const temp = nics.length > 1;
  nics.forEach((n, i) => lines.push(`for d in /sys/class/net/*; do read -r a < $d/address; [ "$a" = ${shQuote(n.mac)} ] && { [ "\${d##*/}" = ${shQuote(temp ? `berthnic${i}` : n.name)} ] || ip link set \${d##*/} name ${shQuote(temp ? `berthnic${i}` : n.name)}; }; done`));
  nics.forEach((n, i) => {
    if (temp) lines.push(`ip link set berthnic${i} name ${shQuote(n.name)}`);
    lines.push(`ip link set ${shQuote(n.name)} mtu ${n.mtu} up`);
    for (const a of n.addrs) lines.push(`ip addr add ${shQuote(a)} dev ${shQuote(n.name)}`);
  });
  for (const r of routes) {
    if (r.protocol === 'kernel' || !r.dev || !nics.some((n) => n.name === r.dev)) continue;
    lines.push(`ip route add ${shQuote(r.dst)}${r.gateway ? ` via ${shQuote(r.gateway)}` : ''} dev ${shQuote(r.dev)}`);
  }
  return { nics, script: nics.length ? `${lines.join('\n')}\n` : '' };
}
