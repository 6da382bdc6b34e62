/**
 * A repository's tags (GET /v2/<name>/tags/list), every page of them: a
 * registry may answer in pages and name the next one in a `Link: <…>;
 * rel="next"` header (OCI distribution spec, RFC 8288), relative or absolute.
 */
import { SystemError } from '../errors/index.js';
import { RegistryError, errorFromResponse } from './errors.js';
import { checkRepo, displayName } from './names.js';
import { pullScope, type Requester } from './requester.js';
import { readBody } from './transport.js';
import type { Credentials } from './types.js';

/** One page of tag names is small; a larger answer is not one. */
const MAX_PAGE_BYTES = 4 << 20;
/** Enough for any real repository; a registry that keeps inventing pages is not followed forever. */
const MAX_PAGES = 10_000;
const TAG = /^[\w][\w.-]{0,127}$/;

/** The URL of the `rel="next"` link in a Link header, if there is one. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const link of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(link);
    if (!m) continue;
    const rels = m[2]!.split(';').map((p) => /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
    // rel may list several relation types: rel="next last".
    if (rels?.toLowerCase().split(/\s+/).includes('next')) return m[1];
  }
  return undefined;
}

/**
 * The registry's failures in dockerd's words for a pull (distribution's notFoundError): a missing
 * repository, or one the credentials may not read, is "not found" (404) either way.
 */
function notFound(err: RegistryError, registry: string, repo: string): RegistryError {
  const name = displayName(registry, repo);
  if (err.code === 'NAME_UNKNOWN' || err.code === 'MANIFEST_UNKNOWN') {
    return new RegistryError(err.code, `repository ${name} not found: ${err.message}`, 404);
  }
  if (err.code === 'DENIED') {
    return new RegistryError(err.code, `pull access denied for ${name}, repository does not exist or may require 'docker login': ${err.message}`, 404);
  }
  return err;
}

export async function listTags(r: Requester, registry: string, repo: string, creds?: Credentials): Promise<string[]> {
  let url = r.url(registry, `/v2/${checkRepo(repo)}/tags/list`);
  const seen = new Set<string>();
  const tags: string[] = [];
  for (let page = 0; ; page++) {
    if (seen.has(url) || page >= MAX_PAGES) throw new SystemError(`listing the tags of ${displayName(registry, repo)}: the registry's pages do not end (at ${url})`);
    seen.add(url);
    let res: Response;
    try {
      res = await r.request({ registry, method: 'GET', path: url, scopes: [pullScope(repo)], creds, headers: { Accept: 'application/json' } });
    } catch (e) {
      throw e instanceof RegistryError ? notFound(e, registry, repo) : e;
    }
    if (!res.ok) throw notFound(await errorFromResponse(res), registry, repo);
    const bytes = await readBody(res, MAX_PAGE_BYTES, r.timeoutMs, `the tag list of ${displayName(registry, repo)}`);
    let doc: { tags?: unknown };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as { tags?: unknown };
    } catch (e) {
      throw new SystemError(`listing the tags of ${displayName(registry, repo)}: ${(e as Error).message}`);
    }
    // A repository whose tags were all deleted lists `"tags": null`.
    const list = doc?.tags ?? [];
    if (!Array.isArray(list)) throw new SystemError(`listing the tags of ${displayName(registry, repo)}: "tags" is not a list`);
    for (const t of list) {
      // A tag goes into a URL and a local reference next: one that is not a tag is refused, as dockerd's reference.WithTag does.
      if (typeof t !== 'string' || !TAG.test(t)) throw new SystemError(`invalid tag format: ${JSON.stringify(t)} in the tag list of ${displayName(registry, repo)}`);
      tags.push(t);
    }
    const next = nextLink(res.headers.get('link'));
    if (!next) return tags;
    url = new URL(next, url).toString();
  }
}
