import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonical, familiar, familiarString, isNameOnly, parseReference } from './reference.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

test('an official image name normalizes to docker.io/library/…:latest', () => {
  const ref = parseReference('busybox');
  assert.deepEqual(ref, { domain: 'docker.io', path: 'library/busybox', tag: 'latest', digest: undefined });
  assert.equal(canonical(ref), 'docker.io/library/busybox:latest');
  assert.equal(familiar(ref), 'busybox:latest');
});

test('user repositories and explicit docker.io / index.docker.io hosts', () => {
  assert.equal(canonical(parseReference('user/app:v1')), 'docker.io/user/app:v1');
  assert.equal(familiarString('user/app:v1'), 'user/app:v1');
  assert.equal(canonical(parseReference('docker.io/busybox')), 'docker.io/library/busybox:latest');
  assert.equal(canonical(parseReference('index.docker.io/library/busybox:1.36')), 'docker.io/library/busybox:1.36');
  assert.equal(familiarString('docker.io/library/busybox:1.36'), 'busybox:1.36');
});

test('a registry with a port keeps its host, and the tag after it', () => {
  const ref = parseReference('localhost:5000/a/b:1');
  assert.deepEqual(ref, { domain: 'localhost:5000', path: 'a/b', tag: '1', digest: undefined });
  assert.equal(canonical(ref), 'localhost:5000/a/b:1');
  assert.equal(familiar(ref), 'localhost:5000/a/b:1');
});

test('an IP registry gets :latest but no library/ prefix', () => {
  assert.equal(canonical(parseReference('127.0.0.1:5000/x')), '127.0.0.1:5000/x:latest');
  assert.equal(familiarString('127.0.0.1:5000/x'), '127.0.0.1:5000/x:latest');
  assert.equal(canonical(parseReference('localhost/x')), 'localhost/x:latest');
});

test('a bare name:port is a repository with a tag, not a registry', () => {
  assert.equal(canonical(parseReference('localhost:5000')), 'docker.io/library/localhost:5000');
});

test('digests: no implicit tag, and tag+digest keeps both', () => {
  const ref = parseReference(`busybox@${DIGEST}`);
  assert.equal(ref.tag, undefined);
  assert.equal(ref.digest, DIGEST);
  assert.equal(canonical(ref), `docker.io/library/busybox@${DIGEST}`);
  assert.equal(familiar(ref), `busybox@${DIGEST}`);
  assert.equal(canonical(parseReference(`busybox:1@${DIGEST}`)), `docker.io/library/busybox:1@${DIGEST}`);
});

test('malformed digests are rejected', () => {
  assert.throws(() => parseReference('busybox@sha256:abc'), /^InvalidParameterError: invalid reference format/);
  assert.throws(() => parseReference(`busybox@sha256:${'A'.repeat(64)}`), /invalid reference format/);
});

test('uppercase repository names fail with docker\'s message naming the normalized remote', () => {
  assert.throws(() => parseReference('Busybox'), (e: Error & { status?: number }) => {
    assert.equal(e.message, 'invalid reference format: repository name (library/Busybox) must be lowercase');
    assert.equal(e.status, 400);
    return true;
  });
  assert.throws(() => parseReference('localhost:5000/App:1'),
    { message: 'invalid reference format: repository name (App) must be lowercase' });
});

test('an uppercase first component is taken as a registry host, as docker does', () => {
  assert.equal(canonical(parseReference('Registry/app')), 'Registry/app:latest');
});

test('uppercase tags are fine', () => {
  assert.equal(parseReference('busybox:Latest').tag, 'Latest');
});

test('invalid tags and names are rejected', () => {
  for (const bad of ['busybox:', 'busybox:-x', 'busybox:.x', `busybox:${'a'.repeat(129)}`, 'busybox:a b', 'a//b', 'a/', '-x', 'bad_-name', '', ' busybox']) {
    assert.throws(() => parseReference(bad), /^InvalidParameterError: invalid reference format/, bad);
  }
  assert.equal(parseReference(`busybox:${'a'.repeat(128)}`).tag, 'a'.repeat(128));
});

test('separators allowed in path components', () => {
  assert.equal(canonical(parseReference('my.org/a_b/c__d/e-f--g')), 'my.org/a_b/c__d/e-f--g:latest');
});

test('a name alone, as pull -a and push -a take it: a port is not a tag', () => {
  for (const name of ['busybox', 'user/app', '127.0.0.1:5000/x/y', 'localhost:5000/app', 'docker.io/library/busybox']) assert.equal(isNameOnly(name), true, name);
  for (const ref of ['busybox:1', '127.0.0.1:5000/x/y:latest', 'localhost:5000', `busybox@${DIGEST}`, `x:1@${DIGEST}`]) assert.equal(isNameOnly(ref), false, ref);
  assert.throws(() => isNameOnly('x/Up'), /invalid reference format/);
});
