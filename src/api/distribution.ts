/** Pull, push and login: `/images/create?fromImage`, `/images/{name}/push`, `/auth`. */
import type { IncomingMessage } from 'node:http';
import { InvalidParameterError } from '../errors/index.js';
import { familiarRepository, isNameOnly, parsePlatform, parseReference, pullAllTags, pullImage, pushAllTags, pushImage, type ProgressEvent } from '../images/index.js';
import { decodeRegistryAuth, type Credentials } from '../registry/index.js';
import type { Engine } from './engine.js';
import { familiar, imageEvent } from './image-events.js';
import { progressStream } from './progress.js';
import { readJson, sendJson, type Ctx, type Router } from './router.js';
import { AUTH_CONFIG, checkBody } from './validate.js';

function credsOf(req: IncomingMessage): Credentials | undefined {
  const raw = req.headers['x-registry-auth'];
  // The header's JSON is typed as dockerd's registry.AuthConfig before anything reads its fields.
  return decodeRegistryAuth(Array.isArray(raw) ? raw[0] : raw, (json) => checkBody('registry.AuthConfig', json, AUTH_CONFIG));
}

/**
 * Errors before the first progress line are plain HTTP errors (404 for an
 * unknown manifest, 401 for bad credentials), as dockerd answers; after it,
 * they travel inside the stream.
 */
async function streamed(ctx: Ctx, work: (onProgress: (ev: ProgressEvent) => void, onStart: () => void) => Promise<void>): Promise<void> {
  let stream: ReturnType<typeof progressStream> | undefined;
  const start = () => (stream ??= progressStream(ctx.res));
  try {
    await work((ev) => start().event(ev), start);
    start().end();
  } catch (e) {
    if (!stream) throw e;
    stream.fail(e);
  }
}

/** docker's reference grammar for a registry host: DNS labels (letters, digits, inner hyphens) or a bracketed IPv6 address, and a port. */
const LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[a-fA-F0-9:]+\\])(?::\\d{1,5})?$`);

/** A reference is checked whole, registry host included, before anything is sent to the network. */
function checkRemoteReference(ref: string): void {
  if (!DOMAIN.test(parseReference(ref).domain)) throw new InvalidParameterError(`invalid reference format: ${ref}`);
}

/**
 * What /images/create pulls, as dockerd reads fromImage and tag: a trailing ':' on fromImage is
 * dropped (older clients sent it for `pull -a`), a `tag` (or a digest in it) replaces any tag the
 * name has, and a name with neither is every tag of the repository.
 */
function pullTarget(fromImage: string, tag: string | null): { ref: string; allTags: boolean } {
  const name = fromImage.replace(/:$/, '');
  if (!tag) return { ref: name, allTags: isNameOnly(name) };
  const bare = isNameOnly(name) ? name : name.replace(/@.*$/, '').replace(/:[^/]*$/, '');
  return { ref: tag.startsWith('sha256:') ? `${bare}@${tag}` : `${bare}:${tag}`, allTags: false };
}

/** The repository as dockerd's events name it: `busybox`, `127.0.0.1:5000/x`. */
const familiarName = (name: string) => familiarRepository(parseReference(name));

export async function pullFromRegistry(ctx: Ctx, engine: Engine, fromImage: string, tag: string | null): Promise<void> {
  const { ref, allTags } = pullTarget(fromImage, tag);
  checkRemoteReference(ref);
  const platformText = ctx.query.get('platform');
  let platform;
  try { platform = platformText ? parsePlatform(platformText) : undefined; } catch (e) { throw new InvalidParameterError((e as Error).message); }
  const creds = credsOf(ctx.req);
  await streamed(ctx, async (onProgress, onStart) => {
    if (allTags) await pullAllTags(engine.images, engine.registry, ref, { platform, creds, onProgress, onStart });
    else await pullImage(engine.images, engine.registry, ref, { platform, creds, onProgress, onStart });
    // One event for the whole pull, named as asked: the repository alone for every tag, as dockerd logs it.
    const name = allTags ? familiarName(ref) : familiar(ref);
    await imageEvent(engine, 'pull', name, name);
  });
}

export function distributionRoutes(r: Router, engine: Engine): void {
  r.on('POST', '/images/{name*}/push', async (ctx) => {
    const tag = ctx.query.get('tag');
    const ref = `${ctx.params.name!}${tag ? `:${tag}` : ''}`;
    checkRemoteReference(ref);
    // No tag, and none in the name: every local tag of the repository (the docker CLI's push -a).
    const allTags = isNameOnly(ref);
    const creds = credsOf(ctx.req);
    await streamed(ctx, async (onProgress, onStart) => {
      onStart();
      if (allTags) await pushAllTags(engine.images, engine.registry, ref, { creds, onProgress });
      else await pushImage(engine.images, engine.registry, ref, { creds, onProgress });
      const name = allTags ? familiarName(ref) : familiar(ref);
      await imageEvent(engine, 'push', name, name);
    });
  });

  r.on('POST', '/auth', async ({ req, res }) => {
    const body = await readJson<Credentials & { serveraddress?: string }>(req, AUTH_CONFIG);
    const server = (body.serveraddress || 'docker.io').replace(/^https?:\/\//, '').replace(/\/.*$/, '').replace(/^index\.docker\.io$/, 'docker.io');
    if (!DOMAIN.test(server)) throw new InvalidParameterError(`invalid registry address: ${body.serveraddress}`);
    await engine.registry.ping(server, body);
    sendJson(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });
}
