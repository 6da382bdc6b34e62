/**
 * Restart policies, as dockerd's restart manager: `no`, `on-failure[:N]`, `always`, `unless-stopped`.
 * After an exit the container waits (State.Restarting) 100 ms, then twice as long after each quick
 * exit, at most a minute; a run of 10 s or more starts the back-off over. `stop` and `kill` by a user
 * cancel it. When the daemon starts, `always` containers come back, and `unless-stopped` ones that
 * no user stopped (containers that are still running were never gone: conmon kept them).
 */
import type { ContainerRecord } from './types.js';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const RESET_AFTER_MS = 10_000;

export interface RestartDeps {
  /** Starts a container that waits in State.Restarting (under its lock); no-op when it is gone or no longer waiting. */
  restart(id: string): Promise<void>;
}

export class RestartManager {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly delays = new Map<string, number>();
  /** Until the daemon has reconciled every container (and the network), restarts wait: see `release`. */
  private held = true;

  constructor(private readonly deps: RestartDeps) {}

  /**
   * Called with a record just marked exited. When the policy says so, marks it restarting, counts the
   * restart and schedules the start; returns the delay, or undefined when it stays stopped.
   */
  onExit(c: ContainerRecord): number | undefined {
    const ran = Date.now() - Date.parse(c.State.StartedAt);
    let delay = ran >= RESET_AFTER_MS ? 0 : this.delays.get(c.Id) ?? 0;
    delay = delay === 0 ? FIRST_DELAY_MS : Math.min(delay * 2, MAX_DELAY_MS);
    this.delays.set(c.Id, delay);
    if (!this.wants(c, c.State.ExitCode)) return undefined;
    c.RestartCount += 1;
    c.State = { ...c.State, Restarting: true, Status: 'restarting' };
    this.schedule(c.Id, delay);
    return delay;
  }

  private wants(c: ContainerRecord, exitCode: number): boolean {
    if (c.HasBeenManuallyStopped) return false;
    const p = c.HostConfig.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
    switch (p.Name) {
      case 'always': case 'unless-stopped': return true;
      case 'on-failure': return exitCode !== 0 && (p.MaximumRetryCount === 0 || c.RestartCount < p.MaximumRetryCount);
      default: return false;
    }
  }

  /** At daemon start, for a container that is not running: whether it should come back now. */
  atBoot(c: ContainerRecord): boolean {
    if (c.State.Restarting) return true;
    if (!c.HasBeenStartedBefore) return false;
    const p = c.HostConfig.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
    // As dockerd: `always` even after a user's stop (its restart manager is new), `unless-stopped` only without one.
    if (p.Name === 'always') return true;
    if (p.Name === 'unless-stopped') return !c.HasBeenManuallyStopped;
    if (p.Name === 'on-failure') return !c.HasBeenManuallyStopped && this.wants(c, c.State.ExitCode);
    return false;
  }

  schedule(id: string, delay: number): void {
    this.cancel(id);
    if (this.held) return; // `release` schedules every container that waits in State.Restarting
    const t = setTimeout(() => {
      this.timers.delete(id);
      void this.deps.restart(id);
    }, delay);
    t.unref();
    this.timers.set(id, t);
  }

  /** A user's stop, kill, start or remove: no pending restart, and the back-off starts over. */
  cancel(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  forget(id: string): void {
    this.cancel(id);
    this.delays.delete(id);
  }

  /** The daemon finished starting: from now on restarts run. */
  release(): void {
    this.held = false;
  }

  shutdown(): void {
    for (const id of [...this.timers.keys()]) this.cancel(id);
  }
}
