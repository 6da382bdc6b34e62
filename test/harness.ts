/**
 * End-to-end harness: each suite starts its own daemon on a private data
 * root, exec root and socket, drives it with `berth` and the docker CLI, and
 * checks afterwards that nothing was left on the host.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { basename, join, resolve } from 'node:path';
import { Firewall, firewallChains } from '../src/network/index.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const BERTH = join(ROOT, 'bin', 'berth');
export const DOCKER = '/usr/local/bin/docker';
export const hasDocker = existsSync(DOCKER);

export interface Result { code: number; stdout: string; stderr: string }

export interface RunOpts { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number }

export function exec(cmd: string, args: string[], opts: RunOpts = {}): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')} timed out\n${stdout}\n${stderr}`)); }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolvePromise({ code: code ?? 128, stdout, stderr }); });
    if (opts.input !== undefined) child.stdin.end(opts.input); else child.stdin.end();
  });
}

export interface TestDaemon {
  dir: string;
  dataRoot: string;
  execRoot: string;
  socket: string;
  host: string;
  proc: ChildProcess;
  log: () => string;
  berth(args: string[], opts?: RunOpts): Promise<Result>;
  docker(args: string[], opts?: RunOpts): Promise<Result>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  stop(): Promise<number | null>;
  /** The default bridge network's Linux bridge, unique to this daemon's directory. */
  bridge: string;
  /** The i-th /24 (0-15) of the /20 this daemon's networks live in; 0 is its default bridge. For tests' `--subnet`s use 8-15. */
  subnet(i: number): string;
}

export function ping(socket: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ socketPath: socket, path: '/_ping' }, (r) => { r.resume(); res(r.statusCode === 200); });
    req.on('error', () => res(false));
    req.end();
  });
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Daemons still running when the test file's process exits are killed: none outlives its test file. */
const running = new Set<ChildProcess>();
process.on('exit', () => { for (const p of running) p.kill('SIGKILL'); });

/** Starts a daemon in fresh directories; with `busybox`, bootstraps busybox:latest into it. `extraArgs` go to `berth daemon`. */
export async function startDaemon(opts: { busybox?: boolean; dir?: string; extraArgs?: string[] } = {}): Promise<TestDaemon> {
  // Short paths: conmon's attach socket must fit in 108 bytes.
  const dir = opts.dir ?? mkdtempSync('/tmp/bt-');
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'run');
  const socket = join(dir, 'berth.sock');
  const host = `unix://${socket}`;
  let logText = '';
  const net = daemonNet(dir);
  const proc = spawn(BERTH, ['daemon', '-H', host, '--data-root', dataRoot, '--exec-root', execRoot, ...net.flags, ...(opts.extraArgs ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (b: Buffer) => { logText += b.toString(); });
  proc.stderr!.on('data', (b: Buffer) => { logText += b.toString(); });
  let exited: number | null | undefined;
  const exitPromise = new Promise<number | null>((r) => proc.on('exit', (code) => { exited = code; r(code); }));
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  // A daemon that never answers is killed here: the suite's after hook gets no handle to stop it with.
  await waitFor(async () => {
    if (exited !== undefined) throw new Error(`daemon exited with ${exited}:\n${logText}`);
    return ping(socket);
  }, 15_000, 'the daemon to answer').catch((e: unknown) => { proc.kill('SIGKILL'); throw e; });
  const env = { ...process.env, BERTH_HOST: host, DOCKER_HOST: host };
  const d: TestDaemon = {
    dir, dataRoot, execRoot, socket, host, proc, bridge: net.bridge, subnet: net.subnet,
    log: () => logText,
    berth: (args, o = {}) => exec(BERTH, [...args], { ...o, env: { ...env, ...(o.env ?? {}) } }),
    docker: (args, o = {}) => exec(DOCKER, args, { ...o, env: { ...env, ...(o.env ?? {}) } }),
    api: (method, path, body) => new Promise((res, rej) => {
      const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = request({ socketPath: socket, method, path, headers: data ? { 'Content-Type': 'application/json' } : {} }, (r) => {
        let text = '';
        r.on('data', (b: Buffer) => { text += b.toString(); });
        r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: text }));
      });
      req.on('error', rej);
      req.end(data);
    }),
    stop: async () => {
      if (exited === undefined) proc.kill('SIGTERM');
      // A daemon that does not stop within half a minute is killed: a hung shutdown must fail its suite, not hold the run.
      const kill = setTimeout(() => { if (exited === undefined) proc.kill('SIGKILL'); }, 30_000);
      try { return await exitPromise; } finally { clearTimeout(kill); }
    },
  };
  if (opts.busybox) {
    const r = await d.berth(['bootstrap', 'busybox']);
    if (r.code !== 0) {
      await cleanup(d);
      throw new Error(`bootstrap failed: ${r.stderr}`);
    }
  }
  return d;
}

