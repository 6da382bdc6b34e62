/** `exec` through conmon: output, exit codes, stdin, a TTY, env/workdir/user, and docker's CLI doing the same. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, DOCKER, exec, hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

describe('exec', () => {
  let d: TestDaemon;
  let id: string;
  before(async () => {
    d = await startDaemon({ busybox: true });
    id = (await d.berth(['run', '-d', '--name', 'host', '-e', 'FROM_RUN=1', 'busybox', 'sleep', '300'])).stdout.trim();
  });
  after(() => teardown(d, [id]));

  test('runs in the container with its environment, and exits with the process\'s code', async () => {
    const r = await d.berth(['exec', '-e', 'EXTRA=2', '-w', '/tmp', '-u', 'nobody', 'host', 'sh', '-c', 'echo $FROM_RUN $EXTRA $(pwd) $(id -u) $(hostname); echo err >&2; exit 5']);
    assert.equal(r.code, 5);
    assert.equal(r.stdout, `1 2 /tmp 65534 ${id.slice(0, 12)}\n`);
    assert.equal(r.stderr, 'err\n');
  });

  test('-i passes stdin through; the request body never leaks into it', async () => {
    const r = await d.berth(['exec', '-i', 'host', 'cat'], { input: 'line one\nline two\n' });
    assert.equal(r.stdout, 'line one\nline two\n');
  });

  test('exec start answers 101 before the process runs: the header never shares a read with the output', async () => {
    // docker-py (docker-compose v1) reads the response through a buffer and then the raw socket: output that came
    // in the header's read was lost. Ten fast execs, each over a raw connection, as such a client would see them.
    for (let i = 0; i < 10; i++) {
      const created = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['cat', '/etc/hostname'], AttachStdout: true, AttachStderr: true });
      const execId = (JSON.parse(created.body) as { Id: string }).Id;
      const reads = await new Promise<string[]>((resolve, reject) => {
        const got: string[] = [];
        const sock = connect(d.socket, () => {
          const body = '{"Detach":false,"Tty":false}';
          sock.write(`POST /v1.41/exec/${execId}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        });
        sock.on('data', (b: Buffer) => got.push(b.toString('latin1')));
        sock.on('end', () => { sock.destroy(); resolve(got); });
        sock.on('error', reject);
      });
      assert.match(reads[0]!, /^HTTP\/1\.1 101 UPGRADED\r\n[^]*\r\n\r\n$/, `round ${i}: the first read is the header alone: ${JSON.stringify(reads[0])}`);
      assert.match(reads.slice(1).join(''), new RegExp(`${id.slice(0, 12)}\n$`), 'the output follows');
    }
  });

  test('a missing command exits 127 with the runtime\'s message', async () => {
    const r = await d.berth(['exec', 'host', 'nope']);
    assert.equal(r.code, 127);
    assert.match(r.stdout + r.stderr, /exec: "nope": executable file not found in \$PATH/);
  });

  test('-d runs in the background', async () => {
    assert.equal((await d.berth(['exec', '-d', 'host', 'sh', '-c', 'echo later > /tmp/bg'])).code, 0);
    let out = '';
    for (let i = 0; i < 50 && out !== 'later\n'; i++) {
      out = (await d.berth(['exec', 'host', 'cat', '/tmp/bg'])).stdout;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(out, 'later\n');
  });

  test('-it gives a terminal of the right size', async () => {
    const r = await exec('python3', [join(import.meta.dirname, 'pty-drive.py'), '30', '90', 'tty; stty size', 'exit 2', '--', BERTH, 'exec', '-it', 'host', 'sh'],
      { env: { ...process.env, BERTH_HOST: d.host } });
    const out = JSON.parse(r.stdout) as { output: string; code: number };
    assert.equal(out.code, 2);
    assert.match(out.output, /\/dev\/pts\/\d+\r\n30 90\r\n/);
  });

  test('exec into a stopped container is a conflict', async () => {
    const c = (await d.berth(['create', 'busybox', 'true'])).stdout.trim();
    const r = await d.berth(['exec', c, 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not running/);
    await d.berth(['rm', c]);
  });

  test('the docker CLI\'s exec works the same', { skip: !hasDocker }, async () => {
    const r = await d.docker(['exec', 'host', 'sh', '-c', 'echo via docker; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'via docker\n');
    const i = await d.docker(['exec', '-i', 'host', 'tr', 'a-z', 'A-Z'], { input: 'quiet\n' });
    assert.equal(i.stdout, 'QUIET\n');
    const t = await exec('python3', [join(import.meta.dirname, 'pty-drive.py'), '30', '90', 'stty size', 'exit', '--', DOCKER, 'exec', '-it', 'host', 'sh'],
      { env: { ...process.env, DOCKER_HOST: d.host } });
    assert.match((JSON.parse(t.stdout) as { output: string }).output, /30 90/);
  });
});
