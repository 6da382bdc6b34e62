import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Launcher, NotFound } from './launcher.js';

function fresh(): { launcher: Launcher; dir: string; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'berth-launcher-'));
  const dir = join(root, 'l');
  mkdirSync(dir);
  const launcher = new Launcher(dir);
  return { launcher, dir, done: () => { launcher.close(); rmSync(root, { recursive: true, force: true }); } };
}

test('a command\'s stdout, stderr, exit status and input come back, and the next command uses its files', async () => {
  const { launcher, dir, done } = fresh();
  try {
    const r = await launcher.run('sh', ['-c', 'cat; echo oops >&2; exit 3'], { env: process.env, input: 'in\n' });
    assert.deepEqual(r, { code: 3, stdout: 'in\n', stderr: 'oops\n' });
    const files = readdirSync(dir).sort();
    assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf('.') + 1)), ['e', 'o'], 'its input is gone, its outputs are kept for the next');
    assert.deepEqual(await launcher.run('true', [], {}), { code: 0, stdout: '', stderr: '' }, 'nothing of the last command\'s output');
    assert.equal((await launcher.run('sh', ['-c', 'seq 1000'], {})).stdout.length, 3893);
    assert.deepEqual(await launcher.run('sh', ['-c', 'echo again'], {}), { code: 0, stdout: 'again\n', stderr: '' }, 'a shorter output over a longer one');
    assert.deepEqual(readdirSync(dir).sort(), files, 'no new files for commands run one after another');
    const killed = await launcher.run('sh', ['-c', 'kill -9 $$'], { env: process.env });
    assert.equal(killed.code, 128 + 9, 'a signal is reported as a shell does');
  } finally { done(); }
});

test('arguments reach the program as they are: nothing in them is read by the shell', async () => {
  const { launcher, dir, done } = fresh();
  try {
    const args = ["it's", '$(touch pwned)', '`id`', 'a;b|c&d', 'new\nline', '$HOME', '"q"', '*', ''];
    const r = await launcher.run('/usr/bin/printf', ['%s|', ...args], { env: process.env, cwd: dir });
    assert.equal(r.stdout, `${args.join('|')}|`);
    assert.equal(existsSync(join(dir, 'pwned')), false);
    await assert.rejects(launcher.run('echo', ['a\0b'], { env: process.env }), /NUL/);
  } finally { done(); }
});

test('the environment and directory are the command\'s own: set, changed and removed variables', async () => {
  const { launcher, done } = fresh();
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, BERTH_LAUNCHER_NEW: 'x y', HOME: '/nowhere' };
    delete env.PWD;
    const r = await launcher.run('sh', ['-c', 'echo "$BERTH_LAUNCHER_NEW|$HOME|${PWD-unset}"; pwd'], { env, cwd: '/tmp' });
    assert.equal(r.stdout, 'x y|/nowhere|/tmp\n/tmp\n', 'sh sets PWD itself when it starts');
    // Nothing of the shells' own (bash's SHLVL and _, cd's PWD and OLDPWD) on top.
    const only = await launcher.run('/usr/bin/env', [], { env: { PATH: '/usr/bin:/bin', ONE: '1' }, cwd: '/tmp' });
    assert.deepEqual(only.stdout.trim().split('\n').sort(), ['ONE=1', 'PATH=/usr/bin:/bin']);
    assert.equal(launcher.canRun({ ...process.env, OPTIND: '7' }), false, 'a variable that means something to the shell');
    assert.equal(launcher.canRun({ ...process.env, 'NOT-A-NAME': '1' }), false, 'a name the shell cannot set');
    assert.equal(launcher.canRun({ ...process.env, FINE_NAME: '1' }), true);
    const own = await launcher.run('sh', ['-c', 'echo "$HOME|${BERTH_LAUNCHER_NEW-unset}|${SHLVL-unset}"'], {});
    assert.equal(own.stdout, `${process.env.HOME}|unset|${process.env.SHLVL ?? 'unset'}\n`, 'no environment given: the daemon\'s');
  } finally { done(); }
});

test('a missing program or directory is told apart from a program that exits 127', async () => {
  const { launcher, done } = fresh();
  try {
    await assert.rejects(launcher.run('berth-no-such-program', [], { env: process.env }), (e) => e instanceof NotFound && /ENOENT/.test(e.message));
    await assert.rejects(launcher.run('true', [], { env: process.env, cwd: '/no/such/dir' }), NotFound);
    assert.equal((await launcher.run('sh', ['-c', 'exit 127'], { env: process.env })).code, 127);
  } finally { done(); }
});

