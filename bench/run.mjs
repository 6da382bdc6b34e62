#!/usr/bin/env node
/**
 * berth's benchmarks, each beside what it should beat:
 *
 * - startup: `berth run --rm busybox true` against the floor (bare runc), the docker CLI on
 *   berth's socket and, where present, a real dockerd; plus the daemon's and conmon's memory.
 * - pull: `berth pull` of debian:bookworm from a local CNCF registry (Debian's docker-registry)
 *   into an empty data root, in MB/s, beside `docker pull` of the same image from the same
 *   registry when a dockerd answers on /var/run/docker.sock, and `skopeo copy` of it to a
 *   directory (download and verify only, no unpack).
 *
 * - exec: `berth exec C true` in a running container beside `runc exec` on the same container (the
 *   floor) and the docker CLI on berth's socket.
 * - ports: TCP throughput through a published port (`-p 127.0.0.1:P:5000`) beside the same busybox nc
 *   server on host loopback; target at least 80% of it (no user-space proxy in the data path).
 * - idle: memory per idle container: N (10; BENCH_IDLE_N) `sleep` containers in a private daemon, the
 *   daemon's RSS growth plus each container's conmon (RSS and PSS), and the host's MemAvailable drop.
 *
 * - vm: `berth run --rm --runtime vm busybox true` (with --network none and on the default bridge) beside
 *   the floor, a bare `qemu-system-x86_64 -M microvm -kernel … -initrd …` boot to power-off of the same
 *   kernel with a trivial init; `berth exec` of `true` into a running VM beside the same into a container;
 *   and one `berth compare busybox true`. BENCH_VM_RUNS (7: one TCG boot varies by a second with the host's load) rounds.
 *
 *   node bench/run.mjs [--only startup|pull|build|exec|ports|idle|vm] [--runs N] [--pull-runs N] [--dockerd] [--json]
 *   (or BENCH_RUNS=N, BENCH_PULL_RUNS=N)
 *
 * The comparisons with dockerd use the one on /var/run/docker.sock; with --dockerd, a private one (bench/dockerd.mjs,
 * which installs Debian's docker.io when missing) that is stopped and removed afterwards. A dockerd without busybox
 * gets berth's (`berth save | docker load`): there is no Docker Hub here.
 *
 * The pull takes debian:bookworm from BERTH_HOST's daemon when that has it; otherwise it makes
 * it in a private daemon with `berth bootstrap debian` (debootstrap, about a minute).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { startPrivateDockerd } from './dockerd.mjs';
import { ping, removeTree, spawnService } from './service.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const BERTH = join(ROOT, 'bin', 'berth');
const DOCKER = '/usr/local/bin/docker';
let DOCKERD_SOCK = '/var/run/docker.sock'; // --dockerd: the private one's
const REGISTRY_BIN = '/usr/bin/docker-registry';
const SKOPEO = '/usr/bin/skopeo';
const PULL_IMAGE = 'debian:bookworm';
const WARMUP = 2;
const PULL_WARMUP = 1;

const USAGE = 'usage: node bench/run.mjs [--only startup|pull|build|exec|ports|idle|vm] [--runs N] [--pull-runs N (>= 3)] [--dockerd] [--json]';
const argv = process.argv.slice(2);
const FLAGS = { '--json': 0, '--dockerd': 0, '--runs': 1, '--pull-runs': 1, '--only': 1 };
for (let i = 0; i < argv.length; i += 1 + FLAGS[argv[i]]) {
  if (!(argv[i] in FLAGS) || (FLAGS[argv[i]] && argv[i + 1] === undefined)) { console.error(USAGE); process.exit(2); }
}
const flag = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
const JSON_OUT = argv.includes('--json');
const RUNS = Number(flag('--runs') ?? process.env.BENCH_RUNS ?? 20);
const PULL_RUNS = Number(flag('--pull-runs') ?? process.env.BENCH_PULL_RUNS ?? 5);
const ONLY = flag('--only');
if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(PULL_RUNS) || PULL_RUNS < 3 || ![undefined, 'startup', 'pull', 'build', 'exec', 'ports', 'idle', 'vm'].includes(ONLY)) {
  console.error(USAGE); process.exit(2);
}
// With --json, stdout carries only the JSON document; progress goes to stderr.
const say = (m) => (JSON_OUT ? process.stderr : process.stdout).write(`${m}\n`);
const sleep = (t) => new Promise((r) => setTimeout(r, t));

// ---- cleanup: LIFO, run once, whether we finish, throw or get a signal ----
const undo = [];
let cleaning;
function cleanup() {
  cleaning ??= (async () => { while (undo.length) { try { await undo.pop()(); } catch (e) { console.error(`cleanup: ${e.message}`); } } })();
  return cleaning;
}
/** Registers `fn` for cleanup and returns it run-once, so it can also be called early (a pull's daemon, right after the pull). */
function defer(fn) {
  let done;
  const once = () => (done ??= (async () => fn())());
  undo.push(once);
  return once;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanup().finally(() => process.exit(130)); });
// A reader that went away (`| head`): Node would die of the write error and leave daemons running; clean up instead.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => { cleanup().finally(() => process.exit(1)); });

