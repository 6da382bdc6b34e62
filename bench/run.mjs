#!/usr/bin/env node
/**
 * Container start-up benchmark: `berth run --rm busybox true` against the
 * floor (bare runc), the docker CLI on berth's socket and, where present, a
 * real dockerd; plus the daemon's and conmon's memory.
 *
 *   node bench/run.mjs [--runs N] [--json]      (or BENCH_RUNS=N)
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BERTH = join(ROOT, 'bin', 'berth');
const DOCKER = '/usr/local/bin/docker';
const DOCKERD_SOCK = '/var/run/docker.sock';
const WARMUP = 2;

const argv = process.argv.slice(2);
const JSON_OUT = argv.includes('--json');
const runsArg = argv.indexOf('--runs');
const RUNS = Number(runsArg >= 0 ? argv[runsArg + 1] : process.env.BENCH_RUNS ?? 20);
if (!Number.isInteger(RUNS) || RUNS < 1) { console.error('usage: node bench/run.mjs [--runs N] [--json]'); process.exit(2); }
// With --json, stdout carries only the JSON document; progress goes to stderr.
const say = (m) => (JSON_OUT ? process.stderr : process.stdout).write(`${m}\n`);

// ---- cleanup: LIFO, run once, whether we finish, throw or get a signal ----
const undo = [];
let cleaning;
function cleanup() {
  cleaning ??= (async () => { while (undo.length) { try { await undo.pop()(); } catch (e) { console.error(`cleanup: ${e.message}`); } } })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanup().finally(() => process.exit(130)); });

// ---- processes ----
/** Runs a command to completion; rejects on a non-zero exit so a broken setup is not timed as "fast". */
function run(cmd, args, env = process.env) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    child.stdout.on('data', (b) => { out += b; });
    child.stderr.on('data', (b) => { err += b; });
    child.on('error', rej);
    child.on('close', (code, signal) => (code === 0 ? res(out) : rej(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${err.trim()}`))));
  });
}
const berth = (args) => run(BERTH, [...args], { ...process.env, BERTH_HOST: host });

function ping(socketPath) {
  return new Promise((res) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (r) => { r.resume(); res(r.statusCode === 200); });
    req.on('error', () => res(false));
    req.on('timeout', () => { req.destroy(); res(false); });
    req.end();
  });
}

/** Finds the first process whose command line (NUL-separated args joined by spaces) satisfies pred. */
function findPid(pred) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try { if (pred(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '))) return Number(pid); } catch { /* exited */ }
  }
  return undefined;
}
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : undefined;
}
const mountsUnder = (dir) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${dir}/`));

// ---- timing ----
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
/**
 * Times each scenario's `once`, round-robin: on a shared machine background load drifts, and
 * interleaving makes it hit every scenario alike, so the ratios stay meaningful.
 */
async function measureAll(scenarios) {
  const samples = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
  say(`measuring ${Object.keys(scenarios).join(', ')}: ${WARMUP} warm-up + ${RUNS} rounds`);
  for (let i = 0; i < WARMUP + RUNS; i++) { // warm-ups pay page cache, JIT and lazy-init costs
    for (const [k, once] of Object.entries(scenarios)) {
      if (cleaning) throw new Error('interrupted'); // a signal arrived: start nothing new while cleaning up
      const t0 = process.hrtime.bigint();
      await once();
      if (i >= WARMUP) samples[k].push(ms(t0));
    }
  }
  const r2 = (x) => +x.toFixed(2);
  return Object.fromEntries(Object.entries(samples).map(([k, xs]) => {
    const s = [...xs].sort((a, b) => a - b);
    const pick = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]; // nearest rank
    return [k, { median: r2(pick(0.5)), p90: r2(pick(0.9)), min: r2(s[0]), samples: xs.map(r2) }];
  }));
}

// ---- the daemon: an answering BERTH_HOST, else a private one ----
let host = process.env.BERTH_HOST;
let daemonPid;
let tmp;

