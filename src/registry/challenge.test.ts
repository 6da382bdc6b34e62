import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges } from './challenge.js';

test('a Bearer challenge with realm, service and scope', () => {
  const h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"';
  assert.deepEqual(parseChallenges(h), [{
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
  }]);
});

test('scopes with commas inside quotes, several challenges, escapes and bare values', () => {
  const h = 'Basic realm="x \\"y\\"", Bearer realm="http://a/token",scope="repository:a:pull,push",error=insufficient_scope';
  assert.deepEqual(parseChallenges(h), [
    { scheme: 'basic', params: { realm: 'x "y"' } },
    { scheme: 'bearer', params: { realm: 'http://a/token', scope: 'repository:a:pull,push', error: 'insufficient_scope' } },
  ]);
});

test('no header, no challenges', () => {
  assert.deepEqual(parseChallenges(null), []);
  assert.deepEqual(parseChallenges('Basic'), [{ scheme: 'basic', params: {} }]);
});