// ---- processes ----
/** Runs a command to completion; rejects on a non-zero exit so a broken setup is not timed as "fast". */
function run(cmd, args, env = process.env) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    child.stdout.on('data', (b) => { out += b; });
    child.stderr.on('data', (b) => { err += b; });
    child.on('error', rej);
    child.on('close', (code, signal) => (code === 0 ? res(out) : rej(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${tail(err)}`))));
  });
}
/** The end of a command's stderr: debootstrap's runs to hundreds of lines. */
const tail = (text) => text.trim().split('\n').slice(-15).join('\n');
const berthAt = (h, args, env = {}) => run(BERTH, [...args], { ...process.env, ...env, BERTH_HOST: h });
const berth = (args) => berthAt(host, args);

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

// ---- timing ----
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const r2 = (x) => +x.toFixed(2);
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const pick = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]; // nearest rank
  return { median: r2(pick(0.5)), p90: r2(pick(0.9)), min: r2(s[0]), max: r2(s.at(-1)), samples: xs.map(r2) };
}
/**
 * Times each scenario's `once`, round-robin: on a shared machine background load drifts, and
 * interleaving makes it hit every scenario alike, so the ratios stay meaningful. `once` may
 * return its own measurement ({ ms, ... }) when the time it should count is not all of its own.
 */
async function measureAll(scenarios, runs = RUNS, warmup = WARMUP) {
  const samples = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
  say(`measuring ${Object.keys(scenarios).join(', ')}: ${warmup} warm-up + ${runs} rounds`);
  for (let i = 0; i < warmup + runs; i++) { // warm-ups pay page cache, JIT and lazy-init costs
    for (const [k, once] of Object.entries(scenarios)) {
      if (cleaning) throw new Error('interrupted'); // a signal arrived: start nothing new while cleaning up
      const t0 = process.hrtime.bigint();
      const got = await once();
      const sample = got?.ms !== undefined ? got : { ms: ms(t0) };
      if (i >= warmup) samples[k].push(sample);
    }
  }
  return samples;
}

// ---- daemons: an answering BERTH_HOST, else a private one ----
let host = process.env.BERTH_HOST;
let privateHost;
let daemonPid;

/** A berth daemon on a fresh temporary root; `dispose` removes its containers, stops it and deletes the root. */
async function spawnDaemon(prefix) {
  if (cleaning) throw new Error('interrupted');
  // Short path: conmon's attach socket under the exec root must fit in 108 bytes.
  const dir = mkdtempSync(prefix);
  const h = `unix://${dir}/berth.sock`;
  const daemon = spawnService('berth daemon', BERTH, ['daemon', '-H', h, '--data-root', `${dir}/data`, '--exec-root', `${dir}/run`], { graceMs: 10_000 });
  const dispose = defer(async () => {
    if (daemon.alive()) {
      // Containers outlive the daemon (conmon keeps them), so remove them all while it still answers.
      const ids = (await berthAt(h, ['ps', '-aq']).catch(() => '')).split('\n').filter(Boolean);
      if (ids.length) await berthAt(h, ['rm', '-f', ...ids]).catch((e) => console.error(`cleanup: ${e.message}`));
    }
    await daemon.stop();
    removeTree(dir);
  });
  try { await daemon.ready(`${dir}/berth.sock`, 15_000, 50); } catch (e) { await dispose(); throw e; }
  return { dir, host: h, pid: daemon.pid, dispose };
}

/** The daemon the benchmarks use: BERTH_HOST's when it answers, else a private one. */
async function startDaemon() {
  if (host?.startsWith('unix://') && await ping(host.slice(7))) {
    const sock = host.slice(7);
    daemonPid = findPid((c) => c.includes(' daemon ') && c.includes(sock));
    say(`using the berth daemon at ${host}${daemonPid ? ` (pid ${daemonPid})` : ''}`);
    return;
  }
  const d = await spawnDaemon('/tmp/bb-');
  host = privateHost = d.host;
  daemonPid = d.pid;
  say(`started a private berth daemon (pid ${daemonPid}) in ${d.dir}`);
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

const LABELS = {
  berth: 'berth run --rm busybox true',
  berthNoNet: '  … with --network none',
  dockerCli: 'docker CLI -> berth socket',
  dockerCliNoNet: '  … with --network none',
  runc: 'runc run + delete (floor)',
  node: 'node -e 0 (bare Node start-up)',
  dockerd: 'docker CLI -> dockerd',
};

async function startupBench() {
  await startDaemon();
  if (!(await berth(['images', '-q', 'busybox']).catch(() => '')).trim()) { say('bootstrapping busybox:latest'); await berth(['bootstrap', 'busybox']); }
  const skipped = {};
  const dockerRun = (sock, ...flags) => () => run(DOCKER, ['run', '--rm', ...flags, 'busybox', 'true'], { ...process.env, DOCKER_HOST: `unix://${sock}` });
  const lower = JSON.parse(await berth(['inspect', 'busybox']))[0]?.GraphDriver?.Data?.LowerDir?.split(':')[0];
  const scenarios = {
    berth: () => berth(['run', '--rm', 'busybox', 'true']),
    // The floor has no network either: this row is the like-for-like one; the bridge's cost is the difference.
    berthNoNet: () => berth(['run', '--rm', '--network', 'none', 'busybox', 'true']),
    dockerCli: existsSync(DOCKER) ? dockerRun(host.slice(7)) : undefined,
    // The daemon's share with a client that starts in ~10 ms: what berth's own CLI adds over it is Node's start-up.
    dockerCliNoNet: existsSync(DOCKER) ? dockerRun(host.slice(7), '--network', 'none') : undefined,
    runc: await runcFloor(lower),
    // How much of the berth figure is just starting Node, which no daemon-side work can win back.
    // As bin/berth starts it: without NODE_EXTRA_CA_CERTS, which Node 20 reads at every start.
    node: () => run(process.execPath, ['-e', '0'], Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'))),
    dockerd: existsSync(DOCKER) && await ping(DOCKERD_SOCK) ? dockerRun(DOCKERD_SOCK) : undefined,
  };
  if (scenarios.dockerd) await dockerdHasBusybox();
  if (!scenarios.dockerCli) skipped.dockerCli = skipped.dockerCliNoNet = `${DOCKER} not installed, skipped`;
  if (!scenarios.dockerd) { skipped.dockerd = 'dockerd: not running here, skipped'; say(skipped.dockerd); }
  for (const k of Object.keys(scenarios)) if (!scenarios[k]) delete scenarios[k];
  const samples = await measureAll(scenarios);
  const timings = Object.fromEntries(Object.entries(samples).map(([k, xs]) => {
    const { max: _max, ...s } = stats(xs.map((x) => x.ms));
    return [k, s];
  }));

  // Memory: let the daemon settle (GC, closed connections) before reading its idle RSS.
  await sleep(1000);
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
    // The floor has no network: this is the like-for-like reading of the same target.
    target('berth --network none at most 3x the runc floor', ratio('berthNoNet', 'runc'), (r) => r <= 3),
    target('berth at most 1/5 of dockerd', ratio('berth', 'dockerd'), (r) => r <= 0.2),
  ];
  // docker CLI on berth / floor is the daemon's share alone: the docker CLI itself starts in ~10 ms.
  const ratios = { berthOverRunc: ratio('berth', 'runc'), berthNoNetOverRunc: ratio('berthNoNet', 'runc'), berthOverDockerd: ratio('berth', 'dockerd'), dockerCliOnBerthOverRunc: ratio('dockerCli', 'runc'), dockerCliNoNetOnBerthOverRunc: ratio('dockerCliNoNet', 'runc') };
  return { runs: RUNS, warmup: WARMUP, host, timings, skipped, ratios, targets, memory };
}

function reportStartup(r) {
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
  say(`  ratios of medians: berth/runc ${x(r.ratios.berthOverRunc)}, berth --network none/runc ${x(r.ratios.berthNoNetOverRunc)}, berth/dockerd ${x(r.ratios.berthOverDockerd)}, docker CLI on berth/runc ${x(r.ratios.dockerCliOnBerthOverRunc)} (--network none ${x(r.ratios.dockerCliNoNetOnBerthOverRunc)})\n`);
  for (const t of r.targets) say(`  ${t.verdict.padEnd(5)} ${t.name}${t.ratio !== undefined ? `: ${t.ratio.toFixed(2)}x` : ''}`);
  const kib = (v) => (v === undefined ? 'n/a' : `${(v / 1024).toFixed(1)} MiB`);
  say(`\nmemory: berth daemon idle RSS ${kib(r.memory.daemonRssKiB)}; conmon per running container ${kib(r.memory.conmonRssKiB)}`);
}

// ---- pull: a real registry on loopback ----
function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => res(port)); });
  });
}
async function answers(url) {
  try { const r = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) }); await r.arrayBuffer(); return true; } catch { return false; }
}

