/** `/volumes/…` endpoints. */
import { InvalidParameterError } from '../errors/index.js';
import type { VolumeRecord } from '../volumes/index.js';
import type { Engine } from './engine.js';
import { labelMatch, boolParam, parseFilters, readJson, sendJson, type Filters, type Router } from './router.js';
import { VOLUME_CREATE } from './validate.js';

function matches(engine: Engine, v: VolumeRecord, f: Filters): boolean {
  for (const [key, values] of Object.entries(f)) {
    const ok = values.some((x) => {
      switch (key) {
        case 'name': return v.Name.includes(x);
        case 'driver': return v.Driver === x;
        case 'label': return labelMatch(v.Labels, x);
        case 'dangling': return (x === 'true' || x === '1') === (engine.volumes.usedBy(v.Name).length === 0);
        default: throw new InvalidParameterError(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** A volume with its fields in dockerd's order (its Go struct's), which `docker volume inspect` prints as is. */
export function volumeView(v: VolumeRecord): VolumeRecord {
  const { CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope, ...rest } = v;
  return { CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope, ...rest };
}

export function volumeRoutes(r: Router, engine: Engine): void {
  const vs = engine.volumes;

  r.on('GET', '/volumes', ({ res, query }) => {
    const f = parseFilters(query.get('filters'));
    sendJson(res, 200, { Volumes: vs.list().filter((v) => matches(engine, v, f)).map(volumeView), Warnings: [] });
  });

  r.on('POST', '/volumes/create', async ({ req, res }) => {
    const body = await readJson<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> }>(req, VOLUME_CREATE);
    sendJson(res, 201, volumeView(await vs.create(body)));
  });

  r.on('GET', '/volumes/{name}', ({ res, params }) => {
    sendJson(res, 200, volumeView(vs.get(params.name!)));
  });

  r.on('DELETE', '/volumes/{name}', async ({ res, params, query }) => {
    await vs.remove(params.name!, boolParam(query, 'force'));
    res.writeHead(204).end();
  });

  r.on('POST', '/volumes/prune', async ({ res, query }) => {
    const f = parseFilters(query.get('filters'));
    const all = (f.all ?? []).some((x) => x === 'true' || x === '1');
    const match = (v: VolumeRecord) => (f.label ?? []).every((x) => labelMatch(v.Labels, x)) && !(f['label!'] ?? []).some((x) => labelMatch(v.Labels, x));
    sendJson(res, 200, await vs.prune({ all, match }));
  });
}

