/** `/networks/…` endpoints. */
import { InvalidParameterError } from '../errors/index.js';
import type { CreateNetworkRequest, EndpointSettings, NetworkRecord } from '../network/index.js';
import type { Engine } from './engine.js';
import { pruneMatcher, untilCutoff } from './prune-filters.js';
import { labelMatch, parseFilters, readJson, sendJson, type Filters, type Router } from './router.js';
import { NETWORK_CONNECT, NETWORK_CREATE, NETWORK_DISCONNECT } from './validate.js';

function matches(engine: Engine, n: NetworkRecord, f: Filters): boolean {
  for (const [key, values] of Object.entries(f)) {
    const ok = values.some((v) => {
      switch (key) {
        case 'name': return n.Name.includes(v);
        case 'id': return n.Id.startsWith(v);
        case 'driver': return n.Driver === v;
        case 'scope': return n.Scope === v;
        case 'label': return labelMatch(n.Labels, v);
        case 'type': return v === 'builtin' ? engine.network.isPredefined(n) : v === 'custom' ? !engine.network.isPredefined(n) : false;
        case 'dangling': return (v === 'true' || v === '1') === (!engine.network.isPredefined(n) && !engine.network.inUse(n));
        case 'until': return Date.parse(n.Created) / 1000 < untilCutoff([v])!;
        default: throw new InvalidParameterError(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function networkRoutes(r: Router, engine: Engine): void {
  const net = engine.network;

  r.on('GET', '/networks', ({ res, query }) => {
    const f = parseFilters(query.get('filters'));
    sendJson(res, 200, net.list().filter((n) => matches(engine, n, f)).map((n) => net.view(n)));
  });

  r.on('GET', '/networks/{id}', ({ res, params }) => {
    sendJson(res, 200, net.view(net.get(params.id!)));
  });

  r.on('POST', '/networks/create', async ({ req, res }) => {
    const body = await readJson<CreateNetworkRequest>(req, NETWORK_CREATE);
    sendJson(res, 201, await net.create(body));
  });

  r.on('DELETE', '/networks/{id}', async ({ res, params }) => {
    await net.remove(params.id!);
    res.writeHead(204).end();
  });

  r.on('POST', '/networks/{id}/connect', async ({ req, res, params }) => {
    const body = await readJson<{ Container?: string; EndpointConfig?: Partial<EndpointSettings> }>(req, NETWORK_CONNECT);
    if (!body.Container) throw new InvalidParameterError('a container name or ID is required');
    const n = net.get(params.id!);
    await engine.containers.updateNetworking(body.Container, (info, running) => net.connect(n.Id, info, body.EndpointConfig, running));
    res.writeHead(200).end();
  });

  r.on('POST', '/networks/{id}/disconnect', async ({ req, res, params }) => {
    const body = await readJson<{ Container?: string; Force?: boolean }>(req, NETWORK_DISCONNECT);
    if (!body.Container) throw new InvalidParameterError('a container name or ID is required');
    const n = net.get(params.id!);
    await engine.containers.updateNetworking(body.Container, (info) => net.disconnect(n.Id, info));
    res.writeHead(200).end();
  });

  r.on('POST', '/networks/prune', async ({ res, query }) => {
    const prunable = pruneMatcher(parseFilters(query.get('filters')));
    const deleted: string[] = [];
    for (const n of net.list()) {
      // dockerd's prune passes config-only networks by: they hold no endpoints, and others may take their configuration.
      if (net.isPredefined(n) || net.inUse(n) || n.ConfigOnly) continue;
      if (!prunable({ created: n.Created, labels: n.Labels })) continue;
      try { await net.remove(n.Id); deleted.push(n.Name); } catch { /* in use meanwhile */ }
    }
    sendJson(res, 200, { NetworksDeleted: deleted });
  });
}
