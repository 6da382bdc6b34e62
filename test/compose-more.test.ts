/**
 * More of docker-compose 1.29 (Debian's Python v1) against berth, past test/compose.test.ts: a format 2.4 project
 * whose `app` waits for `db` to be healthy (depends_on condition: service_healthy), built with a build arg, with
 * env_file, environment, labels, bind and named volumes, tmpfs, ulimits, cap_add and mem_limit, each checked from
 * inside the container; then one-off `run`, `exec` on a terminal, the lifecycle verbs, events, and recreation.
 * compose shells out to the docker CLI for `run` and `exec` (unless COMPOSE_INTERACTIVE_NO_CLI=1, where it drives
 * the API itself through dockerpty): both ways are tried for `exec`. `run` through dockerpty is not: dockerpty 0.4's
 * sockets() is a lazy map on Python 3, so it attaches after the start and a quick command's output is lost, with
 * dockerd too (docker/compose#4076).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exec, hasDocker, startDaemon, teardown, waitFor, type Result, type TestDaemon } from './harness.js';

const COMPOSE = '/usr/bin/docker-compose';
const DRIVER = join(import.meta.dirname, 'pty-drive.py');

const COMPOSE_FILE = `version: "2.4"
services:
  app:
    build:
      context: ./app
      args:
        GREETING: bonjour
    command: ["sh", "-c", "trap 'echo got usr1' USR1; trap 'exit 0' TERM; if test -f /shared/ready; then echo db was ready; else echo db NOT ready; fi; while true; do sleep 1; done"]
    env_file: [app.env]
    environment:
      FROM_ENV: yes-env
    labels:
      org.example.role: app
    volumes:
      - ./bind:/bind
      - shared:/shared
    tmpfs: [/scratch]
    ulimits:
      nofile: {soft: 1234, hard: 2345}
    cap_add: [NET_ADMIN]
    mem_limit: 64m
    depends_on:
      db:
        condition: service_healthy
  db:
    image: busybox
    command: ["sh", "-c", "rm -f /shared/ready; sleep 2; touch /shared/ready; exec sleep 1d"]
    volumes: ["shared:/shared"]
    healthcheck:
      test: ["CMD", "test", "-f", "/shared/ready"]
      interval: 1s
      timeout: 2s
      retries: 20
volumes:
  shared: {}
`;

const APP_DOCKERFILE = `FROM busybox
ARG GREETING=hello
RUN echo "$GREETING" > /greeting
VOLUME /keep
`;

describe('docker-compose, more', { skip: !existsSync(COMPOSE) && 'docker-compose is not installed (scripts/setup.sh installs it)' }, () => {
  let d: TestDaemon;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const project = `btm${process.pid}`;
  const base = () => ['-p', project, '--project-directory', dir, '-f', join(dir, 'docker-compose.yml')];
  const compose = (args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> =>
    exec(COMPOSE, [...base(), ...args], { env: { ...env, ...opts.env }, timeoutMs: opts.timeoutMs ?? 120_000 });
  const ok = async (args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> => {
    const r = await compose(args, opts);
    assert.equal(r.code, 0, `docker-compose ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${d.log().slice(-3000)}`);
    return r;
  };
  const sh = async (service: string, script: string): Promise<string> => (await ok(['exec', '-T', service, 'sh', '-c', script])).stdout;
  const inspect = async (name: string, format: string): Promise<string> => (await d.berth(['inspect', '-f', format, name])).stdout.trim();
  /** docker-compose on a real pseudo-terminal (33x101), typing `lines`. */
  const onTerminal = async (lines: string[], args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ output: string; code: number }> => {
    const r = await exec('python3', [DRIVER, '33', '101', ...lines, '--', COMPOSE, ...base(), ...args], { env: { ...env, ...extraEnv }, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { output: string; code: number };
  };

  before(async () => {
    d = await startDaemon({ busybox: true });
    dir = mkdtempSync('/tmp/bt-compose-more-');
    mkdirSync(join(dir, 'app')); mkdirSync(join(dir, 'bind'));
    writeFileSync(join(dir, 'docker-compose.yml'), COMPOSE_FILE);
    writeFileSync(join(dir, 'app', 'Dockerfile'), APP_DOCKERFILE);
    writeFileSync(join(dir, 'app.env'), 'FROM_FILE=yes-file\n');
    writeFileSync(join(dir, 'bind', 'f'), 'bound\n');
    env = { ...process.env, DOCKER_HOST: d.host, COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0' };
    delete env.COMPOSE_INTERACTIVE_NO_CLI;
  });
  after(async () => {
    if (compose && dir) await compose(['down', '-v', '-t', '1', '--remove-orphans']).catch(() => undefined);
    await teardown(d);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('config resolves the file, env_file included', async () => {
    const r = await ok(['config']);
    assert.match(r.stdout, /FROM_FILE: yes-file/);
    assert.match(r.stdout, /condition: service_healthy/);
  });

  test('up -d --build waits for db to be healthy before it starts app', async () => {
    await ok(['up', '-d', '--build'], { timeoutMs: 240_000 });
    assert.equal(await inspect(`${project}_db_1`, '{{.State.Health.Status}}'), 'healthy');
    let logs = '';
    await waitFor(async () => { logs = (await ok(['logs', '--no-color', 'app'])).stdout; return /db (was|NOT) ready/.test(logs); }, 10_000, 'app to say how it found db');
    assert.match(logs, /db was ready/);
    const ps = await ok(['ps']);
    assert.match(ps.stdout, new RegExp(`${project}_db_1\\s.*Up \\(healthy\\)`), ps.stdout);
  });

  test('the compose file reaches the container: build arg, env_file, environment, labels, volumes, tmpfs, ulimits, cap_add, mem_limit', async () => {
    assert.equal((await sh('app', 'cat /greeting')).trim(), 'bonjour');
    assert.equal((await sh('app', 'echo $FROM_ENV $FROM_FILE')).trim(), 'yes-env yes-file');
    assert.equal(await inspect(`${project}_app_1`, '{{index .Config.Labels "org.example.role"}}'), 'app');
    assert.equal((await sh('app', 'cat /bind/f')).trim(), 'bound');
    await sh('app', 'echo from-app > /bind/g');
    assert.ok(existsSync(join(dir, 'bind', 'g')), 'the bind mount writes through to the project directory');
    assert.equal((await sh('db', 'test -f /shared/ready && echo yes')).trim(), 'yes', 'db sees the named volume app sees');
    const mounts = await sh('app', 'cat /proc/mounts');
    assert.match(mounts, /^tmpfs \/scratch tmpfs /m);
    // The container's own process: an exec's soft nofile limit is racy in runc before 1.1.13 (Debian's is 1.1.5),
    // which sometimes leaves it at the hard one (opencontainers/runc#4195).
    assert.equal((await sh('app', "awk '/Max open files/ {print $4, $5}' /proc/1/limits")).trim(), '1234 2345');
    const capEff = /CapEff:\s*([0-9a-f]+)/.exec(await sh('app', 'cat /proc/self/status'))?.[1];
    assert.ok(capEff && (BigInt(`0x${capEff}`) & (1n << 12n)) !== 0n, `CAP_NET_ADMIN in ${capEff}`);
    const limit = (await sh('app', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes')).trim();
    assert.equal(limit, String(64 * 1024 * 1024));
  });

  test('run --rm: output, exit code, -e, --no-deps; the one-off container is gone', { skip: !hasDocker && 'compose runs `docker start` for run' }, async () => {
    const r = await compose(['run', '--rm', 'app', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /^out$/m);
    assert.match(r.stderr, /^err$/m);
    const e = await ok(['run', '--rm', '-e', 'X=42', 'app', 'sh', '-c', 'echo X=$X']);
    assert.match(e.stdout, /^X=42$/m);
    // --no-deps leaves a stopped dependency stopped.
    await ok(['stop', '-t', '1', 'db']);
    const n = await ok(['run', '--rm', '--no-deps', 'app', 'cat', '/greeting']);
    assert.match(n.stdout, /^bonjour$/m);
    assert.equal(await inspect(`${project}_db_1`, '{{.State.Running}}'), 'false');
    const oneoff = await d.berth(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.oneoff=True']);
    assert.equal(oneoff.stdout.trim(), '', 'run --rm removed its containers');
    await ok(['start', 'db']);
    await waitFor(async () => (await inspect(`${project}_db_1`, '{{.State.Health.Status}}')) === 'healthy', 20_000, 'db healthy again');
  });

  test('exec on a terminal, through the docker CLI and through dockerpty', async () => {
    const ways: [string, NodeJS.ProcessEnv][] = [['dockerpty', { COMPOSE_INTERACTIVE_NO_CLI: '1' }]];
    if (hasDocker) ways.unshift(['docker CLI', {}]);
    for (const [way, extra] of ways) {
      const r = await onTerminal(['echo $((6*7)); tty; stty size', 'exit 4'], ['exec', 'app', 'sh'], extra);
      assert.equal(r.code, 4, `${way}: ${r.output}`);
      // dockerpty resizes the exec as soon as its start is answered: the size must not be lost while the process
      // is launched (dockerd waits for it, up to 10 s).
      assert.match(r.output, /\r\n42\r\n\/dev\/pts\/\d+\r\n33 101\r\n/, `${way}: ${r.output}`);
    }
  });

  test('run on a terminal', { skip: !hasDocker && 'compose runs `docker start` for run' }, async () => {
    const r = await onTerminal(['tty; stty size', 'exit 3'], ['run', '--rm', '--no-deps', 'app', 'sh']);
    assert.equal(r.code, 3, r.output);
    assert.match(r.output, /\r\n\/dev\/pts\/0\r\n33 101\r\n/, r.output);
  });

  test('pause and unpause, kill -s, top, images', async () => {
    await ok(['pause', 'app']);
    assert.equal(await inspect(`${project}_app_1`, '{{.State.Status}}'), 'paused');
    assert.match((await ok(['ps'])).stdout, new RegExp(`${project}_app_1\\s.*Paused`));
    await ok(['unpause', 'app']);
    assert.equal(await inspect(`${project}_app_1`, '{{.State.Status}}'), 'running');
    await ok(['kill', '-s', 'SIGUSR1', 'app']);
    await waitFor(async () => /got usr1/.test((await ok(['logs', '--no-color', 'app'])).stdout), 10_000, 'the trap to see SIGUSR1');
    assert.equal(await inspect(`${project}_app_1`, '{{.State.Running}}'), 'true');
    const top = await ok(['top', 'app']);
    assert.match(top.stdout, new RegExp(`${project}_app_1`));
    assert.match(top.stdout, /UID\s+PID\s+PPID/);
    assert.match(top.stdout, /sleep 1/);
    const images = await ok(['images']);
    assert.match(images.stdout, new RegExp(`${project}_app_1\\s+${project}_app\\s+latest\\s+[0-9a-f]{12}`), images.stdout);
    assert.match(images.stdout, new RegExp(`${project}_db_1\\s+busybox\\s+latest`), images.stdout);
  });

  test('events --json while a service is paused and unpaused', async () => {
    const watching = compose(['events', '--json'], { timeoutMs: 6000 }).catch((e: Error) => ({ code: -1, stdout: e.message, stderr: '' }));
    await new Promise((r) => setTimeout(r, 2000));
    await ok(['pause', 'app']);
    await ok(['unpause', 'app']);
    const out = (await watching).stdout;
    const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { action: string; service: string; type: string; id: string });
    const mine = events.filter((e) => e.service === 'app').map((e) => e.action);
    assert.ok(mine.includes('pause') && mine.includes('unpause'), `pause and unpause among ${JSON.stringify(mine)}`);
    assert.ok(events.every((e) => e.type === 'container' && /^[0-9a-f]{64}$/.test(e.id)));
  });

  test('stop -t, rm -f, create and start', async () => {
    const t0 = Date.now();
    await ok(['stop', '-t', '1', 'db']); // db's sleep is PID 1 and ignores SIGTERM: the timeout is what stops it
    assert.ok(Date.now() - t0 < 8000, 'stop -t 1 does not wait the default 10 s');
    assert.equal(await inspect(`${project}_db_1`, '{{.State.ExitCode}}'), '137');
    await ok(['start', 'db']);
    await waitFor(async () => (await inspect(`${project}_db_1`, '{{.State.Health.Status}}')) === 'healthy', 20_000, 'db healthy again');
    await ok(['rm', '-s', '-f', 'app']); // rm alone takes stopped containers only; -s stops app first
    assert.equal((await d.berth(['ps', '-aq', '--filter', `name=${project}_app_1`])).stdout.trim(), '');
    await ok(['create', 'app']);
    assert.equal(await inspect(`${project}_app_1`, '{{.State.Status}}'), 'created');
    await ok(['start', 'app']);
    assert.equal(await inspect(`${project}_app_1`, '{{.State.Status}}'), 'running');
  });

  test('up --no-recreate keeps the container; --force-recreate replaces it and keeps the image volume; build --build-arg', async () => {
    const id = await inspect(`${project}_app_1`, '{{.Id}}');
    await sh('app', 'echo kept > /keep/x');
    await ok(['up', '-d', '--no-recreate']);
    assert.equal(await inspect(`${project}_app_1`, '{{.Id}}'), id);
    // Recreation reads the image's ContainerConfig.Volumes (a KeyError without it) to carry VOLUME /keep over.
    await ok(['up', '-d', '--force-recreate', '-t', '1']);
    const id2 = await inspect(`${project}_app_1`, '{{.Id}}');
    assert.notEqual(id2, id);
    assert.equal((await sh('app', 'cat /keep/x')).trim(), 'kept');
    await ok(['build', '--build-arg', 'GREETING=hallo', 'app'], { timeoutMs: 240_000 });
    await ok(['up', '-d', '-t', '1']); // a new image: app is recreated on it
    assert.notEqual(await inspect(`${project}_app_1`, '{{.Id}}'), id2);
    assert.equal((await sh('app', 'cat /greeting')).trim(), 'hallo');
  });

  test('down -v leaves nothing of the project', async () => {
    await ok(['down', '-v', '-t', '1']);
    assert.equal((await d.berth(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).stdout.trim(), '');
    assert.doesNotMatch((await d.berth(['volume', 'ls', '-q'])).stdout, new RegExp(`${project}_shared`));
    assert.doesNotMatch((await d.berth(['network', 'ls'])).stdout, new RegExp(`${project}_default`));
  });
});