/** Debian's docker-registry (CNCF distribution 2.8), anonymous, on a free loopback port, storage in a temp dir. */
async function startRegistry() {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} not found: apt-get install docker-registry`);
  if (cleaning) throw new Error('interrupted');
  const dir = mkdtempSync('/tmp/bb-reg-');
  let proc; let exited;
  const alive = () => proc?.pid !== undefined && proc.exitCode === null && proc.signalCode === null;
  const stop = async () => {
    if (!alive()) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
  defer(async () => { await stop(); rmSync(dir, { recursive: true, force: true }); });
  let log = '';
  for (let attempt = 0; attempt < 5; attempt++) { // a port picked free can be taken before the registry binds it
    const port = await freePort();
    writeFileSync(join(dir, 'config.yml'), `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${dir}/storage
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: berth-bench
`);
    log = '';
    proc = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.on('data', (b) => { log += b; });
    proc.on('error', (e) => { log += e.message; });
    exited = new Promise((r) => proc.on('exit', r));
    const url = `http://127.0.0.1:${port}`;
    for (const end = Date.now() + 15_000; alive() && Date.now() < end;) {
      if (await answers(url)) return { host: `127.0.0.1:${port}`, url, pid: proc.pid };
      await sleep(50);
    }
    await stop();
    if (!/address already in use/.test(log)) break;
  }
  throw new Error(`docker-registry did not start:\n${log}`);
}

/** Compressed bytes a pull of the manifest fetches: config plus layers. */
async function manifestOf(url, repo, tag) {
  const accept = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');
  const r = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { headers: { Accept: accept } });
  if (!r.ok) throw new Error(`the registry has no ${repo}:${tag}: ${r.status} ${await r.text()}`);
  const m = await r.json();
  if (!m.layers) throw new Error(`expected an image manifest for ${repo}:${tag}, got ${m.mediaType}`);
  return { layers: m.layers.length, layerBytes: m.layers.reduce((n, l) => n + l.size, 0), bytes: m.config.size + m.layers.reduce((n, l) => n + l.size, 0) };
}

/**
 * Runs a pull CLI and notes when each output line arrives. Piped, both CLIs print each layer's
 * status changes (Pulling fs layer, Download complete, Pull complete) without bars, as they happen.
 */
