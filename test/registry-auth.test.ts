/**
 * Registry authentication against a real distribution registry: htpasswd
 * (Basic, bcrypt) and token auth (Bearer challenge, a token server signing
 * JWTs with a throwaway certificate the registry trusts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient, RegistryError, type Credentials } from '../src/registry/index.js';
import { startRegistry, type RegistryOptions, type TestRegistry } from './registry-fixture.js';
import { collect, pushBytes, pushImage } from './registry-images.js';

const alice: Credentials = { username: 'alice', password: 'wonderland' };
const bob: Credentials = { username: 'bob', password: 's3cret:with:colons' };
const wrong: Credentials = { username: 'alice', password: 'nope' };

const AUTH_REQUIRED = 'unauthorized: authentication required';
const INCORRECT = 'unauthorized: incorrect username or password';
const unauthorized = (message: string) => (e: unknown) =>
  e instanceof RegistryError && e.status === 401 && e.code === 'UNAUTHORIZED' && e.message === message;

async function withRegistry(opts: RegistryOptions, fn: (reg: TestRegistry, client: RegistryClient) => Promise<void>): Promise<void> {
  const reg = await startRegistry(opts);
  try {
    await fn(reg, new RegistryClient({ timeoutMs: 10_000 }));
  } finally {
    await reg.stop();
  }
}

test('htpasswd: login checks the password; pushes and pulls need it', () => withRegistry({ auth: 'htpasswd' }, async (reg, client) => {
  await assert.rejects(client.ping(reg.host), unauthorized(AUTH_REQUIRED));
  await assert.rejects(client.ping(reg.host, wrong), unauthorized(INCORRECT));
  assert.deepEqual(await client.ping(reg.host, bob), { scheme: 'basic', identityToken: undefined });

  const img = await pushImage(client, reg.host, 'private/app', 'v1', { creds: alice });
  const got = await client.getManifest(reg.host, 'private/app', 'v1', bob);
  assert.ok(got.bytes.equals(img.manifest));
  assert.ok((await collect(await client.getBlob(reg.host, 'private/app', img.layer.digest, alice))).equals(img.layer.bytes));

  // A fresh client learns the scheme from the 401 and asks once more with credentials.
  const fresh = new RegistryClient();
  assert.ok((await fresh.getManifest(reg.host, 'private/app', 'v1', alice)).bytes.equals(img.manifest));
  await assert.rejects(fresh.getManifest(reg.host, 'private/app', 'v1'), unauthorized(AUTH_REQUIRED));
  await assert.rejects(fresh.getManifest(reg.host, 'private/app', 'v1', wrong), unauthorized(INCORRECT));
  await assert.rejects(fresh.blobExists(reg.host, 'private/app', img.layer.digest), unauthorized(AUTH_REQUIRED));
}));

test('token: bearer tokens from the realm, scoped pull,push for a push and cached across requests', () => withRegistry({ auth: 'token' }, async (reg, client) => {
  const requests = reg.tokenServer!.requests;
  const img = await pushImage(client, reg.host, 'team/app', 'latest', { creds: alice, layerSize: 200_000 });
  assert.ok(requests.some((r) => r.user === 'alice' && r.scopes.includes('repository:team/app:pull,push')));
  const afterPush = requests.length;
  assert.ok(afterPush <= 2, `one token for the whole push (and maybe one anonymous probe), not ${afterPush}`);

  // Pulls are covered by the push token: no new token request.
  assert.ok((await client.getManifest(reg.host, 'team/app', 'latest', alice)).bytes.equals(img.manifest));
  assert.ok((await collect(await client.getBlob(reg.host, 'team/app', img.layer.digest, alice))).equals(img.layer.bytes));
  assert.equal(await client.blobExists(reg.host, 'team/app', img.config.digest, alice), true);
  assert.equal(requests.length, afterPush);

  // Parallel requests from a client that has not met the registry yet share one token request.
  const parallel = new RegistryClient();
  await Promise.all([img.config, img.layer, img.config].map(async (b) =>
    assert.ok((await collect(await parallel.getBlob(reg.host, 'team/app', b.digest, alice))).equals(b.bytes))));
  assert.equal(requests.length, afterPush + 1);

  // A mount asks for push on the target and pull on the source.
  assert.equal(await client.mountBlob(reg.host, 'team/other', img.layer.digest, 'team/app', alice), true);
  assert.deepEqual(requests.at(-1)!.scopes.sort(), ['repository:team/app:pull', 'repository:team/other:pull,push']);

  // A chunked push with a token.
  const big = await pushBytes(client, reg.host, 'team/other', Buffer.alloc(150_000, 7), alice, 50_000);
  assert.equal((await collect(await client.getBlob(reg.host, 'team/other', big.digest, bob))).length, 150_000);

  await assert.rejects(client.getManifest(reg.host, 'team/app', 'latest'), unauthorized(AUTH_REQUIRED));
  await assert.rejects(client.getManifest(reg.host, 'team/app', 'latest', wrong), unauthorized(INCORRECT));
  await assert.rejects(client.ping(reg.host, wrong), unauthorized(INCORRECT));
}));

test('token: login hands out an identity token; identity and registry tokens authenticate pulls', () => withRegistry({ auth: 'token' }, async (reg, client) => {
  const img = await pushImage(client, reg.host, 'id/app', 'v1', { creds: alice });
  const login = await client.ping(reg.host, alice);
  assert.equal(login.scheme, 'bearer');
  assert.match(login.identityToken ?? '', /^rt-/);

  const viaRefresh = new RegistryClient();
  assert.ok((await viaRefresh.getManifest(reg.host, 'id/app', 'v1', { identitytoken: login.identityToken })).bytes.equals(img.manifest));
  const grant = reg.tokenServer!.requests.at(-1)!;
  assert.deepEqual(grant, { method: 'POST', user: 'alice', scopes: ['repository:id/app:pull'], grantType: 'refresh_token' });
  await assert.rejects(new RegistryClient().getManifest(reg.host, 'id/app', 'v1', { identitytoken: 'rt-forged' }), unauthorized(INCORRECT));

  const url = `${reg.tokenServer!.realm}?service=${reg.tokenServer!.service}&scope=repository:id/app:pull`;
  const basic = `Basic ${Buffer.from('bob:s3cret:with:colons').toString('base64')}`;
  const { token } = (await (await fetch(url, { headers: { Authorization: basic } })).json()) as { token: string };
  const seen = reg.tokenServer!.requests.length;
  assert.ok((await new RegistryClient().getManifest(reg.host, 'id/app', 'v1', { registrytoken: token })).bytes.equals(img.manifest));
  assert.equal(reg.tokenServer!.requests.length, seen, 'a registry token is used as it is');
}));

test('token: an expired token is fetched again; anonymous pulls where the server allows them', () =>
  withRegistry({ auth: 'token', tokenTtlSeconds: 6, anonymousPull: true }, async (reg, client) => {
    const img = await pushImage(client, reg.host, 'pub/app', 'v1', { creds: alice });
    const anon = new RegistryClient();
    assert.ok((await anon.getManifest(reg.host, 'pub/app', 'v1')).bytes.equals(img.manifest));
    const requests = reg.tokenServer!.requests;
    const before = requests.length;
    await anon.getManifest(reg.host, 'pub/app', 'v1');
    assert.equal(requests.length, before, 'cached while fresh');
    // Six-second tokens are kept until five seconds before they expire.
    await new Promise((r) => setTimeout(r, 1200));
    await anon.getManifest(reg.host, 'pub/app', 'v1');
    assert.equal(requests.length, before + 1, 'fetched again once expired');
    assert.equal(requests.at(-1)!.user, undefined);
    // Anonymous tokens carry pull only.
    await assert.rejects(anon.putManifest(reg.host, 'pub/app', 'v2', img.manifest, 'application/vnd.oci.image.manifest.v1+json'), unauthorized(AUTH_REQUIRED));
  }));
