/** Archives as bodies: `docker save` and `load` of images, `docker export` of a container. */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadImages, saveImages } from '../images/index.js';
import type { Engine } from './engine.js';
import { imageEvent } from './image-events.js';
import type { Router } from './router.js';

/** Streams a tar; a failure after the headers went out cuts the connection, so the client never takes a short archive for a whole one. */
async function sendTar(res: ServerResponse, tar: Readable): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  await pipeline(tar, res);
}

export function archiveRoutes(r: Router, engine: Engine): void {
  r.on('GET', '/images/get', async ({ res, query }) => {
    await saveAndLog(res, query.getAll('names'));
  });

  r.on('GET', '/images/{name*}/get', async ({ res, params }) => {
    await saveAndLog(res, [params.name!]);
  });

  /** One `save` event per image, once the archive went out whole. */
  const saveAndLog = async (res: ServerResponse, names: string[]) => {
    await sendTar(res, await saveImages(engine.images, names));
    const ids = new Set<string>();
    for (const n of names) { try { ids.add((await engine.images.resolve(n)).id); } catch { /* removed meanwhile */ } }
    for (const id of ids) await imageEvent(engine, 'save', id);
  };

  // `quiet` only silences progress bars, which berth does not draw for load: the report lines are always sent.
  r.on('POST', '/images/load', async ({ req, res }) => {
    const lines = await loadImages(engine.images, req);
    // One `load` event per image: the lines name each loaded tag, or the ID of an untagged image.
    const ids = new Set<string>();
    for (const l of lines) {
      const ref = /^Loaded image(?: ID)?: (.+?)\s*$/.exec(l)?.[1];
      if (ref) { try { ids.add((await engine.images.resolve(ref)).id); } catch { /* not resolvable */ } }
    }
    for (const id of ids) await imageEvent(engine, 'load', id);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(lines.map((l) => `${JSON.stringify({ stream: l })}\n`).join(''));
  });

  r.on('GET', '/containers/{id}/export', async ({ res, params }) => {
    await sendTar(res, await engine.containers.export(params.id!));
  });
}