function timedPull(cmd, args, env) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = []; let buf = ''; let err = '';
    child.stdout.on('data', (b) => {
      const t = ms(t0);
      buf += b;
      for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) lines.push({ t, line: buf.slice(0, nl) });
    });
    child.stderr.on('data', (b) => { err += b; });
    child.on('error', rej);
    child.on('close', (code, signal) => {
      const wall = ms(t0);
      if (code !== 0) rej(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${tail(err)}`));
      else res({ ms: wall, lines });
    });
  });
}

/**
 * Checks that every layer was really fetched and unpacked (nothing "Already exists"), and splits
 * the wall time at the layers' status lines: start (CLI start, manifest, config) until the first
 * "Pulling fs layer"; download until the last "Download complete"; unpack until the last "Pull
 * complete"; finish (recording the image, CLI exit) until the end. With one layer, download and
 * unpack are exact; with several, layers unpack while others download and this is the critical path.
 */
function phases(who, { ms: wall, lines }, layers) {
  const all = (re) => lines.filter((l) => re.test(l.line));
  const complete = new Set(all(/^[0-9a-f]{12}: Pull complete$/).map((l) => l.line.slice(0, 12)));
  if (all(/: Already exists$/).length || complete.size !== layers) {
    throw new Error(`${who} did not download and unpack all ${layers} layer(s):\n${lines.map((l) => l.line).join('\n')}`);
  }
  const first = all(/: Pulling fs layer$/)[0]?.t;
  const downloaded = all(/: Download complete$/).at(-1)?.t;
  const unpacked = all(/: Pull complete$/).at(-1)?.t;
  if (first === undefined || downloaded === undefined) return { ms: wall };
  return { ms: wall, start: first, download: downloaded - first, unpack: unpacked - downloaded, finish: wall - unpacked };
}

/** Does the daemon at h hold the image? */
const hasImage = async (h, ref) => !!(await berthAt(h, ['images', '-q', ref]).catch(() => '')).trim();

async function pullBench() {
  if (!host) await startDaemon();
  // The source of the image: the daemon in use when it has debian:bookworm, else a private one made to.
  let src = host;
  if (await hasImage(src, PULL_IMAGE)) say(`using ${PULL_IMAGE} from the daemon at ${src}`);
  else {
    if (src !== privateHost) src = (await spawnDaemon('/tmp/bb-src-')).host; // not 120 MB into someone's daemon
    say(`making ${PULL_IMAGE} in the private daemon with \`berth bootstrap debian\` (debootstrap, about a minute; set BERTH_HOST to a daemon that has it to skip this)`);
    // Its temporary root goes under the daemon's directory, so a Ctrl-C cannot leave it (or a mount in it) behind.
    const tmpdir = join(src.slice('unix://'.length), '..', 'tmp');
    mkdirSync(tmpdir, { recursive: true });
    const t0 = process.hrtime.bigint();
    await berthAt(src, ['bootstrap', 'debian'], { TMPDIR: tmpdir });
    say(`  made in ${(ms(t0) / 1000).toFixed(0)} s`);
  }

  const reg = await startRegistry();
  say(`started docker-registry (pid ${reg.pid}) on ${reg.host}`);
  const ref = `${reg.host}/bench/debian:bookworm`;
  await berthAt(src, ['tag', PULL_IMAGE, ref]);
  // Only an untag: the image keeps its debian:bookworm tag.
  defer(() => berthAt(src, ['rmi', ref]).catch((e) => console.error(`cleanup: ${e.message}`)));
  say(`pushing ${PULL_IMAGE} to ${ref}`);
  await berthAt(src, ['push', ref]);
  const size = await manifestOf(reg.url, 'bench/debian', 'bookworm');

  let unpackedBytes;
  const dockerEnv = { ...process.env, DOCKER_HOST: `unix://${DOCKERD_SOCK}` };
  const scenarios = {
    berth: async () => {
      const d = await spawnDaemon('/tmp/bb-p-'); // an empty data root every time
      try {
        const r = phases('berth pull', await timedPull(BERTH, ['pull', ref], { ...process.env, BERTH_HOST: d.host }), size.layers);
        const dirs = readdirSync(join(d.dir, 'data/image/layers')).filter((e) => existsSync(join(d.dir, 'data/image/layers', e, 'diff')));
        if (dirs.length !== size.layers) throw new Error(`berth pull left ${dirs.length} unpacked layers, expected ${size.layers}`);
        unpackedBytes ??= Number(await berthAt(d.host, ['inspect', '-f', '{{.Size}}', ref]));
        return r;
      } finally { await d.dispose(); }
    },
  };
  let dockerSkipped;
  if (!(await ping(DOCKERD_SOCK))) dockerSkipped = `dockerd: nothing answers on ${DOCKERD_SOCK}, skipped`;
  else if (!existsSync(DOCKER)) dockerSkipped = `${DOCKER} not installed, skipped`;
  else {
    // dockerd speaks plain HTTP to 127.0.0.0/8 registries without --insecure-registry.
    defer(() => run(DOCKER, ['rmi', '-f', ref], dockerEnv).catch(() => {}));
    scenarios.docker = async () => {
      await run(DOCKER, ['rmi', '-f', ref], dockerEnv).catch(() => {}); // its layers go with it (phases() checks none "Already exists")
      return phases('docker pull', await timedPull(DOCKER, ['pull', ref], dockerEnv), size.layers);
    };
  }
  if (dockerSkipped) say(dockerSkipped);
  // A peer that only downloads: skopeo copies the image to a directory (every blob fetched and
  // verified, nothing unpacked), the floor for a pull's network and hashing part.
  let skopeoSkipped;
  if (!existsSync(SKOPEO)) skopeoSkipped = `${SKOPEO} not installed, skipped`;
  else {
    scenarios.skopeo = async () => {
      const out = mkdtempSync('/tmp/bb-sk-');
      try {
        const t0 = process.hrtime.bigint();
        await run(SKOPEO, ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `dir:${out}`]);
        return { ms: ms(t0) };
      } finally { rmSync(out, { recursive: true, force: true }); }
    };
  }
  const samples = await measureAll(scenarios, PULL_RUNS, PULL_WARMUP);

  const timings = {};
  for (const [k, xs] of Object.entries(samples)) {
    const wall = stats(xs.map((x) => x.ms));
    const t = { ...wall, mbPerS: r2(size.bytes / 1e6 / (wall.median / 1000)) };
    if (xs.every((x) => x.download !== undefined)) {
      t.phases = Object.fromEntries(['start', 'download', 'unpack', 'finish'].map((p) => [p, stats(xs.map((x) => x[p])).median]));
      t.downloadMbPerS = r2(size.layerBytes / 1e6 / (t.phases.download / 1000));
    }
    timings[k] = t;
  }
  const ratio = timings.docker ? timings.berth.median / timings.docker.median : undefined;
  const targets = [{ name: 'berth pull faster than docker pull', ratio, verdict: ratio === undefined ? 'N/A' : ratio < 1 ? 'PASS' : 'FAIL' }];
  const skipped = { ...(dockerSkipped ? { docker: dockerSkipped } : {}), ...(skopeoSkipped ? { skopeo: skopeoSkipped } : {}) };
  return { image: PULL_IMAGE, ref, runs: PULL_RUNS, warmup: PULL_WARMUP, ...size, unpackedBytes, timings, skipped, targets };
}

