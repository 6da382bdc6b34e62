import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from './changes.js';
import type { ContainerConfigSection } from './types.js';

const apply = (changes: string[], cfg: ContainerConfigSection = {}) => applyChanges(cfg, changes);

test('CMD and ENTRYPOINT: JSON form is exec form, anything else runs under /bin/sh -c', () => {
  assert.deepEqual(apply(['CMD ["echo", "hi there"]']).Cmd, ['echo', 'hi there']);
  assert.deepEqual(apply(['CMD echo "hi there"']).Cmd, ['/bin/sh', '-c', 'echo "hi there"']);
  assert.deepEqual(apply(['ENTRYPOINT ["/entry.sh"]']).Entrypoint, ['/entry.sh']);
  assert.deepEqual(apply(['ENTRYPOINT top -b']).Entrypoint, ['/bin/sh', '-c', 'top -b']);
  // Not a JSON array of strings: shell form.
  assert.deepEqual(apply(['CMD [1, 2]']).Cmd, ['/bin/sh', '-c', '[1, 2]']);
});

test('ENV key=value form with quotes, and the legacy `ENV key value` form', () => {
  assert.deepEqual(apply(['ENV A=1 B="x y" C=\'p q\' D=']).Env, ['A=1', 'B=x y', 'C=p q', 'D=']);
  assert.deepEqual(apply(['ENV A 1']).Env, ['A=1']);
  assert.deepEqual(apply(['ENV GREETING hello world']).Env, ['GREETING=hello world']);
  assert.deepEqual(apply(['ENV A x=y']).Env, ['A=x=y']);
  assert.deepEqual(apply(['ENV URL=http://h/?a=b']).Env, ['URL=http://h/?a=b']);
});

test('ENV replaces an existing variable in place and keeps the others', () => {
  const cfg = { Env: ['PATH=/bin', 'A=old', 'AB=keep'] };
  assert.deepEqual(apply(['ENV A=new', 'ENV Z=1'], cfg).Env, ['PATH=/bin', 'A=new', 'AB=keep', 'Z=1']);
  assert.deepEqual(cfg.Env, ['PATH=/bin', 'A=old', 'AB=keep'], 'the input config is not modified');
});

test('LABEL merges, with quoted keys and values', () => {
  const out = apply(['LABEL "com.example.vendor"="ACME Inc" version=1.0', 'LABEL legacy some value'], { Labels: { keep: 'yes', version: '0.9' } });
  assert.deepEqual(out.Labels, { keep: 'yes', version: '1.0', 'com.example.vendor': 'ACME Inc', legacy: 'some value' });
});

test('EXPOSE defaults to tcp, keeps udp, expands ranges', () => {
  assert.deepEqual(apply(['EXPOSE 80 53/udp'], { ExposedPorts: { '22/tcp': {} } }).ExposedPorts,
    { '22/tcp': {}, '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(Object.keys(apply(['EXPOSE 8000-8002']).ExposedPorts!), ['8000/tcp', '8001/tcp', '8002/tcp']);
});

test('VOLUME in shell and JSON form', () => {
  assert.deepEqual(apply(['VOLUME /data /logs']).Volumes, { '/data': {}, '/logs': {} });
  assert.deepEqual(apply(['VOLUME ["/a b"]']).Volumes, { '/a b': {} });
});

test('WORKDIR, USER, STOPSIGNAL; a relative WORKDIR is relative to the current one', () => {
  const out = apply(['WORKDIR /app', 'USER nobody:nogroup', 'STOPSIGNAL SIGINT']);
  assert.equal(out.WorkingDir, '/app');
  assert.equal(out.User, 'nobody:nogroup');
  assert.equal(out.StopSignal, 'SIGINT');
  assert.equal(apply(['WORKDIR /app', 'WORKDIR sub/']).WorkingDir, '/app/sub');
  assert.equal(apply(['WORKDIR rel']).WorkingDir, '/rel');
});

test('instructions are case-insensitive', () => {
  assert.deepEqual(apply(['cmd ["x"]', 'env K=v']), { Cmd: ['x'], Env: ['K=v'] });
});

test('unknown instructions and empty changes are rejected with 400', () => {
  assert.throws(() => apply(['FROM busybox']), (e: Error & { status?: number }) =>
    /^FROM is not a valid change command$/i.test(e.message) && e.status === 400);
  assert.throws(() => apply(['RUN echo']), /is not a valid change command/);
  assert.throws(() => apply(['CMD']), /invalid change/);
});
