/** `berth network create|ls|inspect|rm|connect|disconnect|prune` */
import { Option, type Command } from 'commander';
import { clientOf, collect, forEachArg, keyValues } from '../context.js';
import { goTime, shortId, table } from '../format.js';
import { formatList, labelMethod } from '../go-format.js';
import { parseIp } from '../../network/ipam.js';
import { filterQuery } from './images.js';
import { inspectEach } from './inspect.js';

interface Network { Name: string; Id: string; Driver: string; Scope: string; Created?: string; EnableIPv4?: boolean; EnableIPv6?: boolean; Internal?: boolean; Labels?: Record<string, string> | null }

interface IpamConfig { Subnet: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses: Record<string, string> }

/** Whether `data` (an address, or a CIDR's address) is inside `subnet`: the docker CLI's subnetMatches, for IPv4. */
function subnetMatches(subnet: string, data: string): boolean {
  const [ip = '', len = '', ...rest] = subnet.split('/');
  const base = parseIp(ip);
  const bits = Number(len);
  if (subnet.includes(':')) return false; // berth's daemon refuses IPv6 subnets in its own words
  if (base === undefined || rest.length || !/^\d+$/.test(len) || bits > 32) throw new Error(`invalid subnet: invalid CIDR address: ${subnet}`);
  let addr = data;
  if (data.includes('/')) {
    const [a = '', l = ''] = data.split('/');
    if (parseIp(a) === undefined || !/^\d+$/.test(l) || Number(l) > 32) throw new Error(`invalid CIDR address: ${data}`);
    addr = a;
  }
  const n = parseIp(addr);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return n !== undefined && ((n & mask) >>> 0) === ((base & mask) >>> 0);
}

/**
 * The docker CLI's createIPAMConfig: each --ip-range, --gateway and --aux-address goes with the --subnet that
 * holds it, in its words when none does or two would.
 */
