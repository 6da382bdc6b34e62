/** Resource limits: each set through the cgroup (v1 here) or rlimits, shown in inspect, and proven from inside. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

describe('resource limits', () => {
  let d: TestDaemon;
  const seen: string[] = [];
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, seen));

  const inspect = async (ref: string) => JSON.parse((await d.berth(['inspect', ref])).stdout)[0] as {
    Id: string; State: { OOMKilled: boolean; ExitCode: number }; HostConfig: Record<string, unknown>;
  };

  test('a memory hog is OOM-killed: exit 137, State.OOMKilled', async () => {
    const r = await d.berth(['run', '--name', 'hog', '--memory', '32m', 'busybox', 'tail', '/dev/zero']);
    assert.equal(r.code, 137, r.stderr);
    const c = await inspect('hog');
    seen.push(c.Id);
    assert.equal(c.State.OOMKilled, true);
    assert.equal(c.HostConfig.Memory, 32 * 2 ** 20);
    assert.equal(c.HostConfig.MemorySwap, 64 * 2 ** 20, 'docker sets swap to twice the memory by default');
    const calm = await d.berth(['run', '--name', 'calm', '--memory', '32m', 'busybox', 'true']);
    assert.equal(calm.code, 0);
    assert.equal((await inspect('calm')).State.OOMKilled, false);
    await d.berth(['rm', 'hog', 'calm']);
  });

  test('memory, swap, cpus, shares, cpuset and pids limits in the cgroup, seen from inside and from the host', async () => {
    const files = ['memory/memory.limit_in_bytes', 'memory/memory.memsw.limit_in_bytes', 'cpu/cpu.cfs_quota_us', 'cpu/cpu.cfs_period_us',
      'cpu/cpu.shares', 'cpuset/cpuset.cpus', 'pids/pids.max'];
    const r = await d.berth(['run', '-d', '--name', 'lim', '--memory', '64m', '--memory-swap', '96m', '--cpus', '0.5', '--cpu-shares', '512',
      '--cpuset-cpus', '0', '--pids-limit', '20', 'busybox', 'sleep', '60']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    seen.push(id);
    const inside = await d.berth(['exec', 'lim', 'cat', ...files.map((f) => `/sys/fs/cgroup/${f}`)]);
    const want = [String(64 * 2 ** 20), String(96 * 2 ** 20), '50000', '100000', '512', '0', '20'];
    assert.deepEqual(inside.stdout.trim().split('\n'), want, inside.stderr);
    const host = files.map((f) => { const [ctrl, file] = f.split('/'); return readFileSync(`/sys/fs/cgroup/${ctrl}/berth/${id}/${file}`, 'utf8').trim(); });
    assert.deepEqual(host, want);
    const hc = (await inspect('lim')).HostConfig;
    assert.deepEqual({ Memory: hc.Memory, MemorySwap: hc.MemorySwap, NanoCpus: hc.NanoCpus, CpuShares: hc.CpuShares, CpusetCpus: hc.CpusetCpus, PidsLimit: hc.PidsLimit },
      { Memory: 64 * 2 ** 20, MemorySwap: 96 * 2 ** 20, NanoCpus: 5e8, CpuShares: 512, CpusetCpus: '0', PidsLimit: 20 });
    await d.berth(['rm', '-f', 'lim']);
  });

  test('a fork bomb stops at --pids-limit', async () => {
    // busybox sh gives up at the first fork that fails: the shell and 7 sleeps make 8.
    const r = await d.berth(['run', '--rm', '--pids-limit', '8', 'busybox', 'sh', '-c',
      'i=0; while [ $i -lt 20 ]; do echo $i; sleep 30 & i=$((i+1)); done']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /can't fork: Resource temporarily unavailable/);
    assert.equal(r.stdout.trim().split('\n').at(-1), '7');
  });

  test('--ulimit sets rlimits, bounded by the host hard limit with a clear error', async () => {
    const r = await d.berth(['run', '--rm', '--ulimit', 'nofile=1024:2048', '--ulimit', 'nproc=500', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -u']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['1024', '2048', '500']);
    const big = await d.berth(['run', '--rm', '--ulimit', 'nofile=30000', 'busybox', 'true']);
    assert.equal(big.code, 125);
    assert.match(big.stderr, /ulimit nofile: the hard limit 30000 is above the host's hard limit 20000/);
    const swapped = await d.berth(['run', '--rm', '--ulimit', 'nofile=20:10', 'busybox', 'true']);
    assert.equal(swapped.code, 125);
    assert.match(swapped.stderr, /soft limit must be less than or equal to hard limit: 20 > 10/);
    const c = await d.berth(['create', '--name', 'ul', '--ulimit', 'nofile=100:200', 'busybox', 'true']);
    seen.push(c.stdout.trim());
    assert.deepEqual((await inspect('ul')).HostConfig.Ulimits, [{ Name: 'nofile', Soft: 100, Hard: 200 }]);
    await d.berth(['rm', 'ul']);
  });

  test('--shm-size sizes the /dev/shm tmpfs (64 MiB by default)', async () => {
    const def = await d.berth(['run', '--rm', 'busybox', 'df', '-k', '/dev/shm']);
    assert.match(def.stdout, /\s65536\s/);
    const r = await d.berth(['run', '--rm', '--shm-size', '16m', 'busybox', 'df', '-k', '/dev/shm']);
    assert.match(r.stdout, /\s16384\s/, r.stdout);
  });

  test('limits out of range are refused with docker\'s messages, and nothing is created', async () => {
    const cases: [string[], RegExp][] = [
      [['--memory', '1k'], /Minimum memory limit allowed is 6MB/],
      [['--memory', '20m', '--memory-swap', '10m'], /Minimum memoryswap limit should be larger than memory limit/],
      [['--memory-swap', '100m'], /You should always set the Memory limit when using Memoryswap limit/],
      [['--cpus', '64'], /Range of CPUs is from 0.01 to \d+\.00, as there are only \d+ CPUs available/],
      [['--cpuset-cpus', '63'], /Requested CPUs are not available - requested 63, available: /],
      [['--cpuset-cpus', 'x-y'], /Invalid value x-y for cpuset cpus/],
    ];
    for (const [flags, msg] of cases) {
      const r = await d.berth(['run', '--rm', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, flags.join(' '));
      assert.match(r.stderr, msg);
    }
    assert.equal((await d.berth(['ps', '-aq'])).stdout.trim(), '');
  });

  test('the docker CLI sets the same limits', { skip: !hasDocker }, async () => {
    const r = await d.docker(['run', '--rm', '--memory', '48m', '--pids-limit', '30', '--ulimit', 'nofile=512:1024', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; ulimit -n']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [String(48 * 2 ** 20), '30', '512']);
  });
});
