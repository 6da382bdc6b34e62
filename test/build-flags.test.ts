/**
 * The rest of `docker build`'s flags on the classic builder: the RUN steps' limits (what a step sees of them,
 * and bad values refused in `run`'s words), `--cache-from` with an image this daemon did not build, and the
 * flags dockerd takes for compatibility (`--compress`, `--disable-content-trust`) or refuses (`--squash`,
 * `--isolation`, `--security-opt`). From berth's CLI and the docker CLI (DOCKER_BUILDKIT=0).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

function context(dir: string, dockerfile: string, files: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** What the RUN steps printed, one block per step, between "Running in" and "Removed intermediate container". */
function runOutputs(stdout: string): string[] {
  return [...stdout.matchAll(/ ---> Running in [0-9a-f]{12}\n([\s\S]*?) ---> Removed intermediate container/g)].map((m) => m[1]!);
}

const DOCKER = { env: { DOCKER_BUILDKIT: '0' } };
const LIMITS = [
  'cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
  'cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo no-memsw',
  'cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us',
  'cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems',
  "df -k /dev/shm | tail -1 | awk '{print $2}'",
  'ulimit -n; ulimit -Hn',
].join('; ');

describe('build: RUN step limits, --cache-from, and the compatibility flags', () => {
  let d: TestDaemon;
  let limits: string;
  const parent = `/berth-build-test-${process.pid}`;
  before(async () => {
    d = await startDaemon({ busybox: true });
    limits = context(join(d.dir, 'limits'), `FROM busybox\nRUN ${LIMITS}\n`);
  });
  after(async () => {
    await teardown(d, [], { expectNone: true });
    // runc removes each step's own cgroup; the parent it made stays, as with dockerd.
    for (const ctrl of readdirSync('/sys/fs/cgroup')) {
      const dir = join('/sys/fs/cgroup', ctrl, parent);
      if (existsSync(dir)) rmdirSync(dir);
    }
  });

  const expected = (memsw: string) => [String(64 * 2 ** 20), memsw, '512', '50000', '25000', '0', '0', '32768', '1024', '2048'];
  const flags = ['--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', '--cpu-period', '50000', '--cpu-quota', '25000',
    '--cpuset-cpus', '0', '--cpuset-mems', '0', '--shm-size', '32m', '--ulimit', 'nofile=1024:2048'];
  const memsw = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ? String(128 * 2 ** 20) : 'no-memsw';

  test('every RUN step runs under --memory, --memory-swap, the CPU flags, --shm-size and --ulimit', async () => {
    const r = await d.berth(['build', '--no-cache', ...flags, limits]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(runOutputs(r.stdout)[0]!.split(/\s+/).filter(Boolean), expected(memsw));
    // Without them, the step has the defaults: no limit, docker's 64 MiB /dev/shm.
    const plain = await d.berth(['build', '--no-cache', limits]);
    const seen = runOutputs(plain.stdout)[0]!.split(/\s+/).filter(Boolean);
    assert.notEqual(seen[0], String(64 * 2 ** 20));
    assert.equal(seen[7], '65536');
  });

  test('the limits are not part of a step\'s cache key, as in dockerd', async () => {
    const dir = context(join(d.dir, 'cached'), 'FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /limit\n');
    assert.equal((await d.berth(['build', '-t', 'limited', '-m', '64m', dir])).code, 0);
    const again = await d.berth(['build', '-t', 'limited', dir]);
    assert.match(again.stdout, /Using cache/);
    assert.equal((await d.berth(['run', '--rm', 'limited', 'cat', '/limit'])).stdout, `${64 * 2 ** 20}\n`);
    assert.equal((await d.berth(['rmi', 'limited'])).code, 0);
  });

  test('--cgroup-parent puts every RUN step under the parent', async () => {
    const dir = context(join(d.dir, 'cgroup'), 'FROM busybox\nRUN grep :memory: /proc/self/cgroup\nRUN grep :pids: /proc/self/cgroup\n');
    const r = await d.berth(['build', '--no-cache', '--cgroup-parent', parent, dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [mem, pids] = runOutputs(r.stdout);
    assert.match(mem!, new RegExp(`^\\d+:memory:${parent}/[0-9a-f]{64}\\n$`));
    assert.match(pids!, new RegExp(`^\\d+:pids:${parent}/[0-9a-f]{64}\\n$`));
    assert.ok(existsSync(`/sys/fs/cgroup/memory${parent}`));
    assert.deepEqual(readdirSync(`/sys/fs/cgroup/memory${parent}`).filter((f) => /^[0-9a-f]{64}$/.test(f)), [], 'each step\'s own cgroup went with it');
  });

  test('a bad value is the CLI\'s usage error, as run\'s; one the daemon refuses fails at the first RUN step in run\'s words', async () => {
    const usage: [string[], string][] = [
      [['-m', '12x'], 'invalid argument "12x" for "-m, --memory" flag: invalid size: \'12x\''],
      [['--shm-size', 'lots'], 'invalid argument "lots" for "--shm-size" flag: invalid size: \'lots\''],
      [['--cpu-shares', 'many'], 'invalid argument "many" for "--cpu-shares" flag: strconv.ParseInt: parsing "many": invalid syntax'],
      [['--ulimit', 'nofile=2048:1024'], 'invalid argument "nofile=2048:1024" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 2048 > 1024'],
      [['--ulimit', 'bogus=1'], 'invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus'],
    ];
    for (const [args, message] of usage) {
      const r = await d.berth(['build', ...args, limits]);
      assert.equal(r.code, 125, args.join(' '));
      assert.equal(r.stderr.split('\n')[0], message);
      const run = await d.berth(['run', '--rm', ...args, 'busybox', 'true']);
      assert.equal(run.stderr.split('\n')[0], message, `run ${args.join(' ')} says the same`);
    }
    const daemon: [string[], string][] = [
      [['-m', '1k'], 'Minimum memory limit allowed is 6MB'],
      [['--memory-swap', '128m'], 'You should always set the Memory limit when using Memoryswap limit, see usage'],
      [['--cpuset-cpus', '999'], ''],
    ];
    for (const [args] of daemon) {
      const run = await d.berth(['run', '--rm', ...args, 'busybox', 'true']);
      const r = await d.berth(['build', '--no-cache', '-t', 'refused', ...args, limits]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stdout, /Step 2\/2 : RUN /);
      // The daemon's words for run, behind docker's "Error response from daemon: ".
      assert.equal(r.stderr, `ERROR: ${run.stderr.replace(/^berth: Error response from daemon: /, '').split('\n')[0]}\n`, args.join(' '));
    }
    assert.equal((await d.berth(['images', '-q', 'refused'])).stdout, '', 'nothing tagged');
  });

  test('--cache-from: a loaded image serves as the cache in a daemon that never built it', async () => {
    const dir = context(join(d.dir, 'cachefrom'), 'FROM busybox\nARG V=1\nRUN echo "run $V" > /run.txt\nCOPY a.txt /a.txt\nENV E=1\nRUN cat /a.txt /run.txt\n', { 'a.txt': 'from the context\n' });
    const built = await d.berth(['build', '-t', 'cached:1', dir]);
    assert.equal(built.code, 0, built.stdout + built.stderr);
    const archive = join(d.dir, 'cached.tar');
    // With its base: every test daemon makes a busybox of its own, and a step is cached only on the same parent.
    assert.equal((await d.berth(['save', '-o', archive, 'busybox', 'cached:1'])).code, 0);
    const id = (await d.berth(['inspect', '-f', '{{.Id}}', 'cached:1'])).stdout.trim();

    const fresh = await startDaemon({ busybox: true });
    try {
      assert.equal((await fresh.berth(['load', '-i', archive])).code, 0);
      // dockerd uses no image it did not build itself unless told to.
      const without = await fresh.berth(['build', '-t', 'again', dir]);
      assert.equal(without.code, 0, without.stderr);
      assert.doesNotMatch(without.stdout, /Using cache/);
      assert.equal((await fresh.berth(['rmi', 'again'])).code, 0);

      const r = await fresh.berth(['build', '--cache-from', 'cached:1', '--cache-from', 'nosuch:image', '-t', 'again', dir]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stdout.match(/ ---> Using cache/g)?.length, 5, r.stdout);
      assert.doesNotMatch(r.stdout, /Running in/, 'no step ran');
      assert.equal((await fresh.berth(['inspect', '-f', '{{.Id}}', 'again'])).stdout.trim(), id, 'the last step is the loaded image itself');
      assert.equal((await fresh.berth(['run', '--rm', 'again', 'cat', '/a.txt', '/run.txt'])).stdout, 'from the context\nrun 1\n');

      // Another build arg, or other files, is other history: the steps from there on run.
      const arg = await fresh.berth(['build', '--cache-from', 'cached:1', '--build-arg', 'V=2', dir]);
      assert.equal(arg.stdout.match(/ ---> Using cache/g)?.length, 1, arg.stdout);
      assert.match(arg.stdout, /run 2/);
      writeFileSync(join(dir, 'a.txt'), 'changed\n');
      const changed = await fresh.berth(['build', '--cache-from', 'cached:1', '-t', 'changed', dir]);
      assert.equal(changed.stdout.match(/ ---> Using cache/g)?.length, 2, changed.stdout);
      assert.equal((await fresh.berth(['run', '--rm', 'changed', 'cat', '/a.txt'])).stdout, 'changed\n');
      // The history names a COPY's content, as dockerd's classic builder does.
      const hist = await fresh.berth(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'changed']);
      assert.match(hist.stdout, /^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/a\.txt $/m);
      assert.match(hist.stdout, /^\|1 V=1 \/bin\/sh -c echo "run \$V" > \/run\.txt$/m, 'the build args a RUN saw');
    } finally {
      await teardown(fresh, [], { expectNone: true });
    }
  });

  test('--compress sends a gzipped context, --disable-content-trust is taken; --squash, --isolation, --security-opt refused in dockerd\'s words', async () => {
    const dir = context(join(d.dir, 'compress'), 'FROM busybox\nCOPY f /f\n', { f: 'x'.repeat(100_000) });
    const r = await d.berth(['build', '--compress', '--disable-content-trust', '-t', 'compressed', dir]);
    assert.equal(r.code, 0, r.stderr);
    const sent = /Sending build context to berth daemon +([\d.]+)(k?B)\n/.exec(r.stdout);
    assert.ok(sent && Number(sent[1]) * (sent[2] === 'kB' ? 1000 : 1) < 10_000, `${sent?.[0]}: gzipped`);
    assert.equal((await d.berth(['run', '--rm', 'compressed', 'wc', '-c', '/f'])).stdout.trim(), '100000 /f');
    assert.equal((await d.berth(['build', '--disable-content-trust=false', '-q', dir])).code, 0);
    assert.equal((await d.berth(['rmi', 'compressed'])).code, 0);

    const refused: [string[], string][] = [
      [['--squash'], 'squash is only supported with experimental mode'],
      [['--isolation', 'hyperv'], 'unsupported isolation: "hyperv"'],
      [['--security-opt', 'seccomp=unconfined'], 'security options are not supported on linux'],
    ];
    for (const [args, message] of refused) {
      const b = await d.berth(['build', ...args, dir]);
      assert.equal(b.code, 1, args.join(' '));
      assert.equal(b.stderr, `Error response from daemon: ${message}\n`);
      assert.doesNotMatch(b.stdout, /Step 1/);
    }
    assert.equal((await d.berth(['build', '-q', '--isolation', 'default', dir])).code, 0);
    const api = await d.api('POST', '/build?ulimits=notjson', '');
    assert.equal(api.status, 400);
    assert.match(JSON.parse(api.body).message, /^error reading ulimit settings: /);
  });

  test('DOCKER_BUILDKIT=0 docker build: the limits, --cgroup-parent, --cache-from, --compress and the refusals', { skip: !hasDocker }, async () => {
    const r = await d.docker(['build', '--no-cache', ...flags, limits], DOCKER);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(runOutputs(r.stdout)[0]!.split(/\s+/).filter(Boolean), expected(memsw));
    const cg = await d.docker(['build', '--no-cache', '--cgroup-parent', parent, context(join(d.dir, 'cg-docker'), 'FROM busybox\nRUN grep :memory: /proc/self/cgroup\n')], DOCKER);
    assert.match(runOutputs(cg.stdout)[0]!, new RegExp(`:memory:${parent}/[0-9a-f]{64}\\n$`));
    const low = await d.docker(['build', '--no-cache', '-m', '1k', limits], DOCKER);
    assert.equal(low.code, 1);
    assert.match(low.stderr, /Minimum memory limit allowed is 6MB\n$/);

    const dir = context(join(d.dir, 'cf-docker'), 'FROM busybox\nRUN echo one > /one\nENV A=1\n');
    assert.equal((await d.docker(['build', '--compress', '--disable-content-trust', '-t', 'cf:1', dir], DOCKER)).code, 0);
    const archive = join(d.dir, 'cf.tar');
    assert.equal((await d.docker(['save', '-o', archive, 'busybox', 'cf:1'])).code, 0);
    const fresh = await startDaemon({ busybox: true });
    try {
      assert.equal((await fresh.docker(['load', '-i', archive])).code, 0);
      const c = await fresh.docker(['build', '--cache-from', 'cf:1', dir], DOCKER);
      assert.equal(c.code, 0, c.stdout + c.stderr);
      assert.equal(c.stdout.match(/ ---> Using cache/g)?.length, 2, c.stdout);
    } finally {
      await teardown(fresh, [], { expectNone: true });
    }
    assert.equal((await d.docker(['rmi', 'cf:1'])).code, 0);

    const iso = await d.docker(['build', '--isolation', 'hyperv', dir], DOCKER);
    assert.equal(iso.code, 1);
    assert.match(iso.stderr, /Error response from daemon: unsupported isolation: "hyperv"\n$/);
    const sec = await d.docker(['build', '--security-opt', 'no-new-privileges', dir], DOCKER);
    assert.match(sec.stderr, /Error response from daemon: security options are not supported on linux\n$/);
    // The docker CLI refuses --squash itself, before sending anything, when the daemon says it is not experimental.
    const squash = await d.docker(['build', '--squash', dir], DOCKER);
    assert.equal(squash.code, 1);
    assert.match(squash.stderr, /"--squash" is only supported on a Docker daemon with experimental features enabled\n$/);
  });
});
