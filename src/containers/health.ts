/**
 * Health checks, as dockerd runs them: the container's (or its image's) Healthcheck is exec'd in the
 * container every Interval; State.Health goes `starting` → `healthy` on a success, and `unhealthy`
 * after Retries failures in a row (failures within StartPeriod of a container that was never healthy
 * do not count). The last five results are kept in State.Health.Log.
 */
import type { Execs } from './exec.js';
import type { ContainerRecord, HealthConfig, HealthState } from './types.js';

const NS_PER_MS = 1e6;
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_START_INTERVAL_MS = 5_000;
const DEFAULT_RETRIES = 3;
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

export interface ProbeResult { exitCode: number; output: string }

export interface HealthDeps {
  get(id: string): ContainerRecord | undefined;
  save(c: ContainerRecord): void;
  emit(action: string, c: ContainerRecord): void;
  /** Runs argv in the running container; with a timeout, ends it and reports exit code -1. */
  probe(c: ContainerRecord, argv: string[], timeoutMs: number): Promise<ProbeResult>;
}

/** docker's merge of the create request's Healthcheck over the image's: unset fields come from the image. */
export function mergeHealthcheck(image: HealthConfig | undefined | null, req: HealthConfig | undefined | null): HealthConfig | undefined {
  if (!req) return image ?? undefined;
  if (!image) return req;
  return {
    Test: req.Test?.length ? req.Test : image.Test,
    Interval: req.Interval || image.Interval || 0,
    Timeout: req.Timeout || image.Timeout || 0,
    StartPeriod: req.StartPeriod || image.StartPeriod || 0,
    ...(req.StartInterval || image.StartInterval ? { StartInterval: req.StartInterval || image.StartInterval } : {}),
    Retries: req.Retries || image.Retries || 0,
  };
}

/** The probe's argv, or undefined when there is no check (none, or `NONE`). */
export function probeArgv(h: HealthConfig | undefined): string[] | undefined {
  const t = h?.Test;
  if (!t?.length) return undefined;
  switch (t[0]) {
    case 'CMD': return t.length > 1 ? t.slice(1) : undefined;
    case 'CMD-SHELL': return t.length > 1 ? ['/bin/sh', '-c', t.slice(1).join(' ')] : undefined;
    default: return undefined; // NONE
  }
}

function goSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export class HealthMonitor {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Bumped on every start/stop, so a probe that finishes after its container restarted changes nothing. */
  private readonly generation = new Map<string, number>();

  constructor(private readonly deps: HealthDeps) {}

  /** Called once the container runs: resets State.Health to `starting` and schedules the first probe. */
  start(c: ContainerRecord): void {
    this.stop(c.Id);
    const argv = probeArgv(c.Config.Healthcheck);
    if (!argv) return;
    c.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    this.deps.save(c);
    this.schedule(c.Id, this.generation.get(c.Id)!);
  }

  /** After a daemon restart: keeps checking a container that kept running, from its last state. */
  resume(c: ContainerRecord): void {
    const argv = probeArgv(c.Config.Healthcheck);
    if (!argv) return;
    this.stop(c.Id);
    if (!c.State.Health) { c.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] }; this.deps.save(c); }
    this.schedule(c.Id, this.generation.get(c.Id)!);
  }

  stop(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
  }

  forget(id: string): void {
    this.stop(id);
    this.generation.delete(id);
  }

  shutdown(): void {
    for (const id of [...this.timers.keys()]) this.stop(id);
  }

  private settings(c: ContainerRecord) {
    const h = c.Config.Healthcheck ?? {};
    const ms = (ns: number | undefined, def: number) => (ns && ns > 0 ? ns / NS_PER_MS : def);
    return {
      interval: ms(h.Interval, DEFAULT_INTERVAL_MS),
      timeout: ms(h.Timeout, DEFAULT_TIMEOUT_MS),
      startPeriod: ms(h.StartPeriod, 0),
      startInterval: ms(h.StartInterval, DEFAULT_START_INTERVAL_MS),
      retries: h.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES,
    };
  }

  private schedule(id: string, gen: number): void {
    const c = this.deps.get(id);
    if (!c?.State.Running) return;
    const s = this.settings(c);
    // Within the start period of a container not yet healthy, dockerd (API 1.44) probes every StartInterval when one is set.
    const inStart = c.State.Health?.Status === 'starting' && Date.now() - Date.parse(c.State.StartedAt) < s.startPeriod;
    const wait = inStart && c.Config.Healthcheck?.StartInterval ? Math.min(s.startInterval, s.interval) : s.interval;
    const t = setTimeout(() => { this.timers.delete(id); void this.probe(id, gen); }, wait);
    t.unref();
    this.timers.set(id, t);
  }

  private async probe(id: string, gen: number): Promise<void> {
    const c = this.deps.get(id);
    const argv = probeArgv(c?.Config.Healthcheck);
    if (!c || !argv || !c.State.Running || this.generation.get(id) !== gen) return;
    if (c.State.Paused) { this.schedule(id, gen); return; }
    const s = this.settings(c);
    const start = new Date();
    let result: ProbeResult;
    try {
      result = await this.deps.probe(c, argv, s.timeout);
    } catch (e) {
      result = { exitCode: -1, output: e instanceof Error ? e.message : String(e) };
    }
    if (result.exitCode === -1 && !result.output) result.output = `Health check exceeded timeout (${goSeconds(s.timeout)})`;
    const cur = this.deps.get(id);
    if (!cur || !cur.State.Running || this.generation.get(id) !== gen) return;
    const h: HealthState = cur.State.Health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    h.Log = [...h.Log, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: result.exitCode, Output: result.output.slice(0, MAX_OUTPUT) }].slice(-MAX_LOG);
    const before = h.Status;
    if (result.exitCode === 0) {
      h.FailingStreak = 0;
      h.Status = 'healthy';
    } else if (!(h.Status === 'starting' && start.getTime() - Date.parse(cur.State.StartedAt) < s.startPeriod)) {
      h.FailingStreak += 1;
      if (h.FailingStreak >= s.retries) h.Status = 'unhealthy';
    }
    cur.State.Health = h;
    this.deps.save(cur);
    if (h.Status !== before) this.deps.emit(`health_status: ${h.Status}`, cur);
    this.schedule(id, gen);
  }
}

/** A probe as an exec session (as dockerd's): output collected up to 4 KiB, the process killed at the timeout. */
export async function execProbe(execs: Execs, c: ContainerRecord, argv: string[], timeoutMs: number): Promise<ProbeResult> {
  const { Id } = execs.create(c.Id, { Cmd: argv, AttachStdout: true, AttachStderr: true });
  try {
    const conn = await execs.start(Id, { detach: false });
    let output = '';
    const ended = new Promise<void>((resolve) => {
      if (!conn) { resolve(); return; }
      conn.on('data', (_s, b) => { if (output.length < MAX_OUTPUT) output += b.toString(); });
      conn.on('end', resolve);
      conn.on('error', () => resolve());
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((resolve) => { timer = setTimeout(() => resolve(-1), timeoutMs); timer.unref(); });
    const code = await Promise.race([execs.exited(Id), timedOut]);
    clearTimeout(timer);
    if (code === -1) {
      try { process.kill(execs.inspect(Id).Pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
      conn?.close();
      return { exitCode: -1, output: '' };
    }
    await Promise.race([ended, new Promise((r) => setTimeout(r, 1000).unref())]);
    conn?.close();
    return { exitCode: code, output };
  } finally {
    void Promise.resolve().then(() => execs.exited(Id)).catch(() => 0).then(() => execs.forget(Id));
  }
}
