import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpec, type SpecInput } from './spec.js';

const DOCKER_DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'abc', rootfs: '/var/lib/berth/abc/merged', args: ['sh', '-c', 'echo hi'], env: ['PATH=/bin', 'HOSTNAME=abc'],
    cwd: '/work', user: { uid: 1000, gid: 1000, additionalGids: [], home: '/home/u' }, hostname: 'abc', terminal: false,
    readonlyRootfs: false, cgroupsPath: 'berth-abc',
    etcFiles: [
      { source: '/data/abc/hosts', destination: '/etc/hosts' },
      { source: '/data/abc/hostname', destination: '/etc/hostname' },
      { source: '/data/abc/resolv.conf', destination: '/etc/resolv.conf' },
    ],
    ...over,
  };
}

type Spec = {
  process: { terminal: boolean; consoleSize?: { height: number; width: number }; user: Record<string, unknown>; args: string[]; env: string[]; cwd: string;
    capabilities: Record<string, string[]> };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: { namespaces: { type: string }[]; maskedPaths: string[]; readonlyPaths: string[]; cgroupsPath: string };
};
const spec = (over?: Partial<SpecInput>) => buildSpec(input(over)) as unknown as Spec;

test('docker\'s 14 default capabilities, in bounding, effective and permitted sets', () => {
  const caps = spec().process.capabilities;
  for (const set of ['bounding', 'effective', 'permitted']) assert.deepEqual(caps[set], DOCKER_DEFAULT_CAPS, set);
  assert.equal(caps.bounding!.length, 14);
  assert.ok(!caps.bounding!.includes('CAP_SYS_ADMIN'));
});

test('/proc and /sys paths are masked and read-only like docker\'s', () => {
  const { maskedPaths, readonlyPaths } = spec().linux;
  for (const p of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/acpi', '/sys/firmware']) {
    assert.ok(maskedPaths.includes(p), p);
  }
  assert.deepEqual([...readonlyPaths].sort(), ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
});

test('pid, ipc, uts, mount and network namespaces; no user namespace', () => {
  assert.deepEqual(spec().linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
});

test('process fields come from the input', () => {
  const s = spec();
  assert.deepEqual(s.process.args, ['sh', '-c', 'echo hi']);
  assert.deepEqual(s.process.env, ['PATH=/bin', 'HOSTNAME=abc']);
  assert.equal(s.process.cwd, '/work');
  assert.deepEqual(s.process.user, { uid: 1000, gid: 1000 });
  assert.deepEqual(spec({ user: { uid: 0, gid: 0, additionalGids: [10, 50], home: '/root' } }).process.user, { uid: 0, gid: 0, additionalGids: [10, 50] });
  assert.equal(s.hostname, 'abc');
  assert.equal(s.linux.cgroupsPath, 'berth-abc');
  assert.deepEqual(s.root, { path: '/var/lib/berth/abc/merged', readonly: false });
  assert.equal(spec({ readonlyRootfs: true }).root.readonly, true);
});

test('terminal flag and console size', () => {
  assert.equal(spec().process.terminal, false);
  assert.equal(spec({ consoleSize: [24, 80] }).process.consoleSize, undefined, 'no console size without a terminal');
  const tty = spec({ terminal: true, consoleSize: [24, 80] }).process;
  assert.equal(tty.terminal, true);
  assert.deepEqual(tty.consoleSize, { height: 24, width: 80 });
});

test('the standard filesystems and the engine\'s /etc files are mounted', () => {
  const mounts = spec().mounts;
  const byDest = new Map(mounts.map((m) => [m.destination, m]));
  assert.equal(byDest.get('/proc')?.type, 'proc');
  assert.equal(byDest.get('/dev/pts')?.type, 'devpts');
  assert.equal(byDest.get('/dev/shm')?.type, 'tmpfs');
  assert.equal(byDest.get('/dev/mqueue')?.type, 'mqueue');
  assert.ok(byDest.get('/sys')?.options.includes('ro'));
  for (const [dest, src] of [['/etc/hosts', '/data/abc/hosts'], ['/etc/hostname', '/data/abc/hostname'], ['/etc/resolv.conf', '/data/abc/resolv.conf']]) {
    assert.deepEqual(byDest.get(dest!), { destination: dest, type: 'bind', source: src, options: ['rbind', 'rprivate'] });
  }
  // Mounts are applied in order: /dev must come before /dev/pts and /dev/shm.
  const order = mounts.map((m) => m.destination);
  assert.ok(order.indexOf('/dev') < order.indexOf('/dev/pts') && order.indexOf('/dev') < order.indexOf('/dev/shm'));
});
