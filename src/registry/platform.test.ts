import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, InvalidParameterError } from '../errors/index.js';
import { hostPlatform, parsePlatformSpecifier, samePlatform, selectPlatform } from './platform.js';

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

test('--platform values as containerd parses them, and which are the host', () => {
  const host = hostPlatform();
  for (const spec of ['linux', `linux/${host.architecture}`, host.architecture, host.architecture === 'amd64' ? 'linux/x86_64' : 'linux', 'LINUX']) {
    assert.ok(samePlatform(parsePlatformSpecifier(spec), host), spec);
  }
  assert.deepEqual(parsePlatformSpecifier('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.ok(samePlatform(parsePlatformSpecifier('linux/arm64/v8'), { os: 'linux', architecture: 'aarch64' }));
  assert.ok(!samePlatform(parsePlatformSpecifier('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.equal(parsePlatformSpecifier('windows').os, 'windows');
  assert.equal(parsePlatformSpecifier('s390x').architecture, 's390x');
  const refused: [string, string][] = [
    ['foo', '"foo": unknown operating system or architecture: invalid argument'],
    ['linux/*', '"linux/*": wildcards not yet supported: invalid argument'],
    ['a/b/c/d', '"a/b/c/d": cannot parse platform specifier: invalid argument'],
    ['a/b/c/d/e', '"d/e" is an invalid component of "a/b/c/d/e": platform specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument'],
    ['li nux/amd64', '"li nux" is an invalid OS component of "li nux/amd64": OSAndVersion specifier component must match "^([A-Za-z0-9_-]+)(?:\\\\(([A-Za-z0-9_.%-]*)((?:\\\\+[A-Za-z0-9_.%-]+)*)\\\\))?$": invalid argument'],
  ];
  for (const [spec, message] of refused) assert.throws(() => parsePlatformSpecifier(spec), (e: Error) => e instanceof InvalidParameterError && e.message === message, spec);
});
