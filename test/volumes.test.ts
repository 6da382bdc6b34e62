/**
 * Volumes end to end: named volumes made on first use and filled from the image, binds, `--mount`,
 * anonymous volumes from VOLUME with `rm -v` and prune, `--volumes-from`, and docker's refusals.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';

describe('volumes', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ busybox: true });
    // An image with a VOLUME whose directory has content and an owner of its own.
    const mk = await d.berth(['run', '--name', 'seeder', 'busybox', 'sh', '-c', 'mkdir /seed && echo seeded > /seed/s && chown 65534:65534 /seed && chmod 750 /seed']);
    assert.equal(mk.code, 0, mk.stderr);
    assert.equal((await d.berth(['commit', '-c', 'VOLUME /seed', 'seeder', 'withvol:1'])).code, 0);
    await d.berth(['rm', 'seeder']);
  });
  after(() => teardown(d));

  const vols = async () => (await d.berth(['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean);

  test('create, ls, inspect and rm in docker\'s shapes', async () => {
    assert.equal((await d.berth(['volume', 'create', '--label', 'tier=db', 'dbdata'])).stdout, 'dbdata\n');
    assert.equal((await d.berth(['volume', 'create', 'dbdata'])).code, 0, 'create of an existing volume returns it');
    const ls = (await d.berth(['volume', 'ls'])).stdout;
    assert.match(ls, /^DRIVER +VOLUME NAME\nlocal +dbdata\n/);
    const [v] = JSON.parse((await d.berth(['volume', 'inspect', 'dbdata'])).stdout);
    assert.equal(v.Name, 'dbdata');
    assert.equal(v.Driver, 'local');
    assert.equal(v.Scope, 'local');
    assert.deepEqual(v.Labels, { tier: 'db' });
    assert.equal(v.Mountpoint, join(d.dataRoot, 'volumes', 'dbdata', '_data'));
    assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(statSync(v.Mountpoint).isDirectory());
    const bad = await d.berth(['volume', 'create', 'bad/name']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed/);
    const missing = await d.berth(['volume', 'inspect', 'nope']);
    assert.match(missing.stderr, /no such volume/);
    assert.equal((await d.berth(['volume', 'rm', 'dbdata'])).stdout, 'dbdata\n');
    assert.equal(existsSync(v.Mountpoint), false);
    const auto = (await d.berth(['volume', 'create'])).stdout.trim();
    assert.match(auto, /^[0-9a-f]{64}$/, 'a volume without a name gets a random one');
    await d.berth(['volume', 'rm', auto]);
  });

  test('-v NAME:/path makes the volume on first use, fills it from the image, and keeps data across containers', async () => {
    const first = await d.berth(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'sh', '-c', 'ls /etc | sort | tr "\\n" " "; echo hello > /etc/note']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /group .*passwd/, 'the image\'s /etc was copied in');
    assert.ok((await vols()).includes('etcvol'));
    const second = await d.berth(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'cat', '/etc/note']);
    assert.equal(second.stdout, 'hello\n');
    const ro = await d.berth(['run', '--rm', '-v', 'etcvol:/etc:ro', 'busybox', 'sh', '-c', 'cat /etc/note; echo x > /etc/note']);
    assert.equal(ro.stdout, 'hello\n');
    assert.match(ro.stderr, /Read-only file system/);
    assert.notEqual(ro.code, 0);
    const nocopy = await d.berth(['run', '--rm', '--mount', 'type=volume,source=empty,target=/etc,volume-nocopy', 'busybox', 'sh', '-c', 'ls -A /etc | wc -l']);
    assert.equal(nocopy.stdout.trim(), '0', 'volume-nocopy leaves the volume empty');
    assert.equal((await d.berth(['volume', 'rm', 'etcvol', 'empty'])).code, 0);
  });

  test('bind mounts: -v /host:/path[:ro], --mount type=bind, and a missing source', async () => {
    const host = join(d.dir, 'share');
    mkdirSync(host);
    writeFileSync(join(host, 'in'), 'from the host\n');
    const rw = await d.berth(['run', '--rm', '-v', `${host}:/share`, 'busybox', 'sh', '-c', 'cat /share/in; echo back > /share/out']);
    assert.equal(rw.stdout, 'from the host\n', rw.stderr);
    assert.equal(readFileSync(join(host, 'out'), 'utf8'), 'back\n');
    const ro = await d.berth(['run', '--rm', '--mount', `type=bind,source=${host},target=/share,readonly`, 'busybox', 'sh', '-c', 'touch /share/x']);
    assert.match(ro.stderr, /Read-only file system/);
    const missing = await d.berth(['run', '--rm', '--mount', `type=bind,source=${host}/nope,target=/x`, 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, new RegExp(`invalid mount config for type "bind": bind source path does not exist: ${host}/nope`));
    const made = await d.berth(['run', '--rm', '-v', `${host}/made:/m`, 'busybox', 'true']);
    assert.equal(made.code, 0, made.stderr);
    assert.ok(statSync(join(host, 'made')).isDirectory(), '-v makes a missing host directory, as docker does');
    const dup = await d.berth(['run', '--rm', '-v', `${host}:/a`, '-v', 'x1:/a', 'busybox', 'true']);
    assert.match(dup.stderr, /Duplicate mount point: \/a/);
    const rel = await d.berth(['run', '--rm', '--mount', 'type=volume,source=v1,target=rel', 'busybox', 'true']);
    assert.match(rel.stderr, /invalid mount path: 'rel' mount path must be absolute/);
  });

  test('--mount type=tmpfs', async () => {
    const r = await d.berth(['run', '--rm', '--mount', 'type=tmpfs,target=/scratch,tmpfs-size=1048576', 'busybox', 'sh', '-c', 'grep " /scratch " /proc/mounts']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,.*size=1024k/);
  });

  test('VOLUME makes an anonymous volume filled from the image; rm -v and --rm remove it, rm alone keeps it for prune', async () => {
    const before = await vols();
    const r = await d.berth(['run', '--name', 'anon', 'withvol:1', 'sh', '-c', 'cat /seed/s; stat -c "%u:%g %a" /seed']);
    assert.equal(r.stdout, 'seeded\n65534:65534 750\n', r.stderr);
    const [c] = JSON.parse((await d.berth(['inspect', 'anon'])).stdout);
    assert.equal(c.Mounts.length, 1);
    const m = c.Mounts[0];
    assert.equal(m.Type, 'volume');
    assert.equal(m.Destination, '/seed');
    assert.equal(m.Driver, 'local');
    assert.equal(m.RW, true);
    assert.match(m.Name, /^[0-9a-f]{64}$/);
    assert.deepEqual(c.Config.Volumes, { '/seed': {} });
    const [v] = JSON.parse((await d.berth(['volume', 'inspect', m.Name])).stdout);
    assert.deepEqual(v.Labels, { 'com.docker.volume.anonymous': '' });
    assert.equal((await d.berth(['rm', '-v', 'anon'])).code, 0);
    assert.deepEqual(await vols(), before, 'rm -v removed the anonymous volume');

    await d.berth(['run', '--rm', 'withvol:1', 'true']);
    assert.deepEqual(await vols(), before, '--rm removes anonymous volumes');

    await d.berth(['run', '--name', 'keeper', 'withvol:1', 'true']);
    await d.berth(['rm', 'keeper']);
    const left = (await vols()).filter((x) => !before.includes(x));
    assert.equal(left.length, 1, 'rm without -v keeps it');
    const dangling = JSON.parse((await d.api('GET', `/volumes?filters=${encodeURIComponent('{"dangling":["true"]}')}`)).body).Volumes as { Name: string }[];
    assert.ok(dangling.some((x) => x.Name === left[0]), 'listed as dangling');
    await d.berth(['volume', 'create', 'named-unused']);
    const pruned = await d.berth(['volume', 'prune', '-f']);
    assert.match(pruned.stdout, new RegExp(`^Deleted Volumes:\n${left[0]}\n\nTotal reclaimed space: `));
    assert.ok((await vols()).includes('named-unused'), 'prune without --all keeps named volumes');
    assert.match((await d.berth(['volume', 'prune', '-f', '--all'])).stdout, /named-unused/);
  });

  test('a volume in use cannot be removed; -v /path alone is anonymous; --volumes-from shares mounts', async () => {
    const id = (await d.berth(['run', '-d', '--name', 'holder', '-v', 'shared:/data', '-v', '/anon', 'busybox', 'sh', '-c', 'echo mine > /data/f; sleep 60'])).stdout.trim();
    const busy = await d.berth(['volume', 'rm', 'shared']);
    assert.equal(busy.code, 1);
    assert.equal(busy.stderr, `Error response from daemon: remove shared: volume is in use - [${id}]\n`);
    const api = await d.api('DELETE', '/volumes/shared');
    assert.equal(api.status, 409);
    const [c] = JSON.parse((await d.berth(['inspect', id])).stdout);
    const anon = c.Mounts.find((m: { Destination: string }) => m.Destination === '/anon');
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    const from = await d.berth(['run', '--rm', '--volumes-from', 'holder:ro', 'busybox', 'sh', '-c', 'cat /data/f; ls -d /anon; touch /data/g']);
    assert.equal(from.stdout, 'mine\n/anon\n');
    assert.match(from.stderr, /Read-only file system/);
    await d.berth(['rm', '-f', '-v', id]);
    assert.equal((await vols()).includes(anon.Name), false);
    assert.equal((await d.berth(['volume', 'rm', 'shared'])).code, 0, 'free once the container is gone');
  });

  /** Whether `path` is a mount point now, from this process's mount table. */
  const mounted = (path: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);

  test('the local driver\'s options: a tmpfs volume is mounted while a container that uses it runs; refusals in dockerd\'s words', async () => {
    for (const [opts, why] of [
      [['-o', 'foo=bar'], 'invalid option: "foo"'],
      [['-o', 'type=tmpfs'], 'missing required option: "device"'],
      [['-o', 'o=size=1m'], 'missing required option: "device"'],
      [['-o', 'device=tmpfs'], 'missing required option: "type"'],
      [['-o', 'size=10m'], 'quota size requested but no quota support'],
    ] as const) {
      const r = await d.docker(['volume', 'create', ...opts, 'refused']);
      assert.equal(r.code, 1, opts.join(' '));
      assert.equal(r.stderr, `Error response from daemon: create refused: ${why}\n`);
    }
    assert.equal((await vols()).includes('refused'), false, 'a refused create makes nothing');
    assert.equal((await d.docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=8m,uid=1000', 'scratch'])).code, 0);
    const [v] = JSON.parse((await d.docker(['volume', 'inspect', 'scratch'])).stdout);
    assert.deepEqual(v.Options, { device: 'tmpfs', o: 'size=8m,uid=1000', type: 'tmpfs' });
    assert.equal(mounted(v.Mountpoint), false, 'mounted only while a container uses it');
    const id = (await d.berth(['run', '-d', '-v', 'scratch:/s', 'busybox', 'sh', '-c', 'echo kept > /s/f; sleep 60'])).stdout.trim();
    await waitFor(() => existsSync(join(v.Mountpoint, 'f')), 10_000, 'the file on the volume');
    assert.ok(mounted(v.Mountpoint), 'the tmpfs is on the volume\'s directory');
    // A second container shares the mount (and sees the size and owner the options gave it).
    const other = await d.berth(['run', '--rm', '-v', 'scratch:/s', 'busybox', 'sh', '-c', 'cat /s/f; df -k /s | tail -1 | tr -s " " | cut -d" " -f2; stat -c %u /s']);
    assert.equal(other.stdout, 'kept\n8192\n1000\n', other.stderr);
    assert.ok(mounted(v.Mountpoint), 'still mounted: the first container runs');
    assert.equal((await d.berth(['rm', '-f', id])).code, 0);
    assert.equal(mounted(v.Mountpoint), false, 'the last user gone, unmounted');
    assert.equal(existsSync(join(v.Mountpoint, 'f')), false, 'a tmpfs keeps nothing');
    assert.equal((await d.docker(['volume', 'rm', 'scratch'])).code, 0);
  });

  test('the local driver\'s bind volume (type=none, o=bind): the host directory in the container, kept by volume rm; a device that fails to mount', async () => {
    const host = join(d.dir, 'shared-data');
    mkdirSync(host);
    writeFileSync(join(host, 'in.txt'), 'from the host\n');
    assert.equal((await d.docker(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}`, 'hostdir'])).code, 0);
    const r = await d.docker(['run', '--rm', '-v', 'hostdir:/d', 'busybox', 'sh', '-c', 'cat /d/in.txt; echo from the container > /d/out.txt']);
    assert.equal(r.stdout, 'from the host\n', r.stderr);
    assert.equal(readFileSync(join(host, 'out.txt'), 'utf8'), 'from the container\n');
    // Right after the run: its release may still be under way; the removal unmounts before it deletes anything.
    assert.equal((await d.docker(['volume', 'rm', 'hostdir'])).code, 0);
    assert.deepEqual([readFileSync(join(host, 'in.txt'), 'utf8'), existsSync(join(host, 'out.txt'))], ['from the host\n', true], 'the host\'s files stay');
    assert.equal(existsSync(join(d.dataRoot, 'volumes', 'hostdir')), false);
    // `--mount volume-opt=…` makes such a volume too; one whose device is missing fails the start in dockerd's words.
    const bad = await d.docker(['run', '--rm', '--mount', `type=volume,src=nodev,dst=/d,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=${host}-missing`, 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, new RegExp(`error while mounting volume '${join(d.dataRoot, 'volumes', 'nodev', '_data')}': failed to mount local volume: mount ${host}-missing:.*special device ${host}-missing does not exist`));
    assert.deepEqual(JSON.parse((await d.docker(['volume', 'inspect', 'nodev'])).stdout)[0].Options, { type: 'none', o: 'bind', device: `${host}-missing` });
    assert.equal((await d.docker(['ps', '-aq', '--filter', 'volume=nodev'])).stdout, '', 'the --rm container went');
    assert.equal((await d.docker(['volume', 'rm', 'nodev'])).code, 0);
  });

  test('the docker CLI: volume create/ls/inspect/rm and run -v / --mount', async () => {
    assert.equal((await d.docker(['volume', 'create', 'dvol'])).stdout, 'dvol\n');
    assert.match((await d.docker(['volume', 'ls'])).stdout, /local +dvol\n/);
    const w = await d.docker(['run', '--rm', '-v', 'dvol:/v', 'busybox', 'sh', '-c', 'echo via-docker > /v/f']);
    assert.equal(w.code, 0, w.stderr);
    const r = await d.docker(['run', '--rm', '--mount', 'type=volume,src=dvol,dst=/v,readonly', 'busybox', 'cat', '/v/f']);
    assert.equal(r.stdout, 'via-docker\n', r.stderr);
    const [v] = JSON.parse((await d.docker(['volume', 'inspect', 'dvol'])).stdout);
    assert.equal(v.Driver, 'local');
    assert.equal((await d.docker(['volume', 'rm', 'dvol'])).stdout, 'dvol\n');
  });
});
