/** `/containers/…` endpoints. */
import { humanDuration } from '../common/duration.js';
import { dockerTimestamp, inspectedHostConfig, type ContainerRecord, type CreateRequest, type WaitCondition } from '../containers/index.js';
import { familiarString } from '../images/index.js';
import { formatPlatform, hostPlatform, parsePlatformSpecifier, samePlatform } from '../registry/index.js';
import { ConflictError, errorMessage, errorStatus, InvalidParameterError, NotFoundError } from '../errors/index.js';
import { pipeAttach, upgradeHeader } from './attach.js';
import type { Engine } from './engine.js';
import { pruneMatcher } from './prune-filters.js';
import { familiar, imageEvent } from './image-events.js';
import { boolParam, labelMatch, parseFilters, readJson, sendJson, type Ctx, type Filters, type Router } from './router.js';
import { CONTAINER_CONFIG, CONTAINER_CREATE } from './validate.js';
import { frame } from './stdcopy.js';
import { containerOpsRoutes } from './container-ops.js';

function statusText(c: ContainerRecord): string {
  const s = c.State;
  if (s.Restarting) return `Restarting (${s.ExitCode}) ${humanDuration(Date.now() - Date.parse(s.FinishedAt))} ago`;
  const health = s.Health ? ` (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})` : '';
  if (s.Running) return `Up ${humanDuration(Date.now() - Date.parse(s.StartedAt))}${s.Paused ? ' (Paused)' : health}`;
  if (s.Status === 'created') return 'Created';
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Status === 'dead') return 'Dead';
  if (s.FinishedAt.startsWith('0001')) return 'Created';
  return `Exited (${s.ExitCode}) ${humanDuration(Date.now() - Date.parse(s.FinishedAt))} ago`;
}

export function summary(c: ContainerRecord) {
  return {
    Id: c.Id,
    Names: [c.Name],
    Image: c.Config.Image,
    ImageID: c.Image,
    // moby's list.go: the path, then the arguments, quoting those with a space.
    Command: [c.Path, ...c.Args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' '),
    Created: Math.floor(Date.parse(c.Created) / 1000),
    Ports: portList(c),
    Labels: c.Config.Labels ?? {},
    State: c.State.Status,
    Status: statusText(c),
    HostConfig: { NetworkMode: c.HostConfig.NetworkMode },
    NetworkSettings: { Networks: (c.NetworkSettings as { Networks?: object }).Networks ?? {} },
    Mounts: c.Mounts ?? [],
  };
}

/** The list's `Ports`: each published port with its host side, and exposed ports alone. */
function portList(c: ContainerRecord): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
  const ports = (c.NetworkSettings as { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> }).Ports ?? {};
  const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
  for (const [key, binds] of Object.entries(ports)) {
    const [port, type = 'tcp'] = key.split('/');
    if (!binds?.length) out.push({ PrivatePort: Number(port), Type: type });
    for (const b of binds ?? []) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return out;
}

/** `t` (or `timeout`) of stop and restart: whole seconds, as dockerd's strconv.Atoi reads them; negative waits for ever. */
function stopTimeout(query: URLSearchParams): number | undefined {
  const t = query.get('t') ?? query.get('timeout');
  if (t === null || t === '') return undefined;
  if (!/^[+-]?\d{1,9}$/.test(t)) throw new InvalidParameterError(`invalid value for t: strconv.Atoi: parsing "${t}": invalid syntax`);
  return Number(t);
}

function nameRegExp(v: string): RegExp {
  try { return new RegExp(v); } catch { throw new InvalidParameterError(`invalid filter 'name=${v}': not a regular expression`); }
}

/** `before=`/`since=`: the container they name, as dockerd looks it up (a 404 when there is none). */
type Find = (ref: string) => ContainerRecord;

/**
 * `publish=`/`expose=`: `PORT[/PROTO]` or `START-END[/PROTO]` as the keys (`80/tcp`) it stands for, as dockerd's
 * portOp reads it; tcp when no protocol is given.
 */
function addPortKeys(keys: Set<string>, key: string, value: string): void {
  if (value.includes(':')) throw new InvalidParameterError(`filter for '${key}' should not contain ':': ${value}`);
  const [port = '', proto] = value.split('/');
  const bad = (why: string) => new InvalidParameterError(`error while looking up for ${key} ${value}: ${why}`);
  if (!port) throw bad('Empty string specified for ports.');
  const [from, to = from] = port.split('-', 2).map((p) => {
    if (!/^\d+$/.test(p)) throw bad(`strconv.ParseUint: parsing "${p}": invalid syntax`);
    if (Number(p) > 65535) throw bad(`strconv.ParseUint: parsing "${p}": value out of range`);
    return Number(p);
  }) as [number, number?];
  if (to < from) throw bad(`Invalid range specified for the Port: ${port}`);
  for (let n = from; n <= to; n++) keys.add(`${n}/${proto || 'tcp'}`);
}