function reportPull(p) {
  const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
  const s = (x) => `${(x / 1000).toFixed(2)} s`;
  say(`\npull of ${p.image} (${mb(p.bytes)} compressed in ${p.layers} layer${p.layers === 1 ? '' : 's'}${p.unpackedBytes ? `, ${mb(p.unpackedBytes)} unpacked` : ''}) from a local registry into an empty data root,`);
  say(`${p.runs} interleaved runs (after ${p.warmup} warm-up); MB/s is compressed MB (10^6 bytes) over the median:`);
  say(`  ${'what'.padEnd(34)}${'median'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}${'MB/s'.padStart(9)}`);
  for (const [k, label] of [['berth', 'berth pull'], ['docker', 'docker pull (dockerd)'], ['skopeo', 'skopeo copy to dir: (no unpack)']]) {
    const t = p.timings[k];
    say(`  ${label.padEnd(34)}${t ? `${s(t.median).padStart(9)}${s(t.min).padStart(9)}${s(t.max).padStart(9)}${t.mbPerS.toFixed(1).padStart(9)}` : `  ${p.skipped[k]}`}`);
  }
  for (const [k, label] of [['berth', 'berth pull'], ['docker', 'docker pull']]) {
    const ph = p.timings[k]?.phases;
    if (!ph) continue;
    const pct = (x) => `${Math.round((x / p.timings[k].median) * 100)}%`;
    say(`  ${label}, medians by phase: start + manifest ${s(ph.start)} (${pct(ph.start)}), download ${s(ph.download)} (${pct(ph.download)}, ${p.timings[k].downloadMbPerS.toFixed(1)} MB/s), `
      + `unpack ${s(ph.unpack)} (${pct(ph.unpack)}), finish ${s(ph.finish)} (${pct(ph.finish)})`);
  }
  say('');
  for (const t of p.targets) say(`  ${t.verdict.padEnd(5)} ${t.name}${t.ratio !== undefined ? `: ${t.ratio.toFixed(2)}x docker's time` : ''}`);
}

// ---- build: cold, fully cached, and after one copied file changed ----
const BUILD_DOCKERFILE = `FROM busybox
RUN mkdir -p /app && for i in 1 2 3 4 5; do echo line $i >> /app/lines; done
WORKDIR /app
COPY static/ ./static/
RUN ls static | wc -l > count
COPY main.txt ./
RUN wc -c main.txt > size
CMD ["cat", "count", "size"]
`;

async function buildBench() {
  const d = await spawnDaemon('/tmp/bbb-');
  say(`build: a private daemon in ${d.dir}`);
  await berthAt(d.host, ['bootstrap', 'busybox']);
  const ctx = `${d.dir}/ctx`;
  mkdirSync(`${ctx}/static`, { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(`${ctx}/static/f${i}.txt`, `static ${i}\n`.repeat(100));
  writeFileSync(`${ctx}/main.txt`, 'main 0\n');
  writeFileSync(`${ctx}/Dockerfile`, BUILD_DOCKERFILE);
  let n = 0;
  const runs = Math.max(3, Math.min(RUNS, 10));
  const samples = await measureAll({
    cold: () => berthAt(d.host, ['build', '--no-cache', '-t', 'bench/build', ctx]),
    cached: () => berthAt(d.host, ['build', '-t', 'bench/build', ctx]),
    oneFile: () => { writeFileSync(`${ctx}/main.txt`, `main ${++n}\n`); return berthAt(d.host, ['build', '-t', 'bench/build', ctx]); },
  }, runs, 1);
  const docker = (await ping(DOCKERD_SOCK)) ? 'dockerd present: not compared yet' : 'dockerd: not running here, skipped';
  await d.dispose();
  const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v.map((x) => x.ms)).median]));
  return {
    medians: med, runs, docker,
    targets: [
      { name: 'build: cold no slower than docker', verdict: 'N/A' },
      { name: 'build: cached rebuild at least twice as fast as docker', verdict: 'N/A' },
    ],
  };
}

function reportBuild(b) {
  say(`\nbuild of a 7-step Dockerfile (3 RUN, 2 COPY of 51 files), median of ${b.runs}:`);
  say(`  cold (--no-cache)            ${b.medians.cold.toFixed(0)} ms`);
  say(`  fully cached rebuild         ${b.medians.cached.toFixed(0)} ms   (${(b.medians.cold / b.medians.cached).toFixed(1)}x faster than cold)`);
  say(`  one copied file changed      ${b.medians.oneFile.toFixed(0)} ms`);
  say(`  ${b.docker}`);
  for (const t of b.targets) say(`  ${t.verdict.padEnd(5)} ${t.name}`);
}

// ---- exec: latency of `exec C true` beside runc exec on the same container ----
/** The daemon's exec root (its runc --root is <exec root>/runc), read from its command line. */
function execRootOf(pid) {
  const args = pid ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') : [];
  const i = args.indexOf('--exec-root');
  return i >= 0 ? args[i + 1] : '/run/berth';
}

async function execBench() {
  await startDaemon();
  if (!(await berth(['images', '-q', 'busybox']).catch(() => '')).trim()) { say('bootstrapping busybox:latest'); await berth(['bootstrap', 'busybox']); }
  const id = (await berth(['run', '-d', '--network', 'none', 'busybox', 'sleep', '3600'])).trim();
  defer(() => berth(['rm', '-f', id]).catch(() => {}));
  const runcRoot = join(execRootOf(daemonPid), 'runc');
  const runs = Math.max(RUNS, 10);
  const scenarios = {
    berth: () => berth(['exec', id, 'true']),
    dockerCli: existsSync(DOCKER) ? () => run(DOCKER, ['exec', id, 'true'], { ...process.env, DOCKER_HOST: host }) : undefined,
    // The floor: the same exec with nothing in front of runc (berth's exec is runc exec under its conmon).
    runc: () => run('runc', ['--root', runcRoot, 'exec', id, 'true']),
  };
  for (const k of Object.keys(scenarios)) if (!scenarios[k]) delete scenarios[k];
  const samples = await measureAll(scenarios, runs);
  await berth(['rm', '-f', id]);
  const timings = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, stats(xs.map((x) => x.ms))]));
  const ratio = timings.runc ? timings.berth.median / timings.runc.median : undefined;
  return { runs, timings, ratios: { berthOverRunc: ratio, dockerCliOverRunc: timings.dockerCli ? timings.dockerCli.median / timings.runc.median : undefined },
    skipped: { ...(existsSync(DOCKER) ? {} : { dockerCli: `${DOCKER} not installed, skipped` }), dockerd: (await ping(DOCKERD_SOCK)) ? 'docker exec on dockerd: not compared yet' : 'docker exec on dockerd: no dockerd here, skipped' } };
}

