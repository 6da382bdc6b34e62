/**
 * `-H ssh://…` and `DOCKER_HOST=ssh://…`, against a private sshd on a loopback port: berth's CLI and the
 * docker CLI each start ssh, which runs `berth system dial-stdio` (or `docker system dial-stdio`, a `docker`
 * that is berth) on the "remote" side, and HTTP and hijacked streams go through it. Nothing of the machine's
 * own ssh setup is used: fresh keys, a client config given with -F, HOME in a temporary directory.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, DOCKER, exec, hasDocker, startDaemon, teardown, waitFor, type RunOpts, type TestDaemon } from './harness.js';
import { freePort } from './registry-fixture.js';

const DRIVER = join(import.meta.dirname, 'pty-drive.py');

/** Processes whose command line mentions `text`, and those descended from `root`. */
function processes(text: string, root?: number): string[] {
  const found: string[] = [];
  const parents = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      parents.set(Number(e), Number(readFileSync(`/proc/${e}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]));
      if (cmd.includes(text) && !cmd.startsWith('/usr/sbin/sshd -D')) found.push(`${e} ${cmd}`);
    } catch { /* gone */ }
  }
  if (root !== undefined) {
    for (const [pid] of parents) {
      for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) {
        if (p === root) { found.push(`${pid} (under sshd) ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`); break; }
      }
    }
  }
  return found;
}

function listening(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); res(true); });
    s.on('error', () => res(false));
  });
}

describe('the CLIs over ssh://', () => {
  let d: TestDaemon | undefined;
  let dir = '';
  let sshd: ChildProcess | undefined;
  let sshdLog = '';
  let url = '';
  let clientConfig = '';
  let env: NodeJS.ProcessEnv = {};

  const berth = (args: string[], o: RunOpts = {}) => exec(BERTH, ['-H', url, ...args], { ...o, env: { ...env, ...(o.env ?? {}) } });

  before(async () => {
    d = await startDaemon({ busybox: true });
    dir = mkdtempSync('/tmp/bt-ssh-');
    const key = (name: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]);
    key('host_key');
    key('id');
    copyFileSync(join(dir, 'id.pub'), join(dir, 'authorized_keys'));
    // The "remote" PATH: berth, and a docker that is berth, ahead of the machine's real docker CLI.
    const remoteBin = join(dir, 'remote-bin');
    mkdirSync(remoteBin);
    symlinkSync(BERTH, join(remoteBin, 'berth'));
    symlinkSync(BERTH, join(remoteBin, 'docker'));
    const port = await freePort();
    // SetEnv overrides sshd's own PATH; BERTH_HOST is the socket dial-stdio relays to.
    writeFileSync(join(dir, 'sshd_config'), [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PermitRootLogin prohibit-password', 'StrictModes no',
      'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'PrintMotd no', 'Subsystem sftp internal-sftp',
      `SetEnv PATH=${remoteBin}:${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin BERTH_HOST=${d.host}`,
      '',
    ].join('\n'));
    clientConfig = join(dir, 'ssh_config');
    writeFileSync(clientConfig, [
      'Host *', `  IdentityFile ${join(dir, 'id')}`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${join(dir, 'known_hosts')}`,
      '  StrictHostKeyChecking no', '  BatchMode yes', '  LogLevel ERROR', '',
    ].join('\n'));
    // The docker CLI runs plain `ssh` from PATH: this one brings the config.
    const localBin = join(dir, 'local-bin');
    mkdirSync(localBin);
    writeFileSync(join(localBin, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${clientConfig} "$@"\n`);
    chmodSync(join(localBin, 'ssh'), 0o755);
    const home = join(dir, 'home');
    mkdirSync(home);
    env = { ...process.env, HOME: home, BERTH_SSH_COMMAND: `ssh -F ${clientConfig}`, PATH: `${localBin}:${process.env.PATH}` };
    delete env.BERTH_HOST;
    delete env.DOCKER_HOST;
    // sshd's privilege separation directory, which Debian's service would make.
    mkdirSync('/run/sshd', { recursive: true });
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    sshd.stderr!.on('data', (b: Buffer) => { sshdLog += b.toString(); });
    await waitFor(() => {
      if (sshd!.exitCode !== null) throw new Error(`sshd exited: ${sshdLog}`);
      return listening(port);
    }, 10_000, 'sshd to listen');
    url = `ssh://root@127.0.0.1:${port}`;
  });

  after(async () => {
    try {
      if (sshd?.pid !== undefined) {
        // Each connection's sshd and its dial-stdio end once the client's ssh has gone.
        const left = () => processes(clientConfig, sshd!.pid);
        await waitFor(() => left().length === 0, 10_000, 'the ssh connections to end').catch(() => {});
        const stray = left();
        sshd.kill('SIGTERM');
        if (sshd.exitCode === null) await new Promise((r) => sshd!.once('exit', r));
        assert.deepEqual(stray, [], 'no ssh client, sshd session or dial-stdio left');
      }
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
      await teardown(d, [], { expectNone: true });
    }
  });

  test('ps, run and run -i, with output, exit codes and stdin through ssh', async () => {
    const ps = await berth(['ps', '--format', '{{.Names}}']);
    assert.equal(ps.code, 0, ps.stderr + sshdLog);
    assert.equal(ps.stdout, '');
    const hi = await berth(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.deepEqual([hi.code, hi.stdout, hi.stderr], [0, 'hi\n', '']);
    const both = await berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([both.code, both.stdout, both.stderr], [3, 'out\n', 'err\n']);
    const input = `${'through ssh and dial-stdio\n'.repeat(4000)}the end\n`;
    const piped = await berth(['run', '--rm', '-i', 'busybox', 'cat'], { input });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, input, 'stdin reaches the container, and its end ends it');
  });

  test('logs -f follows until the container exits; events --until ends', async () => {
    const name = `ssh-logs-${process.pid}`;
    const since = Math.floor(Date.now() / 1000);
    const run = await berth(['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'echo one; sleep 2; echo two']);
    assert.equal(run.code, 0, run.stderr);
    const logs = await berth(['logs', '-f', name]);
    assert.deepEqual([logs.code, logs.stdout], [0, 'one\ntwo\n'], logs.stderr);
    const events = await berth(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', `container=${name}`, '--format', '{{.Action}}']);
    assert.equal(events.code, 0, events.stderr);
    assert.match(events.stdout, /^create\n(.*\n)*start\n(.*\n)*die\n/);
    assert.equal((await berth(['rm', name])).code, 0);
  });

  test('a CLI ended by a signal, even SIGKILL, takes its ssh with it', async () => {
    // A silent container: nothing written would make an orphaned ssh notice that its reader is gone.
    const name = `ssh-quiet-${process.pid}`;
    assert.equal((await berth(['run', '-d', '--name', name, 'busybox', 'sleep', '300'])).code, 0);
    try {
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
        const cli = spawn(BERTH, ['-H', url, 'attach', '--sig-proxy=false', name], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        // The attach stream and the wait beside it, each its own ssh.
        await waitFor(() => processes(clientConfig).filter((p) => p.includes('dial-stdio')).length >= 2, 10_000, 'attach to connect');
        await new Promise((r) => setTimeout(r, 500));
        cli.kill(signal);
        const code = await new Promise((r) => cli.once('exit', (c, s) => r(s ?? c)));
        assert.equal(code, signal);
        await waitFor(() => processes(clientConfig).length === 0, 5_000, `ssh to end after ${signal}`);
      }
      assert.equal((await berth(['inspect', '-f', '{{.State.Running}}', name])).stdout, 'true\n', 'no signal reached the container');
    } finally {
      await berth(['rm', '-f', name]);
    }
  });

  test('run -it on a terminal', async () => {
    const r = await exec('python3', [DRIVER, '33', '101', 'echo $((6*7)); stty size', 'exit 4', '--', BERTH, '-H', url, 'run', '-it', '--rm', 'busybox', 'sh'], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { output: string; code: number };
    assert.equal(out.code, 4, out.output);
    assert.match(out.output, /\r\n42\r\n33 101\r\n/);
  });

  test('the docker CLI with DOCKER_HOST=ssh:// runs `docker system dial-stdio`, which is berth', { skip: !hasDocker }, async () => {
    const r = await exec(DOCKER, ['run', '--rm', 'busybox', 'echo', 'hi'], { env: { ...env, DOCKER_HOST: url } });
    assert.deepEqual([r.code, r.stdout], [0, 'hi\n'], r.stderr);
    const piped = await exec(DOCKER, ['run', '--rm', '-i', 'busybox', 'cat'], { env: { ...env, DOCKER_HOST: url }, input: 'docker over ssh\n' });
    assert.deepEqual([piped.code, piped.stdout], [0, 'docker over ssh\n'], piped.stderr);
    // A socket path in the URL: the docker CLI runs `docker --host=unix://PATH system dial-stdio`.
    const withPath = await exec(DOCKER, ['version', '--format', '{{.Server.Os}}'], { env: { ...env, DOCKER_HOST: `${url}${d!.socket}`, BERTH_HOST: undefined } });
    assert.deepEqual([withPath.code, withPath.stdout], [0, 'linux\n'], withPath.stderr);
  });

  test('failures are one line, with ssh\'s reason, and exit 1', async () => {
    const refused = await exec(BERTH, ['-H', `ssh://root@127.0.0.1:${await freePort()}`, 'ps'], { env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error during connect: ssh:\/\/root@127\.0\.0\.1:\d+: ssh: connect to host 127\.0\.0\.1 port \d+: Connection refused\n$/);
    const noBerth = await berth(['ps'], { env: { BERTH_REMOTE_COMMAND: 'no-such-berth' } });
    assert.equal(noBerth.code, 1);
    assert.match(noBerth.stderr, /^error during connect: ssh:\/\/root@.*no-such-berth: (command )?not found \(is berth on the remote PATH\? BERTH_REMOTE_COMMAND names the command to run there\)\n$/);
    const noSocket = await exec(BERTH, ['-H', `${url}/tmp/no/such.sock`, 'ps'], { env });
    assert.equal(noSocket.code, 1);
    assert.match(noSocket.stderr, /^error during connect: ssh:\/\/.*: failed to open the raw stream connection: Cannot connect to the berth daemon at unix:\/\/\/tmp\/no\/such\.sock\. Is the berth daemon running\?\n$/);
    const password = await exec(BERTH, ['-H', 'ssh://root:secret@127.0.0.1', 'ps'], { env });
    assert.deepEqual([password.code, password.stderr], [1, 'ssh host connection is not valid: invalid SSH URL: plain-text password is not supported\n']);
  });
});
