/**
 * The seam between berth and the machine: every external program (runc,
 * conmon, mount, …) is started through here, so there is one place that knows
 * how to run a command and report its failure.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { SystemError } from '../errors/index.js';
import { traced } from '../common/trace.js';
import { checkRedirects, Launcher, Stopped, type Redirect } from './launcher.js';
import { withFdsUpTo } from './only-fds.js';

export type { Redirect };

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Do not throw on a non-zero exit; the caller inspects `code`. */
  allowFailure?: boolean;
  /** What BERTH_TRACE calls it, when the command and its first word say too little. */
  label?: string;
  /** Descriptors 3-9 the command starts with, each opened read-write on a file (a FIFO whose other end the caller holds). */
  redirects?: Redirect[];
  /**
   * A process that outlives the work that started it (conmon, which stays for the container's life): started at
   * normal priority even from work `inBackground`, and not kept among the launcher shell's jobs.
   */
  longLived?: boolean;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const label = opts.label ?? `${cmd} ${args.find((a) => !a.startsWith('-')) ?? ''}`;
  const env = opts.env ?? process.env;
  const finish = (res: RunResult): RunResult => {
    if (res.code !== 0 && !opts.allowFailure) {
      const detail = (res.stderr || res.stdout).trim();
      throw new SystemError(`${cmd} ${args[0] ?? ''} failed (exit ${res.code})${detail ? `: ${detail}` : ''}`);
    }
    return res;
  };
  try { checkRedirects(opts.redirects ?? []); } catch (e) { return Promise.reject(e); }
  const shell = launcherFor(opts.env, opts.longLived);
  if (shell) {
    return traced(label, shell.run(cmd, args, { env: opts.env, cwd: opts.cwd, input: opts.input, redirects: opts.redirects, longLived: opts.longLived }).then(finish, (e: Error) => {
      // The shell went before it read the line (it acknowledges each one it reads): the command never started.
      if (e instanceof Stopped) return spawnRun(cmd, args, env, opts).then(finish);
      throw new SystemError(`${cmd}: ${e.message}`);
    }));
  }
  return traced(label, spawnRun(cmd, args, env, opts).then(finish));
}

