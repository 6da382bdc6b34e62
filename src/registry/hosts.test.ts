import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRules } from './hosts.js';

test('Docker Hub names map to its API host; other registries are HTTPS', () => {
  const h = new HostRules();
  for (const name of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) assert.equal(h.baseUrl(name), 'https://registry-1.docker.io');
  assert.equal(h.baseUrl('ghcr.io'), 'https://ghcr.io');
  assert.equal(h.baseUrl('registry.example:5000'), 'https://registry.example:5000');
  assert.equal(h.baseUrl('10.1.2.3:5000'), 'https://10.1.2.3:5000');
});

test('loopback registries are plain HTTP', () => {
  const h = new HostRules();
  assert.equal(h.baseUrl('localhost:5000'), 'http://localhost:5000');
  assert.equal(h.baseUrl('localhost'), 'http://localhost');
  assert.equal(h.baseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
  assert.equal(h.baseUrl('127.1.2.3:80'), 'http://127.1.2.3:80');
  assert.equal(h.baseUrl('[::1]:5000'), 'http://[::1]:5000');
  assert.equal(h.baseUrl('localhost.example:5000'), 'https://localhost.example:5000');
});

test('insecure registries by host[:port] and by CIDR range', () => {
  const h = new HostRules(['myreg:5000', 'other', '10.0.0.0/8', 'http://scheme.example:1234/', 'fd00::/8']);
  assert.equal(h.baseUrl('myreg:5000'), 'http://myreg:5000');
  assert.equal(h.baseUrl('myreg:5001'), 'https://myreg:5001', 'a listed port is that port only');
  assert.equal(h.baseUrl('other:7000'), 'http://other:7000', 'a name without a port covers every port');
  assert.equal(h.baseUrl('10.20.30.40:5000'), 'http://10.20.30.40:5000');
  assert.equal(h.baseUrl('11.0.0.1:5000'), 'https://11.0.0.1:5000');
  assert.equal(h.baseUrl('scheme.example:1234'), 'http://scheme.example:1234');
  assert.equal(h.baseUrl('[fd12::1]:5000'), 'http://[fd12::1]:5000');
});
