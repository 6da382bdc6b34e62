/**
 * Legacy links (`--link NAME[:ALIAS]`), as dockerd keeps them: checked and stored at create as
 * `/NAME:/ME/ALIAS`; at start the other container must run. On the default bridge the alias goes into
 * /etc/hosts and the other container's ports and environment into `ALIAS_*` variables; on a user
 * network berth's DNS answers the alias for this container alone.
 */
import { InvalidParameterError } from '../errors/index.js';
import { parseLink, type ContainerLink } from '../network/index.js';
import type { ContainerRecord } from './types.js';

type Find = (ref: string) => ContainerRecord | undefined;

/** The links a create request asks for (HostConfig.Links, and the endpoints' Links the docker CLI sends on user networks). */
function requested(hc: Record<string, unknown>, networkingConfig: unknown): string[] {
  const eps = (networkingConfig as { EndpointsConfig?: Record<string, { Links?: unknown } | null> } | null | undefined)?.EndpointsConfig ?? {};
  const all = [hc.Links, ...Object.values(eps).map((e) => e?.Links)].flatMap((l) => (Array.isArray(l) ? l.filter((x): x is string => typeof x === 'string') : []));
  return [...new Set(all)];
}

/** dockerd's checks at create; the links as its inspect shows them (`/db:/web/db`), or null for none. */
export function createLinks(hc: Record<string, unknown>, networkingConfig: unknown, me: string, find: Find): string[] | null {
  const links = requested(hc, networkingConfig);
  if (!links.length) return null;
  const mode = String(hc.NetworkMode || 'default');
  if (mode === 'host') throw new InvalidParameterError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  if (mode.startsWith('container:')) throw new InvalidParameterError('conflicting options: container type network can\'t be used with links. This would result in undefined behavior');
  return links.map((l) => {
    const { name, alias } = parseLink(l);
    const other = find(name);
    if (!other) throw new InvalidParameterError(`could not get container for ${name}: No such container: ${name}`);
    return `${other.Name}:/${me}/${alias}`;
  });
}

/** At start: each linked container (run's, and those `network connect --link` gave an endpoint), which must be running. */
export function startLinks(c: ContainerRecord, find: Find): { links: ContainerLink[]; targets: ContainerRecord[] } {
  const links: ContainerLink[] = [];
  const targets: ContainerRecord[] = [];
  const networks = (c.NetworkSettings as { Networks?: Record<string, { Links?: string[] | null }> }).Networks ?? {};
  const all = [...((c.HostConfig.Links as string[] | null | undefined) ?? []), ...Object.values(networks).flatMap((e) => e.Links ?? [])];
  const seen = new Set<string>();
  for (const l of all) {
    const { name, alias } = parseLink(l);
    if (seen.has(`${name}:${alias}`)) continue;
    seen.add(`${name}:${alias}`);
    const other = find(name);
    if (!other?.State.Running) throw new InvalidParameterError(`Cannot link to a non running container: /${name} AS ${c.Name}/${alias}`);
    links.push({ alias, id: other.Id, hostname: other.Config.Hostname, name: other.Name.replace(/^\//, '') });
    targets.push(other);
  }
  return { links, targets };
}

/**
 * The `ALIAS_*` variables of links on the default bridge, as dockerd makes them: the link's name, the other
 * container's exposed ports (the lowest as `ALIAS_PORT`) at its bridge address, and its environment but
 * HOME and PATH.
 */
export function linkEnv(c: ContainerRecord, links: ContainerLink[], targets: ContainerRecord[]): string[] {
  const mode = c.HostConfig.NetworkMode || 'default';
  if (mode !== 'default' && mode !== 'bridge') return [];
  const env: string[] = [];
  links.forEach((l, i) => {
    const other = targets[i]!;
    const prefix = l.alias.toUpperCase().replace(/-/g, '_');
    const ip = ((other.NetworkSettings as { Networks?: Record<string, { IPAddress?: string }> }).Networks?.bridge?.IPAddress) ?? '';
    const ports = Object.keys(other.Config.ExposedPorts ?? {}).map((p) => {
      const [port = '', proto = 'tcp'] = p.split('/');
      return { port: Number(port), proto };
    }).sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
    if (ports[0]) env.push(`${prefix}_PORT=${ports[0].proto}://${ip}:${ports[0].port}`);
    for (const { port, proto } of ports) {
      const key = `${prefix}_PORT_${port}_${proto.toUpperCase()}`;
      env.push(`${key}=${proto}://${ip}:${port}`, `${key}_ADDR=${ip}`, `${key}_PORT=${port}`, `${key}_PROTO=${proto}`);
    }
    env.push(`${prefix}_NAME=${c.Name}/${l.alias}`);
    for (const e of other.Config.Env ?? []) {
      const eq = e.indexOf('=');
      if (eq < 0) continue;
      const key = e.slice(0, eq);
      if (key === 'HOME' || key === 'PATH') continue;
      env.push(`${prefix}_ENV_${key}=${e.slice(eq + 1)}`);
    }
  });
  return env;
}
