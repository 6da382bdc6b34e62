import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromApiMount, parseBind, parseMountFlag } from './mounts.js';

test('-v forms', () => {
  assert.deepEqual(parseBind('data:/var/lib/data'), { type: 'volume', source: 'data', destination: '/var/lib/data', readOnly: false, mode: 'z', propagation: '', noCopy: false, createSource: false });
  assert.deepEqual(parseBind('/srv:/srv:ro'), { type: 'bind', source: '/srv', destination: '/srv', readOnly: true, mode: 'ro', propagation: 'rprivate', noCopy: false, createSource: true });
  assert.equal(parseBind('/anon').type, 'volume');
  assert.equal(parseBind('/anon').source, '');
  assert.equal(parseBind('/anon:ro').readOnly, true);
  assert.equal(parseBind('vv:/x:nocopy').noCopy, true);
  assert.equal(parseBind('/a/../b:/c/./d/').source, '/b');
  assert.equal(parseBind('/a:/c/./d/').destination, '/c/d');
  assert.throws(() => parseBind('vv:rel'), /mount path must be absolute/);
  assert.throws(() => parseBind('bad name:/x'), /includes invalid characters for a local volume name/);
  assert.throws(() => parseBind('/a:/b:bogus'), /invalid mode: bogus/);
  assert.throws(() => parseBind('/a:/'), /destination can't be '\/'/);
});

test('--mount flags become API mounts, and API mounts are checked', () => {
  assert.deepEqual(parseMountFlag('type=bind,src=/a,dst=/b,readonly,bind-propagation=rshared'), {
    Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true, BindOptions: { Propagation: 'rshared' },
  });
  assert.deepEqual(parseMountFlag('source=v,target=/d,volume-nocopy,volume-label=a=b'), {
    Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { NoCopy: true, Labels: { a: 'b' } },
  });
  assert.deepEqual(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777'), {
    Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 * 2 ** 20, Mode: 0o1777 },
  });
  assert.throws(() => parseMountFlag('type=bind,bogus=1'), /unexpected key 'bogus'/);
  // volume-opt, and a quoted field that holds commas, as the docker CLI reads the flag (CSV).
  assert.deepEqual(parseMountFlag('src=t,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=1m,uid=1000"'), {
    Type: 'volume', Source: 't', Target: '/t', VolumeOptions: { DriverConfig: { Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' } } },
  });
  assert.equal(parseMountFlag('"dst=/a ""b""",type=tmpfs').Target, '/a "b"');
  assert.deepEqual(fromApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } }).tmpfsOptions, ['size=1024', 'mode=700']);
  assert.throws(() => fromApiMount({ Type: 'bind', Target: '/x' }), /field Source must not be empty/);
  assert.throws(() => fromApiMount({ Type: 'nfs', Target: '/x' }), /mount type unknown/);
  assert.throws(() => fromApiMount({ Type: 'tmpfs', Source: 'x', Target: '/x' }), /field Source must not be specified/);
  assert.throws(() => fromApiMount({ Type: 'volume', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'nfs' } } }), /plugin "nfs" not found/);
});
