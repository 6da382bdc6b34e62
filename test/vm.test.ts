/**
 * `--runtime vm` end to end: real QEMU microvm boots of the Debian cloud kernel (under TCG here, about 6-8 s
 * each), so the tests are few and their timeouts generous.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { release } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, exec, hasDocker, startDaemon, teardown, type TestDaemon, waitFor } from './harness.js';

const BOOT = { timeoutMs: 240_000 };
const T = { timeout: 300_000 };

/** The host's processes whose command lines name `path`, but those whose command name is in `except`: PID and command line. */
function processesNaming(path: string, except: string[] = []): [string, string][] {
  const out: [string, string][] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(path) && !except.includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) out.push([pid, cmdline]);
    } catch { /* gone */ }
  }
  return out;
}

/** QEMU processes this daemon started (their command lines name its exec root), or those of one container. */
function qemuProcesses(d: TestDaemon, id = ''): string[] {
  return processesNaming(join(d.execRoot, 'vm', 'bundles', id)).filter(([, c]) => c.includes('qemu-system')).map(([pid, c]) => `${pid}: ${c.slice(0, 200)}`);
}

/** The command names (comm) of the processes with `path` open. */
function holders(path: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let fds: string[] = [];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    if (fds.some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) === path; } catch { return false; } })) {
      try { out.push(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()); } catch { /* gone */ }
    }
  }
  return out;
}