async function startDaemon() {
  if (host?.startsWith('unix://') && await ping(host.slice(7))) {
    const sock = host.slice(7);
    daemonPid = findPid((c) => c.includes(' daemon ') && c.includes(sock));
    say(`using the berth daemon at ${host}${daemonPid ? ` (pid ${daemonPid})` : ''}`);
    return;
  }
  // Short path: conmon's attach socket under the exec root must fit in 108 bytes.
  tmp = mkdtempSync('/tmp/bb-');
  undo.push(() => {
    // A mount left behind would make rm -rf descend into (and delete) the mounted tree, so detach first.
    for (const m of mountsUnder(tmp).reverse()) { console.error(`cleanup: unmounting leftover ${m}`); spawnSync('umount', ['-l', m]); }
    rmSync(tmp, { recursive: true, force: true });
  });
  host = `unix://${tmp}/berth.sock`;
  // Own process group: a terminal Ctrl-C reaches only us, so we can remove containers before the daemon stops.
  const proc = spawn(BERTH, ['daemon', '-H', host, '--data-root', `${tmp}/data`, '--exec-root', `${tmp}/run`],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let log = '';
  proc.stderr.on('data', (b) => { log += b; });
  const exited = new Promise((r) => proc.on('exit', r));
  undo.push(async () => {
    // Containers outlive the daemon (conmon keeps them), so remove them all while it still answers.
    const ids = (await berth(['ps', '-aq']).catch(() => '')).split('\n').filter(Boolean);
    if (ids.length) await berth(['rm', '-f', ...ids]).catch((e) => console.error(`cleanup: ${e.message}`));
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (proc.exitCode === null && proc.signalCode === null) { console.error('cleanup: daemon ignored SIGTERM, killing it'); proc.kill('SIGKILL'); }
  });
  daemonPid = proc.pid;
  for (let end = Date.now() + 15_000; !(await ping(`${tmp}/berth.sock`));) {
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`berth daemon did not come up:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  say(`started a private berth daemon (pid ${daemonPid}) in ${tmp}`);
}

// ---- the floor: bare runc on a copy of the image's root filesystem ----
/** Prepares the bundle; returns one timed iteration. */
async function runcFloor(lowerDir) {
  const dir = mkdtempSync('/tmp/bb-runc-');
  const state = join(dir, 'state');
  undo.push(async () => {
    const left = (await run('runc', ['--root', state, 'list', '-q']).catch(() => '')).split('\n').filter(Boolean);
    for (const id of left) await run('runc', ['--root', state, 'delete', '-f', id]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  // A copy, not the layer itself: runc may create mount points in the rootfs, and the layer must stay pristine.
  if (lowerDir && existsSync(lowerDir)) cpSync(lowerDir, join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  else { // the same static busybox the image is built from
    mkdirSync(join(dir, 'rootfs/bin'), { recursive: true });
    cpSync('/bin/busybox', join(dir, 'rootfs/bin/busybox'));
    spawnSync('ln', ['-s', 'busybox', join(dir, 'rootfs/bin/true')]);
  }
  await run('runc', ['spec', '--bundle', dir]);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['true'];
  spec.process.env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  let n = 0;
  return async () => {
    const id = `bench-${process.pid}-${n++}`;
    // --keep so that the delete is a real step, as berth's --rm is.
    await run('runc', ['--root', state, 'run', '--keep', '--bundle', dir, id]);
    await run('runc', ['--root', state, 'delete', id]);
  };
}

// ---- report ----
function report(r) {
  if (JSON_OUT) { process.stdout.write(`${JSON.stringify(r, null, 2)}\n`); return; }
  const f = (x) => (x === undefined ? '-' : x.toFixed(1));
  say(`\nstart-up of a \`true\` container, ms over ${RUNS} interleaved runs (after ${WARMUP} warm-up):`);
  say(`  ${'what'.padEnd(34)}${'median'.padStart(9)}${'p90'.padStart(9)}${'min'.padStart(9)}`);
  for (const [k, label] of Object.entries(LABELS)) {
    const t = r.timings[k];
    say(`  ${label.padEnd(34)}${t ? `${f(t.median).padStart(9)}${f(t.p90).padStart(9)}${f(t.min).padStart(9)}` : `  ${r.skipped[k]}`}`);
  }
  say('');
  // Node 20 parses this file at every start (~80 ms on the machine this was written on), berth's CLI included.
  if (process.env.NODE_EXTRA_CA_CERTS) say(`  note: NODE_EXTRA_CA_CERTS is set here; bin/berth drops it for client commands (they never use TLS), and so does the node row\n`);
  const x = (v) => (v === undefined ? 'n/a' : `${v.toFixed(2)}x`);
  say(`  ratios of medians: berth/runc ${x(r.ratios.berthOverRunc)}, berth/dockerd ${x(r.ratios.berthOverDockerd)}, docker CLI on berth/runc ${x(r.ratios.dockerCliOnBerthOverRunc)}\n`);
  for (const t of r.targets) say(`  ${t.verdict.padEnd(5)} ${t.name}${t.ratio !== undefined ? `: ${t.ratio.toFixed(2)}x` : ''}`);
  const kib = (x) => (x === undefined ? 'n/a' : `${(x / 1024).toFixed(1)} MiB`);
  say(`\nmemory: berth daemon idle RSS ${kib(r.memory.daemonRssKiB)}; conmon per running container ${kib(r.memory.conmonRssKiB)}`);
}
const LABELS = {
  berth: 'berth run --rm busybox true',
  dockerCli: 'docker CLI -> berth socket',
  runc: 'runc run + delete (floor)',
  node: 'node -e 0 (bare Node start-up)',
  dockerd: 'docker CLI -> dockerd',
};

async function main() {
  await startDaemon();
  if (!(await berth(['images', '-q', 'busybox']).catch(() => '')).trim()) { say('bootstrapping busybox:latest'); await berth(['bootstrap', 'busybox']); }
  const skipped = {};
  const dockerRun = (sock) => () => run(DOCKER, ['run', '--rm', 'busybox', 'true'], { ...process.env, DOCKER_HOST: `unix://${sock}` });
  const lower = JSON.parse(await berth(['inspect', 'busybox']))[0]?.GraphDriver?.Data?.LowerDir?.split(':')[0];
  const scenarios = {
    berth: () => berth(['run', '--rm', 'busybox', 'true']),
    dockerCli: existsSync(DOCKER) ? dockerRun(host.slice(7)) : undefined,
    runc: await runcFloor(lower),
    // How much of the berth figure is just starting Node, which no daemon-side work can win back.
    // As bin/berth starts it: without NODE_EXTRA_CA_CERTS, which Node 20 reads at every start.
    node: () => run(process.execPath, ['-e', '0'], Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'))),
    dockerd: existsSync(DOCKER) && await ping(DOCKERD_SOCK) ? dockerRun(DOCKERD_SOCK) : undefined,
  };
  if (!scenarios.dockerCli) skipped.dockerCli = `${DOCKER} not installed, skipped`;
  if (!scenarios.dockerd) { skipped.dockerd = 'dockerd: not running here, skipped'; say(skipped.dockerd); }
  for (const k of Object.keys(scenarios)) if (!scenarios[k]) delete scenarios[k];
  const timings = await measureAll(scenarios);

  // Memory: let the daemon settle (GC, closed connections) before reading its idle RSS.
  await new Promise((r) => setTimeout(r, 1000));
  const memory = { daemonRssKiB: daemonPid ? rssKiB(daemonPid) : undefined, conmonRssKiB: undefined };
  const id = (await berth(['run', '-d', 'busybox', 'sleep', '30'])).trim();
  undo.push(() => berth(['rm', '-f', id]).catch(() => {}));
  const conmon = findPid((c) => c.split(' ')[0].endsWith('conmon') && c.includes(id));
  if (conmon) memory.conmonRssKiB = rssKiB(conmon); else say('  no conmon process found for the sleeping container');
  await berth(['rm', '-f', id]);

  const ratio = (a, b) => (timings[a] && timings[b] ? timings[a].median / timings[b].median : undefined);
  const target = (name, r, ok) => ({ name, ratio: r, verdict: r === undefined ? 'N/A' : ok(r) ? 'PASS' : 'FAIL' });
  const targets = [
    target('berth at most 3x the runc floor', ratio('berth', 'runc'), (r) => r <= 3),
    target('berth at most 1/5 of dockerd', ratio('berth', 'dockerd'), (r) => r <= 0.2),
  ];
  // docker CLI on berth / floor is the daemon's share alone: the docker CLI itself starts in ~10 ms.
  const ratios = { berthOverRunc: ratio('berth', 'runc'), berthOverDockerd: ratio('berth', 'dockerd'), dockerCliOnBerthOverRunc: ratio('dockerCli', 'runc') };
  report({ runs: RUNS, warmup: WARMUP, host, timings, skipped, ratios, targets, memory });
}

try { await main(); } catch (e) { console.error(`bench: ${e.message}`); process.exitCode = 1; } finally { await cleanup(); }
