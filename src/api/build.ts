/** `POST /build`: the classic builder's endpoint, as `DOCKER_BUILDKIT=0 docker build` uses it. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../build/index.js';
import { InvalidParameterError } from '../errors/index.js';
import { parseReference, pullImage } from '../images/index.js';
import { checkExtraHost } from '../network/index.js';
import { formatPlatform, hostPlatform, parsePlatformSpecifier, samePlatform } from '../registry/index.js';
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

/**
 * `platform`: dockerd's classic builder would fetch base images for another platform and run their RUN
 * steps under whatever emulation the host has; berth runs none, so only the host's own is taken.
 */
function checkPlatform(spec: string | null): void {
  if (!spec) return;
  const want = parsePlatformSpecifier(spec);
  const host = hostPlatform();
  if (samePlatform(want, host)) return;
  // dockerd's words (image.CheckOS) for another OS.
  if (want.os.toLowerCase() !== host.os) throw new InvalidParameterError('operating system is not supported');
  throw new InvalidParameterError(`platform ${formatPlatform(want)} is not supported: this daemon builds for ${formatPlatform(host)} only`);
}

export function buildRoutes(r: Router, engine: Engine): void {
  // `docker system prune` and `docker builder prune` ask this. The classic builder's cache is made of
  // images (`image prune` takes them); there is no BuildKit cache, so nothing is ever deleted here.
  r.on('POST', '/build/prune', ({ res }) => sendJson(res, 200, { CachesDeleted: null, SpaceReclaimed: 0 }));

  r.on('POST', '/build', async ({ req, res, query }) => {
    const tags = query.getAll('t');
    for (const t of tags) parseReference(t);
    const buildArgs = jsonParam(query, 'buildargs');
    const labels = jsonParam(query, 'labels');
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
        networkMode: query.get('networkmode') || 'default', extraHosts,
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