/**
 * Parallel test daemons must not share a bridge or an address: each gets a bridge named after its
 * directory and a /20 of 10.16.0.0-10.239.255.255 picked by the directory's hash (the daemon refuses
 * a subnet a host route already covers, so a clash fails loudly). The default bridge takes the first
 * /24, user networks without --subnet the next ones.
 */
export function daemonNet(dir: string): { bridge: string; flags: string[]; subnet: (i: number) => string; prefix: RegExp } {
  const tag = basename(dir).replace(/^bt-/, '').replace(/[^a-zA-Z0-9]/g, '').slice(0, 8);
  const h = createHash('sha256').update(dir).digest();
  const a = 16 + (h.readUInt16BE(0) % 224);
  const b = (h[2]! % 16) * 16;
  const subnet = (i: number) => `10.${a}.${b + i}.0/24`;
  return {
    bridge: `bt-${tag}`,
    flags: ['--bridge', `bt-${tag}`, '--bip', `10.${a}.${b}.1/24`, '--default-address-pool', `base=10.${a}.${b}.0/20,size=24`],
    subnet,
    prefix: new RegExp(`\\b10\\.${a}\\.(${Array.from({ length: 16 }, (_, i) => b + i).join('|')})\\.`),
  };
}

/**
 * Network state a daemon left: veths on its bridge, netns files, host-local leases, iptables rules
 * naming its addresses. The rules of its networks themselves (its own chains) belong to the running
 * daemon; `firewallLeft` finds those once it has stopped.
 */
export function networkLeftovers(d: TestDaemon): { veths: string[]; netns: string[]; leases: string[]; rules: string[] } {
  const nsDir = join(d.execRoot, 'netns');
  const netns = existsSync(nsDir) ? readdirSync(nsDir) : [];
  const veths = settledVeths(d.bridge, netns.length);
  const ipam = join(d.execRoot, 'network', 'ipam');
  const leases = existsSync(ipam) ? readdirSync(ipam).flatMap((n) => readdirSync(join(ipam, n)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).map((f) => `${n}/${f}`)) : [];
  const prefix = daemonNet(d.dir).prefix;
  const own = Object.values(firewallChains(d.execRoot)).map((c) => `-A ${c} `);
  const rules = execFileSync('iptables-save', { encoding: 'utf8' }).split('\n').filter((l) => prefix.test(l) && !own.some((o) => l.startsWith(o)));
  return { veths, netns, leases, rules };
}

/**
 * The veths on `bridge`, once the kernel has caught up. The daemon lets go of a stopped container's netns and
 * the kernel destroys it, and the veth, in the background (tens of ms). Each netns holds at most one veth on
 * the default bridge, so more veths than netns files are ones still going: they get up to 10 s, after which
 * whatever is there is reported.
 */
function settledVeths(bridge: string, netnsCount: number): string[] {
  const list = () => (existsSync(`/sys/class/net/${bridge}/brif`) ? readdirSync(`/sys/class/net/${bridge}/brif`) : []);
  return settled(list, (veths) => veths.length <= netnsCount);
}

/** `read()` again every 20 ms, synchronously, until `done` holds of it or 10 s have passed; the last reading. */
function settled<T>(read: () => T, done: (t: T) => boolean): T {
  const deadline = Date.now() + 10_000;
  let t = read();
  while (!done(t) && Date.now() < deadline) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    t = read();
  }
  return t;
}

/** What a daemon left on the host: mounts under its directories, conmon/runc processes, cgroups of its containers, its network state. */
export function leftovers(d: TestDaemon, containerIds: string[] = []): ReturnType<typeof hostLeftovers> & ReturnType<typeof networkLeftovers> {
  return { ...hostLeftovers(d, containerIds), ...networkLeftovers(d) };
}

