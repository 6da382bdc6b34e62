/** Dockerfiles into images with the classic builder: stages, cache, scratch, bad input, and the docker CLI's builder. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

function context(dir: string, files: Record<string, string>): string {
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

const MULTI = `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM \${BASE} AS build
ARG GREETING=hi
ENV APP=/app \\
    MODE=prod
WORKDIR $APP
COPY app/ ./
RUN echo "$GREETING from RUN" > run.txt && rm -f /etc/motd
FROM build AS unused
RUN exit 9
FROM busybox
COPY --from=build /app/run.txt /out/
COPY --from=build /app/msg.txt /out/msg.txt
LABEL stage=final
EXPOSE 8080
CMD ["cat", "/out/run.txt", "/out/msg.txt"]
`;

describe('build', () => {
  let d: TestDaemon;
  let ctx: string;
  before(async () => {
    d = await startDaemon({ busybox: true });
    ctx = context(join(d.dir, 'ctx'), {
      Dockerfile: MULTI, 'app/msg.txt': 'hello from a file\n', 'app/secret.txt': 'do not send\n', '.dockerignore': 'app/secret.txt\n',
    });
  });
  after(() => teardown(d, [], { expectNone: true }));

  test('a multi-stage build with args, ENV, WORKDIR, COPY --from and .dockerignore runs as written', async () => {
    const b = await d.berth(['build', '-t', 'built:1', '--build-arg', 'GREETING=howdy', ctx]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stdout, /^Step 1\/\d+ : FROM \$\{BASE\} AS build\n/m);
    assert.match(b.stdout, / ---> Running in [a-f0-9]{12}\n/);
    assert.match(b.stdout, /Successfully built [a-f0-9]{12}\nSuccessfully tagged built:1\n$/);
    assert.doesNotMatch(b.stdout, /exit 9/, 'the stage the target does not need is not built');
    assert.equal((await d.berth(['run', '--rm', 'built:1'])).stdout, 'howdy from RUN\nhello from a file\n');
    const secret = await d.berth(['run', '--rm', 'built:1', 'ls', '/out']);
    assert.equal(secret.stdout, 'msg.txt\nrun.txt\n');
    const [img] = JSON.parse((await d.berth(['inspect', 'built:1'])).stdout) as { Config: { Labels: Record<string, string>; ExposedPorts: object; Cmd: string[] } }[];
    assert.deepEqual(img!.Config.Labels, { stage: 'final' });
    assert.deepEqual(img!.Config.ExposedPorts, { '8080/tcp': {} });
  });

  test('a rebuild comes from the cache; touching one copied file rebuilds from that step on', async () => {
    const again = await d.berth(['build', '-t', 'built:1', '--build-arg', 'GREETING=howdy', ctx]);
    const steps = again.stdout.split(/^Step /m).slice(1);
    const nonFrom = steps.filter((s) => !/^\d+\/\d+ : FROM/.test(s));
    assert.ok(nonFrom.every((s) => s.includes('Using cache')), again.stdout);
    writeFileSync(join(ctx, 'app/msg.txt'), 'changed\n');
    const touched = await d.berth(['build', '-t', 'built:1', '--build-arg', 'GREETING=howdy', ctx]);
    const byStep = touched.stdout.split(/^Step /m).slice(1);
    assert.match(byStep.find((s) => s.includes(': WORKDIR'))!, /Using cache/);
    assert.doesNotMatch(byStep.find((s) => s.includes(': COPY app/'))!, /Using cache/);
    assert.doesNotMatch(byStep.find((s) => s.includes(': RUN echo'))!, /Using cache/);
    assert.equal((await d.berth(['run', '--rm', 'built:1', 'cat', '/out/msg.txt'])).stdout, 'changed\n');
    const nocache = await d.berth(['build', '--no-cache', '-t', 'built:1', ctx]);
    assert.doesNotMatch(nocache.stdout, /Using cache/);
    // --iidfile holds the ID -q prints; --rm and --force-rm are accepted (intermediate containers always go).
    const iid = join(d.dir, 'iid');
    const q = await d.berth(['build', '-q', '--rm', '--force-rm', '--iidfile', iid, '-t', 'built:1', ctx]);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(readFileSync(iid, 'utf8'), q.stdout.trim());
    assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
  });

  test('rmi removes a build\'s intermediate images with it; --no-prune keeps them', async () => {
    const dir = context(join(d.dir, 'np'), { Dockerfile: 'FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n' });
    assert.equal((await d.berth(['build', '-q', '-t', 'np:1', dir])).code, 0);
    const kept = await d.berth(['rmi', '--no-prune', 'np:1']);
    assert.equal(kept.stdout.match(/^Deleted: /gm)?.length, 1, kept.stdout);
    assert.equal((await d.berth(['build', '-q', '-t', 'np:2', dir])).code, 0);
    const pruned = await d.berth(['rmi', 'np:2']);
    assert.equal(pruned.stdout.match(/^Deleted: /gm)?.length, 2, `the intermediate image the cache kept goes too: ${pruned.stdout}`);
  });

  test('FROM scratch with a static binary', async () => {
    const dir = join(d.dir, 'scratch');
    mkdirSync(dir, { recursive: true });
    copyFileSync('/bin/busybox', join(dir, 'busybox'));
    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY --chmod=755 busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\nCMD ["echo", "from scratch"]\n');
    const b = await d.berth(['build', '-t', 'tiny', dir]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.equal((await d.berth(['run', '--rm', 'tiny'])).stdout, 'from scratch\n');
    const [img] = JSON.parse((await d.berth(['inspect', 'tiny'])).stdout) as { RootFS: { Layers: string[] } }[];
    assert.equal(img!.RootFS.Layers.length, 1);
  });

  test('ADD unpacks a local tarball; COPY --chown sets owners', async () => {
    const dir = join(d.dir, 'add');
    mkdirSync(join(dir, 'tree/sub'), { recursive: true });
    writeFileSync(join(dir, 'tree/sub/f.txt'), 'in the tarball\n');
    execFileSync('tar', ['-czf', join(dir, 'bundle.tar.gz'), '-C', join(dir, 'tree'), '.']);
    writeFileSync(join(dir, 'plain.txt'), 'owned\n');
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nADD bundle.tar.gz /opt/\nCOPY --chown=nobody:nogroup plain.txt /home/plain.txt\n');
    const b = await d.berth(['build', '-t', 'added', dir]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const r = await d.berth(['run', '--rm', 'added', 'sh', '-c', 'cat /opt/sub/f.txt; stat -c "%U %G" /home/plain.txt']);
    assert.equal(r.stdout, 'in the tarball\nnobody nogroup\n');
  });

  test('RUN heredocs and quoted COPY words', async () => {
    const dir = context(join(d.dir, 'heredoc'), {
      'a file.txt': 'spaced\n',
      Dockerfile: 'FROM busybox\nRUN <<EOF\necho one > /hd\necho two >> /hd\nEOF\nRUN cat <<EOT > /cat.txt\nfrom cat\nEOT\nCOPY ["a file.txt", "/copied.txt"]\n',
    });
    const b = await d.berth(['build', '-t', 'heredoc', dir]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.equal((await d.berth(['run', '--rm', 'heredoc', 'cat', '/hd', '/cat.txt', '/copied.txt'])).stdout, 'one\ntwo\nfrom cat\nspaced\n');
  });

  test('bad input stops the build at the right line and tags nothing', async () => {
    const cases: [string, RegExp][] = [
      ['FROM busybox\nRUN echo partial; exit 3\n', /The command '\/bin\/sh -c echo partial; exit 3' returned a non-zero code: 3/],
      ['FROM busybox\nFROB it\n', /Dockerfile:2: unknown instruction: FROB/i],
      ['FROM busybox\nCOPY missing.txt /x\n', /Dockerfile:2: COPY failed: file not found in build context/],
      ['FROM nosuchbase:1\n', /nosuchbase/],
      ['FROM busybox\nCOPY --from=nostage /a /b\n', /nostage/],
    ];
    for (const [i, [text, message]] of cases.entries()) {
      const dir = context(join(d.dir, `bad${i}`), { Dockerfile: text });
      const r = await d.berth(['build', '-t', `bad:${i}`, dir]);
      assert.equal(r.code, 1, text);
      assert.match(r.stdout + r.stderr, message);
      assert.equal((await d.berth(['images', '-q', `bad`])).stdout, '', 'no tagged image');
    }
    const r = await d.berth(['build', '-t', 'bad:x', context(join(d.dir, 'bad-run'), { Dockerfile: 'FROM busybox\nRUN echo partial; exit 3\n' })]);
    assert.match(r.stdout, /partial/, 'the failing step\'s output is shown');
  });

  test('DOCKER_BUILDKIT=0 docker build against berth', { skip: !hasDocker }, async () => {
    const dir = context(join(d.dir, 'docker'), { Dockerfile: 'FROM busybox\nRUN echo built by docker > /via\nCMD ["cat", "/via"]\n' });
    const b = await d.docker(['build', '-t', 'viadocker', dir], { env: { DOCKER_BUILDKIT: '0' } });
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stdout, /Successfully tagged viadocker:latest/);
    assert.equal((await d.docker(['run', '--rm', 'viadocker'])).stdout, 'built by docker\n');
  });
});
