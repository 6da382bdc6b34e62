import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePublish, portsView, wantedMappings } from './ports.js';

test('-p forms become PortBindings', () => {
  assert.deepEqual(parsePublish('80'), { '80/tcp': [{ HostIp: '', HostPort: '' }] });
  assert.deepEqual(parsePublish('8080:80'), { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
  assert.deepEqual(parsePublish('8080:53/udp'), { '53/udp': [{ HostIp: '', HostPort: '8080' }] });
  assert.deepEqual(parsePublish('127.0.0.1:8080:80'), { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
  assert.deepEqual(parsePublish('127.0.0.1::80'), { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  assert.deepEqual(parsePublish('8000-8001:80-81'), { '80/tcp': [{ HostIp: '', HostPort: '8000' }], '81/tcp': [{ HostIp: '', HostPort: '8001' }] });
  assert.deepEqual(parsePublish('8000-8009:80'), { '80/tcp': [{ HostIp: '', HostPort: '8000-8009' }] });
  assert.throws(() => parsePublish('80/icmp'), /invalid proto: icmp/);
  assert.throws(() => parsePublish('70000:80'), /invalid hostPort: 70000/);
  assert.throws(() => parsePublish('8000-8002:80-81'), /invalid ranges/);
  assert.throws(() => parsePublish('a.b:1:2'), /invalid IP address/);
});

test('mappings: bindings, then -P for exposed ports not bound already', () => {
  const m = wantedMappings({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '53/udp': null }, true, { '80/tcp': {}, '443/tcp': {} });
  assert.deepEqual(m, [
    { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostIp: '', hostPort: 0, containerPort: 53, protocol: 'udp' },
    { hostIp: '', hostPort: 0, containerPort: 443, protocol: 'tcp' },
  ]);
});

test('the Ports view lists exposed ports without bindings as null', () => {
  assert.deepEqual(portsView([{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], { '80/tcp': {}, '443/tcp': {} }), {
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null,
  });
});