function reportExec(r) {
  const f = (x) => x.toFixed(1);
  say(`\nexec of \`true\` in a running container, ms over ${r.runs} interleaved runs (after ${WARMUP} warm-up):`);
  say(`  ${'what'.padEnd(34)}${'median'.padStart(9)}${'p90'.padStart(9)}${'min'.padStart(9)}`);
  for (const [k, label] of [['berth', 'berth exec C true'], ['dockerCli', 'docker exec -> berth socket'], ['runc', 'runc exec C true (floor)']]) {
    const t = r.timings[k];
    say(`  ${label.padEnd(34)}${t ? `${f(t.median).padStart(9)}${f(t.p90).padStart(9)}${f(t.min).padStart(9)}` : `  ${r.skipped[k]}`}`);
  }
  const x = (v) => (v === undefined ? 'n/a' : `${v.toFixed(2)}x`);
  say(`  ratios of medians: berth/runc ${x(r.ratios.berthOverRunc)}, docker CLI on berth/runc ${x(r.ratios.dockerCliOverRunc)}; ${r.skipped.dockerd}`);
}

// ---- idle: memory per idle container ----
const IDLE_N = Number(process.env.BENCH_IDLE_N ?? 10);
function pssKiB(pid) {
  try { const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')); return m ? Number(m[1]) : undefined; } catch { return undefined; }
}
const memAvailableKiB = () => Number(/MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]);

async function idleBench() {
  // Always a private daemon: its RSS growth must be these containers' alone.
  const d = await spawnDaemon('/tmp/bbi-');
  say(`idle: a private daemon (pid ${d.pid}) in ${d.dir}`);
  await berthAt(d.host, ['bootstrap', 'busybox']);
  // One container started and removed first, so lazy start-up costs (modules, pools) are not counted per container.
  await berthAt(d.host, ['run', '--rm', 'busybox', 'true']);
  await sleep(1500);
  const daemonBefore = rssKiB(d.pid);
  const availBefore = memAvailableKiB();
  const ids = [];
  for (let i = 0; i < IDLE_N; i++) ids.push((await berthAt(d.host, ['run', '-d', 'busybox', 'sleep', '3600'])).trim());
  await sleep(1500);
  const daemonAfter = rssKiB(d.pid);
  const availAfter = memAvailableKiB();
  const conmons = ids.map((id) => findPid((c) => c.split(' ')[0].endsWith('conmon') && c.includes(id)));
  if (conmons.some((p) => !p)) throw new Error('a conmon of the idle containers was not found');
  const conmonRss = conmons.map(rssKiB);
  const conmonPss = conmons.map(pssKiB);
  const sum = (xs) => xs.reduce((a, b) => a + (b ?? 0), 0);
  await d.dispose();
  const daemonDelta = daemonAfter - daemonBefore;
  return {
    containers: IDLE_N,
    daemonRssKiB: { before: daemonBefore, after: daemonAfter, perContainer: r2(daemonDelta / IDLE_N) },
    conmonRssKiB: { mean: r2(sum(conmonRss) / IDLE_N), min: Math.min(...conmonRss), max: Math.max(...conmonRss) },
    conmonPssKiB: { mean: r2(sum(conmonPss) / IDLE_N) },
    perContainerKiB: { rss: r2((daemonDelta + sum(conmonRss)) / IDLE_N), pss: r2((daemonDelta + sum(conmonPss)) / IDLE_N) },
    hostMemAvailableDropPerContainerKiB: r2((availBefore - availAfter) / IDLE_N),
    docker: (await ping(DOCKERD_SOCK)) ? 'dockerd present: not compared yet' : 'dockerd: not running here, not compared',
  };
}

function reportIdle(r) {
  const kib = (v) => `${(v / 1024).toFixed(2)} MiB`;
  say(`\nmemory per idle container (${r.containers} \`sleep 3600\` containers on the default bridge, one private daemon):`);
  say(`  daemon RSS ${kib(r.daemonRssKiB.before)} -> ${kib(r.daemonRssKiB.after)}: ${kib(r.daemonRssKiB.perContainer)} per container`);
  say(`  conmon per container: RSS ${kib(r.conmonRssKiB.mean)} (min ${kib(r.conmonRssKiB.min)}, max ${kib(r.conmonRssKiB.max)}), PSS ${kib(r.conmonPssKiB.mean)}`);
  say(`  berth's cost per container (daemon growth + conmon): ${kib(r.perContainerKiB.rss)} by RSS, ${kib(r.perContainerKiB.pss)} by PSS`);
  say(`  host MemAvailable drop per container (containers' own processes, kernel and page cache too; anything else running moves it): ${kib(r.hostMemAvailableDropPerContainerKiB)}`);
  say(`  ${r.docker}`);
}

// ---- vm: berth's micro-VM beside a bare QEMU boot of the same kernel ----
const VM_RUNS = Number(process.env.BENCH_VM_RUNS ?? 7);

/** A newc cpio archive (the kernel's initramfs format) of [name, mode, data?] entries. */
function newc(entries) {
  const parts = [];
  let size = 0;
  const push = (b) => { parts.push(b); size += b.length; };
  const pad = () => { const n = (4 - (size % 4)) % 4; if (n) push(Buffer.alloc(n)); };
  const hex = (n) => n.toString(16).padStart(8, '0');
  [...entries, ['TRAILER!!!', 0]].forEach(([name, mode, data = Buffer.alloc(0)], i) => {
    const nb = Buffer.from(`${name}\0`);
    push(Buffer.from(`070701${[i + 1, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nb.length, 0].map(hex).join('')}`));
    push(nb); pad(); push(data); pad();
  });
  return Buffer.concat(parts);
}

/**
 * The floor: `qemu-system-x86_64 -M microvm -kernel … -initrd …` with the kernel, accelerator, RAM, vCPUs
 * and command line berth's VMs get, and a trivial init (busybox's `poweroff -f`), timed from spawn to
 * QEMU's exit. berth's run adds its init (modules, root disk, virtio ports), the root disk image,
 * conmon and the API round trips.
 */
