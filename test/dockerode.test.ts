/** dockerode, the Node Docker client, driving berth through its common calls, held to what dockerd would answer. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import * as tar from 'tar';
import { startDaemon, teardown, type TestDaemon } from './harness.js';

describe('dockerode', () => {
  let d: TestDaemon;
  let docker: Docker;
  before(async () => {
    d = await startDaemon({ busybox: true });
    docker = new Docker({ socketPath: d.socket });
  });
  after(() => teardown(d));

  test('ping, version, info, listImages', async () => {
    assert.equal(String(await docker.ping()), 'OK');
    const v = await docker.version();
    assert.match(v.ApiVersion, /^1\.\d+$/);
    const info = await docker.info() as { Images: number; OSType: string };
    assert.equal(info.OSType, 'linux');
    const images = await docker.listImages();
    assert.ok(images.some((i) => i.RepoTags?.includes('busybox:latest')));
  });

  test('createContainer, attach, start, wait, logs, remove', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 2'], AttachStdout: true, AttachStderr: true });
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    const out = new PassThrough(); const err = new PassThrough();
    let o = ''; let e = '';
    out.on('data', (b: Buffer) => { o += b; }); err.on('data', (b: Buffer) => { e += b; });
    c.modem.demuxStream(stream, out, err);
    // 'next-exit': with the default 'not-running', dockerd too answers at once for a container not started yet.
    const waited = c.wait({ condition: 'next-exit' });
    await c.start();
    assert.equal((await waited).StatusCode, 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(o, 'out\n');
    assert.equal(e, 'err\n');
    const logs = await c.logs({ stdout: true, stderr: true }) as unknown as Buffer;
    assert.match(logs.toString(), /out/);
    const list = await docker.listContainers({ all: true });
    assert.ok(list.some((x) => x.Id === c.id));
    await c.remove();
    await assert.rejects(c.inspect(), (err2: { statusCode?: number }) => err2.statusCode === 404);
  });

  test('exec with demuxed output and an exit code', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '60'] });
    await c.start();
    const ex = await c.exec({ Cmd: ['sh', '-c', 'echo from exec; exit 7'], AttachStdout: true, AttachStderr: true });
    const s = await ex.start({ hijack: true, stdin: false });
    let text = '';
    const sink = new PassThrough();
    sink.on('data', (b: Buffer) => { text += b; });
    docker.modem.demuxStream(s, sink, sink);
    await new Promise((r) => s.on('end', r));
    let info = await ex.inspect();
    for (let i = 0; i < 50 && info.Running; i++) { await new Promise((r) => setTimeout(r, 20)); info = await ex.inspect(); }
    assert.equal(text, 'from exec\n');
    assert.equal(info.ExitCode, 7);
    await c.remove({ force: true });
  });

  test('buildImage from a tar context, with progress events', async () => {
    const dir = join(d.dir, 'ode-ctx');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo built > /b\nCMD ["cat", "/b"]\n');
    const ctx = tar.c({ cwd: dir }, ['Dockerfile']) as unknown as NodeJS.ReadableStream;
    const stream = await docker.buildImage(ctx, { t: 'ode:1' });
    const events = await new Promise<{ stream?: string; aux?: { ID: string } }[]>((resolve, reject) =>
      docker.modem.followProgress(stream, (err, res) => (err ? reject(err) : resolve(res as never))));
    assert.ok(events.some((ev) => ev.aux?.ID?.startsWith('sha256:')));
    assert.ok(events.some((ev) => /Successfully tagged ode:1/.test(ev.stream ?? '')));
    const img = await docker.getImage('ode:1').inspect();
    assert.deepEqual(img.Config.Cmd, ['cat', '/b']);
  });

  test('getEvents streams container lifecycle events', async () => {
    const events = await docker.getEvents({});
    const seen: string[] = [];
    (events as NodeJS.ReadableStream).on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n').filter(Boolean)) seen.push((JSON.parse(line) as { Action: string }).Action);
    });
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'] });
    await c.start();
    await c.wait();
    await c.remove();
    await new Promise((r) => setTimeout(r, 200));
    (events as unknown as { destroy(): void }).destroy();
    for (const a of ['create', 'start', 'die', 'destroy']) assert.ok(seen.includes(a), `${a} in ${seen.join(',')}`);
  });
});
