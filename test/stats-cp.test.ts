/** stats (API shape and docker's table), cp both ways without leaving the root, update of limits, port, ps --format. */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create as tarCreate } from 'tar';
import { BERTH, exec, hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

describe('stats, cp, update, port, ps --format', () => {
  let d: TestDaemon;
  const seen: string[] = [];
  before(async () => {
    d = await startDaemon({ busybox: true });
    const r = await d.berth(['run', '-d', '--name', 'busy', '--memory', '64m', 'busybox', 'sh', '-c', 'while true; do :; done']);
    assert.equal(r.code, 0, r.stderr);
    seen.push(r.stdout.trim());
  });
  after(() => teardown(d, seen));

  test('GET /stats?stream=false has docker\'s shape, with precpu filled', async () => {
    const r = await d.api('GET', '/containers/busy/stats?stream=false');
    assert.equal(r.status, 200);
    const s = JSON.parse(r.body) as Record<string, any>;
    assert.equal(s.name, '/busy');
    assert.ok(s.cpu_stats.cpu_usage.total_usage > s.precpu_stats.cpu_usage.total_usage, 'the busy loop used CPU between the samples');
    assert.ok(s.cpu_stats.system_cpu_usage > s.precpu_stats.system_cpu_usage);
    assert.ok(s.cpu_stats.online_cpus >= 1);
    assert.equal(s.memory_stats.limit, 64 * 2 ** 20);
    assert.ok(s.memory_stats.usage > 0);
    assert.equal(s.pids_stats.current, 1);
    assert.ok(Array.isArray(s.blkio_stats.io_service_bytes_recursive));
    assert.ok(s.networks?.eth0, `networks: ${JSON.stringify(s.networks)}`);
    assert.equal(typeof s.networks.eth0.rx_bytes, 'number');
  });

  test('GET /stats streams a sample a second', async () => {
    const lines = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const req = request({ socketPath: d.socket, path: '/containers/busy/stats' }, (res) => {
        let buf = '';
        res.on('data', (b: Buffer) => {
          buf += b.toString();
          const parts = buf.split('\n');
          buf = parts.pop()!;
          got.push(...parts.filter(Boolean));
          if (got.length >= 2) { req.destroy(); resolve(got); }
        });
      });
      req.on('error', (e) => { if (got.length < 2) reject(e); });
      req.end();
    });
    const [a, b] = lines.map((l) => JSON.parse(l) as { read: string; precpu_stats: { cpu_usage: { total_usage: number } }; cpu_stats: { cpu_usage: { total_usage: number } } });
    assert.equal(b!.precpu_stats.cpu_usage.total_usage, a!.cpu_stats.cpu_usage.total_usage);
    assert.ok(Date.parse(b!.read) - Date.parse(a!.read) >= 900);
  });

  test('stats --no-stream prints docker\'s table; --format picks columns', async () => {
    const r = await d.berth(['stats', '--no-stream', 'busy']);
    assert.equal(r.code, 0, r.stderr);
    const [head, row] = r.stdout.trim().split('\n');
    assert.match(head!, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    const m = /^([0-9a-f]{12})\s+busy\s+([\d.]+)%\s+[\d.]+[KMG]?i?B \/ 64MiB\s+[\d.]+%\s+\S+ \/ \S+\s+\S+ \/ \S+\s+1$/.exec(row!);
    assert.ok(m, row);
    assert.ok(Number(m![2]) > 20, `a busy loop shows CPU: ${m![2]}%`);
    const f = await d.berth(['stats', '--no-stream', '--format', '{{.Name}}: {{.PIDs}} {{.MemPerc}}', 'busy']);
    assert.match(f.stdout, /^busy: 1 [\d.]+%\n$/);
    // The docker CLI's json row: its keys sorted.
    const j = JSON.parse((await d.berth(['stats', '--no-stream', '--format', 'json', 'busy'])).stdout) as Record<string, string>;
    assert.deepEqual(Object.keys(j), ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);
    const missing = await d.berth(['stats', '--no-stream', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such container: nope/);
  });

  test('the docker CLI reads the same stats', { skip: !hasDocker }, async () => {
    const r = await d.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'busy']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^busy [\d.]+[KMG]?i?B \/ 64MiB 1\n$/);
  });

  test('cp into a running container and back out: files, directories, renames, contents, tar on stdout', async () => {
    const src = join(d.dir, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'alpha\n');
    writeFileSync(join(src, 'sub', 'b.txt'), 'beta\n');
    assert.equal((await d.berth(['cp', join(src, 'a.txt'), 'busy:/tmp/'])).code, 0);
    assert.equal((await d.berth(['cp', join(src, 'a.txt'), 'busy:/tmp/renamed.txt'])).code, 0);
    const dir = await d.berth(['cp', src, 'busy:/tmp/copied']);
    assert.equal(dir.code, 0, dir.stderr);
    // As the docker CLI: the summary goes to a terminal only (script(1) gives the CLI one).
    assert.equal(dir.stderr, '');
    const tty = await exec('script', ['-qc', `${BERTH} cp ${src}/a.txt busy:/tmp/tty.txt`, '/dev/null'], { env: { ...process.env, BERTH_HOST: d.host } });
    assert.match(tty.stdout, /Successfully copied \d+(\.\d+)?k?B to busy:\/tmp\/tty\.txt/);
    assert.equal((await d.berth(['exec', 'busy', 'mkdir', '/contents'])).code, 0);
    assert.equal((await d.berth(['cp', `${src}/.`, 'busy:/contents'])).code, 0);
    const inside = await d.berth(['exec', 'busy', 'sh', '-c', 'cat /tmp/a.txt /tmp/renamed.txt /tmp/copied/sub/b.txt /contents/a.txt']);
    assert.equal(inside.stdout, 'alpha\nalpha\nbeta\nalpha\n');

    const out = join(d.dir, 'out');
    mkdirSync(out);
    assert.equal((await d.berth(['cp', 'busy:/tmp/copied', out])).code, 0);
    assert.equal(readFileSync(join(out, 'copied', 'sub', 'b.txt'), 'utf8'), 'beta\n');
    assert.equal((await d.berth(['cp', 'busy:/tmp/a.txt', join(out, 'new-name.txt')])).code, 0);
    assert.equal(readFileSync(join(out, 'new-name.txt'), 'utf8'), 'alpha\n');
    assert.equal((await d.berth(['cp', 'busy:/tmp/copied', join(out, 'dir-renamed')])).code, 0);
    assert.equal(readFileSync(join(out, 'dir-renamed', 'a.txt'), 'utf8'), 'alpha\n');
    const tar = await exec('sh', ['-c', `${join(import.meta.dirname, '..', 'bin', 'berth')} cp busy:/tmp/copied - | tar -t | sort`], { env: { ...process.env, BERTH_HOST: d.host } });
    assert.deepEqual(tar.stdout.trim().split('\n'), ['copied/', 'copied/a.txt', 'copied/sub/', 'copied/sub/b.txt']);
    const head = await d.api('HEAD', '/containers/busy/archive?path=/tmp/copied');
    const stat = JSON.parse(Buffer.from(head.headers['x-docker-container-path-stat'] as string, 'base64').toString());
    assert.equal(stat.name, 'copied');
    assert.equal(Math.floor(stat.mode / 2 ** 31), 1, 'Go ModeDir');
    const missing = await d.berth(['cp', 'busy:/nope', out]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Could not find the file \/nope in container busy/);
  });

  test('cp never follows a symlink out of the container, either way', async () => {
    const hostDir = join(d.dir, 'host-secret');
    mkdirSync(hostDir);
    writeFileSync(join(hostDir, 'secret'), 'host only\n');
    assert.equal((await d.berth(['exec', 'busy', 'sh', '-c', `ln -s ${hostDir} /peek && ln -s / /root-link && mkdir -p /data && ln -s ${hostDir} /data/link`])).code, 0);
    // Reading through the link resolves inside the container, where that path does not exist.
    const read = await d.berth(['cp', 'busy:/peek/secret', join(d.dir, 'stolen')]);
    assert.equal(read.code, 1);
    assert.match(read.stderr, /Could not find the file \/peek\/secret/);
    assert.equal(existsSync(join(d.dir, 'stolen')), false);
    // The link itself is copied as a link.
    assert.equal((await d.berth(['cp', 'busy:/peek', join(d.dir, 'peek-link')])).code, 0);
    assert.ok(lstatSync(join(d.dir, 'peek-link')).isSymbolicLink());
    assert.equal(readlinkSync(join(d.dir, 'peek-link')), hostDir);
    // An absolute link to / is the container's root: its /etc/passwd, not the host's.
    assert.equal((await d.berth(['cp', 'busy:/root-link/etc/passwd', join(d.dir, 'passwd')])).code, 0);
    assert.equal(readFileSync(join(d.dir, 'passwd'), 'utf8'), await (await d.berth(['exec', 'busy', 'cat', '/etc/passwd'])).stdout);
    // Writing through the link goes nowhere on the host.
    const write = await d.berth(['cp', join(d.dir, 'passwd'), 'busy:/peek/']);
    assert.equal(write.code, 1);
    assert.equal(existsSync(join(hostDir, 'passwd')), false);
    // A hand-made archive that walks through the link is refused entry by entry.
    const evil = join(d.dir, 'evil');
    mkdirSync(join(evil, 'link'), { recursive: true });
    writeFileSync(join(evil, 'link', 'planted'), 'x');
    const body = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const t = tarCreate({ cwd: evil }, ['link/planted']) as unknown as NodeJS.ReadableStream;
      t.on('data', (b: Buffer) => chunks.push(b));
      t.on('end', () => resolve(Buffer.concat(chunks)));
    });
    await new Promise<void>((resolve, reject) => {
      const req = request({ socketPath: d.socket, method: 'PUT', path: '/containers/busy/archive?path=/data', headers: { 'Content-Type': 'application/x-tar' } }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(existsSync(join(hostDir, 'planted')), false, 'nothing planted on the host');
  });

  test('cp to and from a stopped container', async () => {
    const c = await d.berth(['create', '--name', 'parked', 'busybox', 'cat', '/hello']);
    seen.push(c.stdout.trim());
    writeFileSync(join(d.dir, 'hello'), 'hi from the host\n');
    const put = await d.berth(['cp', join(d.dir, 'hello'), 'parked:/hello']);
    assert.equal(put.code, 0, put.stderr);
    assert.equal((await d.berth(['cp', 'parked:/etc/group', join(d.dir, 'group')])).code, 0);
    assert.match(readFileSync(join(d.dir, 'group'), 'utf8'), /^root:x:0:/);
    const run = await d.berth(['start', '-a', 'parked']);
    assert.equal(run.stdout, 'hi from the host\n');
    await d.berth(['rm', 'parked']);
  });

  test('update changes limits of a running container in its cgroup and in inspect', async () => {
    const id = (await d.berth(['inspect', '-f', '{{.Id}}', 'busy'])).stdout.trim();
    const cg = (ctrl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctrl}/berth/${id}/${file}`, 'utf8').trim();
    const r = await d.berth(['update', '--memory', '128m', '--memory-swap', '256m', '--cpus', '0.5', '--pids-limit', '40', '--restart', 'on-failure:3', 'busy']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'busy\n');
    assert.equal(cg('memory', 'memory.limit_in_bytes'), String(128 * 2 ** 20));
    assert.equal(cg('memory', 'memory.memsw.limit_in_bytes'), String(256 * 2 ** 20));
    assert.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(cg('pids', 'pids.max'), '40');
    const hc = JSON.parse((await d.berth(['inspect', '-f', '{{json .HostConfig}}', 'busy'])).stdout) as Record<string, unknown>;
    assert.deepEqual([hc.Memory, hc.MemorySwap, hc.NanoCpus, hc.PidsLimit, hc.RestartPolicy], [128 * 2 ** 20, 256 * 2 ** 20, 5e8, 40, { Name: 'on-failure', MaximumRetryCount: 3 }]);
    const bad = await d.berth(['update', '--memory', '300m', 'busy']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Memory limit should be smaller than already set memoryswap limit/);
    const tiny = await d.berth(['update', '--memory', '1k', 'busy']);
    assert.match(tiny.stderr, /Minimum memory limit allowed is 6MB/);
    assert.equal(cg('memory', 'memory.limit_in_bytes'), String(128 * 2 ** 20), 'nothing changed');
  });

  test('port lists published ports', async () => {
    const r = await d.berth(['run', '-d', '--name', 'pub', '-p', '127.0.0.1::80', 'busybox', 'sleep', '60']);
    assert.equal(r.code, 0, r.stderr);
    seen.push(r.stdout.trim());
    const p = await d.berth(['port', 'pub']);
    assert.match(p.stdout, /^80\/tcp -> 127\.0\.0\.1:\d+$/m);
    assert.match((await d.berth(['port', 'pub', '80'])).stdout, /^127\.0\.0\.1:\d+$/m);
    await d.berth(['rm', '-f', 'pub']);
  });

  test('ps --format: fields, json and table', async () => {
    const plain = await d.berth(['ps', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Status}}']);
    assert.match(plain.stdout, /^[0-9a-f]{12} busy busybox Up .*$/m);
    const json = await d.berth(['ps', '--format', '{{json .}}']);
    const row = JSON.parse(json.stdout.trim().split('\n')[0]!) as Record<string, string>;
    assert.deepEqual(Object.keys(row), ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Platform', 'Ports', 'RunningFor', 'Size', 'State', 'Status']);
    assert.equal(row.Names, 'busy');
    assert.equal(row.State, 'running');
    const tbl = await d.berth(['ps', '--format', 'table {{.Names}}\\t{{.Status}}']);
    const lines = tbl.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAMES\s+STATUS$/);
    assert.match(lines[1]!, /^busy\s+Up /);
    const bad = await d.berth(['ps', '--format', '{{range .}}x{{end}}']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /template parsing error: .*range can't iterate over/);
  });

  test('ps/images/network ls/volume ls --format: range, if/else, join, upper/lower, println, .Label, table; the same output as the docker CLI', async () => {
    const r = await d.berth(['run', '-d', '--name', 'lbl', '--label', 'com.example.role=db', '--label', 'tier=back', 'busybox', 'sleep', '60']);
    assert.equal(r.code, 0, r.stderr);
    seen.push(r.stdout.trim());
    assert.equal((await d.berth(['network', 'create', '--label', 'com.example.net=blue', 'fmtnet'])).code, 0);
    assert.equal((await d.berth(['volume', 'create', '--label', 'com.example.vol=red', 'fmtvol'])).code, 0);
    const ps = ['ps', '--filter', 'name=lbl'];
    const cases: [string[], string, string][] = [
      [ps, '{{.Label "com.example.role"}}|{{.Label "nope"}}|{{upper .Names}}|{{lower "ABC"}}', 'db||LBL|abc\n'],
      [ps, '{{range split .Labels ","}}{{println .}}{{end}}', 'com.example.role=db\ntier=back\n\n'],
      [ps, '{{if eq .State "running"}}up{{else}}down{{end}} {{join (split .Names ",") "+"}}', 'up lbl\n'],
      [ps, 'table {{.Names}}\t{{.Label "com.example.role"}}', 'NAMES     role\nlbl       db\n'],
      [['images', 'busybox'], 'table {{.Repository}}\t{{.Tag}}', 'REPOSITORY   TAG\nbusybox      latest\n'],
      [['images', 'busybox'], '{{if .Tag}}{{.Repository}}:{{.Tag}}{{end}}', 'busybox:latest\n'],
      [['network', 'ls', '--filter', 'name=fmtnet'], '{{.Name}} {{.Label "com.example.net"}} {{.Internal}}', 'fmtnet blue false\n'],
      [['network', 'ls', '--filter', 'name=fmtnet'], 'table {{.Name}}\t{{.Driver}}', 'NAME      DRIVER\nfmtnet    bridge\n'],
      [['volume', 'ls', '--filter', 'name=fmtvol'], '{{.Name}}={{.Label "com.example.vol"}} {{.Labels}}', 'fmtvol=red com.example.vol=red\n'],
      [['volume', 'ls', '--filter', 'name=fmtvol'], 'table {{.Name}}\t{{.Driver}}', 'VOLUME NAME   DRIVER\nfmtvol        local\n'],
    ];
    for (const [cmd, format, want] of cases) {
      const b = await d.berth([...cmd, '--format', format]);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(b.stdout, want, `berth ${cmd.join(' ')} --format ${format}`);
      if (!hasDocker) continue;
      const k = await d.docker([...cmd, '--format', format]);
      assert.equal(k.stdout, want, `docker ${cmd.join(' ')} --format ${format}: ${k.stderr}`);
    }
    await d.berth(['rm', '-f', 'lbl']);
    await d.berth(['network', 'rm', 'fmtnet']);
    await d.berth(['volume', 'rm', 'fmtvol']);
  });
});