async function vmBench() {
  await startDaemon();
  if (!(await berth(['images', '-q', 'busybox']).catch(() => '')).trim()) { say('bootstrapping busybox:latest'); await berth(['bootstrap', 'busybox']); }
  const vm = JSON.parse(await berth(['info', '-f', '{{json .Runtimes.vm}}']));
  if (!vm.Kernel) throw new Error(`the vm runtime is not usable here: ${vm.Error ?? 'no kernel'}`);
  const dir = mkdtempSync('/tmp/bb-vm-');
  defer(() => removeTree(dir));
  const initrd = join(dir, 'initrd');
  writeFileSync(initrd, newc([['bin', 0o040755], ['bin/busybox', 0o100755, readFileSync('/bin/busybox')],
    ['init', 0o100755, Buffer.from('#!/bin/busybox sh\n/bin/busybox poweroff -f\n')]]));
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
  const append = ['console=ttyS0', 'panic=-1', 'rdinit=/init', 'loglevel=4', ...(vm.Accelerator === 'tcg' ? [`tsc_early_khz=${Math.round(Number(mhz ?? 2000) * 1000)}`] : [])];
  const qemuArgs = ['-M', 'microvm,x-option-roms=off,rtc=off', '-accel', vm.Accelerator, ...(vm.Accelerator === 'kvm' ? ['-cpu', 'host'] : []),
    '-m', `${Math.round(vm.DefaultMemoryBytes / 2 ** 20)}M`, '-smp', String(vm.DefaultVCPUs), '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', vm.Kernel, '-initrd', initrd, '-append', append.join(' '), '-serial', `file:${join(dir, 'console.log')}`];
  const scenarios = {
    floor: () => run(vm.path, qemuArgs),
    berthNoNet: () => berth(['run', '--rm', '--runtime', 'vm', '--network', 'none', 'busybox', 'true']),
    berth: () => berth(['run', '--rm', '--runtime', 'vm', 'busybox', 'true']),
  };
  const samples = await measureAll(scenarios, VM_RUNS, 1);
  const timings = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, stats(xs.map((x) => x.ms))]));
  const ratios = { berthNoNetOverFloor: r2(timings.berthNoNet.median / timings.floor.median), berthOverFloor: r2(timings.berth.median / timings.floor.median) };
  // An exec into a running VM (the guest's init serves it over virtio ports) beside the same exec into a container.
  // The warm-up exec waits for the VM's boot and plugs its exec ports.
  const vmId = (await berth(['run', '-d', '--runtime', 'vm', '--network', 'none', 'busybox', 'sleep', '3600'])).trim();
  defer(() => berth(['rm', '-f', vmId]).catch(() => {}));
  const ctrId = (await berth(['run', '-d', '--network', 'none', 'busybox', 'sleep', '3600'])).trim();
  defer(() => berth(['rm', '-f', ctrId]).catch(() => {}));
  const execRuns = Math.max(VM_RUNS, 10);
  const execSamples = await measureAll({ vmExec: () => berth(['exec', vmId, 'true']), ctrExec: () => berth(['exec', ctrId, 'true']) }, execRuns, 1);
  await berth(['rm', '-f', vmId, ctrId]);
  const exec = Object.fromEntries(Object.entries(execSamples).map(([k, xs]) => [k, stats(xs.map((x) => x.ms))]));
  say('berth compare busybox true (one run each way)');
  const compare = JSON.parse(await berth(['compare', '--json', 'busybox', 'true']));
  return {
    runs: VM_RUNS, accelerator: vm.Accelerator, kernel: vm.KernelVersion, timings, ratios, execRuns, exec, compare,
    targets: [['berth VM run (--network none, like for like) at most 1.25x the bare QEMU floor', ratios.berthNoNetOverFloor],
      ['berth VM run (default bridge) at most 1.25x the bare QEMU floor', ratios.berthOverFloor]]
      .map(([name, ratio]) => ({ name, ratio, verdict: ratio <= 1.25 ? 'PASS' : 'FAIL' })),
  };
}

function reportVm(r) {
  const f = (x) => (x / 1000).toFixed(2);
  say(`\nVM start to exit of \`true\` (${r.accelerator}, kernel ${r.kernel}), seconds over ${r.runs} interleaved runs (after 1 warm-up):`);
  say(`  ${'what'.padEnd(52)}${'median'.padStart(9)}${'p90'.padStart(9)}${'min'.padStart(9)}`);
  for (const [k, label] of [['floor', 'bare qemu -M microvm, trivial init (floor)'], ['berthNoNet', 'berth run --rm --runtime vm --network none'], ['berth', 'berth run --rm --runtime vm (default bridge)']]) {
    const t = r.timings[k];
    say(`  ${label.padEnd(52)}${f(t.median).padStart(9)}${f(t.p90).padStart(9)}${f(t.min).padStart(9)}`);
  }
  for (const t of r.targets) say(`  ${t.verdict}: ${t.name}: ${t.ratio.toFixed(2)}x`);
  say(`  exec of \`true\` in a running VM and container, ms over ${r.execRuns} interleaved runs (after 1 warm-up):`);
  for (const [k, label] of [['vmExec', 'berth exec VM true'], ['ctrExec', 'berth exec C true (a container)']]) {
    const t = r.exec[k];
    say(`    ${label.padEnd(50)}${t.median.toFixed(1).padStart(9)}${t.p90.toFixed(1).padStart(9)}${t.min.toFixed(1).padStart(9)}`);
  }
  const mib = (b) => (b == null ? 'n/a' : `${(b / 2 ** 20).toFixed(1)} MiB`);
  say(`  berth compare busybox true (host kernel ${r.compare.hostKernel}):`);
  for (const s of r.compare.sides) {
    say(`    ${s.runtime.padEnd(4)} kernel ${s.kernel.padEnd(24)} exit after ${String(s.exitMs).padStart(6)} ms, peak host memory ${mib(s.peakMemoryBytes)}`);
  }
}

// ---- ports: TCP throughput through a published port beside the same server on the host ----
const PORTS_MIB = Number(process.env.BENCH_PORTS_MIB ?? 512);

/** Reads `mib` MiB from 127.0.0.1:port as fast as the server sends; resolves with the time taken. */
function readFrom(port, mib) {
  return new Promise((res, rej) => {
    const want = mib * 2 ** 20;
    let got = 0;
    const t0 = process.hrtime.bigint();
    const s = netConnect(port, '127.0.0.1');
    s.on('data', (b) => {
      got += b.length;
      if (got >= want) { s.destroy(); res({ ms: ms(t0), mibps: got / 2 ** 20 / (ms(t0) / 1000) }); }
    });
    s.on('error', rej);
    s.on('close', () => { if (got < want) rej(new Error(`port ${port} closed after ${got} bytes`)); });
  });
}

