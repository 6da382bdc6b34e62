/** `POST /build`: the classic builder's endpoint, as `DOCKER_BUILDKIT=0 docker build` uses it. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../build/index.js';
import { InvalidParameterError } from '../errors/index.js';
import { parseReference, pullImage } from '../images/index.js';
import { checkExtraHost } from '../network/index.js';
import { formatPlatform, hostPlatform, parseLinuxPlatform, samePlatform } from '../registry/index.js';
import type { Engine } from './engine.js';
import { familiar, imageEvent } from './image-events.js';
import { progressStream } from './progress.js';
import { boolParam, sendJson, type Router } from './router.js';

function jsonParam(q: URLSearchParams, name: string): Record<string, string> {
  const raw = q.get(name);
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as Record<string, string | null>;
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null)) as Record<string, string>;
  } catch {
    throw new InvalidParameterError(`invalid ${name}: ${raw}`);
  }
}

/** A JSON list of strings (`cachefrom`), refused in dockerd's words when it is not one. */
function listParam(q: URLSearchParams, name: string, what: string): string[] {
  const raw = q.get(name);
  if (!raw) return [];
  let v: unknown;
  try { v = JSON.parse(raw); } catch (e) { throw new InvalidParameterError(`error reading ${what}: ${(e as Error).message}`); }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InvalidParameterError(`error reading ${what}: json: cannot unmarshal ${JSON.stringify(raw)} into Go value of type []string`);
  return v as string[];
}

/**
 * `platform`: dockerd's classic builder would fetch base images for another platform and run their RUN
 * steps under whatever emulation the host has; berth runs none, so only the host's own is taken.
 */
function checkPlatform(spec: string | null): void {
  if (!spec) return;
  const want = parseLinuxPlatform(spec);
  const host = hostPlatform();
  if (samePlatform(want, host)) return;
  throw new InvalidParameterError(`platform ${formatPlatform(want)} is not supported: this daemon builds for ${formatPlatform(host)} only`);
}

/** dockerd's Int64ValueOrZero: what does not parse as an integer counts as unset. */
function int64OrZero(q: URLSearchParams, name: string): number {
  const v = q.get(name)?.trim() ?? '';
  return /^[-+]?\d+$/.test(v) ? Number(v) : 0;
}

/**
 * The HostConfig of every RUN step's container, from the resource parameters, as dockerd's classic builder
 * makes it (hostConfigFromOptions): zero means unset, and the values are checked where `run`'s are, when the
 * first RUN step's container is made, in the same words.
 */
function stepHostConfig(query: URLSearchParams): Record<string, unknown> {
  const hc: Record<string, unknown> = {};
  const ints: [string, string][] = [['memory', 'Memory'], ['memswap', 'MemorySwap'], ['cpushares', 'CpuShares'], ['cpuperiod', 'CpuPeriod'], ['cpuquota', 'CpuQuota']];
  for (const [param, field] of ints) { const n = int64OrZero(query, param); if (n) hc[field] = n; }
  const strings: [string, string][] = [['cpusetcpus', 'CpusetCpus'], ['cpusetmems', 'CpusetMems'], ['cgroupparent', 'CgroupParent']];
  for (const [param, field] of strings) { const v = query.get(param); if (v) hc[field] = v; }
  const shm = query.get('shmsize');
  if (shm) {
    if (!/^[-+]?\d+$/.test(shm)) throw new InvalidParameterError(`strconv.ParseInt: parsing ${JSON.stringify(shm)}: invalid syntax`);
    hc.ShmSize = Number(shm);
  }
  const ulimits = query.get('ulimits');
  if (ulimits) {
    try { hc.Ulimits = JSON.parse(ulimits) as unknown; } catch (e) {
      throw new InvalidParameterError(`error reading ulimit settings: ${(e as Error).message}`);
    }
  }
  return hc;
}

