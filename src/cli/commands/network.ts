/** `berth network create|ls|inspect|rm|connect|disconnect|prune` */
import type { Command } from 'commander';
import { clientOf, collect, forEachArg, keyValues } from '../context.js';
import { goTime, shortId, table } from '../format.js';
import { formatList, labelMethod } from '../go-format.js';
import { filterQuery } from './images.js';
import { inspectEach } from './inspect.js';

interface Network { Name: string; Id: string; Driver: string; Scope: string; Created?: string; EnableIPv6?: boolean; Internal?: boolean; Labels?: Record<string, string> | null }

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
    IPv4: 'true',
    IPv6: String(!!n.EnableIPv6),
    Internal: String(!!n.Internal),
    Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Name: n.Name,
    Scope: n.Scope,
    Label: labelMethod(n.Labels),
  };
}

export function registerNetwork(program: Command): void {
  const net = program.command('network').description('Manage networks').usage('COMMAND');

  net.command('create').description('Create a network').usage('[OPTIONS] NETWORK')
    .argument('<name>')
    .option('-d, --driver <driver>', 'Driver to manage the Network', 'bridge')
    .option('--subnet <cidr>', 'Subnet in CIDR format that represents a network segment')
    .option('--gateway <ip>', 'IPv4 Gateway for the master subnet')
    .option('--ip-range <cidr>', 'Allocate container ip from a sub-range')
    .option('--internal', 'Restrict external access to the network')
    .option('--attachable', 'Enable manual container attachment')
    .option('--ipv6', 'Enable IPv6 networking')
    .option('--label <list>', 'Set metadata on a network', collect)
    .option('-o, --opt <list>', 'Set driver specific options', collect)
    .action(async (name: string, o: { driver: string; subnet?: string; gateway?: string; ipRange?: string; internal?: boolean; attachable?: boolean; ipv6?: boolean; label?: string[]; opt?: string[] }, cmd: Command) => {
      const config = o.subnet || o.gateway || o.ipRange ? [{ ...(o.subnet ? { Subnet: o.subnet } : {}), ...(o.gateway ? { Gateway: o.gateway } : {}), ...(o.ipRange ? { IPRange: o.ipRange } : {}) }] : [];
      const out = await clientOf(cmd).json<{ Id: string; Warning?: string }>('POST', '/networks/create', {
        body: {
          Name: name, Driver: o.driver, Internal: !!o.internal, Attachable: !!o.attachable, EnableIPv6: !!o.ipv6,
          IPAM: { Driver: 'default', Config: config, Options: {} }, Options: keyValues(o.opt), Labels: keyValues(o.label), CheckDuplicate: true,
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
    .action(async (network: string, container: string, o: { alias?: string[]; ip?: string }, cmd: Command) => {
      await clientOf(cmd).call('POST', `/networks/${encodeURIComponent(network)}/connect`, {
        body: { Container: container, EndpointConfig: { ...(o.alias ? { Aliases: o.alias } : {}), ...(o.ip ? { IPAMConfig: { IPv4Address: o.ip } } : {}) } },
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
