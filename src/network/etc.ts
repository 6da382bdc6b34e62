/** The /etc/hosts and /etc/resolv.conf a container gets, written as docker writes them. */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { InvalidParameterError } from '../errors/index.js';

const HOSTS_HEAD = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/**
 * An `ExtraHosts` entry as dockerd checks it: `name:ip`, split at the first colon so an IPv6 address
 * keeps its own, the address literal or `host-gateway`.
 */
export function checkExtraHost(entry: string): void {
  const i = entry.indexOf(':');
  if (i <= 0) throw new InvalidParameterError(`bad format for add-host: ${JSON.stringify(entry)}`);
  const ip = entry.slice(i + 1);
  if (ip !== 'host-gateway' && !isIP(ip.trim())) throw new InvalidParameterError(`invalid IP address in add-host: ${JSON.stringify(ip)}`);
}

/** `--add-host name:ip` entries, then the container's own address under its hostname (loopback when it has none). */
export function hostsFile(hostname: string, domainname: string, ip: string | undefined, extra: { name: string; ip: string }[]): string {
  const fqdn = domainname ? `${hostname}.${domainname}\t${hostname}` : hostname;
  return [...HOSTS_HEAD, ...extra.map((e) => `${e.ip}\t${e.name}`), `${ip || '127.0.0.1'}\t${fqdn}`, ''].join('\n');
}

export interface ResolvConf { nameservers: string[]; search: string[]; options: string[] }

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.trim().split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

export function formatResolvConf(r: ResolvConf): string {
  return [
    ...(r.search.length ? [`search ${r.search.join(' ')}`] : []),
    ...r.nameservers.map((n) => `nameserver ${n}`),
    ...(r.options.length ? [`options ${r.options.join(' ')}`] : []),
    '',
  ].join('\n');
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** The host's resolver configuration. */
export function hostResolvConf(): ResolvConf {
  try { return parseResolvConf(readFileSync('/etc/resolv.conf', 'utf8')); } catch { return { nameservers: [], search: [], options: [] }; }
}

/**
 * Nameservers a container can reach itself: the host's, less loopback ones, which mean nothing in
 * another namespace. With systemd-resolved's 127.0.0.53 the upstream servers it lists are used, as
 * docker does. Empty when the host has loopback resolvers only: then the container asks berth's DNS
 * on its gateway, which forwards to them.
 */
export function reachableNameservers(host: ResolvConf): string[] {
  const direct = host.nameservers.filter((n) => !isLoopback(n));
  if (direct.length || !host.nameservers.length) return direct;
  try {
    return parseResolvConf(readFileSync('/run/systemd/resolve/resolv.conf', 'utf8')).nameservers.filter((n) => !isLoopback(n));
  } catch { return []; }
}
