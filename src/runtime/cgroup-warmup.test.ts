import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cgroupProcsCandidates, holdCgroupAttachWarm } from './cgroup-warmup.js';

test('a hybrid layout tries the unified hierarchy first, then each v1 controller', () => {
  const text = '9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n';
  assert.deepEqual(cgroupProcsCandidates(text), [
    '/sys/fs/cgroup/unified/cgroup.procs',
    '/sys/fs/cgroup/cgroup.procs',
    '/sys/fs/cgroup/systemd/cgroup.procs',
    '/sys/fs/cgroup/memory/process_api/abc/cgroup.procs',
    '/sys/fs/cgroup/cpu,cpuacct/x/cgroup.procs',
  ]);
});

test('v2 alone: the unified path under /sys/fs/cgroup, with colons in it kept', () => {
  assert.deepEqual(cgroupProcsCandidates('0::/system.slice/a:b.service\n'), [
    '/sys/fs/cgroup/unified/system.slice/a:b.service/cgroup.procs',
    '/sys/fs/cgroup/system.slice/a:b.service/cgroup.procs',
  ]);
});

test('the warm-up loop stops once every holder has let go, and leaves the process in its cgroup', async () => {
  const before = readFileSync('/proc/self/cgroup', 'utf8');
  // The loop's sleep is a Timeout and its write a file request: either shows while it runs.
  const busy = () => process.getActiveResourcesInfo().length;
  const idle = busy();
  const a = holdCgroupAttachWarm();
  const b = holdCgroupAttachWarm();
  await new Promise((r) => setTimeout(r, 30));
  a();
  a(); // twice is once
  await new Promise((r) => setTimeout(r, 30));
  assert.ok(busy() > idle, 'one holder left: the loop goes on');
  b();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(busy(), idle);
  assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), before);
});
