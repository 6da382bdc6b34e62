/**
 * docker-compose (Debian's Python v1 client, 1.29) driving berth: a project with two built services on a
 * user network, a named volume, a published port and depends_on. `web` is busybox httpd with a CGI that
 * asks `db` (reached by service name) to count a hit; `db` is busybox httpd with a CGI that keeps the
 * count in the named volume, so the count survives `down`/`up` and is gone after `down -v`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exec, startDaemon, teardown, waitFor, type Result, type TestDaemon } from './harness.js';

const COMPOSE = '/usr/bin/docker-compose';

const composeFile = (webPorts: string) => `version: "3.8"
services:
  web:
    build: ./web
    ports: ["${webPorts}"]
    networks: [back]
    depends_on: [db]
  db:
    build: ./db
    volumes: ["counts:/data"]
    networks:
      back:
        aliases: [counter]
networks:
  back: {}
volumes:
  counts: {}
`;

const WEB_DOCKERFILE = `FROM busybox
RUN mkdir -p /www/cgi-bin
COPY hit /www/cgi-bin/hit
RUN chmod +x /www/cgi-bin/hit
EXPOSE 80
CMD ["sh", "-c", "echo web ready; exec httpd -f -v -p 80 -h /www"]
`;
const WEB_CGI = `#!/bin/sh
n=$(wget -qO- http://db:8000/cgi-bin/incr)
printf 'Content-Type: text/plain\\r\\n\\r\\nhits %s from %s\\n' "$n" "$(hostname)"
`;
const DB_DOCKERFILE = `FROM busybox
RUN mkdir -p /www/cgi-bin /data
COPY incr /www/cgi-bin/incr
RUN chmod +x /www/cgi-bin/incr
CMD ["sh", "-c", "echo db ready; exec httpd -f -v -p 8000 -h /www"]
`;
const DB_CGI = `#!/bin/sh
n=$(cat /data/count 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > /data/count
printf 'Content-Type: text/plain\\r\\n\\r\\n%s' "$n"
`;

async function get(url: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}

describe('docker-compose', { skip: !existsSync(COMPOSE) && 'docker-compose is not installed (scripts/setup.sh installs it)' }, () => {
  let d: TestDaemon;
  let dir: string;
  const project = `bt${process.pid}`;
  let compose: (args: string[], timeoutMs?: number) => Promise<Result>;
  const ok = async (args: string[], timeoutMs?: number): Promise<Result> => {
    const r = await compose(args, timeoutMs);
    assert.equal(r.code, 0, `docker-compose ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${d.log().slice(-3000)}`);
    return r;
  };
  const webPort = async (index = 1): Promise<number> => {
    const r = await ok(['port', '--index', String(index), 'web', '80']);
    const m = /:(\d+)\s*$/.exec(r.stdout.trim());
    assert.ok(m, `a published port for web: ${r.stdout}`);
    return Number(m[1]);
  };
  /** One hit on web (retried until web answers); the count db returned. */
  const hit = async (port: number): Promise<number> => {
    let last = ''; let n = -1;
    await waitFor(async () => {
      try {
        const r = await get(`http://127.0.0.1:${port}/cgi-bin/hit`);
        last = `${r.status} ${r.text}`;
        const m = /^hits (\d+) from /.exec(r.text);
        if (r.status === 200 && m) n = Number(m[1]);
        return n >= 0;
      } catch (e) { last = String(e); return false; }
    }, 20_000, `web to answer on ${port} (last: ${last})`);
    return n;
  };

  before(async () => {
    d = await startDaemon({ busybox: true });
    dir = mkdtempSync('/tmp/bt-compose-');
    mkdirSync(join(dir, 'web')); mkdirSync(join(dir, 'db'));
    writeFileSync(join(dir, 'docker-compose.yml'), composeFile('80'));
    writeFileSync(join(dir, 'web', 'Dockerfile'), WEB_DOCKERFILE);
    writeFileSync(join(dir, 'web', 'hit'), WEB_CGI);
    writeFileSync(join(dir, 'db', 'Dockerfile'), DB_DOCKERFILE);
    writeFileSync(join(dir, 'db', 'incr'), DB_CGI);
    const env = { ...process.env, DOCKER_HOST: d.host, COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0', COMPOSE_INTERACTIVE_NO_CLI: '1' };
    compose = (args, timeoutMs = 120_000) => exec(COMPOSE, ['-p', project, '--project-directory', dir, '-f', join(dir, 'docker-compose.yml'), ...args], { env, timeoutMs });
  });
  after(async () => {
    if (compose) await compose(['down', '-v', '--remove-orphans']).catch(() => undefined);
    await teardown(d);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('up -d --build, ps, the published port, service names on the user network', async () => {
    await ok(['up', '-d', '--build'], 240_000);
    const ps = await ok(['ps']);
    assert.match(ps.stdout, new RegExp(`${project}_web_1\\s.*Up`), ps.stdout);
    assert.match(ps.stdout, new RegExp(`${project}_db_1\\s.*Up`), ps.stdout);
    const q = await ok(['ps', '-q']);
    assert.equal(q.stdout.trim().split('\n').length, 2);
    const port = await webPort();
    const a = await hit(port);
    const b = await hit(port);
    assert.ok(b > a, `the count grows: ${a} then ${b}`);
    // The network alias from the compose file resolves too.
    const viaAlias = (await ok(['exec', '-T', 'web', 'wget', '-qO-', 'http://counter:8000/cgi-bin/incr'])).stdout;
    assert.match(viaAlias.trim(), /^\d+$/);
  });

  test('logs, logs -f with a timeout', async () => {
    const r = await ok(['logs', '--no-color']);
    assert.match(r.stdout, /web_1\s+\| web ready/);
    assert.match(r.stdout, /db_1\s+\| db ready/);
    // -f: follow until killed; what was there must be printed first.
    const f = await compose(['logs', '-f', '--no-color', 'db'], 3000).catch((e: Error) => ({ code: -1, stdout: e.message, stderr: '' }));
    assert.match(f.stdout, /db ready/);
  });

  test('exec -T with an exit code', async () => {
    // A command that exits at once: its output came with exec start's 101 header and docker-py lost it, until the
    // header went before the process (test/exec.test.ts has the raw-socket check).
    const r = await ok(['exec', '-T', 'db', 'cat', '/data/count']);
    assert.match(r.stdout.trim(), /^\d+$/);
    const e = await compose(['exec', '-T', 'web', 'sh', '-c', 'exit 3']);
    assert.equal(e.code, 3);
  });

  test('restart keeps the service answering', async () => {
    await ok(['restart']);
    const before = await hit(await webPort());
    assert.ok(before > 0);
  });

  test('down and up keep the named volume; --scale web=2', async () => {
    const port = await webPort();
    const n = await hit(port);
    await ok(['down']);
    const gone = await ok(['ps', '-q']);
    assert.equal(gone.stdout.trim(), '');
    await ok(['up', '-d'], 120_000);
    const m = await hit(await webPort());
    assert.equal(m, n + 1, 'the count survived down/up in the named volume');
    await ok(['up', '-d', '--scale', 'web=2'], 120_000);
    const ps = await ok(['ps']);
    assert.match(ps.stdout, new RegExp(`${project}_web_2\\s.*Up`), ps.stdout);
    const p1 = await webPort(1); const p2 = await webPort(2);
    assert.notEqual(p1, p2);
    const h2 = await hit(p2);
    assert.ok(h2 > m);
  });

  test('down -v removes containers, network and volume', async () => {
    await ok(['down', '-v']);
    const ps = await d.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
    assert.equal(ps.stdout.trim(), '');
    const vols = await d.berth(['volume', 'ls', '-q']);
    assert.doesNotMatch(vols.stdout, new RegExp(`${project}_counts`));
    const nets = await d.berth(['network', 'ls']);
    assert.doesNotMatch(nets.stdout, new RegExp(`${project}_back`));
  });
});
