/**
 * Run flags that reach the kernel through the OCI spec: `--cgroup-parent`, `--annotation`, the per-device
 * block I/O limits, `--mac-address`, and `--gpus`, which berth refuses as a dockerd without NVIDIA's
 * toolkit does. Through berth and the docker CLI; bad values fail in docker's words and leave nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

/** A block device of this machine, as /sys/block names it: its /dev path and `major:minor`. */
function blockDevice(): { path: string; numbers: string } | undefined {
  for (const name of readdirSync('/sys/block')) {
    const path = `/dev/${name}`;
    if (!existsSync(path) || name.startsWith('zram')) continue;
    return { path, numbers: readFileSync(`/sys/block/${name}/dev`, 'utf8').trim() };
  }
  return undefined;
}

describe('run flags through the OCI spec', () => {
  let d: TestDaemon;
  const seen: string[] = [];
  const parent = `/berth-test-${process.pid}`;
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(async () => {
    await teardown(d, seen);
    // runc removes the container's own cgroup; the parent it made stays, as with dockerd.
    for (const ctrl of readdirSync('/sys/fs/cgroup')) {
      const dir = join('/sys/fs/cgroup', ctrl, parent);
      if (existsSync(dir)) rmdirSync(dir);
    }
  });

  test('--cgroup-parent puts the container under the parent; stats reads it there; rm removes it', async () => {
    const run = await d.berth(['run', '-d', '--cgroup-parent', parent, 'busybox', 'sleep', '300']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    seen.push(id);
    const cg = await d.berth(['exec', id, 'cat', '/proc/self/cgroup']);
    assert.match(cg.stdout, new RegExp(`:memory:${parent}/${id}\\n`));
    assert.ok(existsSync(`/sys/fs/cgroup/memory${parent}/${id}`));
    const stats = await d.berth(['stats', '--no-stream', '--format', '{{.MemUsage}} {{.PIDs}}', id]);
    assert.match(stats.stdout, /^[1-9][\d.]*[KMG]iB \/ .* 1\n$/, 'memory and PIDs come from the cgroup under the parent');
    assert.equal((await d.berth(['inspect', '-f', '{{.HostConfig.CgroupParent}}', id])).stdout, `${parent}\n`);
    assert.equal((await d.berth(['rm', '-f', id])).code, 0);
    assert.equal(existsSync(`/sys/fs/cgroup/memory${parent}/${id}`), false);
  });

  test('--annotation reaches the runtime and inspect', async () => {
    const run = await d.berth(['run', '-d', '--annotation', 'org.example.team=infra', '--annotation', 'empty', 'busybox', 'sleep', '300']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    seen.push(id);
    assert.deepEqual(JSON.parse((await d.berth(['inspect', '-f', '{{json .HostConfig.Annotations}}', id])).stdout), { 'org.example.team': 'infra', empty: '' });
    // What runc itself reports of the container (berth keeps runc's state under its exec root).
    const state = JSON.parse(execFileSync('runc', ['--root', join(d.execRoot, 'runc'), 'state', id], { encoding: 'utf8' })) as { annotations?: Record<string, string> };
    assert.equal(state.annotations?.['org.example.team'], 'infra');
    assert.equal((await d.berth(['rm', '-f', id])).code, 0);
  });

  test('--device-read-bps and the IOPS limits write the blkio throttle files; a missing or non-block device is refused', async (t) => {
    const dev = blockDevice();
    if (!dev) return t.skip('no block device on this machine');
    const files = '/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device';
    const r = await d.berth(['run', '--rm', '--device-read-bps', `${dev.path}:1mb`, '--device-write-iops', `${dev.path}:100`, 'busybox', 'sh', '-c', `cat ${files}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${dev.numbers} 1048576\n${dev.numbers} 100\n`);
    if (hasDocker) {
      const viaDocker = await d.docker(['run', '--rm', '--device-write-bps', `${dev.path}:2kb`, 'busybox', 'cat', '/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device']);
      assert.equal(viaDocker.stdout, `${dev.numbers} 2048\n`, viaDocker.stderr);
    }
    const before = (await d.berth(['ps', '-aq'])).stdout;
    const missing = await d.berth(['run', '--rm', '--device-read-bps', '/dev/berth-nope:1mb', 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /could not parse device \/dev\/berth-nope: no such file or directory/);
    const chr = await d.berth(['run', '--rm', '--device-read-iops', '/dev/null:5', 'busybox', 'true']);
    assert.match(chr.stderr, /\/dev\/null: not a block device/);
    assert.equal((await d.berth(['ps', '-aq'])).stdout, before, 'the refused creates left no container');
  });

  test('--blkio-weight-device: applied, or dropped with dockerd\'s warning where the kernel has no weight files', async (t) => {
    const dev = blockDevice();
    if (!dev) return t.skip('no block device on this machine');
    const v1 = '/sys/fs/cgroup/blkio';
    const supported = !existsSync(v1) || ['blkio.weight_device', 'blkio.bfq.weight_device'].some((f) => existsSync(join(v1, f)));
    const r = await d.berth(['run', '--rm', '--blkio-weight-device', `${dev.path}:300`, 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    if (supported) assert.equal(r.stderr, '');
    else assert.equal(r.stderr, 'WARNING: Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.\n');
    if (hasDocker && !supported) {
      const viaDocker = await d.docker(['run', '--rm', '--blkio-weight-device', `${dev.path}:300`, 'busybox', 'true']);
      assert.equal(viaDocker.stderr, r.stderr, 'the docker CLI prints the same warning');
    }
  });

  test('bad device, link and add-host flags fail as the docker CLI fails them', async () => {
    const cases: [string, string, string][] = [
      ['--device-read-bps', 'bad', 'bad format: bad'],
      ['--device-read-bps', 'sda:1', 'bad format for device path: sda:1'],
      ['--device-write-bps', '/dev/sda:zz', 'invalid rate for device: /dev/sda:zz. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb'],
      ['--device-read-iops', '/dev/sda:1k', 'invalid rate for device: /dev/sda:1k. The correct format is <device-path>:<number>. Number must be a positive integer'],
      ['--blkio-weight-device', '/dev/sda:5', 'invalid weight for device: /dev/sda:5'],
      ['--gpus', 'bad=1', "unexpected key 'bad' in 'bad=1'"],
      ['--link', 'a:b:c', 'bad format for links: a:b:c'],
      ['--add-host', 'bad', 'bad format for add-host: "bad"'],
      ['--add-host', 'x:notip', 'invalid IP address in add-host: "notip"'],
    ];
    for (const [flag, value, why] of cases) {
      const r = await d.berth(['run', flag, value, 'busybox', 'true']);
      assert.equal(r.code, 125, `${flag} ${value}`);
      assert.equal(r.stderr.split('\n')[0], `invalid argument "${value}" for "${flag}" flag: ${why}`);
      if (hasDocker) assert.equal((await d.docker(['run', flag, value, 'busybox', 'true'])).stderr.split('\n')[0], r.stderr.split('\n')[0]);
    }
    const v6 = await d.berth(['run', '--rm', '--add-host', 'v6:[::1]', 'busybox', 'grep', 'v6', '/etc/hosts']);
    assert.equal(v6.stdout, '::1\tv6\n', 'the brackets go, as the docker CLI takes them off');
    const mac = await d.berth(['run', '--mac-address', 'zz', 'busybox', 'true']);
    assert.deepEqual([mac.code, mac.stderr.split('\n')[0]], [125, 'berth: zz is not a valid mac address']);
  });

  test('--gpus is refused in dockerd\'s words, before anything is created', async () => {
    const before = (await d.berth(['ps', '-aq'])).stdout;
    const r = await d.berth(['run', '--rm', '--gpus', 'all', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /could not select device driver "" with capabilities: \[\[gpu\]\]/);
    if (hasDocker) {
      const viaDocker = await d.docker(['run', '--rm', '--gpus', '2', 'busybox', 'true']);
      assert.equal(viaDocker.code, 125);
      assert.match(viaDocker.stderr, /could not select device driver "" with capabilities: \[\[gpu\]\]/);
    }
    assert.equal((await d.berth(['ps', '-aq'])).stdout, before);
  });

  test('--mac-address sets eth0\'s address, shows in inspect, and stays while the container is stopped', async () => {
    const r = await d.berth(['run', '--rm', '--mac-address', '02:42:0A:00:00:99', 'busybox', 'cat', '/sys/class/net/eth0/address']);
    assert.deepEqual([r.code, r.stdout], [0, '02:42:0a:00:00:99\n'], r.stderr);
    const net = `mac-${process.pid}`;
    assert.equal((await d.berth(['network', 'create', '--subnet', d.subnet(9), net])).code, 0);
    try {
      const c = await d.berth(['create', '--network', net, '--mac-address', '02:42:0a:00:00:98', 'busybox', 'cat', '/sys/class/net/eth0/address']);
      assert.equal(c.code, 0, c.stderr);
      const id = c.stdout.trim();
      seen.push(id);
      const mac = ['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").MacAddress}}`, id];
      assert.equal((await d.berth(mac)).stdout, '02:42:0a:00:00:98\n', 'created: the configured address');
      assert.equal((await d.berth(['start', '-a', id])).stdout, '02:42:0a:00:00:98\n');
      assert.equal((await d.berth(mac)).stdout, '02:42:0a:00:00:98\n', 'stopped: still configured');
      assert.equal((await d.berth(['start', '-a', id])).stdout, '02:42:0a:00:00:98\n', 'a restart gets it again');
      assert.equal((await d.berth(['rm', id])).code, 0);
      if (hasDocker) {
        const viaDocker = await d.docker(['run', '--rm', '--network', net, '--mac-address', '02:42:0a:00:00:97', 'busybox', 'cat', '/sys/class/net/eth0/address']);
        assert.equal(viaDocker.stdout, '02:42:0a:00:00:97\n', viaDocker.stderr);
      }
      const bad = await d.api('POST', '/containers/create', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: { bridge: { MacAddress: 'nope' } } } });
      assert.deepEqual([bad.status, JSON.parse(bad.body).message], [400, 'invalid MAC address nope']);
    } finally {
      await d.berth(['network', 'rm', net]);
    }
  });

  test('--link: the alias in /etc/hosts and ALIAS_* variables on the default bridge, answered by DNS on a user network', async () => {
    const db = await d.berth(['run', '-d', '--name', 'linkdb', '-e', 'SECRET=s3', '--expose', '5432', 'busybox', 'sleep', '300']);
    assert.equal(db.code, 0, db.stderr);
    seen.push(db.stdout.trim());
    const ip = (await d.berth(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'linkdb'])).stdout.trim();
    const short = db.stdout.trim().slice(0, 12);
    const web = await d.berth(['run', '--rm', '--name', 'linkweb', '--link', 'linkdb:my-db', 'busybox', 'sh', '-c', 'grep my-db /etc/hosts; env | grep ^MY_DB | sort']);
    assert.equal(web.code, 0, web.stderr);
    assert.equal(web.stdout, [
      `${ip}\tmy-db ${short} linkdb`,
      'MY_DB_ENV_SECRET=s3', 'MY_DB_NAME=/linkweb/my-db', `MY_DB_PORT=tcp://${ip}:5432`,
      `MY_DB_PORT_5432_TCP=tcp://${ip}:5432`, `MY_DB_PORT_5432_TCP_ADDR=${ip}`, 'MY_DB_PORT_5432_TCP_PORT=5432', 'MY_DB_PORT_5432_TCP_PROTO=tcp', '',
    ].join('\n'));
    if (hasDocker) {
      const viaDocker = await d.docker(['run', '--rm', '--link', 'linkdb', 'busybox', 'sh', '-c', 'grep -w linkdb /etc/hosts']);
      assert.equal(viaDocker.stdout, `${ip}\tlinkdb ${short}\n`, viaDocker.stderr);
    }
    const created = await d.berth(['create', '--name', 'linkw2', '--link', 'linkdb', 'busybox', 'true']);
    seen.push(created.stdout.trim());
    assert.equal((await d.berth(['inspect', '-f', '{{json .HostConfig.Links}}', 'linkw2'])).stdout, '["/linkdb:/linkw2/linkdb"]\n');
    const missing = await d.berth(['run', '--rm', '--link', 'nope', 'busybox', 'true']);
    assert.deepEqual([missing.code, missing.stderr.split('\n')[0]], [125, 'berth: Error response from daemon: could not get container for nope: No such container: nope']);
    const net = `link-${process.pid}`;
    assert.equal((await d.berth(['network', 'create', '--subnet', d.subnet(10), net])).code, 0);
    try {
      assert.equal((await d.berth(['network', 'connect', net, 'linkdb'])).code, 0);
      const netIp = (await d.berth(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, 'linkdb'])).stdout.trim();
      const linked = await d.berth(['run', '--rm', '--network', net, '--link', 'linkdb:alias1', 'busybox', 'nslookup', 'alias1']);
      assert.match(linked.stdout, new RegExp(`Address: ${netIp.replace(/\./g, '\\.')}\n`), linked.stderr);
      const other = await d.berth(['run', '--rm', '--network', net, 'busybox', 'nslookup', 'alias1']);
      assert.notEqual(other.code, 0, 'the alias is the linking container\'s alone');
      assert.equal((await d.berth(['stop', '-t', '0', 'linkdb'])).code, 0);
      const stopped = await d.berth(['start', '-a', 'linkw2']);
      assert.equal(stopped.code, 1);
      assert.match(stopped.stderr, /Cannot link to a non running container: \/linkdb AS \/linkw2\/linkdb/);
      // rm --link: the parent forgets it, and starts without the stopped target.
      const unlinked = await d.berth(['rm', '--link', '/linkw2/linkdb']);
      assert.deepEqual([unlinked.code, unlinked.stdout], [0, '/linkw2/linkdb\n'], unlinked.stderr);
      assert.equal((await d.berth(['inspect', '-f', '{{json .HostConfig.Links}}', 'linkw2'])).stdout, 'null\n');
      assert.equal((await d.berth(['start', '-a', 'linkw2'])).code, 0);
      const again = await d.berth(['rm', '--link', 'linkw2/linkdb']);
      assert.deepEqual([again.code, again.stderr], [1, 'Error response from daemon: No such container: linkw2/linkdb\n']);
      const own = await d.berth(['rm', '--link', 'linkdb']);
      assert.deepEqual([own.code, own.stderr], [1, 'Error response from daemon: Conflict, cannot remove the default link name of the container\n']);
      if (hasDocker) {
        assert.equal((await d.berth(['create', '--name', 'linkw3', '--link', 'linkdb:x', 'busybox', 'true'])).code, 0);
        const viaDocker = await d.docker(['rm', '--link', 'linkw3/x']);
        assert.deepEqual([viaDocker.code, viaDocker.stdout], [0, 'linkw3/x\n'], viaDocker.stderr);
        await d.berth(['rm', 'linkw3']);
      }
    } finally {
      await d.berth(['rm', '-f', 'linkdb', 'linkw2']);
      await d.berth(['network', 'rm', net]);
    }
  });

  test('--device-cgroup-rule opens a device the default rules deny', async () => {
    // 1:2 (the old /dev/kmem) is outside docker's default allow list: the cgroup says EPERM; allowed, the kernel says ENXIO.
    const script = 'mknod /tmp/n c 1 2 && cat /tmp/n';
    const denied = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', script]);
    assert.match(denied.stderr, /Operation not permitted/);
    const allowed = await d.berth(['run', '--rm', '--device-cgroup-rule', 'c 1:2 r', 'busybox', 'sh', '-c', script]);
    assert.doesNotMatch(allowed.stderr, /Operation not permitted/);
    assert.match(allowed.stderr, /No such device or address/);
    const bad = await d.berth(['run', '--rm', '--device-cgroup-rule', 'x 1:2 r', 'busybox', 'true']);
    assert.deepEqual([bad.code, bad.stderr.split('\n')[0]], [125, `invalid argument "x 1:2 r" for "--device-cgroup-rule" flag: invalid device cgroup format 'x 1:2 r'`]);
    const api = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { DeviceCgroupRules: ['c 1:2 rx'] } });
    assert.deepEqual([api.status, JSON.parse(api.body).message], [400, "invalid device cgroup rule format: 'c 1:2 rx'"]);
  });

  test('flags for other hosts or features berth lacks: refused in dockerd\'s words, or taken as docker 28 takes them', async () => {
    const before = (await d.berth(['ps', '-aq'])).stdout;
    const refused: [string[], string][] = [
      [['--isolation', 'hyperv'], 'Invalid isolation: "hyperv" - linux only supports \'default\''],
      [['--storage-opt', 'size=1G'], "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"],
      [['--volume-driver', 'nfs', '-v', 'data:/data'], 'error looking up volume plugin nfs: plugin "nfs" not found'],
      [['--cpu-rt-runtime', '2000', '--cpu-rt-period', '1000'], 'cpu-rt-runtime cannot be higher than cpu-rt-period'],
      [['--ip6', 'fd00::5'], "berth's networks are IPv4 only: --ip6 is not supported"],
    ];
    for (const [flags, why] of refused) {
      const r = await d.berth(['run', '--rm', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, flags.join(' '));
      assert.equal(r.stderr.split('\n')[0], `berth: Error response from daemon: ${why}`);
      if (hasDocker) assert.equal((await d.docker(['run', '--rm', ...flags, 'busybox', 'true'])).stderr.split('\n')[0], `docker: Error response from daemon: ${why}`);
    }
    assert.equal((await d.berth(['ps', '-aq'])).stdout, before, 'nothing was created');
    // Accepted: the default isolation, a volume driver with no volume to make, and the flags docker 28 itself drops.
    const ok = await d.berth(['run', '--rm', '--isolation', 'default', '--volume-driver', 'nfs', '--kernel-memory', '10m', '--disable-content-trust=false', 'busybox', 'true']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('--use-api-socket mounts the daemon\'s socket, and the container can talk to it', async () => {
    const r = await d.berth(['run', '--rm', '--use-api-socket', 'busybox', 'test', '-S', '/var/run/docker.sock']);
    assert.equal(r.code, 0, r.stderr);
    if (hasDocker) assert.equal((await d.docker(['run', '--rm', '--use-api-socket', 'busybox', 'test', '-S', '/var/run/docker.sock'])).code, 0);
    const tcp = await d.berth(['-H', 'tcp://127.0.0.1:1', 'run', '--rm', '--use-api-socket', 'busybox', 'true']);
    assert.equal(tcp.stderr.split('\n')[0], 'berth: flag --use-api-socket can only be used with unix sockets: docker endpoint tcp://127.0.0.1:1 incompatible');
  });

  test('inspect shows every HostConfig field docker has, so a template on one the client never sent works', async () => {
    const made = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(made.status, 201, made.body);
    const id = (JSON.parse(made.body) as { Id: string }).Id;
    seen.push(id);
    const r = await d.berth(['inspect', '-f', '{{.HostConfig.Dns}}|{{.HostConfig.CgroupParent}}|{{.HostConfig.PidMode}}|{{json .HostConfig.DeviceRequests}}', id]);
    assert.deepEqual([r.code, r.stdout], [0, '[]|||null\n'], r.stderr);
    const missing = await d.berth(['inspect', '-f', '{{.HostConfig.Nope}}', id]);
    assert.match(missing.stderr, /map has no entry for key "Nope"/);
    assert.equal((await d.berth(['rm', id])).code, 0);
  });

  test('network connect --link: the alias answers for the connected container, on the network it was made on, and after a restart', async () => {
    const [a, b] = [`lka-${process.pid}`, `lkb-${process.pid}`];
    assert.equal((await d.berth(['network', 'create', '--subnet', d.subnet(11), a])).code, 0);
    assert.equal((await d.berth(['network', 'create', '--subnet', d.subnet(12), b])).code, 0);
    try {
      seen.push((await d.berth(['run', '-d', '--name', 'cl-db', '--network', a, 'busybox', 'sleep', '300'])).stdout.trim());
      seen.push((await d.berth(['run', '-d', '--name', 'cl-web', '--network', b, 'busybox', 'sleep', '300'])).stdout.trim());
      const r = await d.berth(['network', 'connect', '--link', 'cl-db:store', a, 'cl-web']);
      assert.equal(r.code, 0, r.stderr);
      const ip = (await d.berth(['inspect', '-f', `{{(index .NetworkSettings.Networks "${a}").IPAddress}}`, 'cl-db'])).stdout.trim();
      const looked = async () => (await d.berth(['exec', 'cl-web', 'nslookup', 'store'])).stdout;
      assert.match(await looked(), new RegExp(`Address: ${ip.replace(/\./g, '\\.')}\n`));
      assert.equal((await d.berth(['inspect', '-f', `{{json (index .NetworkSettings.Networks "${a}").Links}}`, 'cl-web'])).stdout, '["cl-db:store"]\n');
      assert.equal((await d.berth(['restart', '-t', '0', 'cl-web'])).code, 0);
      assert.match(await looked(), new RegExp(`Address: ${ip.replace(/\./g, '\\.')}\n`), 'kept across a restart');
      seen.push((await d.berth(['run', '-d', '--name', 'cl-x', '--network', b, 'busybox', 'sleep', '300'])).stdout.trim());
      const missing = await d.berth(['network', 'connect', '--link', 'nope:x', a, 'cl-x']);
      assert.deepEqual([missing.code, missing.stderr], [1, 'Error response from daemon: could not get container for nope: No such container: nope\n']);
      assert.doesNotMatch((await d.berth(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'cl-x'])).stdout, new RegExp(a), 'the refused connect left no endpoint');
    } finally {
      await d.berth(['rm', '-f', 'cl-db', 'cl-web', 'cl-x']);
      await d.berth(['network', 'rm', a, b]);
    }
  });
});
