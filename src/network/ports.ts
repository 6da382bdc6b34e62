/**
 * Published ports: docker's `-p` syntax turned into `PortBindings`, and `PortBindings` (plus `-P`'s
 * exposed ports) turned into the concrete mappings CNI's portmap plugin programs.
 */
import { InvalidParameterError } from '../errors/index.js';
import type { PortBinding } from './types.js';

export interface PortMapping {
  hostIp: string;       // '' = every address of the host
  hostPort: number;     // 0 = pick one
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

function portRange(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new InvalidParameterError(`invalid ${what}: ${s}`);
  const lo = Number(m[1]); const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (lo < 1 || hi > 65535 || hi < lo) throw new InvalidParameterError(`invalid ${what}: ${s}`);
  return [lo, hi];
}

/**
 * One `-p` value: `80`, `8080:80`, `8080:80/udp`, `127.0.0.1:8080:80`, `127.0.0.1::80`, `8000-8001:80-81`.
 * Returns `PortBindings` entries, keyed `80/tcp` as the API wants them.
 */
export function parsePublish(spec: string): Record<string, PortBinding[]> {
  let rest = spec.trim();
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) { proto = rest.slice(slash + 1).toLowerCase(); rest = rest.slice(0, slash); }
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new InvalidParameterError(`invalid proto: ${proto}`);
  if (rest.startsWith('[')) throw new InvalidParameterError(`invalid publish spec ${spec}: IPv6 host addresses are not supported yet`);
  const parts = rest.split(':');
  let ip = ''; let host = ''; let ctr: string;
  if (parts.length === 1) ctr = parts[0]!;
  else if (parts.length === 2) [host, ctr] = parts as [string, string];
  else if (parts.length === 3) [ip, host, ctr] = parts as [string, string, string];
  else throw new InvalidParameterError(`invalid publish spec: ${spec}`);
  if (ip && !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new InvalidParameterError(`invalid IP address: ${ip}`);
  const [clo, chi] = portRange(ctr, 'containerPort');
  const out: Record<string, PortBinding[]> = {};
  if (!host) {
    for (let p = clo; p <= chi; p++) (out[`${p}/${proto}`] ??= []).push({ HostIp: ip, HostPort: '' });
    return out;
  }
  const [hlo, hhi] = portRange(host, 'hostPort');
  if (hhi - hlo !== chi - clo && !(clo === chi)) {
    throw new InvalidParameterError(`invalid ranges specified for container and host Ports: ${ctr} and ${host}`);
  }
  if (clo === chi && hhi !== hlo) {
    // docker: one container port and a host range means "any free port of the range"; berth takes the first free one at start.
    (out[`${clo}/${proto}`] ??= []).push({ HostIp: ip, HostPort: `${hlo}-${hhi}` });
    return out;
  }
  for (let i = 0; i <= chi - clo; i++) (out[`${clo + i}/${proto}`] ??= []).push({ HostIp: ip, HostPort: String(hlo + i) });
  return out;
}

/** `80/tcp` → [80, 'tcp']; a bare `80` means tcp. */
export function splitPortKey(key: string): [number, PortMapping['protocol']] {
  const [p, proto = 'tcp'] = key.split('/');
  const n = Number(p);
  if (!Number.isInteger(n) || n < 1 || n > 65535 || !['tcp', 'udp', 'sctp'].includes(proto)) throw new InvalidParameterError(`invalid port: ${key}`);
  return [n, proto as PortMapping['protocol']];
}

/** The mappings a container asks for: its `PortBindings`, and with `-P` every exposed port on a host port of the system's choosing. */
export function wantedMappings(bindings: Record<string, PortBinding[] | null> | null, publishAll: boolean, exposed: Record<string, object>): (PortMapping & { hostRange?: [number, number] })[] {
  const out: (PortMapping & { hostRange?: [number, number] })[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const [containerPort, protocol] = splitPortKey(key);
    for (const b of list ?? [{ HostIp: '', HostPort: '' }]) {
      const hostIp = b.HostIp === '0.0.0.0' ? '' : b.HostIp ?? '';
      if (hostIp.includes(':')) continue; // IPv6: not supported yet
      const hp = b.HostPort ?? '';
      if (hp.includes('-')) {
        const range = portRange(hp, 'hostPort');
        out.push({ hostIp, hostPort: 0, containerPort, protocol, hostRange: range });
      } else {
        // HostPort "0" (testcontainers sends it) means any port, as with dockerd.
        out.push({ hostIp, hostPort: hp && hp !== '0' ? portRange(hp, 'hostPort')[0] : 0, containerPort, protocol });
      }
      bound.add(`${containerPort}/${protocol}`);
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed)) {
      const [containerPort, protocol] = splitPortKey(key);
      if (!bound.has(`${containerPort}/${protocol}`)) out.push({ hostIp: '', hostPort: 0, containerPort, protocol });
    }
  }
  return out;
}

/** `NetworkSettings.Ports`: every exposed or published port, with its host bindings (null when not published). */
export function portsView(mappings: PortMapping[], exposed: Record<string, object>): Record<string, PortBinding[] | null> {
  const out: Record<string, PortBinding[] | null> = {};
  for (const key of Object.keys(exposed)) out[key.includes('/') ? key : `${key}/tcp`] = null;
  for (const m of mappings) {
    (out[`${m.containerPort}/${m.protocol}`] ??= []).push({ HostIp: m.hostIp || '0.0.0.0', HostPort: String(m.hostPort) });
  }
  return out;
}