/** What the list's filters need worked out once, before any container: dockerd refuses a malformed one even when nothing is listed. */
interface ListFilters {
  publish?: Set<string>;
  expose?: Set<string>;
}

function listFilters(f: Filters): ListFilters {
  const out: ListFilters = {};
  for (const key of ['publish', 'expose'] as const) {
    if (!f[key]) continue;
    const keys = new Set<string>();
    for (const v of f[key]) addPortKeys(keys, key, v);
    out[key] = keys;
  }
  // As dockerd: true wins, then false; a filter with neither is refused, its values shown as Go prints a list.
  const task = f['is-task'];
  if (task && !task.includes('true') && !task.includes('false')) throw new InvalidParameterError(`invalid filter 'is-task=[${task.join(' ')}]'`);
  return out;
}

function matches(c: ContainerRecord, f: Filters, lf: ListFilters, find: Find): boolean {
  for (const [key, values] of Object.entries(f)) {
    // As dockerd: several `label` filters must all match (compose asks for project AND service AND oneoff); other keys are alternatives.
    const ok = (key === 'label' ? values.every.bind(values) : values.some.bind(values))((v) => {
      switch (key) {
        case 'status': return c.State.Status === v;
        case 'name': return nameRegExp(v).test(c.Name.slice(1));
        case 'id': return c.Id.startsWith(v);
        case 'health': return (c.State.Running && c.State.Health?.Status === v) || (v === 'none' && !c.State.Health);
        case 'exited': return !c.State.Running && c.State.Status === 'exited' && c.State.ExitCode === Number(v);
        case 'label': return labelMatch(c.Config.Labels ?? {}, v);
        case 'ancestor': {
          try { return c.Config.Image === v || familiarString(c.Config.Image) === familiarString(v) || c.Image.includes(v); } catch { return false; }
        }
        // A volume by its name or a mount by its destination in the container.
        case 'volume': return ((c.Mounts ?? []) as { Name?: string; Destination?: string }[]).some((m) => m.Name === v || m.Destination === v);
        // A network by its name or (a prefix of) its ID.
        case 'network': return Object.entries(((c.NetworkSettings as { Networks?: Record<string, { NetworkID?: string }> })?.Networks) ?? {})
          .some(([name, ep]) => name === v || (!!ep?.NetworkID && ep.NetworkID.startsWith(v)));
        case 'before': return Date.parse(c.Created) < Date.parse(find(v).Created);
        case 'since': return Date.parse(c.Created) > Date.parse(find(v).Created);
        // What was asked for at create (`-p`, `--expose`, the image's EXPOSE), running or not, as dockerd's.
        case 'publish': return Object.keys((c.HostConfig.PortBindings as Record<string, unknown> | undefined) ?? {}).some((p) => lf.publish!.has(p));
        case 'expose': return Object.keys(c.Config.ExposedPorts ?? {}).some((p) => lf.expose!.has(p));
        // Swarm's tasks: berth runs none, so `true` (which wins over `false`) lists nothing.
        case 'is-task': return !values.includes('true');
        // A Windows notion: dockerd on Linux lists every container whatever the value.
        case 'isolation': return true;
        default: throw new InvalidParameterError(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** `size=1` on the list and on inspect: SizeRw is what the container wrote, SizeRootFs adds its image's layers. */
async function sizes(engine: Engine, c: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }> {
  const rw = await engine.containers.writableSize(c.Id);
  const image = await engine.images.find(c.Image).catch(() => undefined);
  return { SizeRw: rw, SizeRootFs: rw + (image?.size ?? 0) };
}

/**
 * The image's platform against `platform` (`run --platform`), as dockerd checks it: another one is "not found"
 * in its words; without one, an image for another platform than the host's gets its warning (berth runs no
 * emulation either, so the run may well fail with "exec format error").
 */
async function checkPlatform(engine: Engine, ref: string | undefined, platform: string | null): Promise<string[]> {
  const img = typeof ref === 'string' && ref ? await engine.images.find(ref) : undefined;
  if (!img) return [];
  const actual = { os: img.config.os, architecture: img.config.architecture, ...(img.config.variant ? { variant: img.config.variant } : {}) };
  if (platform) {
    const want = parsePlatformSpecifier(platform);
    if (!samePlatform(want, actual)) {
      throw new NotFoundError(`image with reference ${ref} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(actual)}`);
    }
    return [];
  }
  const host = hostPlatform();
  if (samePlatform(host, actual)) return [];
  return [`The requested image's platform (${formatPlatform(actual)}) does not match the detected host platform (${formatPlatform(host)}) and no specific platform was requested`];
}

export function containerRoutes(r: Router, engine: Engine): void {
  const cs = engine.containers;
  containerOpsRoutes(r, engine);

  r.on('POST', '/containers/create', async ({ req, res, query }) => {
    const body = await readJson<CreateRequest>(req, CONTAINER_CREATE);
    const platformWarnings = await checkPlatform(engine, body.Image, query.get('platform'));
    const out = await cs.create(body, query.get('name') ?? undefined);
    sendJson(res, 201, { ...out, Warnings: [...platformWarnings, ...out.Warnings] });
  });

  r.on('GET', '/containers/json', async ({ res, query }) => {
    const all = boolParam(query, 'all');
    const filters = parseFilters(query.get('filters'));
    const lf = listFilters(filters);
    const limit = Number(query.get('limit') ?? -1);
    // As dockerd: a limit (`ps -n`, `ps -l`) counts stopped containers too.
    let list = cs.list().filter((c) => (all || limit > 0 || c.State.Running || c.State.Restarting || filters.status) && matches(c, filters, lf, (ref) => cs.get(ref)));
    if (limit > 0) list = list.slice(0, limit);
    if (!boolParam(query, 'size')) return sendJson(res, 200, list.map(summary));
    sendJson(res, 200, await Promise.all(list.map(async (c) => ({ ...summary(c), ...await sizes(engine, c) }))));
  });

  r.on('GET', '/containers/{id}/json', async ({ res, params, query }) => {
    const c = cs.get(params.id!);
    const { HasBeenManuallyStopped: _m, HasBeenStartedBefore: _s, DesiredMacs: _d, ...shown } = c;
    // `inspect --size`
    const sized = boolParam(query, 'size') ? await sizes(engine, c) : {};
    sendJson(res, 200, { ...shown, ...sized, State: { ...c.State }, HostConfig: inspectedHostConfig(c.HostConfig), Mounts: c.Mounts ?? [] });
  });

  r.on('POST', '/containers/{id}/start', async ({ res, params }) => {
    await cs.start(params.id!);
    res.writeHead(204).end();
  });

  r.on('POST', '/containers/{id}/stop', async ({ res, params, query }) => {
    await cs.stop(params.id!, stopTimeout(query), query.get('signal') ?? undefined);
    res.writeHead(204).end();
  });

  r.on('POST', '/containers/{id}/restart', async ({ res, params, query }) => {
    const t = stopTimeout(query);
    const c = cs.get(params.id!);
    if (c.State.Running) await cs.stop(c.Id, t, query.get('signal') ?? undefined);
    await cs.start(c.Id);
    res.writeHead(204).end();
  });

  r.on('POST', '/containers/{id}/rename', async ({ res, params, query }) => {
    const name = query.get('name');
    if (!name) throw new InvalidParameterError('name is required');
    await cs.rename(params.id!, name);
    res.writeHead(204).end();
  });

  r.on('POST', '/containers/{id}/pause', async ({ res, params }) => {
    await cs.pause(params.id!);
    res.writeHead(204).end();
  });

  r.on('POST', '/containers/{id}/unpause', async ({ res, params }) => {
    await cs.unpause(params.id!);
    res.writeHead(204).end();
  });

  r.on('GET', '/containers/{id}/top', async ({ res, params, query }) => {
    sendJson(res, 200, await cs.top(params.id!, query.get('ps_args') || undefined));
  });

  // berth's own extension: the container-vs-VM comparison, for `berth compare` and the dashboard.
  r.on('GET', '/berth/compare', async ({ res, query }) => {
    const image = query.get('image');
    if (!image) throw new InvalidParameterError('image is required');
    let cmd: string[] | undefined;
    const raw = query.get('cmd');
    if (raw) {
      try { cmd = JSON.parse(raw) as string[]; } catch { throw new InvalidParameterError('cmd must be a JSON array of strings'); }
      if (!Array.isArray(cmd) || !cmd.every((c) => typeof c === 'string')) throw new InvalidParameterError('cmd must be a JSON array of strings');
    }
    sendJson(res, 200, await cs.compare(image, cmd));
  });

  r.on('GET', '/containers/{id}/changes', async ({ res, params }) => {
    const changes = await cs.changes(params.id!);
    sendJson(res, 200, changes.length ? changes : null);
  });

  r.on('POST', '/commit', async ({ req, res, query }) => {
    const container = query.get('container');
    if (!container) throw new InvalidParameterError('container is required');
    const repo = query.get('repo');
    const tag = repo ? `${repo}:${query.get('tag') || 'latest'}` : undefined;
    const body = await readJson<Record<string, unknown>>(req, CONTAINER_CONFIG);
    const id = await cs.commit(container, {
      tag, comment: query.get('comment') ?? undefined, author: query.get('author') ?? undefined,
      changes: query.getAll('changes').flatMap((c) => c.split('\n')).filter(Boolean), pause: query.get('pause') !== '0' && query.get('pause') !== 'false',
      config: Object.keys(body).length ? body : undefined,
    });
    if (tag) await imageEvent(engine, 'tag', id, familiar(tag));
    sendJson(res, 201, { Id: id });
  });

  r.on('POST', '/containers/prune', async ({ res, query }) => {
    const match = pruneMatcher(parseFilters(query.get('filters')));
    sendJson(res, 200, await cs.prune((c) => match({ created: c.Created, labels: c.Config.Labels ?? {} })));
  });

  r.on('POST', '/containers/{id}/kill', async ({ res, params, query }) => {
    await cs.kill(params.id!, query.get('signal') || 'SIGKILL').catch((e: unknown) => {
      // runc no longer knows a container whose process just ended (its exit is being recorded): it is not running.
      if (errorStatus(e) >= 500 && /container does not exist|container not running/.test(errorMessage(e))) {
        throw new ConflictError(`Cannot kill container: ${params.id!}: Container ${cs.get(params.id!).Id} is not running`);
      }
      throw e;
    });
    res.writeHead(204).end();
  });

  r.on('DELETE', '/containers/{id}', async ({ res, params, query }) => {
    if (boolParam(query, 'link')) await cs.removeLink(params.id!);
    else await cs.remove(params.id!, { force: boolParam(query, 'force'), volumes: boolParam(query, 'v') });
    res.writeHead(204).end();
  });

  // `rm --link web/db`: a link's name has the parent's name in it, so the path has two segments.
  r.on('DELETE', '/containers/{parent}/{alias}', async ({ res, params, query }) => {
    if (!boolParam(query, 'link')) throw new NotFoundError(`No such container: ${params.parent}/${params.alias}`);
    await cs.removeLink(`${params.parent}/${params.alias}`);
    res.writeHead(204).end();
  });

  r.on('POST', '/containers/{id}/wait', async ({ res, params, query }) => {
    const cond = (query.get('condition') || 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw new InvalidParameterError(`invalid condition: "${cond}"`);
    const waiting = cs.wait(params.id!, cond);
    // Headers go out once the waiter is registered: the docker CLI starts the container only after it sees them.
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    res.end(`${JSON.stringify(await waiting)}\n`);
  });

  r.on('POST', '/containers/{id}/resize', async ({ res, params, query }) => {
    const h = Number(query.get('h')); const w = Number(query.get('w'));
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) throw new InvalidParameterError('invalid resize parameters');
    await cs.resize(params.id!, h, w);
    res.writeHead(200).end();
  });

  r.on('POST', '/containers/{id}/attach', async (ctx: Ctx) => {
    const { record, connection } = await cs.attach(ctx.params.id!);
    const sock = ctx.upgrade?.socket ?? ctx.req.socket;
    const flags = { stdin: boolParam(ctx.query, 'stdin'), stdout: boolParam(ctx.query, 'stdout'), stderr: boolParam(ctx.query, 'stderr') };
    sock.write(upgradeHeader(record.Config.Tty, !!ctx.upgrade));
    pipeAttach(sock, ctx.upgrade?.head ?? Buffer.alloc(0), record.Config.Tty, connection, flags);
  });

  r.on('GET', '/containers/{id}/logs', async ({ req, res, params, query }) => {
    const c = cs.get(params.id!);
    const stdout = boolParam(query, 'stdout'); const stderr = boolParam(query, 'stderr');
    if (!stdout && !stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    const tailRaw = query.get('tail');
    const tail = tailRaw && tailRaw !== 'all' ? Number(tailRaw) : undefined;
    const ts = (v: string | null) => (v ? Number(v) : undefined);
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    res.on('close', () => abort.abort());
    res.writeHead(200, { 'Content-Type': c.Config.Tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
    res.flushHeaders();
    const timestamps = boolParam(query, 'timestamps');
    for await (const e of cs.logs(c.Id, { follow: boolParam(query, 'follow'), tail, since: ts(query.get('since')), until: ts(query.get('until')), signal: abort.signal })) {
      if (e.stream === 'stdout' ? !stdout : !stderr) continue;
      const data = timestamps ? Buffer.concat([Buffer.from(`${dockerTimestamp(e.time)} `), e.data]) : e.data;
      res.write(c.Config.Tty ? data : frame(e.stream === 'stdout' ? 1 : 2, data));
    }
    res.end();
  });
}