export function buildRoutes(r: Router, engine: Engine): void {
  // `docker system prune` and `docker builder prune` ask this. The classic builder's cache is made of
  // images (`image prune` takes them); there is no BuildKit cache, so nothing is ever deleted here.
  r.on('POST', '/build/prune', ({ res }) => sendJson(res, 200, { CachesDeleted: null, SpaceReclaimed: 0 }));

  // dockerode (testcontainers' withBuildkit()) opens a BuildKit session before a version=2 build and gives
  // up without one. The classic builder takes the context from the body and credentials from
  // X-Registry-Config, so it never calls into the session: berth accepts it as dockerd does and holds it
  // open, idle, until the client closes it. The build itself runs on the classic builder.
  const sessions = new Set<string>();
  r.on('POST', '/session', ({ req, upgrade }) => {
    const id = String(req.headers['x-docker-expose-session-uuid'] ?? '');
    const proto = String(req.headers.upgrade ?? '');
    if (sessions.has(id)) throw new InvalidParameterError(`session ${id} already exists`);
    if (!proto || !upgrade) throw new InvalidParameterError('no upgrade proto in request');
    if (proto !== 'h2c') throw new InvalidParameterError(`protocol ${proto} not supported`);
    const { socket } = upgrade;
    sessions.add(id);
    socket.on('close', () => sessions.delete(id));
    socket.on('end', () => socket.end());
    socket.resume();
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
  });

  r.on('POST', '/build', async ({ req, res, query }) => {
    // In the order dockerd's newImageBuildOptions checks them, and in its words.
    // SecurityOpt is only for Windows' credential specs: dockerd on Linux refuses any.
    if (query.getAll('securityopt').length) throw new InvalidParameterError('security options are not supported on linux');
    const hostConfig = stepHostConfig(query);
    const isolation = query.get('isolation');
    if (isolation && isolation.toLowerCase() !== 'default') throw new InvalidParameterError(`unsupported isolation: ${JSON.stringify(isolation)}`);
    const tags = query.getAll('t');
    for (const t of tags) parseReference(t);
    const buildArgs = jsonParam(query, 'buildargs');
    const labels = jsonParam(query, 'labels');
    const cacheFrom = listParam(query, 'cachefrom', 'cache-from');
    // berth has no experimental mode, so never squashes.
    if (boolParam(query, 'squash')) throw new InvalidParameterError('squash is only supported with experimental mode');
    const quiet = boolParam(query, 'q');
    checkPlatform(query.get('platform'));
    // dockerd finds a bad one when the first RUN step's container is made; here it fails before any work, in the same words.
    const extraHosts = query.getAll('extrahosts');
    for (const h of extraHosts) checkExtraHost(h);
    const tmpRoot = join(engine.dataRoot, 'build');
    await mkdir(tmpRoot, { recursive: true });
    const stream = progressStream(res);
    const out = (text: string) => { if (!quiet) stream.raw({ stream: text }); };
    try {
      const img = await build(engine.images, engine.containers, {
        context: req, dockerfile: query.get('dockerfile') || 'Dockerfile', tags, buildArgs,
        target: query.get('target') || undefined, noCache: boolParam(query, 'nocache'), labels, tmpRoot, out,
        networkMode: query.get('networkmode') || 'default', extraHosts, hostConfig, cacheFrom,
        pull: async (ref) => {
          await pullImage(engine.images, engine.registry, ref, { onProgress: (ev) => out(`${ev.id ? `${ev.id}: ` : ''}${ev.status}\n`) });
        },
      });
      for (const t of tags) await imageEvent(engine, 'tag', img.id, familiar(t));
      stream.raw({ aux: { ID: img.id } });
      out(`Successfully built ${img.id.slice(7, 19)}\n`);
      for (const t of tags) out(`Successfully tagged ${t.includes(':') ? t : `${t}:latest`}\n`);
      if (quiet) stream.raw({ stream: `${img.id}\n` });
      stream.end();
    } catch (e) {
      stream.fail(e);
    }
  });
}
