/**
 * Networks end to end, on real bridges, netns and CNI plugins: the default bridge, host and none
 * modes, published ports reached from the host and from another namespace, user networks with DNS
 * by name and isolation between them, teardown after removal, a daemon crash and many cycles.
 * Traffic stays on this machine, except the one egress test (apt-get update against Debian's mirror).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { get } from 'node:http';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { exec, networkLeftovers, settledLeftovers, startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';

/** The host's own address: the one on the interface of the default route. */
function hostIp(): string {
  const dev = / dev (\S+)/.exec(execFileSync('ip', ['-o', '-4', 'route', 'show', 'default'], { encoding: 'utf8' }))?.[1];
  const addr = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', dev ?? 'eth0'], { encoding: 'utf8' });
  return / inet (\d+\.\d+\.\d+\.\d+)\//.exec(addr)![1]!;
}

function fetchText(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout fetching ${host}:${port}`)));
    req.on('error', reject);
  });
}

const WEB = ['sh', '-c', 'echo "hello from $(hostname)" > /tmp/index.html; exec httpd -f -p 80 -h /tmp'];

/** Addresses an `nslookup` printed for the name (not the server's own line). */
function looked(out: string): string[] {
  return out.split('\n').filter((l) => /^Address( \d+)?:\s+\d+\.\d+\.\d+\.\d+$/.test(l.trim())).map((l) => l.trim().split(/\s+/).pop()!);
}

describe('networks', () => {
  let d: TestDaemon;
  const seen: string[] = [];
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, seen));

  const run = async (args: string[]) => {
    const r = await d.berth(['run', ...args]);
    return r;
  };
  const runD = async (args: string[]) => {
    const r = await d.berth(['run', '-d', ...args]);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    seen.push(id);
    return id;
  };
  const inspect = async (ref: string) => JSON.parse((await d.berth(['inspect', ref])).stdout)[0] as {
    Id: string; State: { Running: boolean }; NetworkSettings: Record<string, any>; Config: { Hostname: string };
  };

  test('the default bridge: own netns with loopback up, an address, a default route, /etc/hosts and resolv.conf', async () => {
    const r = await run(['--rm', '-h', 'boat', 'busybox', 'sh', '-c',
      'ip -o -4 addr show lo; ip -o -4 addr show eth0; ip route show default; cat /etc/hosts | tail -1; cat /etc/resolv.conf; cat /etc/hostname']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+: lo +inet 127\.0\.0\.1\/8 /, 'loopback is up, with its address');
    const prefix = d.subnet(0).replace(/0\/24$/, '');
    const ip = new RegExp(`inet (${prefix.replace(/\./g, '\\.')}\\d+)/24`).exec(r.stdout)?.[1];
    assert.ok(ip, r.stdout);
    assert.match(r.stdout, new RegExp(`default via ${prefix.replace(/\./g, '\\.')}1 dev eth0`));
    assert.match(r.stdout, new RegExp(`\n${ip}\tboat\n`));
    assert.match(r.stdout, /nameserver /);
    assert.doesNotMatch(r.stdout, /nameserver 127\./, 'no loopback resolvers');
    assert.match(r.stdout, /boat\n$/);
  });

  test('inspect shows NetworkSettings in docker\'s shape; stop releases netns, veth and lease', async () => {
    const id = await runD(['--name', 'shape', 'busybox', 'sleep', '60']);
    const c = await inspect(id);
    const ns = c.NetworkSettings;
    const net = ns.Networks.bridge;
    assert.match(ns.IPAddress, /^10\./);
    assert.equal(ns.IPPrefixLen, 24);
    assert.equal(ns.Gateway, d.subnet(0).replace(/0\/24$/, '1'));
    assert.match(ns.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.equal(net.IPAddress, ns.IPAddress);
    assert.equal(net.Gateway, ns.Gateway);
    assert.equal(net.MacAddress, ns.MacAddress);
    assert.match(net.NetworkID, /^[0-9a-f]{64}$/);
    assert.match(net.EndpointID, /^[0-9a-f]{64}$/);
    assert.ok(ns.SandboxKey.startsWith(`${d.execRoot}/netns/`), ns.SandboxKey);
    assert.ok(existsSync(ns.SandboxKey));
    assert.equal(networkLeftovers(d).veths.length, 1);
    const netInspect = JSON.parse((await d.berth(['network', 'inspect', 'bridge'])).stdout)[0];
    assert.equal(netInspect.Containers[id].IPv4Address, `${ns.IPAddress}/24`);
    assert.equal(netInspect.IPAM.Config[0].Subnet, d.subnet(0));
    assert.equal(netInspect.Options['com.docker.network.bridge.name'], d.bridge);

    assert.equal((await d.berth(['stop', '-t', '0', id])).code, 0);
    const stopped = await inspect(id);
    assert.equal(stopped.NetworkSettings.IPAddress, '');
    assert.equal(stopped.NetworkSettings.Networks.bridge.IPAddress, '');
    assert.deepEqual(networkLeftovers(d), { veths: [], netns: [], leases: [], rules: [] });
    assert.equal((await d.berth(['start', id])).code, 0, 'a stopped container starts again with a fresh address');
    assert.match((await inspect(id)).NetworkSettings.IPAddress, /^10\./);
    assert.equal((await d.berth(['rm', '-f', id])).code, 0);
    assert.deepEqual(networkLeftovers(d), { veths: [], netns: [], leases: [], rules: [] });
  });

  test('--network none has loopback only; --network host shares the host\'s', async () => {
    const none = await run(['--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net | sort | tr "\\n" " "']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'lo ');
    const host = await run(['--rm', '--network', 'host', 'busybox', 'sh', '-c', `ls /sys/class/net | grep -c '^${d.bridge}$'; hostname`]);
    assert.equal(host.code, 0, host.stderr);
    assert.equal(host.stdout, `1\n${execFileSync('hostname', { encoding: 'utf8' })}`);
  });

  test('-p HOST:CONTAINER answers on the host\'s loopback, its own address, and from another netns', async () => {
    const id = await runD(['--name', 'web', '-p', '18231:80', 'busybox', ...WEB]);
    const hostname = (await inspect(id)).Config.Hostname;
    const want = `hello from ${hostname}\n`;
    await waitFor(async () => (await fetchText('127.0.0.1', 18231).catch(() => '')) === want, 10_000, 'httpd');
    assert.equal(await fetchText(hostIp(), 18231), want);
    const other = await run(['--rm', 'busybox', 'wget', '-qO-', `http://${hostIp()}:18231/`]);
    assert.equal(other.stdout, want, other.stderr);
    const ps = await d.berth(['ps', '--filter', 'name=web']);
    assert.match(ps.stdout, /0\.0\.0\.0:18231->80\/tcp +web\n/);
    assert.equal((await d.berth(['port', 'web'])).stdout, '80/tcp -> 0.0.0.0:18231\n');
    assert.equal((await d.berth(['port', 'web', '80'])).stdout, '0.0.0.0:18231\n');

    const taken = await run(['--name', 'second', '-p', '18231:80', 'busybox', 'true']);
    assert.equal(taken.code, 125);
    assert.match(taken.stderr, /driver failed programming external connectivity on endpoint second \([0-9a-f]{12}\): Bind for 0\.0\.0\.0:18231 failed: port is already allocated/);
    const second = await inspect('second');
    assert.equal(second.State.Running, false, 'nothing started');
    assert.equal(networkLeftovers(d).netns.length, 1, 'only the web server holds a netns');
    await d.berth(['rm', '-f', 'web', 'second']);
    assert.deepEqual(networkLeftovers(d), { veths: [], netns: [], leases: [], rules: [] });
  });

  test('from beyond the host only published ports reach a container; other new connections are dropped in forwarding', async () => {
    // A machine on the LAN: a namespace behind a veth pair, routed through this host (as a LAN host with a route to it).
    const tag = `${process.pid % 100000}`;
    const [ns, hostEnd, lanEnd] = [`btlan${tag}`, `btlh${tag}`, `btll${tag}`];
    const net = `198.18.${process.pid % 250}`;
    const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    sh('ip', 'netns', 'add', ns);
    try {
      sh('ip', 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', lanEnd);
      sh('ip', 'link', 'set', lanEnd, 'netns', ns);
      sh('ip', 'addr', 'add', `${net}.1/30`, 'dev', hostEnd);
      sh('ip', 'link', 'set', hostEnd, 'up');
      sh('ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${net}.2/30`, 'dev', lanEnd);
      sh('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', lanEnd, 'up');
      sh('ip', 'netns', 'exec', ns, 'ip', 'route', 'add', 'default', 'via', `${net}.1`);
      const id = await runD(['--name', 'lanweb', '-p', '18235:80', 'busybox', ...WEB]);
      const ip = (await inspect(id)).NetworkSettings.IPAddress;
      const want = `hello from ${(await inspect(id)).Config.Hostname}\n`;
      await waitFor(async () => (await fetchText('127.0.0.1', 18235).catch(() => '')) === want, 10_000, 'httpd');
      const curl = (url: string) => { try { return sh('ip', 'netns', 'exec', ns, 'curl', '-sS', '-m', '3', url); } catch (e) { return `failed: ${(e as { stderr?: string }).stderr ?? e}`; } };
      assert.equal(curl(`http://${net}.1:18235/`), want, 'the published port, through the host\'s address');
      assert.match(curl(`http://${ip}:80/`), /^failed: .*(timed out|Connection refused|Couldn't connect)/i, 'the container\'s own address is not open to the LAN');
      await d.berth(['rm', '-f', 'lanweb']);
    } finally {
      try { sh('ip', 'netns', 'del', ns); } catch { /* gone */ }
      try { sh('ip', 'link', 'del', hostEnd); } catch { /* went with the namespace */ }
    }
  });

  test('a bridge name iptables would misread, or an interface that is no bridge, is refused and nothing is made', async () => {
    const plus = await d.berth(['network', 'create', '-o', 'com.docker.network.bridge.name=e+', 'wild']);
    assert.equal(plus.code, 1);
    assert.match(plus.stderr, /invalid bridge name "e\+"/);
    const lo = await d.berth(['network', 'create', '-o', 'com.docker.network.bridge.name=lo', 'loopy']);
    assert.equal(lo.code, 1);
    assert.match(lo.stderr, /bridge name lo is in use by a network interface that is not a bridge/);
    assert.doesNotMatch((await d.berth(['network', 'ls'])).stdout, /wild|loopy/);
  });

  test('-p CONTAINER, -p IP::CONTAINER and -P pick host ports that port, ps and inspect show', async () => {
    const id = await runD(['--name', 'random', '-p', '80', '-p', '127.0.0.1::80', '--expose', '81', '-P', 'busybox', ...WEB]);
    const ports = (await inspect(id)).NetworkSettings.Ports as Record<string, { HostIp: string; HostPort: string }[] | null>;
    const web = ports['80/tcp']!;
    assert.equal(web.length, 2);
    const any = web.find((b) => b.HostIp === '0.0.0.0')!;
    const local = web.find((b) => b.HostIp === '127.0.0.1')!;
    assert.ok(Number(any.HostPort) > 1024 && Number(local.HostPort) > 1024);
    assert.equal(ports['81/tcp']!.length, 1, '-P publishes the exposed port too');
    const listed = (await d.berth(['port', 'random'])).stdout;
    assert.match(listed, new RegExp(`80/tcp -> 0\\.0\\.0\\.0:${any.HostPort}\n`));
    assert.match(listed, new RegExp(`80/tcp -> 127\\.0\\.0\\.1:${local.HostPort}\n`));
    const ps = (await d.berth(['ps', '--filter', 'name=random'])).stdout;
    assert.match(ps, new RegExp(`0\\.0\\.0\\.0:${any.HostPort}->80/tcp`));
    await waitFor(async () => (await fetchText('127.0.0.1', Number(any.HostPort)).catch(() => '')).startsWith('hello'), 10_000, 'httpd');
    assert.match(await fetchText('127.0.0.1', Number(local.HostPort)), /^hello/);
    await assert.rejects(fetchText(hostIp(), Number(local.HostPort)), 'a port published on 127.0.0.1 is not on the host\'s other addresses');
    await d.berth(['rm', '-f', id]);
  });

  test('-p HOST:CONTAINER/udp forwards datagrams', async () => {
    // busybox has no UDP server: a python one listens inside the container's network namespace instead.
    const id = await runD(['-p', '18232:5000/udp', 'busybox', 'sleep', '60']);
    const sandbox = (await inspect(id)).NetworkSettings.SandboxKey as string;
    const server = exec('nsenter', [`--net=${sandbox}`, 'python3', '-c',
      'import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("0.0.0.0",5000)); print("ready",flush=True); print(s.recv(100).decode(),end="")'],
    { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 500));
    const s = createSocket('udp4');
    const timer = setInterval(() => s.send('ping-udp\n', 18232, hostIp()), 200);
    const got = await server.finally(() => { clearInterval(timer); s.close(); });
    assert.equal(got.stdout, 'ready\nping-udp\n', got.stderr);
    await d.berth(['rm', '-f', id]);
  });

  test('user networks: names and aliases resolve, other networks are out of reach, --internal has no way out', async () => {
    const sub = d.subnet(8); const gw = sub.replace(/0\/24$/, '254');
    const created = await d.berth(['network', 'create', '--subnet', sub, '--gateway', gw, '--label', 'team=blue', 'blue']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^[0-9a-f]{64}\n$/);
    assert.equal((await d.berth(['network', 'create', '--subnet', d.subnet(9), 'red'])).code, 0);
    const blue = JSON.parse((await d.berth(['network', 'inspect', 'blue'])).stdout)[0];
    assert.deepEqual(blue.IPAM.Config, [{ Subnet: sub, Gateway: gw }]);
    assert.deepEqual(blue.Labels, { team: 'blue' });
    assert.equal(blue.Driver, 'bridge');
    const ls = (await d.berth(['network', 'ls'])).stdout;
    assert.match(ls, /^NETWORK ID +NAME +DRIVER +SCOPE\n/);
    assert.match(ls, / blue +bridge +local\n/);
    assert.match(ls, / host +host +local\n/);
    assert.match(ls, / none +null +local\n/);

    const dup = await d.berth(['network', 'create', 'blue']);
    assert.match(dup.stderr, /network with name blue already exists/);
    const overlap = await d.berth(['network', 'create', '--subnet', sub, 'green']);
    assert.equal(overlap.code, 1);
    assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);

    const db = await runD(['--name', 'db', '--network', 'blue', '--network-alias', 'database', 'busybox', ...WEB]);
    const dbIp = (await inspect(db)).NetworkSettings.Networks.blue.IPAddress;
    assert.ok(dbIp.startsWith(sub.replace(/0\/24$/, '')), dbIp);
    assert.equal((await inspect(db)).NetworkSettings.IPAddress, '', 'top-level addresses are the default bridge\'s only');
    const r = await run(['--rm', '--network', 'blue', 'busybox', 'sh', '-c',
      'cat /etc/resolv.conf; nslookup db; nslookup database; printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 database 80 | tail -1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`nameserver ${gw.replace(/\./g, '\\.')}\n`));
    assert.deepEqual(looked(r.stdout), [dbIp, dbIp]);
    assert.match(r.stdout, /hello from [0-9a-f]{12}\n$/);

    const iso = await run(['--rm', '--network', 'red', 'busybox', 'sh', '-c', `nslookup db >/dev/null 2>&1 && echo resolved; ping -c 1 -W 1 ${dbIp} >/dev/null 2>&1 && echo reached; echo done`]);
    assert.equal(iso.stdout, 'done\n', 'red cannot see blue');
    const fromDefault = await run(['--rm', 'busybox', 'sh', '-c', `ping -c 1 -W 1 ${dbIp} >/dev/null 2>&1 && echo reached; echo done`]);
    assert.equal(fromDefault.stdout, 'done\n', 'the default bridge cannot reach blue');

    const busy = await d.berth(['network', 'rm', 'blue']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /error while removing network: network blue id [0-9a-f]{64} has active endpoints/);

    assert.equal((await d.berth(['network', 'create', '--internal', '--subnet', d.subnet(10), 'closed'])).code, 0);
    const closed = await run(['--rm', '--network', 'closed', 'busybox', 'sh', '-c', 'ip route | grep -c default; ip -o -4 addr show eth0 | wc -l']);
    assert.equal(closed.stdout, '0\n1\n', closed.stderr);

    await d.berth(['rm', '-f', db]);
    assert.equal((await d.berth(['network', 'rm', 'blue', 'red', 'closed'])).stdout, 'blue\nred\nclosed\n');
    assert.equal(existsSync('/sys/class/net/br-' + blue.Id.slice(0, 12)), false, 'network rm deletes the bridge');
    assert.deepEqual(networkLeftovers(d), { veths: [], netns: [], leases: [], rules: [] });
  });

  test('--ip, connect and disconnect on a running container, prune', async () => {
    assert.equal((await d.berth(['network', 'create', '--subnet', d.subnet(11), '--label', 'keep=no', 'one'])).code, 0);
    assert.equal((await d.berth(['network', 'create', '--subnet', d.subnet(12), 'two'])).code, 0);
    const fixed = d.subnet(11).replace(/0\/24$/, '77');
    const a = await runD(['--name', 'aa', '--network', 'one', '--ip', fixed, 'busybox', 'sleep', '60']);
    assert.equal((await inspect(a)).NetworkSettings.Networks.one.IPAddress, fixed);
    assert.equal((await d.berth(['rename', 'aa', 'bb'])).code, 0);
    const renamed = await run(['--rm', '--network', 'one', 'busybox', 'sh', '-c', 'nslookup bb; nslookup aa >/dev/null 2>&1 && echo old-name-answers; true']);
    assert.deepEqual(looked(renamed.stdout), [fixed], renamed.stdout);
    assert.doesNotMatch(renamed.stdout, /old-name-answers/);
    assert.equal((await d.berth(['rename', 'bb', 'aa'])).code, 0);
    const clash = await run(['--rm', '--network', 'one', '--ip', fixed, 'busybox', 'true']);
    assert.equal(clash.code, 125);
    assert.match(clash.stderr, /Address already in use/);

    assert.equal((await d.berth(['network', 'connect', '--alias', 'second-name', 'two', 'aa'])).code, 0);
    const nets = (await inspect(a)).NetworkSettings.Networks;
    assert.deepEqual(Object.keys(nets).sort(), ['one', 'two']);
    const ifs = await d.berth(['exec', 'aa', 'sh', '-c', 'ls /sys/class/net | sort | tr "\\n" " "']);
    assert.equal(ifs.stdout, 'eth0 eth1 lo ');
    const seenFromTwo = await run(['--rm', '--network', 'two', 'busybox', 'nslookup', 'second-name']);
    assert.deepEqual(looked(seenFromTwo.stdout), [nets.two.IPAddress]);
    assert.equal((await d.berth(['network', 'disconnect', 'two', 'aa'])).code, 0);
    assert.equal((await d.berth(['exec', 'aa', 'sh', '-c', 'ls /sys/class/net | sort | tr "\\n" " "'])).stdout, 'eth0 lo ');
    assert.deepEqual(Object.keys((await inspect(a)).NetworkSettings.Networks), ['one']);

    const pruned = await d.berth(['network', 'prune', '-f']);
    assert.equal(pruned.stdout, 'Deleted Networks:\ntwo\n\n', 'one is in use, the defaults stay');
    await d.berth(['rm', '-f', a]);
    // until takes Go durations and dates, as dockerd's prune: a network made a moment ago is younger than 1h.
    assert.equal((await d.berth(['network', 'prune', '-f', '--filter', 'until=1h'])).stdout, '');
    const bogus = await d.berth(['network', 'prune', '-f', '--filter', 'colour=red']);
    assert.deepEqual([bogus.code, bogus.stderr.trim()], [1, "Error response from daemon: invalid filter 'colour'"]);
    assert.equal((await d.berth(['network', 'prune', '-f', '--filter', 'label=keep=no', '--filter', 'until=2099-01-01'])).stdout, 'Deleted Networks:\none\n\n');
    assert.deepEqual(networkLeftovers(d), { veths: [], netns: [], leases: [], rules: [] });
  });

  test('the docker CLI: network create/ls/rm, run -p and --network', async () => {
    const created = await d.docker(['network', 'create', '--subnet', d.subnet(13), 'dnet']);
    assert.equal(created.code, 0, created.stderr);
    assert.match((await d.docker(['network', 'ls'])).stdout, / dnet +bridge +local\n/);
    const id = (await d.docker(['run', '-d', '--network', 'dnet', '--network-alias', 'dweb', '-p', '18233:80', 'busybox', ...WEB])).stdout.trim();
    seen.push(id);
    await waitFor(async () => (await fetchText('127.0.0.1', 18233).catch(() => '')).startsWith('hello'), 10_000, 'httpd');
    assert.equal((await d.docker(['port', id])).stdout.split('\n')[0], '80/tcp -> 0.0.0.0:18233');
    const r = await d.docker(['run', '--rm', '--network', 'dnet', 'busybox', 'nslookup', 'dweb']);
    assert.equal(looked(r.stdout).length, 1, r.stdout + r.stderr);
    const ins = JSON.parse((await d.docker(['inspect', id])).stdout)[0];
    assert.equal(ins.NetworkSettings.Ports['80/tcp'][0].HostPort, '18233');
    assert.deepEqual(ins.NetworkSettings.Networks.dnet.Aliases, ['dweb']);
    assert.equal((await d.docker(['rm', '-f', id])).code, 0);
    assert.equal((await d.docker(['network', 'rm', 'dnet'])).code, 0);
  });

  test('100 run --rm cycles with a published port leave no veth, netns, lease or rule', { timeout: 180_000 }, async () => {
    const before = networkLeftovers(d);
    let failures = 0;
    const worker = async (n: number) => {
      for (let i = 0; i < n; i++) if ((await run(['--rm', '-p', '80', 'busybox', 'true'])).code !== 0) failures++;
    };
    await Promise.all([worker(25), worker(25), worker(25), worker(25)]);
    assert.equal(failures, 0);
    assert.deepEqual(before, { veths: [], netns: [], leases: [], rules: [] });
    // The last exits' teardowns may still be going on when their runs return (see the next test).
    const stateFiles = () => readdirSync(`${d.execRoot}/network/containers`);
    const { veths, netns, leases, rules } = settledLeftovers(d, [], (l) => [l.veths, l.netns, l.leases, l.rules].every((x) => x.length === 0) && stateFiles().length === 0);
    assert.deepEqual({ veths, netns, leases, rules }, { veths: [], netns: [], leases: [], rules: [] });
    assert.deepEqual(stateFiles(), []);
  });

  test('what an exit frees is free once the exit is answered: the same address and host port at once, then the network\'s removal', async () => {
    assert.equal((await d.berth(['network', 'create', '--subnet', d.subnet(14), 'brief'])).code, 0);
    const ip = d.subnet(14).replace(/0\/24$/, '77');
    // Through the API, as fast as a client can ask: each request follows the last answer at once, while berth
    // still tears down the network of the container that has just exited and been removed.
    for (let i = 0; i < 3; i++) {
      const c = await d.api('POST', '/containers/create', {
        Image: 'busybox', Cmd: ['true'], ExposedPorts: { '80/tcp': {} },
        HostConfig: { AutoRemove: true, NetworkMode: 'brief', PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18234' }] } },
        NetworkingConfig: { EndpointsConfig: { brief: { IPAMConfig: { IPv4Address: ip } } } },
      });
      assert.equal(c.status, 201, c.body);
      const id = (JSON.parse(c.body) as { Id: string }).Id;
      const removed = d.api('POST', `/containers/${id}/wait?condition=removed`);
      await new Promise((r) => setTimeout(r, 100)); // the wait is registered before the start
      const started = await d.api('POST', `/containers/${id}/start`);
      assert.equal(started.status, 204, started.body);
      assert.equal((await removed).status, 200);
    }
    const gone = await d.api('DELETE', '/networks/brief');
    assert.equal(gone.status, 204, gone.body);
  });
});

describe('networks across a daemon crash', () => {
  test('a container that exits while the daemon is dead is torn down at restart', async () => {
    const first = await startDaemon({ busybox: true });
    const id = (await first.berth(['run', '-d', '-p', '80', 'busybox', 'sleep', '2'])).stdout.trim();
    const held = networkLeftovers(first);
    assert.equal(held.veths.length, 1);
    assert.equal(held.netns.length, 1);
    assert.equal(held.leases.length, 1);
    assert.ok(held.rules.length > 0);
    first.proc.kill('SIGKILL');
    await first.stop();
    await new Promise((r) => setTimeout(r, 2500));
    const second = await startDaemon({ dir: first.dir });
    assert.equal((await second.berth(['inspect', '-f', '{{.State.Status}}', id])).stdout, 'exited\n');
    assert.deepEqual(networkLeftovers(second), { veths: [], netns: [], leases: [], rules: [] });
    await teardown(second, [id]);
  });
});

describe('egress', () => {
  // The one test that leaves this machine: NAT through the default bridge to Debian's mirror.
  let d: TestDaemon;
  before(async () => { d = await startDaemon(); });
  after(() => teardown(d));

  // BERTH_TEST_OFFLINE=1 skips it on a machine without a way to the mirror.
  test('apt-get update in debian:bookworm reaches Debian\'s mirror', { timeout: 600_000, skip: process.env.BERTH_TEST_OFFLINE === '1' }, async () => {
    const b = await d.berth(['bootstrap', 'debian'], { timeoutMs: 600_000 });
    assert.equal(b.code, 0, b.stderr);
    const r = await d.berth(['run', '--rm', 'debian:bookworm', 'apt-get', 'update'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Reading package lists/);
  });
});

describe('network create flags', () => {
  // dockerd's IPAM flags and its answers to the swarm ones on a node without a swarm, from both CLIs.
  let d: TestDaemon;
  const seen: string[] = [];
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, seen, { expectNone: true }));

  /** The i-th /24's address ending in `host`. */
  const addr = (i: number, host: number) => d.subnet(i).replace(/0\/24$/, String(host));
  const inspectNet = async (name: string) => JSON.parse((await d.berth(['network', 'inspect', name])).stdout)[0];
  const runOn = async (net: string, args: string[] = []) => {
    const r = await d.berth(['run', '-d', '--network', net, ...args, 'busybox', 'sleep', '60']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    seen.push(id);
    return id;
  };
  const ipOf = async (id: string) => (await d.berth(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).stdout.trim();
  const names = async () => (await d.berth(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').filter(Boolean).sort();
  /** A refused create: the CLI's exit code and message, and no network or bridge left of it. */
  const refused = async (cli: 'berth' | 'docker', args: string[], message: string) => {
    const before = await names();
    const bridge = `bx-${Math.random().toString(36).slice(2, 8)}`;
    // A network of another's configuration takes no options: its bridge is the other's to name.
    const named = args.includes('--config-from') ? [] : ['-o', `com.docker.network.bridge.name=${bridge}`];
    const r = await d[cli](['network', 'create', ...named, ...args, 'refused']);
    assert.deepEqual([r.code, r.stderr.trim()], [1, message], `${cli} ${args.join(' ')}`);
    assert.deepEqual(await names(), before);
    assert.equal(existsSync(`/sys/class/net/${bridge}`), false, 'no bridge made');
  };

  test('--aux-address: shown in inspect, never handed out, not even by --ip', async () => {
    const c = await d.berth(['network', 'create', '--subnet', d.subnet(12), '--ip-range', addr(12, 8).replace(/$/, '/29'),
      '--aux-address', `router=${addr(12, 9)}`, '--aux-address', `printer=${addr(12, 11)}`, 'auxnet']);
    assert.equal(c.code, 0, c.stderr);
    const n = await inspectNet('auxnet');
    assert.deepEqual(n.IPAM, {
      Driver: 'default', Options: {},
      Config: [{ Subnet: d.subnet(12), IPRange: `${addr(12, 8)}/29`, Gateway: addr(12, 1), AuxiliaryAddresses: { router: addr(12, 9), printer: addr(12, 11) } }],
    });
    // host-local hands out the range in order: .9 and .11 would come second and fourth.
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await runOn('auxnet'));
    assert.deepEqual(await Promise.all(ids.map(ipOf)), [8, 10, 12, 13].map((h) => addr(12, h)));
    const taken = await d.berth(['run', '--rm', '--network', 'auxnet', '--ip', addr(12, 9), 'busybox', 'true']);
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, new RegExp(`Address already in use: ${addr(12, 9).replace(/\./g, '\\.')} is the network's auxiliary address router`));
    // A fixed address outside the --ip-range is the container's, as with dockerd.
    const fixed = await runOn('auxnet', ['--ip', addr(12, 100)]);
    assert.equal(await ipOf(fixed), addr(12, 100));
    for (const id of [...ids, fixed]) assert.equal((await d.berth(['rm', '-f', id])).code, 0);
    assert.equal((await d.berth(['network', 'rm', 'auxnet'])).code, 0);
    assert.deepEqual(networkLeftovers(d), { veths: [], netns: [], leases: [], rules: [] });
  });

  test('--aux-address outside the subnet or on a taken address is refused in docker\'s words, leaving nothing', async () => {
    for (const cli of ['berth', 'docker'] as const) {
      await refused(cli, ['--subnet', d.subnet(12), '--aux-address', 'far=10.255.0.1'], 'no matching subnet for aux-address 10.255.0.1');
      await refused(cli, ['--aux-address', `x=${addr(12, 5)}`], `no matching subnet for aux-address ${addr(12, 5)}`);
      await refused(cli, ['--subnet', d.subnet(12), '--aux-address', `gw=${addr(12, 1)}`],
        `Error response from daemon: failed to allocate secondary ip address (gw:${addr(12, 1)}): Address already in use`);
    }
    // The daemon's own check, for API clients that skip the CLI's.
    const r = await d.api('POST', '/networks/create', { Name: 'refused', IPAM: { Config: [{ Subnet: d.subnet(12), AuxiliaryAddresses: { far: '10.255.0.1' } }] } });
    assert.deepEqual([r.status, JSON.parse(r.body).message],
      [400, `invalid network config:\ninvalid auxiliary address far: parent subnet ${d.subnet(12)} doesn't contain this address`]);
    assert.equal((await d.api('GET', '/networks/refused')).status, 404);
  });

  test('the docker CLI: --aux-address, --ipam-driver default and --ipam-opt in inspect; another IPAM driver is not found', async () => {
    const c = await d.docker(['network', 'create', '--subnet', d.subnet(13), '--aux-address', `host1=${addr(13, 2)}`, '--ipam-driver', 'default',
      '--ipam-opt', 'foo=bar', 'dauxnet']);
    assert.equal(c.code, 0, c.stderr);
    const n = JSON.parse((await d.docker(['network', 'inspect', 'dauxnet'])).stdout)[0];
    assert.deepEqual(n.IPAM, { Driver: 'default', Options: { foo: 'bar' }, Config: [{ Subnet: d.subnet(13), Gateway: addr(13, 1), AuxiliaryAddresses: { host1: addr(13, 2) } }] });
    assert.equal(n.EnableIPv4, true);
    const r = await d.docker(['run', '--rm', '--network', 'dauxnet', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(` inet ${addr(13, 3).replace(/\./g, '\\.')}/24 `), 'the first address after the gateway and the aux address');
    assert.equal((await d.docker(['network', 'rm', 'dauxnet'])).code, 0);
    for (const cli of ['berth', 'docker'] as const) {
      await refused(cli, ['--ipam-driver', 'dhcp'], 'Error response from daemon: plugin "dhcp" not found');
    }
  });

  test('--ipv4=false is refused (berth has no IPv6 to stand in); EnableIPv4 shows true', async () => {
    for (const cli of ['berth', 'docker'] as const) {
      await refused(cli, ['--ipv4=false'], 'Error response from daemon: IPv4 or IPv6 must be enabled');
      await refused(cli, ['--ipv4=false', '--ipv6'], 'Error response from daemon: IPv4 cannot be disabled: berth\'s bridge networks have IPv4 only (IPv6 is not supported yet)');
      await refused(cli, ['-o', 'com.docker.network.enable_ipv4=0'], 'Error response from daemon: IPv4 or IPv6 must be enabled');
      await refused(cli, ['-o', 'com.docker.network.enable_ipv4=maybe'], 'Error response from daemon: driver-opt "com.docker.network.enable_ipv4" is not a valid bool');
    }
    assert.equal((await d.berth(['network', 'create', '--ipv4=true', 'v4net'])).code, 0);
    assert.equal((await d.docker(['network', 'inspect', '-f', '{{.EnableIPv4}}', 'v4net'])).stdout, 'true\n');
    assert.equal((await d.berth(['network', 'ls', '--filter', 'name=v4net', '--format', '{{.Name}} {{.IPv4}}'])).stdout, 'v4net true\n');
    assert.equal((await d.berth(['network', 'rm', 'v4net'])).code, 0);
  });

  test('--ingress and --scope swarm need a swarm; --scope local is recorded', async () => {
    for (const cli of ['berth', 'docker'] as const) {
      await refused(cli, ['--ingress'], 'Error response from daemon: Ingress network can only be global scope network');
      await refused(cli, ['--scope', 'swarm'], 'Error response from daemon: cannot create a swarm scoped network when swarm is not active');
      await refused(cli, ['--config-only', '--internal'],
        'Error response from daemon: configuration network can only contain network specific fields. Network operator fields like [ ingress | internal | attachable | scope ] are not supported.');
    }
    assert.equal((await d.docker(['network', 'create', '--scope', 'local', 'localnet'])).code, 0);
    assert.equal((await d.docker(['network', 'ls', '--filter', 'scope=local', '--filter', 'name=localnet', '--format', '{{.Name}} {{.Scope}}'])).stdout, 'localnet local\n');
    assert.equal((await d.docker(['network', 'rm', 'localnet'])).code, 0);
  });

  test('--config-only holds a configuration no container joins; --config-from makes a bridge network of it', async () => {
    const cfg = await d.berth(['network', 'create', '--config-only', '--subnet', d.subnet(14), '--gateway', addr(14, 254), '--aux-address', `r=${addr(14, 2)}`,
      '--label', 'team=blue', 'cfg']);
    assert.equal(cfg.code, 0, cfg.stderr);
    const c = await inspectNet('cfg');
    assert.deepEqual([c.Driver, c.Scope, c.ConfigOnly, c.Labels, c.Options, c.IPAM.Config], ['null', 'local', true, { team: 'blue' }, {},
      [{ Subnet: d.subnet(14), Gateway: addr(14, 254), AuxiliaryAddresses: { r: addr(14, 2) } }]]);
    // As dockerd: the container is made, and its start fails.
    const run = await d.docker(['run', '--name', 'oncfg', '--network', 'cfg', 'busybox', 'true']);
    assert.equal(run.code, 125);
    assert.match(run.stderr, /cannot create endpoint on configuration-only network/);
    assert.equal((await d.docker(['rm', 'oncfg'])).code, 0);

    await refused('docker', ['--config-from', 'cfg', '--subnet', d.subnet(15)],
      'Error response from daemon: user specified configurations are not supported if the network depends on a configuration network');
    await refused('berth', ['--config-from', 'nope'], 'Error response from daemon: configuration network "nope" does not exist');
    const from = await d.docker(['network', 'create', '--config-from', 'cfg', 'real']);
    assert.equal(from.code, 0, from.stderr);
    const n = JSON.parse((await d.docker(['network', 'inspect', 'real'])).stdout)[0];
    assert.deepEqual([n.Driver, n.ConfigFrom, n.ConfigOnly, n.Labels, n.IPAM.Config], ['bridge', { Network: 'cfg' }, false, { team: 'blue' },
      [{ Subnet: d.subnet(14), Gateway: addr(14, 254), AuxiliaryAddresses: { r: addr(14, 2) } }]]);
    const ids = [await runOn('real'), await runOn('real')];
    assert.deepEqual(await Promise.all(ids.map(ipOf)), [addr(14, 1), addr(14, 3)]);
    const gw = await d.berth(['exec', ids[0]!, 'ip', 'route', 'show', 'default']);
    assert.match(gw.stdout, new RegExp(`default via ${addr(14, 254).replace(/\./g, '\\.')} `));

    const rm = await d.berth(['network', 'rm', 'cfg']);
    assert.deepEqual([rm.code, rm.stderr.trim()], [1, 'Error response from daemon: error while removing network: configuration network "cfg" is in use']);
    for (const id of ids) assert.equal((await d.berth(['rm', '-f', id])).code, 0);
    const pruned = await d.berth(['network', 'prune', '-f']);
    assert.equal(pruned.stdout, 'Deleted Networks:\nreal\n\n', 'prune passes config-only networks by');
    assert.equal((await d.docker(['network', 'rm', 'cfg'])).code, 0);
    assert.deepEqual(await names(), ['bridge', 'host', 'none']);
  });
});
