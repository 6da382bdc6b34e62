/** Hardening: capabilities, seccomp, no-new-privileges, privileged, tmpfs, devices, groups, init, and the leaked-fd escape. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, startDaemon, teardown, type TestDaemon } from './harness.js';

/** docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP. */
const DOCKER_DEFAULT_CAPS = '00000000a80425fb';
/** Everything the host may hand out: its own bounding set (this VM's lacks CAP_SYS_RESOURCE). */
const ALL_CAPS = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapBnd:'))!.split(/\s+/)[1]!;

describe('security', () => {
  let d: TestDaemon;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, [], { expectNone: true }));

  const run = (flags: string[], script: string) => d.berth(['run', '--rm', ...flags, 'busybox', 'sh', '-c', script]);
  const status = async (flags: string[], field: string) => {
    const r = await run(flags, `grep '^${field}:' /proc/self/status`);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split(':')[1]!.trim();
  };

  test("docker's default capability set; non-root users get none effective", async () => {
    assert.equal(await status([], 'CapEff'), DOCKER_DEFAULT_CAPS);
    assert.equal(await status([], 'CapBnd'), DOCKER_DEFAULT_CAPS);
    assert.equal(await status(['-u', '1000'], 'CapEff'), '0000000000000000');
    assert.equal(await status(['-u', '1000'], 'CapBnd'), DOCKER_DEFAULT_CAPS);
  });

  test('--cap-add and --cap-drop, ALL and unknown names', async () => {
    assert.equal(await status(['--cap-drop', 'ALL'], 'CapEff'), '0000000000000000');
    assert.equal(await status(['--cap-add', 'NET_ADMIN'], 'CapEff'), (0xa80425fb + 2 ** 12).toString(16).padStart(16, '0'));
    assert.equal(await status(['--cap-drop', 'ALL', '--cap-add', 'cap_chown'], 'CapEff'), '0000000000000001');
    assert.equal(await status(['--cap-add', 'ALL', '--cap-drop', 'SYS_ADMIN'], 'CapEff'), (BigInt(`0x${ALL_CAPS}`) & ~(1n << 21n)).toString(16).padStart(16, '0'));
    const chown = await run(['--cap-drop', 'CHOWN'], 'touch /tmp/f && chown 1 /tmp/f');
    assert.notEqual(chown.code, 0);
    assert.match(chown.stderr, /Operation not permitted/);
    const bad = await d.berth(['run', '--rm', '--cap-add', 'FOO', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /unknown capability: "CAP_FOO"/);
  });

  test('the default seccomp profile blocks new user namespaces and mount; unconfined and SYS_ADMIN lift it', async () => {
    assert.equal(await status([], 'Seccomp'), '2');
    const userns = await run([], 'unshare -U true');
    assert.notEqual(userns.code, 0);
    assert.match(userns.stderr, /Operation not permitted/);
    const free = await run(['--security-opt', 'seccomp=unconfined'], 'grep ^Seccomp: /proc/self/status; unshare -U true && echo made-userns');
    assert.match(free.stdout, /Seccomp:\s+0/);
    assert.match(free.stdout, /made-userns/, free.stderr);
    const mount = await run([], 'mkdir /m && mount -t tmpfs none /m');
    assert.notEqual(mount.code, 0);
    assert.match(mount.stderr, /Operation not permitted|permission denied/i);
    // With the capability, the profile lets the call through (as docker's: the rule is tied to CAP_SYS_ADMIN).
    const admin = await run(['--cap-add', 'SYS_ADMIN'], 'mkdir /m && mount -t tmpfs none /m && echo mounted');
    assert.match(admin.stdout, /mounted/, admin.stderr);
  });

  test('a seccomp profile file (docker format), and one that does not parse', async () => {
    const profile = join(d.dir, 'no-mkdir.json');
    writeFileSync(profile, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    }));
    const r = await run(['--security-opt', `seccomp=${profile}`], 'mkdir /tmp/x');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Operation not permitted/);
    const broken = join(d.dir, 'broken.json');
    writeFileSync(broken, '{"defaultAction": ');
    const bad = await d.berth(['run', '--rm', '--security-opt', `seccomp=${broken}`, 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Decoding seccomp profile failed/);
    const unknown = await d.berth(['run', '--rm', '--security-opt', 'bogus=1', 'busybox', 'true']);
    assert.equal(unknown.code, 125);
    assert.match(unknown.stderr, /invalid --security-opt 2: "bogus=1"/);
  });

  test('no-new-privileges', async () => {
    assert.equal(await status([], 'NoNewPrivs'), '0');
    assert.equal(await status(['--security-opt', 'no-new-privileges'], 'NoNewPrivs'), '1');
    assert.equal(await status(['--security-opt', 'no-new-privileges=true'], 'NoNewPrivs'), '1');
  });

  test('masked and read-only paths by default; --privileged has all capabilities, no seccomp, host devices and a writable /proc/sys', async () => {
    const def = await run([], 'wc -c < /proc/timer_list; echo 1 > /proc/sys/vm/drop_caches && echo wrote');
    assert.match(def.stdout, /^0$/m, 'timer_list is masked');
    assert.doesNotMatch(def.stdout, /wrote/);
    assert.equal(await status(['--privileged'], 'CapEff'), ALL_CAPS);
    assert.equal(await status(['--privileged'], 'Seccomp'), '0');
    const priv = await run(['--privileged'], 'ls /dev | wc -l; grep -c " /proc/sys " /proc/mounts; mkdir /m && mount -t tmpfs none /m && echo mounted');
    const [devCount, sysMounts] = priv.stdout.trim().split('\n');
    assert.ok(Number(devCount) > 20, `host devices: ${devCount}`);
    assert.equal(sysMounts, '0', '/proc/sys is not remounted read-only');
    assert.match(priv.stdout, /mounted/);
  });

  test('--read-only with --tmpfs: the root refuses writes, the tmpfs takes them with its options', async () => {
    const r = await run(['--read-only', '--tmpfs', '/run:size=1m,mode=1770'],
      'touch /x 2>&1; touch /run/ok && echo run-ok; df -k /run | tail -1; stat -c %a /run; grep " /run " /proc/mounts');
    assert.match(r.stdout, /Read-only file system/);
    assert.match(r.stdout, /run-ok/);
    assert.match(r.stdout, /\s1024\s/);
    assert.match(r.stdout, /^1770$/m);
    assert.match(r.stdout, /nosuid,nodev,noexec/);
    const bad = await d.berth(['run', '--rm', '--tmpfs', 'rel', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /mount path must be absolute/);
  });

  test('--group-add by name and number', async () => {
    const r = await run(['--group-add', 'staff', '--group-add', '4321'], 'id -G');
    assert.deepEqual(r.stdout.trim().split(' ').sort(), ['0', '10', '4321', '50'].sort());
    const bad = await d.berth(['run', '--rm', '--group-add', 'nosuchgroup', 'busybox', 'true']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Unable to find group nosuchgroup/);
  });

  test('--init runs tini as PID 1 at /sbin/docker-init, which reaps and passes the exit code on', async () => {
    const r = await d.berth(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; exit 3']);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^\/sbin\/docker-init -- sh -c/);
  });

  test('--device maps a host node with its cgroup permissions; missing devices are refused', async () => {
    // loop-control (10:237) is not among runc's always-allowed devices, so the cgroup rule decides.
    const script = 'ls -l /dev/lc; (exec 3</dev/lc) && echo read-ok; (exec 4>/dev/lc) && echo write-ok';
    const r = await run(['--device', '/dev/loop-control:/dev/lc:r'], script);
    assert.match(r.stdout, /^c.* 10,\s+237 .*\/dev\/lc$/m);
    assert.match(r.stdout, /read-ok/);
    assert.doesNotMatch(r.stdout, /write-ok/);
    const rw = await run(['--device', '/dev/loop-control:/dev/lc'], script);
    assert.match(rw.stdout, /write-ok/);
    const none = await run([], 'mknod /dev/lc c 10 237 && (exec 3</dev/lc) && echo read-ok');
    assert.doesNotMatch(none.stdout, /read-ok/, 'without --device the cgroup refuses the node');
    const bad = await d.berth(['run', '--rm', '--device', '/dev/nope', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /error gathering device information while adding custom device "\/dev\/nope": no such file or directory/);
  });

  test('CVE-2024-21626: no host fd leaks into the container; -w /proc/self/fd/N never reaches the host', async () => {
    const fds = await run([], 'ls /proc/self/fd');
    assert.deepEqual(fds.stdout.trim().split('\n').sort(), ['0', '1', '2', '3'], 'stdio and ls\'s own directory fd only');
    for (let n = 3; n <= 9; n++) {
      const r = await d.berth(['run', '--rm', '-w', `/proc/self/fd/${n}`, 'busybox', 'sh', '-c', 'ls ../../../../ 2>&1; cat ../../../../etc/hostname 2>&1']);
      const out = r.stdout + r.stderr;
      assert.doesNotMatch(out, /\bwork\b|\blost\+found\b/, `-w /proc/self/fd/${n} reached the host: ${out}`);
    }
    const c = await d.berth(['run', '-d', '--name', 'target', 'busybox', 'sleep', '30']);
    assert.equal(c.code, 0, c.stderr);
    // conmon (and runc under it) inherits nothing from the daemon but its stdio and sync pipe, even while
    // the daemon holds other containers' attach sockets (node-unix-socket does not set SOCK_CLOEXEC).
    const attach = spawn(BERTH, ['attach', 'target'], { env: { ...process.env, BERTH_HOST: d.host }, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    const second = await d.berth(['run', '-d', '--name', 'second', 'busybox', 'sleep', '30']);
    assert.equal(second.code, 0, second.stderr);
    const fdsOf = (pid: number) => new Map(readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try { return [fd, readlinkSync(`/proc/${pid}/fd/${fd}`)] as const; } catch { return [fd, ''] as const; }
    }));
    const daemonFds = new Set(fdsOf(d.proc.pid!).values());
    const conmonPid = Number(readdirSync('/proc').find((p) => /^\d+$/.test(p) && (() => {
      try { const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8'); return cmd.startsWith('/usr/bin/conmon') && cmd.includes(second.stdout.trim()); } catch { return false; }
    })()));
    assert.ok(conmonPid > 0, 'found the conmon of the second container');
    const shared = [...fdsOf(conmonPid)].filter(([fd, target]) => Number(fd) > 3 && /^(socket|pipe):/.test(target) && daemonFds.has(target));
    assert.deepEqual(shared, [], 'no descriptor of the daemon leaked into conmon');
    attach.kill();
    await d.berth(['rm', '-f', 'second']);
    for (let n = 3; n <= 9; n++) {
      const r = await d.berth(['exec', '-w', `/proc/self/fd/${n}`, 'target', 'ls', '../../../../']);
      assert.doesNotMatch(r.stdout + r.stderr, /\bwork\b|\blost\+found\b/, `exec -w /proc/self/fd/${n} reached the host`);
    }
    await d.berth(['rm', '-f', 'target']);
  });

  test('a working directory through a symlink in the image stays inside the container', async () => {
    const hostDir = join(d.dir, 'host-side');
    mkdirSync(hostDir);
    assert.equal((await d.berth(['run', '--name', 'mk', 'busybox', 'ln', '-s', hostDir, '/link'])).code, 0);
    assert.equal((await d.berth(['commit', 'mk', 'linkimg'])).code, 0);
    await d.berth(['rm', 'mk']);
    const r = await d.berth(['run', '--rm', '-w', '/link/sub', 'linkimg', 'pwd']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${hostDir}/sub`);
    assert.equal(existsSync(join(hostDir, 'sub')), false, 'nothing was made on the host');
    await d.berth(['rmi', 'linkimg']);
  });
});
