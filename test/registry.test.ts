/**
 * The registry client against a real distribution registry (Debian's
 * docker-registry) without auth: push and pull byte for byte, chunked
 * uploads, mounts, errors with docker's wording, corruption, platform
 * selection and resumed downloads. Each test has its own registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DOCKER_MANIFEST_LIST, DigestMismatchError, OCI_INDEX, OCI_MANIFEST, RegistryClient, RegistryConnectionError, RegistryError, sha256Digest,
} from '../src/registry/index.js';
import { NotFoundError } from '../src/errors/index.js';
import { freePort, startRegistry, type TestRegistry } from './registry-fixture.js';
import { collect, indexOf, pushBytes, pushImage } from './registry-images.js';

async function withRegistry(fn: (reg: TestRegistry, client: RegistryClient) => Promise<void>): Promise<void> {
  const reg = await startRegistry();
  try {
    await fn(reg, new RegistryClient({ timeoutMs: 10_000 }));
  } finally {
    await reg.stop();
  }
}

test('an anonymous push of blobs and a manifest pulls back byte for byte, by tag and by digest', () => withRegistry(async (reg, client) => {
  const img = await pushImage(client, reg.host, 'library/busybox', 'latest');
  const byTag = await client.getManifest(reg.host, 'library/busybox', 'latest');
  assert.ok(byTag.bytes.equals(img.manifest));
  assert.equal(byTag.mediaType, OCI_MANIFEST);
  assert.equal(byTag.digest, img.digest);
  const byDigest = await client.getManifest(reg.host, 'library/busybox', img.digest);
  assert.ok(byDigest.bytes.equals(img.manifest));
  assert.ok((await collect(await client.getBlob(reg.host, 'library/busybox', img.layer.digest))).equals(img.layer.bytes));
  const config = await client.getBlob(reg.host, 'library/busybox', img.config.digest);
  assert.equal(config.size, img.config.bytes.length);
  assert.ok((await collect(config)).equals(img.config.bytes));
  assert.equal((await client.ping(reg.host)).scheme, 'none');
}));

test('a chunked upload sends PATCHes of the chunk size and the registry assembles them', () => withRegistry(async (reg, client) => {
  const bytes = randomBytes(300_000);
  const blob = await pushBytes(client, reg.host, 'a/chunked', bytes, undefined, 64 * 1024);
  assert.ok((await collect(await client.getBlob(reg.host, 'a/chunked', blob.digest))).equals(bytes));
  // An empty blob is a chunked upload of no chunks.
  const empty = await pushBytes(client, reg.host, 'a/chunked', Buffer.alloc(0), undefined, 1024);
  assert.equal((await collect(await client.getBlob(reg.host, 'a/chunked', empty.digest))).length, 0);
  // The registry refuses a digest that does not match what was uploaded.
  await assert.rejects(
    client.pushBlob(reg.host, 'a/chunked', `sha256:${'0'.repeat(64)}`, 3, () => Readable.from([Buffer.from('abc')]), undefined, { chunkSize: 2 }),
    (e: unknown) => e instanceof RegistryError && e.code === 'DIGEST_INVALID' && e.status === 400,
  );
}));

test('blob exists, and a mount from another repository of the same registry', () => withRegistry(async (reg, client) => {
  const blob = await pushBytes(client, reg.host, 'team/base', randomBytes(1000));
  assert.equal(await client.blobExists(reg.host, 'team/base', blob.digest), true);
  assert.equal(await client.blobExists(reg.host, 'team/app', blob.digest), false);
  assert.equal(await client.mountBlob(reg.host, 'team/app', blob.digest, 'team/base'), true);
  assert.equal(await client.blobExists(reg.host, 'team/app', blob.digest), true);
  // A blob the source does not have is not mounted; the upload the registry opened instead is cancelled.
  const missing = `sha256:${createHash('sha256').update('nothing').digest('hex')}`;
  assert.equal(await client.mountBlob(reg.host, 'team/other', missing, 'team/base'), false);
  assert.ok((await collect(await client.getBlob(reg.host, 'team/app', blob.digest))).equals(blob.bytes));
}));

test("an unknown repository or tag is docker's 404 'manifest unknown'", () => withRegistry(async (reg, client) => {
  await assert.rejects(client.getManifest(reg.host, 'nope', 'latest'), (e: unknown) =>
    e instanceof RegistryError && e.status === 404 && e.code === 'MANIFEST_UNKNOWN'
    && e.message === `manifest for ${reg.host}/nope:latest not found: manifest unknown: manifest unknown`);
  await pushImage(client, reg.host, 'x/y', 'v1');
  await assert.rejects(client.getManifest(reg.host, 'x/y', 'v2'), { status: 404, message: `manifest for ${reg.host}/x/y:v2 not found: manifest unknown: manifest unknown` });
  await assert.rejects(client.getBlob(reg.host, 'x/y', `sha256:${'1'.repeat(64)}`), { status: 404, code: 'BLOB_UNKNOWN' });
  await assert.rejects(client.getManifest(reg.host, 'UPPER/case', 'latest'), { status: 400, message: 'invalid repository name: UPPER/case' });
}));

test('a corrupted blob fails its digest check at the end of the stream', () => withRegistry(async (reg, client) => {
  const blob = await pushBytes(client, reg.host, 'c/x', randomBytes(100_000));
  await writeFile(reg.blobDataPath(blob.digest), randomBytes(100_000));
  const stream = await client.getBlob(reg.host, 'c/x', blob.digest);
  let ended = false;
  stream.on('end', () => { ended = true; });
  await assert.rejects(pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })), (e: unknown) =>
    e instanceof DigestMismatchError && /digest mismatch/.test(e.message) && /failed to verify/.test(e.message)
    && e.expected === blob.digest);
  assert.equal(ended, false, "a bad blob never reaches 'end'");

  // A manifest pulled by digest is checked the same way.
  const img = await pushImage(client, reg.host, 'c/img', 'latest');
  const path = reg.blobDataPath(img.digest);
  // Still a valid manifest to the registry (which parses it), but not the one pushed.
  const layerSize = `"size":${img.layer.bytes.length}}`;
  await writeFile(path, (await readFile(path)).toString().replace(layerSize, `"size":${img.layer.bytes.length + 1}}`));
  await assert.rejects(client.getManifest(reg.host, 'c/img', img.digest), /failed to verify manifest .*digest mismatch/);
}));

test('an index resolves to the platform asked for; both index media types', () => withRegistry(async (reg, client) => {
  const amd = await pushImage(client, reg.host, 'multi/app', 'amd64', { architecture: 'amd64' });
  const arm = await pushImage(client, reg.host, 'multi/app', 'arm64', { architecture: 'arm64', variant: 'v8' });
  for (const [tag, mediaType] of [['oci', OCI_INDEX], ['docker', DOCKER_MANIFEST_LIST]] as const) {
    const index = indexOf([{ image: amd, architecture: 'amd64' }, { image: arm, architecture: 'arm64', variant: 'v8' }], mediaType);
    await client.putManifest(reg.host, 'multi/app', tag, index, mediaType);
    const top = await client.getManifest(reg.host, 'multi/app', tag);
    assert.equal(top.mediaType, mediaType);
    const desc = client.selectPlatform(top.bytes, { os: 'linux', architecture: 'arm64' });
    assert.equal(desc.digest, arm.digest);
    assert.ok((await client.getManifest(reg.host, 'multi/app', desc.digest)).bytes.equals(arm.manifest));
    assert.equal(client.selectPlatform(top.bytes, { os: 'linux', architecture: 'amd64' }).digest, amd.digest);
    assert.throws(() => client.selectPlatform(top.bytes, { os: 'linux', architecture: 's390x' }), (e: unknown) =>
      e instanceof NotFoundError && e.message === 'no matching manifest for linux/s390x in the manifest list entries');
  }
}));

test('a download resumes from an offset with a Range request and is still verified whole', () => withRegistry(async (reg, client) => {
  const blob = await pushBytes(client, reg.host, 'r/x', randomBytes(50_000));
  const offset = 12_345;
  const hash = createHash('sha256').update(blob.bytes.subarray(0, offset));
  const rest = await client.getBlob(reg.host, 'r/x', blob.digest, undefined, { offset, hash });
  assert.equal(rest.size, blob.bytes.length);
  assert.ok((await collect(rest)).equals(blob.bytes.subarray(offset)));
  // A wrong prefix makes the whole blob wrong.
  const bad = createHash('sha256').update(randomBytes(offset));
  await assert.rejects(collect(await client.getBlob(reg.host, 'r/x', blob.digest, undefined, { offset, hash: bad })), DigestMismatchError);
  await assert.rejects(client.getBlob(reg.host, 'r/x', blob.digest, undefined, { offset }), { status: 400 });
}));

test('an upload that keeps moving outlasts the timeout; one that stalls does not', () => withRegistry(async (reg) => {
  const client = new RegistryClient({ timeoutMs: 300 });
  const parts = Array.from({ length: 8 }, () => randomBytes(16 * 1024));
  const bytes = Buffer.concat(parts);
  const digest = sha256Digest(bytes);
  const slow = () => Readable.from((async function* () {
    for (const p of parts) { await new Promise((r) => setTimeout(r, 100)); yield p; }
  })());
  await client.pushBlob(reg.host, 'slow/x', digest, bytes.length, slow);
  assert.ok((await collect(await client.getBlob(reg.host, 'slow/x', digest))).equals(bytes));

  const stalled = () => Readable.from((async function* () {
    yield parts[0]!;
    await new Promise((r) => setTimeout(r, 2000));
  })());
  const started = Date.now();
  await assert.rejects(client.pushBlob(reg.host, 'slow/y', digest, bytes.length, stalled), { code: 'ETIMEDOUT', message: /timeout/ });
  assert.ok(Date.now() - started < 1500);
}));

test('a refused connection and a silent server fail with clear messages in bounded time', async () => {
  const client = new RegistryClient({ timeoutMs: 500 });
  const closed = await freePort();
  await assert.rejects(client.ping(`127.0.0.1:${closed}`), (e: unknown) => e instanceof RegistryConnectionError
    && e.code === 'ECONNREFUSED'
    && e.message === `Get "http://127.0.0.1:${closed}/v2/": dial tcp 127.0.0.1:${closed}: connect: connection refused`);
  // Port 1 is on fetch's blocked list: refused before any connection, but still said plainly.
  await assert.rejects(client.ping('127.0.0.1:1'), { code: 'EBADPORT', message: /^Get "http:\/\/127.0.0.1:1\/v2\/": port 1 is on the fetch standard's list of blocked ports$/ });
  const sockets: Socket[] = [];
  const silent = createServer((s) => { sockets.push(s); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const { port } = silent.address() as AddressInfo;
  const started = Date.now();
  try {
    await assert.rejects(client.getManifest(`127.0.0.1:${port}`, 'a', 'latest'), (e: unknown) => e instanceof RegistryConnectionError
      && e.code === 'ETIMEDOUT' && e.message.startsWith(`Get "http://127.0.0.1:${port}/v2/a/manifests/latest": `) && /timeout/.test(e.message));
    assert.ok(Date.now() - started < 3000, 'within the timeout, not much after');
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
