/** The networking flags of `run` and `create`: -p, -P, --expose, --network-alias, --ip, --add-host, --dns… */
import { InvalidArgumentError, type Command } from 'commander';
import { collect } from '../context.js';
import { extraHost } from './add-host.js';
import { parsePublish } from '../../network/ports.js';

export interface NetFlags {
  network?: string;
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  networkAlias?: string[];
  ip?: string;
  addHost?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  macAddress?: string;
  link?: string[];
  ip6?: string;
  linkLocalIp?: string[];
}

export function addNetFlags(cmd: Command): Command {
  return cmd
    .option('-p, --publish <list>', "Publish a container's port(s) to the host", collect)
    .option('-P, --publish-all', 'Publish all exposed ports to random ports')
    .option('--expose <list>', 'Expose a port or a range of ports', collect)
    .option('--network-alias <list>', 'Add network-scoped alias for the container', collect)
    .option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--add-host <list>', 'Add a custom host-to-IP mapping (host:ip)', collect)
    .option('--dns <list>', 'Set custom DNS servers', collect)
    .option('--dns-search <list>', 'Set custom DNS search domains', collect)
    .option('--dns-option <list>', 'Set DNS options', collect)
    .option('--mac-address <string>', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)')
    .option('--link <list>', 'Add link to another container', collectLink)
    .option('--ip6 <address>', 'IPv6 address (berth\'s networks are IPv4 only: refused)')
    .option('--link-local-ip <list>', 'Container IPv4/IPv6 link-local addresses (refused)', collect);
}

/** `--link NAME[:ALIAS]`, checked as the docker CLI checks it. */
function collectLink(v: string, previous: string[] = []): string[] {
  if (v.split(':').length > 2) throw new InvalidArgumentError(`bad format for links: ${v}`);
  return [...previous, v];
}

/** The parts of the create request these flags make: `ExposedPorts`, `HostConfig` fields and `NetworkingConfig`. */
export function netBody(f: NetFlags): { ExposedPorts?: Record<string, object>; HostConfig: Record<string, unknown>; NetworkingConfig?: unknown } {
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of f.publish ?? []) {
    for (const [k, v] of Object.entries(parsePublish(p))) (bindings[k] ??= []).push(...v);
  }
  const exposed: Record<string, object> = {};
  for (const k of Object.keys(bindings)) exposed[k] = {};
  for (const e of f.expose ?? []) {
    const [ports = '', proto = 'tcp'] = e.split('/');
    const [lo, hi = lo] = ports.split('-').map(Number) as [number, number?];
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi! > 65535) throw new Error(`invalid range format for --expose specification: "${e}"`);
    for (let n = lo; n <= hi!; n++) exposed[`${n}/${proto}`] = {};
  }
  const hostConfig: Record<string, unknown> = {};
  if (Object.keys(bindings).length) hostConfig.PortBindings = bindings;
  if (f.publishAll) hostConfig.PublishAllPorts = true;
  if (f.addHost?.length) hostConfig.ExtraHosts = f.addHost.map(extraHost);
  if (f.dns?.length) hostConfig.Dns = f.dns;
  if (f.dnsSearch?.length) hostConfig.DnsSearch = f.dnsSearch;
  if (f.dnsOption?.length) hostConfig.DnsOptions = f.dnsOption;
  if (f.link?.length) hostConfig.Links = f.link;
  if (f.macAddress !== undefined && !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(f.macAddress)) throw new Error(`${f.macAddress} is not a valid mac address`);
  let networking: unknown;
  if (f.networkAlias?.length || f.ip) {
    if (!f.network || ['default', 'bridge', 'host', 'none'].includes(f.network)) {
      throw new Error(f.ip ? 'user specified IP address is supported on user defined networks only' : 'network-scoped alias is supported only for containers in user defined networks');
    }
  }
  const ipam = { ...(f.ip ? { IPv4Address: f.ip } : {}), ...(f.ip6 ? { IPv6Address: f.ip6 } : {}), ...(f.linkLocalIp?.length ? { LinkLocalIPs: f.linkLocalIp } : {}) };
  if (f.networkAlias?.length || Object.keys(ipam).length || f.macAddress) {
    // As the docker CLI (API 1.44 and later): the endpoint of the network the container starts on.
    networking = { EndpointsConfig: { [f.network ?? 'default']: {
      ...(f.networkAlias?.length ? { Aliases: f.networkAlias } : {}), ...(Object.keys(ipam).length ? { IPAMConfig: ipam } : {}), ...(f.macAddress ? { MacAddress: f.macAddress } : {}),
    } } };
  }
  return { ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}), HostConfig: hostConfig, ...(networking ? { NetworkingConfig: networking } : {}) };
}
