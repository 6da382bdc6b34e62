/** `/images/…` endpoints. */
import type { Readable } from 'node:stream';
import { InvalidParameterError, NotFoundError } from '../errors/index.js';
import { parseReference, type Image } from '../images/index.js';
import { normalizePlatform, parseLinuxPlatform } from '../registry/index.js';
import { pullFromRegistry } from './distribution.js';
import { summary as containerSummary } from './containers.js';
import { volumeView } from './volumes.js';
import { pruneMatcher } from './prune-filters.js';
import type { Engine } from './engine.js';
import { deleteEvents, familiar, imageEvent } from './image-events.js';
import { boolParam, globMatch, labelMatch, parseFilters, sendJson, type Router } from './router.js';

function summary(img: Image) {
  return {
    Id: img.id,
    ParentId: img.parent ?? '',
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Created: Math.floor(Date.parse(img.created) / 1000),
    Size: img.size,
    VirtualSize: img.size,
    SharedSize: -1,
    Labels: img.config.config?.Labels ?? null,
    Containers: -1,
  };
}

/**
 * `Container` and `ContainerConfig`, deprecated fields that dockerd sends below API 1.45 only. berth sends them at
 * every version, as it does VirtualSize: docker-compose v1 talks the daemon's own version (1.45 here) and reads
 * `ContainerConfig.Volumes` on every recreate, to carry the image's anonymous volumes over; without the field it
 * stops with KeyError 'ContainerConfig', as it does against dockerd 26 and later. berth records no build
 * container's config: this is Go's zero config with the image's volumes, what the classic builder's last step had.
 */
function legacyContainerFields(img: Image) {
  return {
    Container: '',
    ContainerConfig: {
      Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
      Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '',
      Volumes: img.config.config?.Volumes ?? null, WorkingDir: '', Entrypoint: null, Labels: null,
    },
  };
}