/** Mounts under a daemon's directories, processes naming its exec root (conmon, runc, QEMU), cgroups of its containers. */
function hostLeftovers(d: TestDaemon, containerIds: string[]): { mounts: string[]; processes: string[]; cgroups: string[] } {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(d.dir));
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline = '';
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { continue; }
    if (cmdline.includes(d.execRoot) && !cmdline.includes(' daemon ')) processes.push(`${pid}: ${cmdline}`);
  }
  const cgroups: string[] = [];
  for (const ctrl of ['memory', 'pids', 'cpu', 'devices', 'freezer']) {
    const base = `/sys/fs/cgroup/${ctrl}/berth`;
    if (!existsSync(base)) continue;
    for (const e of readdirSync(base)) if (containerIds.includes(e)) cgroups.push(`${base}/${e}`);
  }
  return { mounts, processes, cgroups };
}

type Leftovers = ReturnType<typeof leftovers>;
const nothingLeft = (l: Leftovers) => Object.values(l).every((v) => v.length === 0);

/**
 * leftovers() once what the daemon lets go after an answer has gone (a just-exited container's root mount,
 * runc state, cgroup and network are released while its exit is answered): polled until `done` holds, at most 10 s.
 */
export function settledLeftovers(d: TestDaemon, containerIds: string[] = [], done: (l: Leftovers) => boolean = nothingLeft): Leftovers {
  return settled(() => leftovers(d, containerIds), done);
}

/** iptables lines that name a daemon's own chains: none once it has stopped. */
export function firewallLeft(d: TestDaemon): string[] {
  const chains = Object.values(firewallChains(d.execRoot));
  return execFileSync('iptables-save', { encoding: 'utf8' }).split('\n').filter((l) => chains.some((c) => new RegExp(`[ :]${c}\\b`).test(l)));
}

/**
 * What a stopped daemon's containers still hold, taken away by force so that a failed suite does not leave
 * it to the next: conmon, runc and QEMU processes naming its exec root, the processes in its containers'
 * cgroups, and mounts under its directory (deepest first, lazily), before that directory is deleted.
 */
function reap(d: TestDaemon, containerIds: string[]): void {
  const { processes, cgroups, mounts } = hostLeftovers(d, containerIds);
  const pids = processes.map((p) => Number(p.split(':')[0]));
  for (const cg of cgroups) {
    try { pids.push(...readFileSync(`${cg}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number)); } catch { /* gone */ }
  }
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  for (const m of [...new Set(mounts)].sort((a, b) => b.length - a.length)) {
    try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); } catch { /* went with its parent */ }
  }
}

export async function cleanup(d: TestDaemon | undefined, containerIds: string[] = []): Promise<void> {
  if (!d) return;
  await d.stop();
  reap(d, containerIds);
  // A daemon that was killed keeps its bridge and its rules: take them away so they do not pile up on the host.
  if (existsSync(`/sys/class/net/${d.bridge}`)) execFileSync('ip', ['link', 'del', d.bridge], { stdio: 'ignore' });
  if (firewallLeft(d).length) await new Firewall(d.execRoot).remove();
  await rm(d.dir, { recursive: true, force: true });
}

/** Container IDs the daemon knows, all states. */
export async function containerIds(d: TestDaemon): Promise<string[]> {
  const r = await d.berth(['ps', '-aq', '--no-trunc']);
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * A suite's end: removes what its tests left running, stops the daemon, deletes its directories, and
 * fails if any mount, conmon/runc process, container cgroup, veth, netns, IP lease or iptables rule
 * outlived it, or the daemon's bridge outlived the daemon.
 */
export async function teardown(d: TestDaemon | undefined, seenIds: string[] = [], opts: { expectNone?: boolean } = {}): Promise<void> {
  if (!d) return; // its before hook failed: that failure is the report
  let ids: string[] = [];
  let left: Leftovers;
  let bridgeLeft: boolean;
  let rulesLeft: string[];
  // Whatever fails here, the daemon is stopped and what it left is taken away; the assertions come after.
  try {
    ids = await containerIds(d).catch(() => []);
    for (const id of ids) await d.berth(['rm', '-f', id]).catch(() => undefined);
    left = settledLeftovers(d, [...seenIds, ...ids]);
    await d.stop();
    bridgeLeft = existsSync(`/sys/class/net/${d.bridge}`);
    rulesLeft = firewallLeft(d);
  } finally {
    await cleanup(d, [...seenIds, ...ids]);
  }
  if (opts.expectNone) assert.deepEqual(ids, [], 'the tests left no containers (failed commands and --rm clean up)');
  assert.deepEqual(left, { mounts: [], processes: [], cgroups: [], veths: [], netns: [], leases: [], rules: [] }, 'nothing left behind');
  assert.equal(bridgeLeft, false, 'the stopped daemon removed its idle bridge');
  assert.deepEqual(rulesLeft, [], 'the stopped daemon removed its network rules');
}
