import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialsKey, readCredentials, removeCredentials, storeCredentials } from './credentials.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-creds-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

test("a login is saved in docker's config.json shape, readable by its owner only", () => withDir(async (dir) => {
  const path = join(dir, 'sub', 'config.json');
  await storeCredentials(path, 'localhost:5000', { username: 'alice', password: 'pa:ss' });
  const doc = JSON.parse(await readFile(path, 'utf8'));
  assert.deepEqual(doc, { auths: { 'localhost:5000': { auth: Buffer.from('alice:pa:ss').toString('base64') } } });
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'sub'))).mode & 0o777, 0o700);
  assert.deepEqual(await readCredentials(path, 'localhost:5000'), { serveraddress: 'localhost:5000', username: 'alice', password: 'pa:ss' });
  assert.deepEqual(await readCredentials(path, 'http://localhost:5000/v2/'), { serveraddress: 'localhost:5000', username: 'alice', password: 'pa:ss' });
  assert.equal(await readCredentials(path, 'localhost:5001'), undefined);
}));

test('Docker Hub is keyed as docker keys it, and other fields of the file survive', () => withDir(async (dir) => {
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: 'b2xkOm9sZA==' } }, credsStore: 'none' }), { mode: 0o644 });
  await storeCredentials(path, 'docker.io', { username: 'bob', password: 'x' });
  const doc = JSON.parse(await readFile(path, 'utf8'));
  assert.equal(doc.credsStore, 'none');
  assert.deepEqual(Object.keys(doc.auths), [credentialsKey('index.docker.io')]);
  assert.equal((await stat(path)).mode & 0o777, 0o600, 'a looser file is replaced by a private one');
  assert.equal((await readCredentials(path, 'registry-1.docker.io'))?.username, 'bob');
}));

test('identity tokens are kept instead of the password; logout removes the entry', () => withDir(async (dir) => {
  const path = join(dir, 'config.json');
  await storeCredentials(path, 'r.example:443', { username: 'carol', password: 'secret', identitytoken: 'rt-1' });
  assert.doesNotMatch(await readFile(path, 'utf8'), /secret/);
  assert.deepEqual(await readCredentials(path, 'r.example:443'), { serveraddress: 'r.example:443', username: 'carol', identitytoken: 'rt-1' });
  assert.equal(await removeCredentials(path, 'r.example:443'), true);
  assert.equal(await removeCredentials(path, 'r.example:443'), false);
  assert.equal(await readCredentials(path, 'r.example:443'), undefined);
  assert.equal(await readCredentials(join(dir, 'missing.json'), 'x'), undefined);
}));
