/**
 * Where the time of a request goes: with BERTH_TRACE=1 the daemon writes one line to stderr per
 * external program and lifecycle phase, with its wall time. Off by default; costs one branch.
 */
import { performance } from 'node:perf_hooks';

export const tracing = process.env.BERTH_TRACE === '1';

/** Awaits `work` and, when tracing, logs how long it took under `label`. */
export async function traced<T>(label: string, work: Promise<T> | (() => Promise<T>)): Promise<T> {
  if (!tracing) return typeof work === 'function' ? work() : work;
  const t0 = performance.now();
  try {
    return await (typeof work === 'function' ? work() : work);
  } finally {
    const t1 = performance.now();
    // `@` is when it ended, in ms since the daemon started: gaps between steps show up as jumps.
    process.stderr.write(`trace ${(t1 - t0).toFixed(1).padStart(7)} ms @${t1.toFixed(1)}  ${label}\n`);
  }
}