test('a name the shell has a built-in for runs the program; a failure before the program starts is its status', async () => {
  const { launcher, done } = fresh();
  try {
    assert.match((await launcher.run('printf', ['--version'], { env: process.env })).stdout, /GNU coreutils/);
    // The shell refuses this value: the command fails with the shell's word, and the caller is not left waiting.
    const r = await launcher.run('true', [], { env: { ...process.env, OPTIND: 'not-a-number' } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /OPTIND|number/i);
  } finally { done(); }
});

test('the subshells that ended are reaped: no zombies pile up under the shell', async () => {
  const { launcher, done } = fresh();
  try {
    for (let i = 0; i < 40; i++) await launcher.run('true', [], { env: process.env });
    const children = readFileSync(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    assert.ok(children.length <= 2, `the shell has ${children.length} children after 40 commands`);
  } finally { done(); }
});

test('the shell and what it runs get no descriptor above stderr, even one the daemon holds inheritable', async () => {
  // A process with inheritable descriptors 3 to 5 (as a spawn's extra stdio leaves them; node-unix-socket's
  // sockets are so too) starts a launcher and lists what a command of it holds.
  const code = `import(${JSON.stringify(new URL('./launcher.ts', import.meta.url).href)}).then(async ({ Launcher }) => {
    const dir = require('node:fs').mkdtempSync('/tmp/berth-launcher-fds-');
    const l = new Launcher(dir);
    const r = await l.run('sh', ['-c', 'ls /proc/$$/fd'], { env: process.env });
    l.close(); require('node:fs').rmSync(dir, { recursive: true });
    process.stdout.write(r.stdout);
    process.exit(0);
  })`;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { stdio: ['ignore', 'pipe', 'inherit', 'pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  const status = await new Promise((r) => child.on('close', r));
  assert.equal(status, 0);
  assert.deepEqual(out.trim().split('\n').map(Number).filter((n) => n > 2), [], out);
});

test('commands run side by side and each result finds its caller', async () => {
  const { launcher, done } = fresh();
  try {
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      launcher.run('sh', ['-c', `sleep 0.0${(30 - i) % 10}; echo ${i}`], { env: process.env })));
    assert.deepEqual(rs.map((r) => r.stdout), Array.from({ length: 30 }, (_, i) => `${i}\n`));
  } finally { done(); }
});

test('when the shell dies, what it started still reports, and the launcher says it is gone', async () => {
  const { launcher, dir, done } = fresh();
  try {
    const pending = launcher.run('sh', ['-c', 'sleep 0.3; echo late'], { env: process.env });
    await new Promise((r) => setTimeout(r, 50));
    process.kill(launcher.pid!, 'SIGKILL');
    assert.equal((await pending).stdout, 'late\n');
    assert.equal(launcher.alive, false);
    await assert.rejects(launcher.run('true', [], { env: process.env }), /stopped/);
    assert.deepEqual(readdirSync(dir).map((f) => f.slice(f.lastIndexOf('.') + 1)).sort(), ['e', 'o'], 'one command\'s output files, read');
  } finally { done(); }
});

test('a long-lived command is not one of the shell\'s jobs, and still reports', async () => {
  const { launcher, done } = fresh();
  try {
    // The program's parent is the subshell that reports; once the one that started it has gone, that is not the shell.
    const r = await launcher.run('sh', ['-c', 'sleep 0.3; cut -d" " -f4 /proc/$PPID/stat'], { longLived: true });
    assert.equal(r.code, 0);
    assert.notEqual(Number(r.stdout), launcher.pid);
    const short = await launcher.run('sh', ['-c', 'cut -d" " -f4 /proc/$PPID/stat'], {});
    assert.equal(Number(short.stdout), launcher.pid, 'other commands\' reporting subshells are the shell\'s own children');
  } finally { done(); }
});

test('a command the shell never read is started again by the caller; one it started reports even if the shell dies', async () => {
  const { launcher, done } = fresh();
  try {
    const running = launcher.run('sleep', ['1'], { longLived: true });
    await new Promise((r) => setTimeout(r, 100));
    // Stopped, not yet seen: the shell has gone before it could read the next line.
    process.kill(launcher.pid!, 'SIGSTOP');
    const unread = launcher.run('echo', ['never'], {});
    process.kill(launcher.pid!, 'SIGKILL');
    const first = await Promise.race([unread.then(() => 'unread', () => 'unread'), running.then(() => 'running')]);
    assert.equal(first, 'unread', 'the unread command is given up without waiting for the running one (a conmon: the container\'s life)');
    await assert.rejects(unread, /stopped/);
    assert.equal((await running).code, 0);
  } finally { done(); }
});
