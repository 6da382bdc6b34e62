/** `/images/…` endpoints. */
import type { Readable } from 'node:stream';
import { InvalidParameterError, NotFoundError } from '../errors/index.js';
import { familiarString, parseReference, type Image } from '../images/index.js';
import type { Engine } from './engine.js';
import { boolParam, sendJson, type Router } from './router.js';

function summary(img: Image) {
  return {
    Id: img.id,
    ParentId: '',
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

function inspect(img: Image) {
  const cfg = img.config.config ?? {};
  return {
    Id: img.id,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Parent: '',
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
    Os: img.config.os,
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Name: 'overlay', Data: { LowerDir: [...img.layerDirs].reverse().join(':') } },
    RootFS: { Type: 'layers', Layers: img.config.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

export function imageRoutes(r: Router, engine: Engine): void {
  const images = engine.images;

  r.on('GET', '/images/json', async ({ res }) => {
    sendJson(res, 200, (await images.list()).map(summary));
  });

  r.on('GET', '/images/{name*}/json', async ({ res, params }) => {
    sendJson(res, 200, inspect(await images.resolve(params.name!)));
  });

  r.on('GET', '/images/{name*}/history', async ({ res, params }) => {
    const img = await images.resolve(params.name!);
    const hist = [...(img.config.history ?? [])].reverse().map((h, i) => ({
      Id: i === 0 ? img.id : '<missing>',
      Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
      CreatedBy: h.created_by ?? '',
      Tags: i === 0 ? img.repoTags : null,
      Size: h.empty_layer ? 0 : img.size,
      Comment: h.comment ?? '',
    }));
    sendJson(res, 200, hist);
  });

  r.on('DELETE', '/images/{name*}', async ({ res, params, query }) => {
    const out = await images.remove(params.name!, { force: boolParam(query, 'force'), inUse: (id) => engine.containers.usingImage(id) });
    sendJson(res, 200, out);
  });

  r.on('POST', '/images/{name*}/tag', async ({ res, params, query }) => {
    const repo = query.get('repo');
    if (!repo) throw new InvalidParameterError('repository name must have at least one component');
    await images.tag(params.name!, `${repo}${query.get('tag') ? `:${query.get('tag')}` : ''}`);
    res.writeHead(201).end();
  });

  r.on('POST', '/images/create', async ({ req, res, query }) => {
    const fromSrc = query.get('fromSrc');
    const fromImage = query.get('fromImage');
    if (fromSrc !== null) {
      if (fromSrc !== '-') throw new InvalidParameterError('importing from a URL is not supported: send the tarball as the request body (fromSrc=-)');
      const repo = query.get('repo');
      const tag = query.get('tag');
      const ref = repo ? `${repo}${tag ? `:${tag}` : ''}` : undefined;
      if (ref) parseReference(ref);
      const img = await images.importTarball(req as unknown as Readable, {
        tag: ref, changes: query.getAll('changes'), message: query.get('message') ?? undefined, source: '-',
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ status: img.id })}\n`);
      return;
    }
    if (fromImage) {
      const tag = query.get('tag');
      const ref = familiarString(`${fromImage}${tag && !fromImage.includes('@') ? (tag.startsWith('sha256:') ? `@${tag}` : `:${tag}`) : ''}`);
      const repo = ref.replace(/[:@][^/]*$/, '');
      throw new NotFoundError(`pull access denied for ${repo}, repository does not exist or may require 'docker login': this berth build cannot pull from registries yet`);
    }
    throw new InvalidParameterError('fromImage or fromSrc is required');
  });
}