function inspect(img: Image) {
  const cfg = img.config.config ?? {};
  return {
    Id: img.id,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Parent: img.parent ?? '',
    Comment: img.config.history?.at(-1)?.comment ?? '',
    Created: img.created,
    DockerVersion: '',
    Author: img.config.author ?? '',
    Config: {
      Hostname: '', Domainname: '', User: cfg.User ?? '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
      ExposedPorts: cfg.ExposedPorts, Tty: false, OpenStdin: false, StdinOnce: false, Env: cfg.Env ?? null,
      Cmd: cfg.Cmd ?? null, Image: '', Volumes: cfg.Volumes ?? null, WorkingDir: cfg.WorkingDir ?? '',
      Entrypoint: cfg.Entrypoint ?? null, OnBuild: null, Labels: cfg.Labels ?? null, StopSignal: cfg.StopSignal,
    },
    Architecture: img.config.architecture,
    ...(img.config.variant ? { Variant: img.config.variant } : {}),
    Os: img.config.os,
    Size: img.size,
    VirtualSize: img.size,
    ...legacyContainerFields(img),
    GraphDriver: { Name: 'overlay', Data: { LowerDir: [...img.layerDirs].reverse().join(':') } },
    RootFS: { Type: 'layers', Layers: img.config.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

/** `import --platform`: containerd's parse, normalized (x86_64 is amd64); only Linux, in dockerd's words. */
function importPlatform(spec: string | null): { os: string; architecture: string; variant?: string } | undefined {
  if (!spec) return undefined;
  const p = normalizePlatform(parseLinuxPlatform(spec));
  return { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) };
}

export function imageRoutes(r: Router, engine: Engine): void {
  const images = engine.images;

  r.on('GET', '/images/json', async ({ res, query }) => {
    const filters = parseFilters(query.get('filters'));
    for (const k of Object.keys(filters)) {
      if (!['dangling', 'reference', 'label', 'before', 'since'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    }
    const all = await images.list();
    const byName = (n: string) => all.find((i) => i.repoTags.includes(n) || i.id.includes(n.replace(/^sha256:/, '')));
    const showAll = query.get('all') === '1' || query.get('all') === 'true';
    const list = all.filter((img) => {
      if (!showAll && images.isIntermediate(img)) return false;
      if (filters.dangling?.length) {
        const want = filters.dangling[0] === 'true' || filters.dangling[0] === '1';
        if ((img.repoTags.length === 0) !== want) return false;
      }
      if (filters.label?.length) {
        const labels = img.config.config?.Labels ?? {};
        if (!filters.label.every((l) => labelMatch(labels, l))) return false;
      }
      for (const [key, cmp] of [['before', -1], ['since', 1]] as const) {
        for (const n of filters[key] ?? []) {
          const ref = byName(n);
          if (!ref) throw new NotFoundError(`No such image: ${n}`);
          if (Math.sign(Date.parse(img.created) - Date.parse(ref.created)) !== cmp) return false;
        }
      }
      return true;
    });
    if (!filters.reference?.length) { sendJson(res, 200, list.map(summary)); return; }
    // As dockerd: a reference filter also narrows each image's RepoTags and RepoDigests to the names it
    // matches (reference.FamiliarMatch: the whole familiar string, or the name without tag or digest).
    const patterns = filters.reference;
    const matches = (ref: string) => patterns.some((p) => globMatch(p, ref) || globMatch(p, ref.replace(/@.*$/, '').replace(/:[^:/]+$/, '')));
    sendJson(res, 200, list
      .map((img) => ({ ...img, repoTags: img.repoTags.filter(matches), repoDigests: img.repoDigests.filter(matches) }))
      .filter((img) => img.repoTags.length || img.repoDigests.length)
      .map(summary));
  });

  r.on('POST', '/images/prune', async ({ res, query }) => {
    const filters = parseFilters(query.get('filters'));
    const onlyDangling = !(filters.dangling?.[0] === 'false' || filters.dangling?.[0] === '0');
    const match = pruneMatcher(filters, ['dangling']);
    const out = await images.prune({
      onlyDangling, inUse: (id) => engine.containers.usingImage(id),
      match: (img) => match({ created: img.created, labels: img.config.config?.Labels ?? {} }),
    });
    deleteEvents(engine, out.deleted);
    sendJson(res, 200, { ImagesDeleted: out.deleted.length ? out.deleted : null, SpaceReclaimed: out.reclaimed });
  });

  r.on('GET', '/system/df', async ({ res }) => {
    const all = await images.list();
    const containers = engine.containers.list();
    sendJson(res, 200, {
      LayersSize: await images.layersSize(),
      Images: all.map((img) => ({
        ...summary(img),
        // As dockerd: the bytes of this image's layers that another image uses too.
        SharedSize: img.layerDirs.reduce((n, dir, i) => n + (all.some((o) => o !== img && o.layerDirs.includes(dir)) ? img.layerSizes[i] ?? 0 : 0), 0),
        Containers: containers.filter((c) => c.Image === img.id).length,
      })),
      // The containers as `/containers/json` lists them, with the size of their writable layer.
      Containers: await Promise.all(containers.map(async (c) => ({
        ...containerSummary(c), SizeRw: await engine.containers.writableSize(c.Id), SizeRootFs: 0,
      }))),
      // As dockerd: every volume with its size and the number of containers that use it.
      Volumes: await Promise.all(engine.volumes.list().map(async (v) => ({
        ...volumeView(v), UsageData: { Size: await engine.volumes.size(v.Name), RefCount: engine.volumes.usedBy(v.Name).length },
      }))),
      BuildCache: [],
    });
  });

  r.on('GET', '/images/{name*}/json', async ({ res, params }) => {
    sendJson(res, 200, inspect(await images.resolve(params.name!)));
  });

  r.on('GET', '/images/{name*}/history', async ({ res, params }) => {
    const img = await images.resolve(params.name!);
    // Each history entry that made a layer owns the next layer, bottom up; its size is that layer's.
    let layer = 0;
    const sizes = (img.config.history ?? []).map((h) => (h.empty_layer ? 0 : img.layerSizes[layer++] ?? 0));
    const hist: { Id: string; Created: number; CreatedBy: string; Tags: string[] | null; Size: number; Comment: string }[] =
      [...(img.config.history ?? [])].map((h, i) => ({ h, size: sizes[i]! })).reverse().map(({ h, size }) => ({
        Id: '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: null,
        Size: size,
        Comment: h.comment ?? '',
      }));
    // As dockerd: the entries from the top take the IDs (and tags) of the image and its parents, as far as
    // the parent chain is still here (a build's intermediate images, the FROM image).
    let at: Awaited<ReturnType<typeof images.find>> = img;
    for (const h of hist) {
      if (!at) break;
      h.Id = at.id;
      h.Tags = at.repoTags.length ? at.repoTags : null;
      const parent = images.parentOf(at.id);
      at = parent ? await images.find(parent) : undefined;
    }
    sendJson(res, 200, hist);
  });

  r.on('DELETE', '/images/{name*}', async ({ res, params, query }) => {
    const img = await images.resolve(params.name!);
    const out = await images.remove(params.name!, { force: boolParam(query, 'force'), noPrune: boolParam(query, 'noprune'), inUse: (id) => engine.containers.usingImage(id) });
    deleteEvents(engine, out, img);
    sendJson(res, 200, out);
  });

  r.on('POST', '/images/{name*}/tag', async ({ res, params, query }) => {
    const repo = query.get('repo');
    if (!repo) throw new InvalidParameterError('repository name must have at least one component');
    const target = `${repo}${query.get('tag') ? `:${query.get('tag')}` : ''}`;
    await images.tag(params.name!, target);
    const img = await images.resolve(target);
    await imageEvent(engine, 'tag', img.id, familiar(target));
    res.writeHead(201).end();
  });

  r.on('POST', '/images/create', async (ctx) => {
    const { req, res, query } = ctx;
    const fromSrc = query.get('fromSrc');
    const fromImage = query.get('fromImage');
    if (fromSrc !== null) {
      if (fromSrc !== '-') throw new InvalidParameterError('importing from a URL is not supported: send the tarball as the request body (fromSrc=-)');
      const repo = query.get('repo');
      const tag = query.get('tag');
      const ref = repo ? `${repo}${tag ? `:${tag}` : ''}` : undefined;
      if (ref) parseReference(ref);
      const img = await images.importTarball(req as unknown as Readable, {
        tag: ref, changes: query.getAll('changes'), message: query.get('message') ?? undefined, source: '-', platform: importPlatform(query.get('platform')),
      });
      await imageEvent(engine, 'import', img.id);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ status: img.id })}\n`);
      return;
    }
    if (fromImage) {
      await pullFromRegistry(ctx, engine, fromImage, query.get('tag'));
      return;
    }
    throw new InvalidParameterError('fromImage or fromSrc is required');
  });
}
