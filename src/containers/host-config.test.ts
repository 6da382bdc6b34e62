import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mergeHealthcheck, probeArgv } from './health.js';
import { checkRestartPolicy, updatedHostConfig } from './host-config.js';
import { cgroupResources, checkResources, parseCpuList } from './resources.js';
import { RestartManager } from './restart.js';
import { resolveInContainer } from '../common/rootpath.js';
import { defaultProfile, profileFromJson } from './seccomp.js';
import { containerCaps, parseSecurityOpts } from './security.js';
import type { ContainerRecord, HostConfig } from './types.js';

const hc = (extra: Record<string, unknown> = {}) => ({ AutoRemove: false, ...extra }) as unknown as HostConfig;

test('resources: docker defaults and the cgroup shape', () => {
  const h = hc({ Memory: 64 * 2 ** 20, NanoCpus: 1.5e9, PidsLimit: 0, CpusetCpus: '0' });
  checkResources(h);
  assert.equal(h.MemorySwap, 128 * 2 ** 20);
  assert.equal(h.ShmSize, 64 * 2 ** 20);
  assert.equal(h.PidsLimit, null, 'zero is unlimited');
  assert.deepEqual(cgroupResources(h), { memory: { limit: 64 * 2 ** 20, swap: 128 * 2 ** 20 }, cpu: { period: 100000, quota: 150000, cpus: '0' } });
  assert.throws(() => checkResources(hc({ Memory: 1024 })), /Minimum memory limit allowed is 6MB/);
  assert.deepEqual(parseCpuList('0-2,5'), [0, 1, 2, 5]);
  assert.equal(parseCpuList('2-1'), undefined);
});

test('capabilities as moby TweakCapabilities', () => {
  assert.ok(containerCaps(hc({ CapAdd: ['net_admin'] })).includes('CAP_NET_ADMIN'));
  assert.ok(!containerCaps(hc({ CapDrop: ['CHOWN'] })).includes('CAP_CHOWN'));
  assert.deepEqual(containerCaps(hc({ CapDrop: ['ALL'], CapAdd: ['CAP_KILL'] })), ['CAP_KILL']);
  assert.throws(() => containerCaps(hc({ CapAdd: ['WIZARD'] })), /unknown capability: "CAP_WIZARD"/);
  assert.deepEqual(parseSecurityOpts(['no-new-privileges:true', 'seccomp=unconfined']), { noNewPrivileges: true, seccomp: 'unconfined' });
  assert.throws(() => parseSecurityOpts(['nonsense']), /invalid --security-opt 1/);
});

test('seccomp: the default profile lifts groups with their capability; docker-format profiles resolve includes/excludes', () => {
  const names = (p: Record<string, unknown>) => (p.syscalls as { names: string[]; args?: unknown }[]).filter((r) => !r.args).flatMap((r) => r.names);
  assert.ok(names(defaultProfile(['CAP_CHOWN'])).includes('mount'));
  assert.ok(!names(defaultProfile(['CAP_SYS_ADMIN'])).includes('mount'));
  assert.ok(names(defaultProfile([])).includes('keyctl'));
  const p = profileFromJson(JSON.stringify({
    defaultAction: 'SCMP_ACT_ERRNO',
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64' }],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['arm_only'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
    ],
  }), ['CAP_CHOWN']);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  assert.deepEqual(names(p), ['read']);
  assert.throws(() => profileFromJson('{', []), /Decoding seccomp profile failed/);
});

test('restart policies: checks, the back-off, and who comes back at boot', () => {
  assert.deepEqual(checkRestartPolicy({ Name: '' }, false), { Name: 'no', MaximumRetryCount: 0 });
  assert.throws(() => checkRestartPolicy({ Name: 'always', MaximumRetryCount: 2 }, false), /only be used with 'on-failure'/);
  const scheduled: number[] = [];
  const rm = new RestartManager({ restart: async () => {} });
  rm.schedule = (_id, delay) => { scheduled.push(delay); };
  const rec = (policy: string, code: number, max = 0) => ({
    Id: 'x', RestartCount: 0, HostConfig: { RestartPolicy: { Name: policy, MaximumRetryCount: max } },
    State: { StartedAt: new Date().toISOString(), ExitCode: code, Status: 'exited', Restarting: false },
  }) as unknown as ContainerRecord;
  const c = rec('always', 0);
  for (let i = 0; i < 4; i++) rm.onExit(c);
  assert.deepEqual(scheduled, [100, 200, 400, 800]);
  assert.equal(c.RestartCount, 4);
  assert.equal(rm.onExit(rec('on-failure', 0)), undefined, 'a clean exit stays');
  const capped = rec('on-failure', 1, 1);
  capped.RestartCount = 1;
  assert.equal(rm.onExit(capped), undefined, 'the retry count is used up');
  const stopped = rec('unless-stopped', 1);
  stopped.HasBeenManuallyStopped = true; stopped.HasBeenStartedBefore = true;
  assert.equal(rm.atBoot(stopped), false);
  assert.equal(rm.atBoot({ ...stopped, HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } } } as unknown as ContainerRecord), true);
});

test('update keeps unset fields and refuses memory above the swap limit', () => {
  const cur = hc({ Memory: 64 * 2 ** 20, MemorySwap: 128 * 2 ** 20, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } });
  assert.equal(updatedHostConfig(cur, { CpuShares: 512, Memory: 0 }).hostConfig.Memory, 64 * 2 ** 20);
  assert.throws(() => updatedHostConfig(cur, { Memory: 256 * 2 ** 20 }), /smaller than already set memoryswap limit/);
  assert.throws(() => updatedHostConfig({ ...cur, AutoRemove: true }, { RestartPolicy: { Name: 'always' } }), /AutoRemove is enabled/);
});

test('health: the image check under the request, and probe argv', () => {
  assert.deepEqual(mergeHealthcheck({ Test: ['CMD-SHELL', 'img'], Interval: 5 }, { Retries: 2 }), { Test: ['CMD-SHELL', 'img'], Interval: 5, Timeout: 0, StartPeriod: 0, Retries: 2 });
  assert.deepEqual(probeArgv({ Test: ['CMD-SHELL', 'curl -f x'] }), ['/bin/sh', '-c', 'curl -f x']);
  assert.deepEqual(probeArgv({ Test: ['CMD', 'true'] }), ['true']);
  assert.equal(probeArgv({ Test: ['NONE'] }), undefined);
});

test('paths resolve inside the root: absolute links, .. and mounts', async () => {
  const root = mkdtempSync('/tmp/berth-rootpath-');
  try {
    mkdirSync(join(root, 'etc'));
    symlinkSync('/etc', join(root, 'abs'));
    symlinkSync('../../../../..', join(root, 'up'));
    const vol = mkdtempSync('/tmp/berth-vol-');
    assert.equal((await resolveInContainer(root, '/abs/passwd')).host, join(root, 'etc/passwd'));
    assert.equal((await resolveInContainer(root, '/up/etc')).host, join(root, 'etc'));
    assert.equal((await resolveInContainer(root, '/../../etc')).host, join(root, 'etc'));
    assert.deepEqual(await resolveInContainer(root, '/abs', { keepLast: true }), { host: join(root, 'abs'), inside: '/abs' });
    assert.equal((await resolveInContainer(root, '/data/x', { mounts: [{ destination: '/data', source: vol }] })).host, join(vol, 'x'));
    rmSync(vol, { recursive: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