async function untilAnswers(port) {
  for (let i = 0; i < 100; i++) {
    if (await readFrom(port, 1).then(() => true, () => false)) return;
    await sleep(100);
  }
  throw new Error(`nothing answers on 127.0.0.1:${port}`);
}

async function portsBench() {
  await startDaemon();
  if (!(await berth(['images', '-q', 'busybox']).catch(() => '')).trim()) { say('bootstrapping busybox:latest'); await berth(['bootstrap', 'busybox']); }
  // The same server both ways: busybox nc sending zeros to every client, on the host and in a container
  // on the default bridge behind `-p` (portmap's DNAT, no proxy in between).
  const server = ['nc', '-ll', '-p', '5000', '-e', 'cat', '/dev/zero'];
  const published = await freePort();
  const id = (await berth(['run', '-d', '-p', `127.0.0.1:${published}:5000`, 'busybox', ...server])).trim();
  defer(() => berth(['rm', '-f', id]).catch(() => {}));
  const direct = await freePort();
  const onHost = spawn('busybox', ['nc', '-ll', '-p', String(direct), '-e', 'busybox', 'cat', '/dev/zero'], { stdio: 'ignore' });
  defer(() => onHost.kill('SIGKILL'));
  await untilAnswers(published);
  await untilAnswers(direct);
  const runs = Math.max(5, Math.min(RUNS, 10));
  const samples = await measureAll({ published: () => readFrom(published, PORTS_MIB), host: () => readFrom(direct, PORTS_MIB) }, runs, 1);
  await berth(['rm', '-f', id]);
  onHost.kill('SIGKILL');
  const rate = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, stats(xs.map((x) => x.mibps))]));
  const ratio = rate.published.median / rate.host.median;
  return { runs, mib: PORTS_MIB, rate, ratio,
    targets: [{ name: 'published-port throughput at least 80% of host loopback', ratio, verdict: ratio >= 0.8 ? 'PASS' : 'FAIL' }] };
}

function reportPorts(r) {
  say(`\nTCP throughput, ${r.mib} MiB read from busybox nc (zeros), MiB/s over ${r.runs} interleaved runs:`);
  say(`  ${'what'.padEnd(44)}${'median'.padStart(9)}${'min'.padStart(9)}`);
  for (const [k, label] of [['published', 'container behind -p 127.0.0.1:PORT:5000'], ['host', 'the same server on host loopback']]) {
    say(`  ${label.padEnd(44)}${r.rate[k].median.toFixed(0).padStart(9)}${r.rate[k].min.toFixed(0).padStart(9)}`);
  }
  say(`  ratio of medians: ${(r.ratio * 100).toFixed(0)}% of host loopback`);
  for (const t of r.targets) say(`  ${t.verdict.padEnd(5)} ${t.name}: ${(t.ratio * 100).toFixed(0)}%`);
}

/** Gives the dockerd berth's busybox:latest when it has none (no Docker Hub here); a busybox of its own stays. */
async function dockerdHasBusybox() {
  const env = { ...process.env, DOCKER_HOST: `unix://${DOCKERD_SOCK}`, BERTH_HOST: host };
  if (await run(DOCKER, ['image', 'inspect', 'busybox:latest'], env).then(() => true, () => false)) return;
  say('loading berth\'s busybox:latest into dockerd');
  await run('sh', ['-c', '"$0" save busybox:latest | "$1" load', BERTH, DOCKER], env);
  defer(() => run(DOCKER, ['rmi', 'busybox:latest'], env).catch(() => {}));
}

async function main() {
  // The startup and pull benches compare with dockerd (exec does not yet).
  if (argv.includes('--dockerd') && ['startup', 'pull', undefined].includes(ONLY)) {
    if (await ping(DOCKERD_SOCK)) {
      say(`--dockerd: using the dockerd that answers on ${DOCKERD_SOCK}`);
    } else {
      const d = await startPrivateDockerd(say);
      defer(d.stop);
      DOCKERD_SOCK = d.sock;
      say(`started a private dockerd on ${d.sock}`);
    }
  }
  if (ONLY === 'vm') {
    const v = await vmBench();
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(v, null, 2)}\n`); else reportVm(v);
    return;
  }
  if (ONLY === 'exec') {
    const e = await execBench();
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(e, null, 2)}\n`); else reportExec(e);
    return;
  }
  if (ONLY === 'ports') {
    const p = await portsBench();
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(p, null, 2)}\n`); else reportPorts(p);
    return;
  }
  if (ONLY === 'idle') {
    const i = await idleBench();
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(i, null, 2)}\n`); else reportIdle(i);
    return;
  }
  if (ONLY === 'build') {
    const b = await buildBench();
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(b, null, 2)}\n`); else reportBuild(b);
    return;
  }
  const startup = ONLY === 'pull' ? undefined : await startupBench();
  if (startup && !JSON_OUT) reportStartup(startup);
  const pull = ONLY === 'startup' ? undefined : await pullBench();
  if (pull && !JSON_OUT) reportPull(pull);
  const build = ONLY ? undefined : await buildBench();
  if (build && !JSON_OUT) reportBuild(build);
  const exec = ONLY ? undefined : await execBench();
  if (exec && !JSON_OUT) reportExec(exec);
  const ports = ONLY ? undefined : await portsBench();
  if (ports && !JSON_OUT) reportPorts(ports);
  const idle = ONLY ? undefined : await idleBench();
  if (idle && !JSON_OUT) reportIdle(idle);
  const vm = ONLY ? undefined : await vmBench();
  if (vm && !JSON_OUT) reportVm(vm);
  if (JSON_OUT) {
    const targets = [...(startup?.targets ?? []), ...(pull?.targets ?? []), ...(build?.targets ?? []), ...(ports?.targets ?? []), ...(vm?.targets ?? [])];
    process.stdout.write(`${JSON.stringify({ ...startup, host, pull, build, exec, ports, idle, vm, targets }, null, 2)}\n`);
  }
}

try { await main(); } catch (e) { console.error(`bench: ${cleaning ? 'interrupted' : e.message}`); process.exitCode = 1; } finally { await cleanup(); }