/** A TCP port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 20_000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('the vm runtime', () => {
  let d: TestDaemon;
  const seen: string[] = [];
  before(async () => { d = await startDaemon({ busybox: true }); });
  // The teardown's "nothing left behind" covers QEMU too: its command line names the exec root.
  after(async () => { await teardown(d, seen); });

  test('run --rm boots the image with its own kernel, separates stdout and stderr and exits with the workload\'s code', T, async () => {
    const r = await d.berth(['run', '--rm', '--runtime', 'vm', 'busybox', 'sh', '-c', 'echo hi; uname -r; ls /proc/$$/fd; echo err >&2; exit 3'], BOOT);
    assert.equal(r.code, 3, r.stderr);
    const [hi, kernel, ...rest] = r.stdout.split('\n');
    assert.equal(hi, 'hi');
    assert.match(kernel!, /cloud-amd64$/);
    assert.notEqual(kernel, release(), 'the guest runs its own kernel');
    assert.deepEqual(rest, ['0', '1', '2', ''], 'the workload holds its stdio and none of the guest init\'s ports');
    assert.equal(r.stderr, 'err\n');
    assert.deepEqual((await d.berth(['ps', '-aq'])).stdout, '', '--rm removed it');
    assert.deepEqual(qemuProcesses(d), []);
    assert.deepEqual(readdirSync(join(d.dataRoot, 'containers')), [], 'the disk image went with the container');
  });

  test('-e, -w, -u, -h, --memory and --cpus shape the workload and the VM; -t gives it a terminal', T, async () => {
    const r = await d.berth(['run', '--rm', '-t', '--runtime', 'vm', '-e', 'A=1 2', '-w', '/tmp/work', '-u', 'nobody', '-h', 'boat', '--memory', '320m', '--cpus', '2',
      'busybox', 'sh', '-c', 'echo "$A"; pwd; id -u; hostname; cat /etc/hostname; nproc; echo $HOME; awk \'/MemTotal/ {print ($2 > 250000 && $2 < 330000)}\' /proc/meminfo; tty; echo "$TERM"; exit 4'], BOOT);
    assert.equal(r.code, 4, r.stderr);
    // A terminal's output: lines end in \r\n (onlcr), and stdin/stdout are the guest's console.
    assert.deepEqual(r.stdout.split('\r\n'), ['1 2', '/tmp/work', '65534', 'boat', 'boat', '2', '/home', '1', '/dev/hvc0', 'xterm', '']);
  });

  test('-i: the client\'s stdin reaches the workload in the VM, and its end is the workload\'s EOF; --read-only keeps the root disk unwritten', T, async () => {
    const r = await d.berth(['run', '-i', '--rm', '--read-only', '--runtime', 'vm', 'busybox', 'sh', '-c',
      'cat; echo "eof after $(wc -c < /dev/null) more"; touch /probe 2>/dev/null && echo root-writable; echo x > /dev/shm/ok && echo dev-writable'], { ...BOOT, input: 'hi\nthere\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi\nthere\neof after 0 more\ndev-writable\n');
  });

  test('-d, -p, exec, logs, ps, inspect, stop and rm, with nothing left behind', T, async () => {
    const port = await freePort();
    const run = await d.berth(['run', '-d', '--runtime', 'vm', '--name', 'vmtick', '-p', `${port}:80`, '-e', 'WHO=vm', '-w', '/srv', 'busybox', 'sh', '-c',
      'trap "echo bye; exit 7" TERM; mkdir -p /www; echo "hello from $(uname -r)" > /www/index.html; httpd -p 80 -h /www; echo started; while true; do sleep 0.1; done']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    seen.push(id);
    await waitFor(async () => (await d.berth(['logs', 'vmtick'])).stdout.includes('started'), 240_000, 'the VM to boot and print');
    assert.match((await d.berth(['ps'])).stdout, /vmtick/);

    // -p: the host port reaches busybox httpd inside the VM (the page names the guest's kernel, not the host's).
    const page = await httpGet(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /^hello from .*cloud-amd64\n$/);
    assert.doesNotMatch(page.body, new RegExp(release().replace(/[.+]/g, '\\$&')));

    // exec: the container's env and workdir, stdout and stderr apart, the exit code; -u, -w, -e override.
    const x = await d.berth(['exec', 'vmtick', 'sh', '-c', 'echo "$WHO $(pwd) $(id -u)"; echo oops >&2; exit 5'], BOOT);
    assert.deepEqual([x.code, x.stdout, x.stderr], [5, 'vm /srv 0\n', 'oops\n']);
    const u = await d.berth(['exec', '-u', 'nobody', '-w', '/tmp', '-e', 'WHO=other', 'vmtick', 'sh', '-c', 'echo "$WHO $(pwd) $(id -u)"'], BOOT);
    assert.deepEqual([u.code, u.stdout], [0, 'other /tmp 65534\n'], u.stderr);
    // -i: stdin in, EOF at its end; -t: the slot's console is the process's terminal.
    const i = await d.berth(['exec', '-i', 'vmtick', 'sh', '-c', 'tr a-z A-Z; echo done'], { ...BOOT, input: 'abc\n' });
    assert.deepEqual([i.code, i.stdout], [0, 'ABC\ndone\n'], i.stderr);
    const t = await d.berth(['exec', '-t', 'vmtick', 'sh', '-c', 'tty; exit 2'], BOOT);
    assert.equal(t.code, 2, t.stderr);
    assert.match(t.stdout, /^\/dev\/hvc[1-9]\r\n$/);
    // Sessions at once, each with its own output.
    const many = await Promise.all([1, 2, 3].map((n) => d.berth(['exec', 'vmtick', 'sh', '-c', `sleep 1; echo ${n}; exit ${n}`], BOOT)));
    assert.deepEqual(many.map((m) => [m.code, m.stdout]), [[1, '1\n'], [2, '2\n'], [3, '3\n']]);
    // -d with -t has no console in the guest; the VM still serves what comes after it.
    assert.equal((await d.berth(['exec', '-dt', 'vmtick', 'sh', '-c', 'echo dt > /tmp/dt'], BOOT)).code, 0);
    await waitFor(async () => (await d.berth(['exec', 'vmtick', 'cat', '/tmp/dt'], BOOT)).stdout === 'dt\n', 20_000, 'the detached exec');
    // The command is found on the container's PATH, as runc finds it: the image's program, not busybox's applet of that name.
    assert.equal((await d.berth(['exec', 'vmtick', 'sh', '-c', 'mkdir -p /usr/local/bin && printf "#!/bin/sh\\necho image-ls\\n" > /usr/local/bin/ls && chmod +x /usr/local/bin/ls'], BOOT)).code, 0);
    assert.deepEqual(await d.berth(['exec', 'vmtick', 'ls', '/'], BOOT).then((r) => [r.code, r.stdout]), [0, 'image-ls\n']);
    const missing = await d.berth(['exec', 'vmtick', 'no-such-command'], BOOT);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /exec: "no-such-command": executable file not found in \$PATH/);
    // Through the API as the docker CLI drives it.
    if (hasDocker) {
      const dx = await d.docker(['exec', 'vmtick', 'cat', '/www/index.html'], BOOT);
      assert.deepEqual([dx.code, dx.stdout], [0, page.body], dx.stderr);
    }

    const info = JSON.parse((await d.berth(['inspect', '-f', '{{json .}}', 'vmtick'])).stdout) as {
      HostConfig: { Runtime: string }; State: { Running: boolean }; VM: { Accelerator: string; KernelVersion: string; VCPUs: number; MemoryBytes: number };
    };
    assert.equal(info.HostConfig.Runtime, 'vm');
    assert.equal(info.State.Running, true);
    assert.match(info.VM.Accelerator, /^(kvm|tcg)$/);
    assert.match(info.VM.KernelVersion, /cloud-amd64$/);
    assert.equal(info.VM.VCPUs, 1);
    assert.equal(info.VM.MemoryBytes, 256 * 2 ** 20);
    // info says how VMs run here: the same accelerator and kernel, and the defaults.
    const sys = JSON.parse((await d.berth(['info', '-f', '{{json .Runtimes.vm}}'])).stdout) as Record<string, unknown>;
    assert.deepEqual([sys.Accelerator, sys.KernelVersion, sys.DefaultVCPUs, sys.DefaultMemoryBytes], [info.VM.Accelerator, info.VM.KernelVersion, 1, 256 * 2 ** 20]);
    const text = (await d.berth(['info'])).stdout;
    assert.match(text, new RegExp(`^  Accelerator: ${info.VM.Accelerator}$`, 'm'));
    assert.match(text, new RegExp(`^  Kernel: ${info.VM.KernelVersion.replace(/[.+]/g, '\\$&')} \\(/`, 'm'));
    assert.equal(qemuProcesses(d).length, 1);
    // Only QEMU reads the FIFO the guest's requests go through. conmon reads the bundle's `ctl`, its own; while the
    // two were one FIFO, each request reached the guest or conmon at random, and execs waited for resends or failed.
    assert.deepEqual(holders(join(d.execRoot, 'vm', 'bundles', id, 'guest.ctl')), ['qemu-system-x86']);
    // The guest init's own ports (status, requests) are not the container's: an exec holds its stdio and no more.
    assert.equal((await d.berth(['exec', 'vmtick', 'sh', '-c', 'ls /proc/$$/fd; true'], BOOT)).stdout, '0\n1\n2\n');
    // The guest's init acknowledges the TERM it forwards (the driver sends it again until it does): the trap runs.
    const stop = await d.berth(['stop', '-t', '60', 'vmtick'], BOOT);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await d.berth(['wait', 'vmtick'])).stdout, '7\n');
    assert.equal((await d.berth(['logs', 'vmtick'])).stdout, 'started\nbye\n');
    assert.deepEqual(qemuProcesses(d), []);
    const gone = await d.berth(['exec', 'vmtick', 'true']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /is not running/);
    assert.equal((await d.berth(['rm', 'vmtick'])).code, 0);
    assert.equal(existsSync(join(d.dataRoot, 'containers', id)), false);
  });

  test('--vm-kernel: a missing file or one that is no kernel fails the run with a clear message and leaves nothing', T, async () => {
    // What is there before (an earlier test's leftovers, if it failed), to be there unchanged after.
    const bundles = join(d.execRoot, 'vm', 'bundles');
    const list = () => (existsSync(bundles) ? readdirSync(bundles) : []);
    const before = { ps: (await d.berth(['ps', '-aq'])).stdout, qemu: qemuProcesses(d), bundles: list() };
    const missing = await d.berth(['run', '--rm', '--runtime', 'vm', '--vm-kernel', '/nonexistent/vmlinuz', 'busybox', 'true'], BOOT);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /the vm kernel \/nonexistent\/vmlinuz does not exist/);
    const notKernel = await d.berth(['run', '--rm', '--runtime', 'vm', '--vm-kernel', '/bin/busybox', 'busybox', 'true'], BOOT);
    assert.notEqual(notKernel.code, 0);
    assert.match(notKernel.stderr, /\/bin\/busybox is not a bootable Linux kernel image/);
    // A kernel cut short: its header (and version, so its modules) are fine, it dies while booting. The run says so
    // with the console's last lines (exit 125), and does not hang.
    const kernel = (JSON.parse((await d.berth(['info', '-f', '{{json .Runtimes.vm}}'])).stdout) as { Kernel: string }).Kernel;
    const broken = join(d.dir, 'vmlinuz-broken');
    writeFileSync(broken, readFileSync(kernel).subarray(0, 64 * 1024));
    const dies = await d.berth(['run', '--rm', '--runtime', 'vm', '--vm-kernel', broken, 'busybox', 'true'], BOOT);
    assert.equal(dies.code, 125, dies.stderr);
    assert.match(dies.stderr, /berth: the VM failed to boot: QEMU exited with \d+\. The kernel's last lines:\n.*\S/);
    assert.deepEqual({ ps: (await d.berth(['ps', '-aq'])).stdout, qemu: qemuProcesses(d), bundles: list() }, before);
    // The daemon's default is checked when it starts.
    const other = await exec(BERTH, ['daemon', '-H', `unix://${d.dir}/k.sock`, '--data-root', join(d.dir, 'kdata'), '--exec-root', join(d.dir, 'krun'),
      '--vm-kernel', '/nonexistent/vmlinuz'], { timeoutMs: 30_000 });
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /the vm kernel \/nonexistent\/vmlinuz does not exist/);
  });

  test('stats shows the VM\'s QEMU (CPU, memory against the VM\'s RAM); pause stops the whole VM and unpause resumes it', T, async () => {
    const run = await d.berth(['run', '-d', '--runtime', 'vm', '--network', 'none', '-m', '192m', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.2; done']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    seen.push(id);
    const ticks = async () => (await d.berth(['logs', id])).stdout.split('\n').filter(Boolean).length;
    await waitFor(async () => (await ticks()) > 0, 240_000, 'the VM to boot and tick');
    const cpu = (s: string) => Number(/^([\d.]+)%/.exec(s)?.[1]);
    const stats = await d.berth(['stats', '--no-stream', '--format', '{{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', id]);
    assert.match(stats.stdout, /^[\d.]+% [\d.]+[KMG]iB \/ 192MiB 1\n$/, stats.stderr);
    assert.ok(cpu(stats.stdout) > 0, 'a ticking guest under QEMU uses CPU');
    assert.equal((await d.berth(['pause', id])).code, 0);
    assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', id])).stdout, 'paused true\n');
    const frozen = await ticks();
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await ticks(), frozen, 'no tick while paused');
    const idle = await d.berth(['stats', '--no-stream', '--format', '{{.CPUPerc}}', id]);
    assert.ok(cpu(idle.stdout) < cpu(stats.stdout), `paused: ${idle.stdout.trim()} against ${stats.stdout.trim()}`);
    const again = await d.berth(['pause', id]);
    assert.match(again.stderr, /is already paused/);
    assert.equal((await d.berth(['unpause', id])).code, 0);
    await waitFor(async () => (await ticks()) > frozen, 60_000, 'ticks again after unpause');
    // stop -t 1 of a paused VM keeps to its timeout: the guest cannot take SIGTERM (it waits for a resume, not for
    // the guest's acknowledgement, 20 s), and the timeout's SIGKILL switches the VM off.
    assert.equal((await d.berth(['pause', id])).code, 0);
    const t0 = Date.now();
    assert.equal((await d.berth(['stop', '-t', '1', id], BOOT)).code, 0);
    assert.ok(Date.now() - t0 < 10_000, `stop took ${Date.now() - t0} ms`);
    assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}', id])).stdout, 'exited false 137\n');
    assert.equal((await d.berth(['rm', id], BOOT)).code, 0);
  });

  test('kill switches the VM off; wait reports 137; rm -f of a running VM leaves nothing', T, async () => {
    const a = (await d.berth(['run', '-d', '--runtime', 'vm', 'busybox', 'sleep', '1000'])).stdout.trim();
    seen.push(a);
    // Each VM's own QEMU (its bundle in the command line): what an earlier test left does not count here.
    await waitFor(() => qemuProcesses(d, a).length === 1, 120_000, 'QEMU to start');
    const waiting = d.berth(['wait', a], BOOT);
    assert.equal((await d.berth(['kill', a])).code, 0);
    assert.equal((await waiting).stdout, '137\n');
    assert.deepEqual(qemuProcesses(d, a), []);
    await d.berth(['rm', a]);
    const b = (await d.berth(['run', '-d', '--runtime', 'vm', 'busybox', 'sleep', '1000'])).stdout.trim();
    seen.push(b);
    await waitFor(() => qemuProcesses(d, b).length === 1, 120_000, 'QEMU to start');
    assert.equal((await d.berth(['rm', '-f', b], BOOT)).code, 0);
    assert.deepEqual(qemuProcesses(d, b), []);
    assert.equal(existsSync(join(d.execRoot, 'vm', 'bundles', b)), false);
    // A kill straight after the start, while QEMU may not have written its PID file: the VM's processes go too (the
    // wrapper's boot timer included, which would otherwise wait out the boot's time limit).
    const c = (await d.berth(['run', '-d', '--runtime', 'vm', 'busybox', 'sleep', '1000'])).stdout.trim();
    seen.push(c);
    assert.equal((await d.berth(['kill', c])).code, 0);
    assert.equal((await d.berth(['wait', c], BOOT)).stdout, '137\n');
    await waitFor(() => processesNaming(join(d.execRoot, 'vm', 'bundles', c), ['conmon']).length === 0, 10_000, 'the killed VM\'s processes to go');
    assert.equal((await d.berth(['rm', c])).code, 0);
  });

  test('an unknown runtime is refused as docker does', async () => {
    const r = await d.berth(['run', '--rm', '--runtime', 'nope', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown or invalid runtime name: nope/);
  });

  test('a VM cannot join the host\'s or another container\'s namespaces: refused at create, leaving nothing', async () => {
    const before = (await d.berth(['ps', '-aq'])).stdout;
    for (const [flag, mode, what] of [['--network', 'host', 'network'], ['--pid', 'host', 'PID namespace'], ['--ipc', 'host', 'IPC namespace'], ['--uts', 'host', 'UTS namespace'], ['--network', 'container:x', 'network']]) {
      const r = await d.berth(['create', '--runtime', 'vm', flag!, mode!, 'busybox', 'true']);
      assert.equal(r.code, 125, `${flag} ${mode}`);
      assert.match(r.stderr, new RegExp(`the vm runtime cannot share (the host's|another container's) ${what}`));
    }
    assert.equal((await d.berth(['ps', '-aq'])).stdout, before);
  });

  test('the docker CLI runs a VM through the socket', { ...T, skip: !hasDocker && 'no docker CLI' }, async () => {
    const r = await d.docker(['run', '--rm', '--runtime', 'vm', 'busybox', 'echo', 'hi'], BOOT);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
  });
});
