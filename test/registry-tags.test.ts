/**
 * The registry client's tag list (GET /v2/<name>/tags/list): against the real
 * distribution registry, and against a small server that answers in pages
 * linked by `Link: <…>; rel="next"`, as the OCI distribution spec lets a
 * registry do, to see every page followed and a loop refused.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { RegistryClient, RegistryError } from '../src/registry/index.js';
import { nextLink } from '../src/registry/tags.js';
import { startRegistry } from './registry-fixture.js';
import { pushImage } from './registry-images.js';

async function fakeRegistry(handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void): Promise<{ host: string; paths: string[]; close: () => Promise<void> }> {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    paths.push(`${url.pathname}${url.search}`);
    if (url.pathname === '/v2/') { res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'); return; }
    handler(req, res, url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { host: `127.0.0.1:${port}`, paths, close: () => new Promise((r) => server.close(() => r())) };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));

test('Link headers: the rel="next" target, among others and in any form RFC 8288 allows', () => {
  assert.equal(nextLink('</v2/a/tags/list?last=b&n=2>; rel="next"'), '/v2/a/tags/list?last=b&n=2');
  assert.equal(nextLink('<https://r.example/v2/a/tags/list?last=b>;rel=next'), 'https://r.example/v2/a/tags/list?last=b');
  assert.equal(nextLink('</first>; rel="first", </more?x=1,2>; rel="prefetch next"'), '/more?x=1,2');
  assert.equal(nextLink('</prev>; rel="prev"'), undefined);
  assert.equal(nextLink(null), undefined);
});

test('every tag of a real registry\'s repository; an unknown one is dockerd\'s "repository … not found"', async () => {
  const reg = await startRegistry();
  try {
    const client = new RegistryClient({ timeoutMs: 10_000 });
    for (const tag of ['2', '10', 'latest', '1.0']) await pushImage(client, reg.host, 'team/app', tag);
    // In the registry's order, which for distribution 2.8's filesystem storage is the directory's.
    assert.deepEqual((await client.listTags(reg.host, 'team/app')).sort(), ['1.0', '10', '2', 'latest']);
    await assert.rejects(client.listTags(reg.host, 'team/nope'), (e: unknown) => e instanceof RegistryError && e.status === 404
      && e.message === `repository ${reg.host}/team/nope not found: name unknown: repository name not known to registry`);
  } finally {
    await reg.stop();
  }
});

test('pages linked by rel="next", relative and absolute, are all read; a registry\'s null list is no tags', async () => {
  let base = '';
  const reg = await fakeRegistry((_req, res, url) => {
    if (url.pathname === '/v2/p/app/tags/list' && !url.search) return json(res, 200, { name: 'p/app', tags: ['a', 'b'] }, { Link: '</v2/p/app/tags/list?last=b&n=2>; rel="next"' });
    if (url.searchParams.get('last') === 'b') return json(res, 200, { name: 'p/app', tags: ['c', 'd'] }, { Link: `<${base}/v2/p/app/tags/list?last=d&n=2>; rel="next"` });
    if (url.searchParams.get('last') === 'd') return json(res, 200, { name: 'p/app', tags: ['e'] });
    if (url.pathname === '/v2/p/empty/tags/list') return json(res, 200, { name: 'p/empty', tags: null });
    json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] });
  });
  base = `http://${reg.host}`;
  try {
    const client = new RegistryClient({ timeoutMs: 5_000 });
    assert.deepEqual(await client.listTags(reg.host, 'p/app'), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(reg.paths.filter((p) => p.startsWith('/v2/p/app/')), ['/v2/p/app/tags/list', '/v2/p/app/tags/list?last=b&n=2', '/v2/p/app/tags/list?last=d&n=2']);
    assert.deepEqual(await client.listTags(reg.host, 'p/empty'), []);
  } finally {
    await reg.close();
  }
});

test('a page that links back to one already read, and a tag that is no tag, are refused', async () => {
  const reg = await fakeRegistry((_req, res, url) => {
    if (url.pathname === '/v2/p/loop/tags/list') return json(res, 200, { tags: ['a'] }, { Link: '</v2/p/loop/tags/list?last=a>; rel="next"' });
    if (url.pathname === '/v2/p/bad/tags/list') return json(res, 200, { tags: ['ok', '../../x'] });
    json(res, 404, {});
  });
  try {
    const client = new RegistryClient({ timeoutMs: 5_000 });
    // The second page links to itself.
    await assert.rejects(client.listTags(reg.host, 'p/loop'), /the registry's pages do not end/);
    assert.equal(reg.paths.filter((p) => p.startsWith('/v2/p/loop/')).length, 2);
    await assert.rejects(client.listTags(reg.host, 'p/bad'), /invalid tag format: "\.\.\/\.\.\/x"/);
  } finally {
    await reg.close();
  }
});

test('token auth: the tag list is asked for with a pull token for the repository; without credentials it is refused', async () => {
  const reg = await startRegistry({ auth: 'token' });
  try {
    const alice = { username: 'alice', password: reg.users.alice! };
    await pushImage(new RegistryClient({ timeoutMs: 10_000 }), reg.host, 'team/app', 'v1', { creds: alice });
    const client = new RegistryClient({ timeoutMs: 10_000 });
    assert.deepEqual(await client.listTags(reg.host, 'team/app', alice), ['v1']);
    assert.deepEqual(reg.tokenServer!.requests.at(-1)!.scopes, ['repository:team/app:pull']);
    await assert.rejects(new RegistryClient({ timeoutMs: 10_000 }).listTags(reg.host, 'team/app'), (e: unknown) => e instanceof RegistryError && e.status === 401);
  } finally {
    await reg.stop();
  }
});
