/** `--add-host`, as the docker CLI checks and sends it. */
import { isIP } from 'node:net';
import { FlagError } from '../context.js';

/**
 * `host:ip` or `host=ip`, the address maybe in brackets (`v6:[::1]`) or `host-gateway`; out it goes as
 * `host:ip`, the only form the API takes.
 */
export function extraHost(v: string): string {
  const eq = v.indexOf('=');
  const i = eq >= 0 ? eq : v.indexOf(':');
  const host = i < 0 ? '' : v.slice(0, i);
  let ip = v.slice(i + 1);
  const bad = (why: string) => new FlagError(`invalid argument "${v}" for "--add-host" flag: ${why}`);
  if (!host || host.includes(':')) throw bad(`bad format for add-host: ${JSON.stringify(v)}`);
  if (ip !== 'host-gateway') {
    if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (!isIP(ip.trim())) throw bad(`invalid IP address in add-host: ${JSON.stringify(ip)}`);
  }
  return `${host}:${ip}`;
}