/** The command as the daemon's own child. */
function spawnRun(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: RunOptions): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    const stdio: StdioOptions = ['pipe', 'pipe', 'pipe'];
    const opened: number[] = [];
    const redirects = opts.redirects ?? [];
    let child: ChildProcess;
    try {
      // Read-write, as the shell's `<>`: a FIFO's open then never waits (and the command must not inherit O_NONBLOCK).
      for (const r of redirects) {
        const fd = openSync(r.path, constants.O_RDWR);
        opened.push(fd);
        while (stdio.length < r.fd) stdio.push('ignore');
        stdio[r.fd] = fd;
      }
      // A command handed descriptors gets those and no others, as from the launcher (whose shell holds none).
      const line: [string, string[]] = redirects.length ? withFdsUpTo(Math.max(...redirects.map((r) => r.fd)), cmd, args) : [cmd, args];
      child = spawn(...line, { env, cwd: opts.cwd, stdio });
    } catch (e) {
      reject(new SystemError(`${cmd}: ${(e as Error).message}`));
      return;
    } finally {
      for (const fd of opened) closeSync(fd);
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new SystemError(`${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin!.on('error', () => { /* the child may exit before reading its input */ });
    child.stdin!.end(opts.input ?? '');
    // It may outlive the daemon, which must not wait for it to stop.
    if (opts.longLived) for (const h of [child, child.stdout, child.stderr] as { unref?: () => void }[]) h.unref?.();
  });
}

/**
 * The niceness of the commands that tidy up after a container, which nobody waits for (the release after an
 * exit): below the client that is waiting for the exit and the next container's start, on a machine whose
 * cores a container start keeps busy.
 */
const BACKGROUND_NICE = 10;

/** One launcher shell at a time for each priority, started on first use and again when it died. */
class LauncherSlot {
  private shell: Launcher | undefined;
  private dead = 0;

  constructor(private readonly nice: number) {}

  get(dir: string): Launcher | undefined {
    if (!this.shell?.alive) {
      // A shell that keeps dying before it ran anything (no bash, no /bin/sh) is given up for the daemon's own spawn.
      if (this.shell && !this.shell.useful && ++this.dead >= 3) return undefined;
      this.shell = new Launcher(dir, this.nice);
    }
    return this.shell;
  }

  close(): void {
    this.shell?.close();
    this.shell = undefined;
    this.dead = 0;
  }
}

const slots = { foreground: new LauncherSlot(0), background: new LauncherSlot(BACKGROUND_NICE) };
let launcherDir: string | undefined;
const background = new AsyncLocalStorage<true>();

/**
 * Runs `work` with every command it starts through the launcher at a low priority (BACKGROUND_NICE): for work
 * no client waits for.
 */
export function inBackground<T>(work: () => Promise<T>): Promise<T> {
  return background.run(true, work);
}

/**
 * From now on `run` starts commands through a launcher shell (launcher.ts) that keeps its files in `dir`:
 * the daemon's choice, whose event loop a fork of its own would block. Other processes fork themselves.
 */
export function useLauncher(dir: string): void {
  rmSync(dir, { recursive: true, force: true }); // what a daemon that was killed left
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  launcherDir = dir;
}

/**
 * Ends the launcher shells once their commands are done. Their directory stays: a command still running (an
 * exit handled during shutdown) reads and writes its files there. The next `useLauncher` empties it.
 */
export function stopLauncher(): void {
  for (const slot of Object.values(slots)) slot.close();
  launcherDir = undefined;
}

function launcherFor(env: NodeJS.ProcessEnv | undefined, longLived = false): Launcher | undefined {
  if (!launcherDir) return undefined;
  const shell = slots[background.getStore() && !longLived ? 'background' : 'foreground'].get(launcherDir);
  return shell?.canRun(env) ? shell : undefined;
}

const BUSYBOX = '/bin/busybox';
let busybox: boolean | undefined;

/**
 * The command line that starts one of the short programs every container's start and exit runs: busybox's applet
 * when Debian's busybox-static is installed, else the usual program. A static binary has no dynamic loading to do
 * (util-linux's mount links libmount, libblkid and libselinux; iproute2's ip libbpf and libelf): 1-1.5 ms less per
 * start here, and one namespace and one mount are on the way of every container start.
 */
export function tool(name: 'mount' | 'umount' | 'unshare' | 'ip' | 'mkfifo'): string[] {
  busybox ??= (() => { try { accessSync(BUSYBOX, constants.X_OK); return true; } catch { return false; } })();
  return busybox ? [BUSYBOX, name] : [name];
}

/** Runs `tool(name)` with `args`, traced as `name` and its first word. */
export function runTool(name: Parameters<typeof tool>[0], args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...pre] = tool(name);
  return run(cmd!, [...pre, ...args], { label: `${name} ${args.find((a) => !a.startsWith('-')) ?? ''}`, ...opts });
}

export async function mountOverlay(lower: string[], upper: string, work: string, target: string): Promise<void> {
  // The kernel takes lowerdirs top-most first.
  const data = `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`;
  await runTool('mount', ['-t', 'overlay', 'overlay', '-o', data, target]);
}

export async function unmount(target: string): Promise<void> {
  const res = await runTool('umount', [target], { allowFailure: true });
  // util-linux says "not mounted"; busybox passes on the kernel's EINVAL (which it means there) or ENOENT.
  const notMounted = tool('umount')[0] === BUSYBOX ? /Invalid argument|No such file/ : /not mounted|no mount point|not found/i;
  if (res.code !== 0 && !notMounted.test(res.stderr)) {
    // A busy mount is detached lazily so a stuck reader cannot leak it forever.
    await runTool('umount', ['-l', target], { allowFailure: true });
  }
}

export async function isMounted(target: string): Promise<boolean> {
  // procfs, in memory: read synchronously.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[4] === target);
}
export { runStream, type StreamOptions } from './stream.js';
export { withFdsUpTo } from './only-fds.js';

/**
 * Bytes of content under `dir` as dockerd counts them (pkg/directory.Size, archive.ChangesSize): the sizes of
 * everything but directories, each hard-linked inode once. `du -sb` would also count 4 KiB per directory.
 */
export async function contentSize(dir: string): Promise<number> {
  const res = await run('find', [dir, '-xdev', '!', '-type', 'd', '-printf', '%i %s\n'], { allowFailure: true });
  const seen = new Set<string>();
  let total = 0;
  for (const line of res.stdout.split('\n')) {
    const [ino, size] = line.split(' ');
    if (!ino || seen.has(ino)) continue;
    seen.add(ino);
    total += Number(size) || 0;
  }
  return total;
}
