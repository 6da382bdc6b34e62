/** `berth compare`: one workload as a container and as a VM, measured side by side. */
import assert from 'node:assert/strict';
import { release } from 'node:os';
import { after, before, test } from 'node:test';
import { startDaemon, teardown, type TestDaemon } from './harness.js';

let d: TestDaemon;
before(async () => { d = await startDaemon({ busybox: true }); });
after(() => teardown(d, [], { expectNone: true }));

test('compare runs both ways and reports kernels, times, memory and storage', { timeout: 180_000 }, async () => {
  const r = await d.berth(['compare', '--json', 'busybox', 'sh', '-c', 'echo hi; exit 4'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout) as { hostKernel: string; sides: { runtime: string; exitCode: number; kernel: string; output: string; firstOutputMs: number; exitMs: number; storage: Record<string, number>; peakMemoryBytes: number | null }[] };
  assert.equal(c.hostKernel, release());
  const [ctr, vm] = c.sides;
  assert.equal(ctr!.runtime, 'oci');
  assert.equal(vm!.runtime, 'vm');
  for (const s of [ctr!, vm!]) {
    assert.equal(s.exitCode, 4);
    assert.equal(s.output, 'hi\n');
    assert.ok(s.firstOutputMs > 0 && s.firstOutputMs <= s.exitMs);
    assert.ok(s.storage.imageCompressed! > 0 && s.storage.imageUnpacked! > s.storage.imageCompressed!);
  }
  assert.equal(ctr!.kernel, release(), 'a container sees the host kernel');
  assert.notEqual(vm!.kernel, release(), 'a VM boots its own');
  assert.ok(vm!.storage.kernel! > 1e6 && vm!.storage.initramfs! > 0 && vm!.storage.rootDisk! > 0);
  // Too short for the 50 ms sampling: the container's figure is its cgroup's high-water mark, read before runc delete.
  assert.ok((ctr!.peakMemoryBytes ?? 0) > 0, 'the container\'s peak memory is known even for a short run');
  assert.ok((vm!.peakMemoryBytes ?? 0) > (ctr!.peakMemoryBytes ?? 0), 'the VM holds more of the host\'s memory');
  const table = await d.berth(['compare', 'busybox', 'true'], { timeoutMs: 180_000 });
  assert.match(table.stdout, /kernel seen +\S+ \(the host's\) +\S+/);
});