export function ipamConfigs(subnets: string[], ranges: string[], gateways: string[], aux: Record<string, string>): IpamConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) throw new Error('every ip-range or gateway must have a corresponding subnet');
  const by = new Map<string, IpamConfig>();
  for (const s of subnets) {
    for (const k of by.keys()) if (subnetMatches(s, k) || subnetMatches(k, s)) throw new Error('multiple overlapping subnet configuration is not supported');
    by.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  for (const r of ranges) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, r)) continue;
      const d = by.get(s)!;
      if (d.IPRange) throw new Error(`cannot configure multiple ranges (${r}, ${d.IPRange}) on the same subnet (${s})`);
      d.IPRange = r;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for range ${r}`);
  }
  for (const g of gateways) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, g)) continue;
      const d = by.get(s)!;
      if (d.Gateway) throw new Error(`cannot configure multiple gateways (${g}, ${d.Gateway}) for the same subnet (${s})`);
      d.Gateway = g;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for gateway ${g}`);
  }
  for (const [k, a] of Object.entries(aux)) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, a)) continue;
      by.get(s)!.AuxiliaryAddresses[k] = a;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for aux-address ${a}`);
  }
  return [...by.values()];
}

/** pflag's string slices: each use of the flag, split at commas. */
function slice(list: string[] = []): string[] {
  return list.flatMap((v) => v.split(',')).filter(Boolean);
}

/** The docker CLI's column names for the fields of `network ls --format`. */
const NETWORK_HEADERS: Record<string, string> = {
  CreatedAt: 'CREATED AT', Driver: 'DRIVER', ID: 'NETWORK ID', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', Name: 'NAME', Scope: 'SCOPE',
};

/** One network as the docker CLI's network formatter sees it. */
function networkRow(n: Network, id: string): Record<string, unknown> {
  return {
    CreatedAt: n.Created ? goTime(Date.parse(n.Created) / 1000) : '',
    Driver: n.Driver,
    ID: id,
    IPv4: String(n.EnableIPv4 ?? true),
    IPv6: String(!!n.EnableIPv6),
    Internal: String(!!n.Internal),
    Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Name: n.Name,
    Scope: n.Scope,
    Label: labelMethod(n.Labels),
  };
}

interface CreateOptions {
  driver: string; subnet?: string[]; gateway?: string[]; ipRange?: string[]; auxAddress?: string[]; ipamDriver: string; ipamOpt?: string[];
  internal?: boolean; attachable?: boolean; ipv4?: boolean; ipv6?: boolean; ingress?: boolean; scope?: string; configOnly?: boolean; configFrom?: string;
  label?: string[]; opt?: string[];
}

export function registerNetwork(program: Command): void {
  const net = program.command('network').description('Manage networks').usage('COMMAND');

  net.command('create').description('Create a network').usage('[OPTIONS] NETWORK')
    .argument('<name>')
    .option('-d, --driver <driver>', 'Driver to manage the Network', 'bridge')
    .option('--subnet <cidr>', 'Subnet in CIDR format that represents a network segment', collect)
    .option('--gateway <ip>', 'IPv4 Gateway for the master subnet', collect)
    .option('--ip-range <cidr>', 'Allocate container ip from a sub-range', collect)
    .option('--aux-address <name=ip>', 'Auxiliary IPv4 addresses used by Network driver', collect)
    .option('--ipam-driver <driver>', 'IP Address Management Driver', 'default')
    .option('--ipam-opt <list>', 'Set IPAM driver specific options', collect)
    .option('--internal', 'Restrict external access to the network')
    .option('--attachable', 'Enable manual container attachment')
    .option('--ipv4', 'Enable or disable IPv4 address assignment (--ipv4=false: disable)')
    .addOption(new Option('--no-ipv4').hideHelp())
    .option('--ipv6', 'Enable or disable IPv6 address assignment')
    .addOption(new Option('--no-ipv6').hideHelp())
    .option('--ingress', 'Create swarm routing-mesh network')
    .option('--scope <scope>', "Control the network's scope")
    .option('--config-only', 'Create a configuration only network')
    .option('--config-from <network>', 'The network from which to copy the configuration')
    .option('--label <list>', 'Set metadata on a network', collect)
    .option('-o, --opt <list>', 'Set driver specific options', collect)
    .action(async (name: string, o: CreateOptions, cmd: Command) => {
      const config = ipamConfigs(slice(o.subnet), slice(o.ipRange), slice(o.gateway), keyValues(o.auxAddress));
      const out = await clientOf(cmd).json<{ Id: string; Warning?: string }>('POST', '/networks/create', {
        body: {
          Name: name, Driver: o.driver, Internal: !!o.internal, Attachable: !!o.attachable,
          // Only when given, as the docker CLI: the daemon then drops a driver option of the same meaning.
          ...(o.ipv4 === undefined ? {} : { EnableIPv4: o.ipv4 }), ...(o.ipv6 === undefined ? {} : { EnableIPv6: o.ipv6 }),
          Ingress: !!o.ingress, Scope: o.scope ?? '', ConfigOnly: !!o.configOnly, ...(o.configFrom ? { ConfigFrom: { Network: o.configFrom } } : {}),
          IPAM: { Driver: o.ipamDriver, Config: config, Options: keyValues(o.ipamOpt) }, Options: keyValues(o.opt), Labels: keyValues(o.label), CheckDuplicate: true,
        },
      });
      if (out.Warning) process.stderr.write(`WARNING: ${out.Warning}\n`);
      process.stdout.write(`${out.Id}\n`);
    });

  net.command('ls').alias('list').description('List networks')
    .option('-q, --quiet', 'Only display network IDs')
    .option('--no-trunc', 'Do not truncate the output')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collect)
    .option('--format <template>', 'Format output using a Go-style template path')
    .action(async (o: { quiet?: boolean; trunc?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
      const list = await clientOf(cmd).json<Network[]>('GET', '/networks', { query: { filters: filterQuery(o.filter ?? []) } });
      list.sort((a, b) => a.Name.localeCompare(b.Name));
      const id = (n: Network) => (o.trunc === false ? n.Id : shortId(n.Id));
      if (o.quiet) { process.stdout.write(list.map((n) => `${id(n)}\n`).join('')); return; }
      if (o.format) {
        const format = o.format === 'json' ? '{{json .}}' : o.format;
        process.stdout.write(formatList(format, list.map((n) => networkRow(n, id(n))), NETWORK_HEADERS, 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', '*formatter.networkContext'));
        return;
      }
      process.stdout.write(table([['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], ...list.map((n) => [id(n), n.Name, n.Driver, n.Scope])]));
    });

  net.command('inspect').description('Display detailed information on one or more networks')
    .argument('<network...>')
    .option('-f, --format <template>', 'Format output using a Go-style template path')
    .action(async (names: string[], o: { format?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      await inspectEach(names, (n) => client.json('GET', `/networks/${encodeURIComponent(n)}`), o.format);
    });

  net.command('rm').alias('remove').description('Remove one or more networks').usage('NETWORK [NETWORK...]')
    .argument('<network...>')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      const client = clientOf(cmd);
      await forEachArg(names, async (n) => {
        await client.call('DELETE', `/networks/${encodeURIComponent(n)}`);
        process.stdout.write(`${n}\n`);
      });
    });

  net.command('connect').description('Connect a container to a network').usage('[OPTIONS] NETWORK CONTAINER')
    .argument('<network>').argument('<container>')
    .option('--alias <list>', 'Add network-scoped alias for the container', collect)
    .option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--ip6 <address>', "IPv6 address (berth's networks are IPv4 only: refused)")
    .option('--link-local-ip <list>', 'Add a link-local address for the container (refused)', collect)
    .option('--driver-opt <list>', 'driver options for the network', collect)
    .option('--gw-priority <int>', 'Highest gw-priority provides the default gateway (recorded only: berth routes through the first network)')
    .option('--link <list>', 'Add link to another container', collect)
    .action(async (network: string, container: string, o: { alias?: string[]; ip?: string; ip6?: string; linkLocalIp?: string[]; driverOpt?: string[]; gwPriority?: string; link?: string[] }, cmd: Command) => {
      const ipam = { ...(o.ip ? { IPv4Address: o.ip } : {}), ...(o.ip6 ? { IPv6Address: o.ip6 } : {}), ...(o.linkLocalIp ? { LinkLocalIPs: o.linkLocalIp } : {}) };
      await clientOf(cmd).call('POST', `/networks/${encodeURIComponent(network)}/connect`, {
        body: { Container: container, EndpointConfig: {
          ...(o.alias ? { Aliases: o.alias } : {}), ...(Object.keys(ipam).length ? { IPAMConfig: ipam } : {}), ...(o.driverOpt ? { DriverOpts: keyValues(o.driverOpt) } : {}),
          ...(o.gwPriority !== undefined ? { GwPriority: Number(o.gwPriority) } : {}), ...(o.link ? { Links: o.link } : {}),
        } },
      });
    });

  net.command('disconnect').description('Disconnect a container from a network').usage('[OPTIONS] NETWORK CONTAINER')
    .argument('<network>').argument('<container>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .action(async (network: string, container: string, o: { force?: boolean }, cmd: Command) => {
      await clientOf(cmd).call('POST', `/networks/${encodeURIComponent(network)}/disconnect`, { body: { Container: container, Force: !!o.force } });
    });

  net.command('prune').description('Remove all unused networks')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .action(async (o: { filter?: string[] }, cmd: Command) => {
      const out = await clientOf(cmd).json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: filterQuery(o.filter ?? []) } });
      if (out.NetworksDeleted?.length) process.stdout.write(`Deleted Networks:\n${out.NetworksDeleted.join('\n')}\n\n`);
    });

  for (const c of net.commands) c.helpOption('--help', 'Print usage').exitOverride().configureOutput({ outputError: () => {} });
}
