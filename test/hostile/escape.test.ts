/**
 * Who gets in (issue #10, part 5). The API: its Unix socket is 0660 root:berth, a TCP listener
 * refuses to start without TLS client verification unless --allow-insecure-tcp, and with
 * --tlsverify only a client certificate the CA signed is served. Containers: each route out is
 * attempted and must fail: host processes, mount, kernel modules, /proc/kcore and the sysctl
 * hooks, the daemon's socket (reachable only when bind-mounted on purpose), CVE-2019-5736 (runc's
 * /proc/PID/exe rewritten from inside while `exec` runs).
 *
 * Already shown elsewhere, not repeated here: the default seccomp profile's refusal of mount and
 * new user namespaces, masked and read-only paths, capabilities (test/security.test.ts, "the
 * default seccomp profile…", "masked and read-only paths…"), and CVE-2024-21626 for `run -w` and
 * `exec -w /proc/self/fd/N` and leaked descriptors (security.test.ts, "CVE-2024-21626: …"); this
 * file adds that CVE's third route, an image whose WORKDIR is /proc/self/fd/N.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, daemonNet, startDaemon, teardown, waitFor, type TestDaemon } from '../harness.js';
import { freePort } from '../registry-fixture.js';
import { makeCerts } from '../tls-certs.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const RUNC = '/usr/sbin/runc';

function groupId(name: string): number | undefined {
  try { return Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]); } catch { return undefined; }
}

function httpsPing(port: number, opts: { ca: string; cert?: string; key?: string }, path = '/_ping'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path, ca: readFileSync(opts.ca), agent: false,
      cert: opts.cert ? readFileSync(opts.cert) : undefined, key: opts.key ? readFileSync(opts.key) : undefined,
    }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('who gets in: the API', () => {
  test('the Unix socket is 0660 root:berth: a user outside the group is refused, a member gets in', async () => {
    const dir = mkdtempSync('/tmp/bt-');
    chmodSync(dir, 0o711); // so that only the socket's own mode decides
    const d = await startDaemon({ dir });
    try {
      const gid = groupId('berth');
      assert.ok(gid !== undefined && gid > 0, 'the daemon made the berth group');
      const st = statSync(d.socket);
      assert.equal(st.mode & 0o7777, 0o660, `socket mode ${(st.mode & 0o7777).toString(8)}`);
      assert.equal(st.uid, 0);
      assert.equal(st.gid, gid);
      const asNobody = (groups: string[]) => {
        const script = `require('http').get({socketPath:${JSON.stringify(d.socket)},path:'/_ping'},r=>{console.log(r.statusCode);process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(0)})`;
        return execFileSync('setpriv', ['--reuid=65534', '--regid=65534', ...(groups.length ? [`--groups=${groups.join(',')}`] : ['--clear-groups']), process.execPath, '-e', script], { encoding: 'utf8' }).trim();
      };
      assert.equal(asNobody([]), 'EACCES', 'nobody, outside the group, cannot connect');
      assert.equal(asNobody([String(gid)]), '200', 'a member of berth can');
    } finally { await teardown(d); }
  });

  test('a tcp:// listener refuses to start without TLS client verification, and says why', async () => {
    const dir = mkdtempSync('/tmp/bt-');
    const port = await freePort();
    try {
      for (const extra of [[], ['--tls']]) {
        const out = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const p = spawn(BERTH, ['daemon', '-H', `unix://${dir}/s.sock`, '-H', `tcp://127.0.0.1:${port}`, ...extra, '--data-root', `${dir}/data`, '--exec-root', `${dir}/run`, ...daemonNet(dir).flags]);
          let stderr = '';
          p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
          p.on('exit', (code) => resolve({ code, stderr }));
        });
        assert.equal(out.code, 1, out.stderr);
        assert.match(out.stderr, /refusing to listen on tcp:\/\/127\.0\.0\.1:\d+ without TLS client verification/);
        assert.match(out.stderr, /--tlsverify .*--allow-insecure-tcp/);
        assert.equal(existsSync(`${dir}/s.sock`), false, 'nothing was started');
        assert.equal(existsSync(`${dir}/data/berth.pid`), false);
      }
    } finally { execFileSync('rm', ['-rf', dir]); }
  });

  test('--tlsverify: a client certificate the CA signed is served; none, or another CA\'s, is refused in the handshake', async () => {
    const dir = mkdtempSync('/tmp/bt-');
    const certDir = join(dir, 'certs');
    mkdirSync(certDir);
    const c = makeCerts(certDir);
    const port = await freePort();
    const d = await startDaemon({ dir, busybox: true, extraArgs: ['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', c.ca, '--tlscert', c.cert, '--tlskey', c.key] });
    try {
      await waitFor(() => /listening on tcp:\/\/127\.0\.0\.1:\d+ \(TLS, client certificates verified\)/.test(d.log()), 10_000, 'the TLS listener');
      const ok = await httpsPing(port, { ca: c.ca, cert: c.clientCert, key: c.clientKey });
      assert.deepEqual(ok, { status: 200, body: 'OK' });
      const v = await httpsPing(port, { ca: c.ca, cert: c.clientCert, key: c.clientKey }, '/version');
      assert.equal(JSON.parse(v.body).ApiVersion !== undefined, true, 'the whole API is served over TLS');
      await assert.rejects(httpsPing(port, { ca: c.ca }), /certificate|handshake|socket hang up|ECONNRESET|alert/i, 'no client certificate');
      await assert.rejects(httpsPing(port, { ca: c.ca, cert: c.rogueCert, key: c.rogueKey }), /certificate|handshake|socket hang up|ECONNRESET|alert|unknown ca/i, 'another CA\'s certificate');
      // Plain HTTP on the TLS port gets nothing of the API.
      const plain = await new Promise<string>((resolve) => {
        const r = httpRequest({ host: '127.0.0.1', port, path: '/_ping', agent: false }, (res) => resolve(String(res.statusCode)));
        r.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
        r.end();
      });
      assert.notEqual(plain, '200');
      // A hijacked stream over TLS: attach to `cat`, send a line, half-close; it comes back and cat exits.
      const create = await new Promise<string>((resolve, reject) => {
        const r = httpsRequest({ host: '127.0.0.1', port, method: 'POST', path: '/containers/create', ca: readFileSync(c.ca), cert: readFileSync(c.clientCert), key: readFileSync(c.clientKey), agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
          let b = ''; res.on('data', (x: Buffer) => { b += x.toString(); }); res.on('end', () => resolve(b));
        });
        r.on('error', reject);
        r.end(JSON.stringify({ Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true, HostConfig: { NetworkMode: 'none' } }));
      });
      const id = (JSON.parse(create) as { Id: string }).Id;
      assert.equal((await d.berth(['start', id])).code, 0);
      const echoed = await new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(c.ca), cert: readFileSync(c.clientCert), key: readFileSync(c.clientKey) }, () => {
          s.write(`POST /containers/${id}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
        });
        let got = '';
        s.on('data', (b: Buffer) => {
          got += b.toString('latin1');
          if (got.includes('101 UPGRADED') && !got.includes('sent')) { got += 'sent'; s.write('hello over tls\n'); s.end(); }
        });
        s.on('close', () => resolve(got));
        s.on('error', reject);
        setTimeout(() => { s.destroy(); reject(new Error(`attach over TLS hung: ${got}`)); }, 20_000);
      });
      assert.match(echoed, /hello over tls/);
      await d.berth(['rm', '-f', id]);
    } finally { await teardown(d); }
  });

  test('--allow-insecure-tcp serves plain HTTP, with a warning in the log', async () => {
    const port = await freePort();
    const d = await startDaemon({ extraArgs: ['-H', `tcp://127.0.0.1:${port}`, '--allow-insecure-tcp'] });
    try {
      // The harness waits for the Unix socket, which listens first; the TCP listener and its warning come after it.
      const warning = /warning: berth daemon listening on tcp:\/\/127\.0\.0\.1:\d+ in plain HTTP \(--allow-insecure-tcp\): anyone who reaches it is root on this host/;
      await waitFor(() => warning.test(d.log()), 10_000, 'the plain-HTTP warning');
      const status = await new Promise<number>((resolve, reject) => {
        httpRequest({ host: '127.0.0.1', port, path: '/_ping', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end();
      });
      assert.equal(status, 200);
    } finally { await teardown(d); }
  });
});

describe('who gets in: out of a container', () => {
  let d: TestDaemon;
  const ids: string[] = [];
  before(async () => { d = await startDaemon({ busybox: true }); });
  after(() => teardown(d, ids, { expectNone: true }));

  const run = async (flags: string[], script: string) => {
    const r = await d.berth(['run', '--rm', ...flags, 'busybox', 'sh', '-c', script], { timeoutMs: 60_000 });
    return { ...r, out: r.stdout + r.stderr };
  };

  test('host processes are not visible, and cannot be signalled', async () => {
    const daemonPid = d.proc.pid!;
    const r = await run([], `ls /proc | grep -E '^[0-9]+$' | wc -l; cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '; echo; kill -0 ${daemonPid} 2>&1 && echo SIG""NALLED; true`);
    assert.equal(r.code, 0, r.out);
    const [count, cmdlines] = r.stdout.split('\n');
    assert.ok(Number(count) <= 4, `the container sees ${count} processes`);
    assert.doesNotMatch(cmdlines!, /berth|conmon|runc|node/, 'no host process is visible');
    assert.doesNotMatch(r.out, /SIGNALLED/, 'the daemon\'s PID means nothing inside');
  });

  test('no mount: not a tmpfs, not /sys or /proc/sys remounted writable, not the host\'s disk', async () => {
    const r = await run([], [
      'mount -t tmpfs none /mnt 2>&1 && echo MOUNTED-TMPFS',
      'mount -o remount,rw /sys 2>&1 && echo REMOUNTED-SYS',
      'mount -o remount,rw /proc/sys 2>&1 && echo REMOUNTED-PROCSYS',
      'mount -t proc proc /mnt 2>&1 && echo MOUNTED-PROC',
      'ls /dev | grep -E "^(sd|vd|nvme|xvd)" && echo HOST-DISK',
      'true',
    ].join('; '));
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /MOUNTED|REMOUNTED|HOST-DISK/, r.out);
    assert.match(r.out, /Operation not permitted|permission denied/i);
  });

  test('no kernel modules, and no writing the kernel\'s hooks (modprobe path, core_pattern, sysrq)', async () => {
    // A kernel built without module support has no /proc/modules: then nothing can be loaded anyway.
    const modules = () => new Set(existsSync('/proc/modules') ? readFileSync('/proc/modules', 'utf8').split('\n').map((l) => l.split(' ')[0]) : []);
    const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '(none)');
    const before = { modules: modules(), modprobe: read('/proc/sys/kernel/modprobe'), core: read('/proc/sys/kernel/core_pattern') };
    const r = await run([], [
      'printf "\\177ELF" > /tmp/evil.ko; insmod /tmp/evil.ko 2>&1 && echo LOADED-INSMOD',
      'modprobe dummy 2>&1 && echo LOADED-MODPROBE',
      'echo /tmp/pwn > /proc/sys/kernel/modprobe 2>&1 && echo WROTE-MODPROBE',
      'echo "|/tmp/pwn" > /proc/sys/kernel/core_pattern 2>&1 && echo WROTE-CORE',
      'echo h > /proc/sysrq-trigger 2>&1 && echo WROTE-SYSRQ',
      'true',
    ].join('; '));
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /LOADED-|WROTE-/, r.out);
    assert.equal(read('/proc/sys/kernel/modprobe'), before.modprobe);
    assert.equal(read('/proc/sys/kernel/core_pattern'), before.core);
    assert.ok(before.modules.has('dummy') || !modules().has('dummy'), 'the dummy module was not loaded');
  });

  test('/proc/kcore and the other kernel views docker masks read as nothing', async () => {
    const r = await run([], 'for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do printf "%s " $f; head -c 64 $f 2>/dev/null | wc -c; done; ls /sys/firmware 2>/dev/null | wc -l');
    assert.equal(r.code, 0, r.out);
    const lines = r.stdout.trim().split('\n');
    for (const l of lines.slice(0, -1)) assert.match(l, / 0$/, `readable: ${l}`);
    assert.equal(lines.at(-1), '0', '/sys/firmware is empty');
  });

  test('the daemon\'s socket cannot be reached from inside, unless it is bind-mounted on purpose', async () => {
    // A client from the host (node and its libraries, read-only), so the test needs nothing in the image.
    const libs = [`${process.execPath}:/t/node:ro`, '/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro', '/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:ro', '/lib64:/lib64:ro'].flatMap((v) => ['-v', v]);
    const client = "setTimeout(()=>process.exit(2),5000).unref();require('http').get({socketPath:process.argv[1],path:'/_ping'},r=>{r.pipe(process.stdout)}).on('error',()=>process.exit(1))";
    const ping = (sock: string) => `/t/node -e "${client}" ${sock}`;
    const r = await run(libs, `${ping(d.socket)} && echo " REACHED"; for s in $(find / -xdev -type s 2>/dev/null) /run/berth/berth.sock /var/run/docker.sock; do ${ping('$s')} && echo " REACHED $s"; done; echo done`);
    assert.match(r.out, /done/, r.out);
    assert.doesNotMatch(r.out, /REACHED/, `the container reached the daemon: ${r.out}`);
    const mounted = await run([...libs, '-v', `${d.socket}:/var/run/docker.sock`], `${ping('/var/run/docker.sock')}`);
    assert.equal(mounted.stdout, 'OK', `bind-mounted on purpose, it answers: ${mounted.out}`);
  });

  test('CVE-2019-5736: runc\'s /proc/PID/exe cannot be rewritten from inside while exec runs; the host runc is unchanged', async () => {
    const hash0 = sha256(RUNC);
    const mtime0 = statSync(RUNC).mtimeMs;
    // The attack's shape (the published exploit): the container's program is `#!/proc/self/exe`, so `exec` of it
    // runs the runtime's own binary inside the container. The attacker holds that process's /proc/PID/exe open
    // and writes through /proc/self/fd/N once it has gone (on a vulnerable runc, ETXTBSY ends then).
    const attacker = [
      "printf '#!/proc/self/exe\\n' > /evil; chmod +x /evil",
      'while [ ! -e /tmp/done ]; do',
      '  for p in /proc/[0-9]*; do',
      '    c=$(cat $p/comm 2>/dev/null) || continue',
      '    case "$c" in evil|runc*|exe) ;; *) continue ;; esac',
      '    echo "SEEN $p $c $(readlink $p/exe 2>&1)"',
      '    ( exec 3< $p/exe || exit 0; echo "OPENED $p $(readlink /proc/self/fd/3)"; i=0',
      '      while [ $i -lt 100 ]; do if echo "#!/bin/sh" 2>/dev/null > /proc/self/fd/3; then echo "WROTE $p"; exit 0; fi; i=$((i+1)); usleep 10000; done',
      '    ) 2>/dev/null',
      '  done',
      'done; echo DONE',
    ].join('\n');
    const c = await d.berth(['run', '-d', '--name', 'cve5736', 'busybox', 'sh', '-c', attacker]);
    assert.equal(c.code, 0, c.stderr);
    ids.push(c.stdout.trim());
    for (let i = 0; i < 10; i++) await d.berth(['exec', 'cve5736', '/evil']);
    // The exec'd process's own binary (/proc/self/exe, here the image's busybox) cannot be opened for writing either.
    const own = await d.berth(['exec', 'cve5736', 'sh', '-c', 'echo x > /proc/self/exe 2>&1 || echo REFUSED']);
    assert.match(own.stdout + own.stderr, /REFUSED/);
    await d.berth(['exec', 'cve5736', 'touch', '/tmp/done']);
    await d.berth(['wait', 'cve5736'], { timeoutMs: 60_000 });
    const logs = (await d.berth(['logs', 'cve5736'])).stdout;
    await d.berth(['rm', '-f', 'cve5736']);
    const count = (w: string) => logs.split('\n').filter((l) => l.startsWith(w)).length;
    const summary = `seen ${count('SEEN')}, opened ${count('OPENED')}, wrote ${count('WROTE')}`;
    process.stderr.write(`CVE-2019-5736 attempt: ${summary}\n${logs.split('\n').filter((l) => l.startsWith('OPENED')).join('\n')}\n`);
    assert.match(logs, /DONE/, `the attacker ran to its end: ${logs.slice(-500)}`);
    assert.doesNotMatch(logs, /WROTE/, `the attacker wrote through runc's exe (${summary}):\n${logs}`);
    assert.equal(sha256(RUNC), hash0, 'the host\'s runc binary is unchanged');
    assert.equal(statSync(RUNC).mtimeMs, mtime0);
  });

  test('CVE-2024-21626 through an image: a WORKDIR of /proc/self/fd/N never reaches the host', async () => {
    for (let n = 3; n <= 9; n++) {
      const mk = await d.berth(['run', '--name', `wd${n}`, 'busybox', 'true']);
      assert.equal(mk.code, 0, mk.stderr);
      const commit = await d.berth(['commit', '-c', `WORKDIR /proc/self/fd/${n}`, `wd${n}`, `wdimg:${n}`]);
      assert.equal(commit.code, 0, commit.stderr);
      await d.berth(['rm', `wd${n}`]);
      const r = await d.berth(['run', '--rm', `wdimg:${n}`, 'sh', '-c', 'ls ../../../../ 2>&1; cat ../../../../etc/hostname 2>&1']);
      assert.doesNotMatch(r.stdout + r.stderr, /\bwork\b|\blost\+found\b|bt-/, `WORKDIR /proc/self/fd/${n} reached the host: ${r.stdout}${r.stderr}`);
      await d.berth(['rmi', `wdimg:${n}`]);
    }
  });
});

