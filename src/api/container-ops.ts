/** `/containers/{id}/stats`, `/update` and `/archive` (cp): what people do to a container's resources and files. */
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { archivePath, encodeStat, extractInto, statPath, type StatsSample } from '../containers/index.js';
import { InvalidParameterError } from '../errors/index.js';
import type { Engine } from './engine.js';
import { boolParam, readJson, sendJson, type Router } from './router.js';
import { CONTAINER_UPDATE } from './validate.js';

const STATS_INTERVAL_MS = 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function containerOpsRoutes(r: Router, engine: Engine): void {
  const cs = engine.containers;

  r.on('GET', '/containers/{id}/stats', async ({ req, res, params, query }) => {
    const id = cs.get(params.id!).Id;
    const stream = boolParam(query, 'stream', true);
    const oneShot = boolParam(query, 'one-shot');
    if (oneShot && stream) throw new InvalidParameterError('cannot have stream=true and one-shot=true');
    const current = () => cs.find(id);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let closed = false;
    req.on('close', () => { closed = true; });
    res.on('close', () => { closed = true; });
    const first = current();
    if (!first) { res.end(); return; }
    let prev: StatsSample = await cs.stats(first);
    if (!stream) {
      // As dockerd: without one-shot, a second sample a tick later, so precpu_stats is filled and CPU % means something.
      if (!oneShot && first.State.Running) {
        await sleep(STATS_INTERVAL_MS);
        const again = current();
        if (again) prev = await cs.stats(again, prev);
      }
      res.end(`${JSON.stringify(prev)}\n`);
      return;
    }
    res.write(`${JSON.stringify(prev)}\n`);
    while (!closed) {
      await sleep(STATS_INTERVAL_MS);
      const c = current();
      if (closed || !c || !c.State.Running) break;
      prev = await cs.stats(c, prev);
      res.write(`${JSON.stringify(prev)}\n`);
    }
    res.end();
  });

  r.on('POST', '/containers/{id}/update', async ({ req, res, params }) => {
    const body = await readJson<Record<string, unknown>>(req, CONTAINER_UPDATE);
    sendJson(res, 200, await cs.update(params.id!, body));
  });

  r.on('HEAD', '/containers/{id}/archive', async ({ res, params, query }) => {
    const path = query.get('path') ?? '';
    const stat = await cs.withFilesystem(params.id!, (t) => statPath(t, path));
    res.writeHead(200, { 'X-Docker-Container-Path-Stat': encodeStat(stat), 'Content-Type': 'application/json' });
    res.end();
  });

  r.on('GET', '/containers/{id}/archive', async ({ res, params, query }) => {
    const path = query.get('path') ?? '';
    await cs.withFilesystem(params.id!, async (t) => {
      const { stat, tar } = await archivePath(t, path);
      res.writeHead(200, { 'X-Docker-Container-Path-Stat': encodeStat(stat), 'Content-Type': 'application/x-tar' });
      await pipeline(tar, res);
    });
  });

  r.on('PUT', '/containers/{id}/archive', async ({ req, res, params, query }) => {
    const path = query.get('path') ?? '';
    await cs.withFilesystem(params.id!, (t, c) => extractInto(t, path, req as IncomingMessage, {
      noOverwriteDirNonDir: boolParam(query, 'noOverwriteDirNonDir'),
      copyUIDGID: boolParam(query, 'copyUIDGID'),
      readonlyRootfs: !!c.HostConfig.ReadonlyRootfs,
    })).catch((e: unknown) => {
      // A body that is not a tar archive is the client's error, as dockerd's 400 for it.
      const code = (e as { code?: string; tarCode?: string }).tarCode ?? (e as { code?: string }).code;
      if (typeof code === 'string' && code.startsWith('TAR_')) throw new InvalidParameterError(`the request body is not a valid tar archive: ${(e as Error).message.replace(/^TAR_\w+: /, '')}`);
      throw e;
    });
    res.writeHead(200).end();
  });
}
