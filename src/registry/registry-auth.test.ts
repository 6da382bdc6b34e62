import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidParameterError } from '../errors/index.js';
import { decodeRegistryAuth, encodeRegistryAuth } from './registry-auth.js';

test('X-Registry-Auth decodes base64url JSON, with or without padding', () => {
  const json = JSON.stringify({ username: 'alice', password: 'p+/?>', serveraddress: 'localhost:5000' });
  const url = Buffer.from(json).toString('base64url');
  const std = Buffer.from(json).toString('base64');
  const want = { username: 'alice', password: 'p+/?>', serveraddress: 'localhost:5000' };
  assert.deepEqual(decodeRegistryAuth(url), want);
  assert.deepEqual(decodeRegistryAuth(std), want);
  assert.deepEqual(decodeRegistryAuth(encodeRegistryAuth(want)), want);
});

test('tokens, the auth field, and empty headers', () => {
  assert.deepEqual(decodeRegistryAuth(encodeRegistryAuth({ identitytoken: 'rt' })), { identitytoken: 'rt' });
  assert.deepEqual(decodeRegistryAuth(encodeRegistryAuth({ registrytoken: 'bt' })), { registrytoken: 'bt' });
  const auth = Buffer.from('bob:a:b').toString('base64');
  assert.deepEqual(decodeRegistryAuth(Buffer.from(JSON.stringify({ auth })).toString('base64url')), { username: 'bob', password: 'a:b' });
  assert.equal(decodeRegistryAuth(undefined), undefined);
  assert.equal(decodeRegistryAuth(''), undefined);
  // The docker CLI sends `{}` (or just a server address) for anonymous pulls.
  assert.equal(decodeRegistryAuth(Buffer.from('{}').toString('base64url')), undefined);
  assert.equal(decodeRegistryAuth(encodeRegistryAuth({ serveraddress: 'x' })), undefined);
});

test('a header that is not base64 JSON is a bad parameter', () => {
  assert.throws(() => decodeRegistryAuth('!!!not-json'), (e: unknown) =>
    e instanceof InvalidParameterError && /invalid X-Registry-Auth header/.test(e.message));
  assert.throws(() => decodeRegistryAuth(Buffer.from('[1]').toString('base64url')), InvalidParameterError);
});
