import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, InvalidParameterError } from '../errors/index.js';
import { hostPlatform, selectPlatform } from './platform.js';

const entry = (n: number, platform: Record<string, string>) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${String(n).repeat(64)}`, size: 100 + n, platform,
});

const index = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    entry(1, { os: 'linux', architecture: 'amd64' }),
    entry(2, { os: 'linux', architecture: 'arm', variant: 'v6' }),
    entry(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(4, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry(5, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }),
    entry(6, { os: 'unknown', architecture: 'unknown' }),
  ],
});

const pick = (want: Record<string, string>) => selectPlatform(Buffer.from(index), want).digest[7];

test('exact matches and the aliases containerd normalizes', () => {
  assert.equal(pick({ os: 'linux', architecture: 'amd64' }), '1');
  assert.equal(pick({ os: 'linux', architecture: 'x86_64' }), '1');
  assert.equal(pick({ os: 'linux', architecture: 'arm64' }), '4');
  assert.equal(pick({ os: 'linux', architecture: 'aarch64' }), '4');
  assert.equal(pick({ os: 'linux', architecture: 'arm64', variant: 'v8' }), '4');
  assert.equal(pick({ os: 'windows', architecture: 'amd64' }), '5');
});

test('arm variants: v7 by default, an older variant when the newer is missing, never a newer one', () => {
  assert.equal(pick({ os: 'linux', architecture: 'arm' }), '3');
  assert.equal(pick({ os: 'linux', architecture: 'arm', variant: 'v6' }), '2');
  assert.equal(pick({ os: 'linux', architecture: 'arm', variant: 'v8' }), '3');
  assert.throws(() => pick({ os: 'linux', architecture: 'arm', variant: 'v5' }), /no matching manifest for linux\/arm\/v5/);
});

test("no match is a 404 with docker's wording", () => {
  const onlyAmd = JSON.stringify({ schemaVersion: 2, manifests: [entry(1, { os: 'linux', architecture: 'amd64' })] });
  assert.throws(() => selectPlatform(onlyAmd, { os: 'linux', architecture: 'arm64' }), (e: unknown) =>
    e instanceof NotFoundError && e.status === 404
    && e.message === 'no matching manifest for linux/arm64 in the manifest list entries');
});

test('the default is the host platform', () => {
  const host = hostPlatform();
  assert.equal(host.os, 'linux');
  const want = process.arch === 'x64' ? 'amd64' : process.arch;
  assert.equal(host.architecture, want);
  if (host.architecture === 'amd64') assert.equal(selectPlatform(index).digest[7], '1');
});

test('a manifest that is not an index is a bad parameter', () => {
  assert.throws(() => selectPlatform('{"schemaVersion":2,"layers":[]}'), InvalidParameterError);
  assert.throws(() => selectPlatform('nope'), InvalidParameterError);
});
