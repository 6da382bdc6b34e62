/**
 * The filters dockerd's prune endpoints take (`docker image prune --filter until=24h --filter label=k=v`):
 * `until` (a Go duration, a date or a Unix time; what was created before it goes), `label` and `label!`.
 */
import { InvalidParameterError } from '../errors/index.js';
import { getTimestamp, parseUnixTimestamp, TimestampError } from '../common/timestamp.js';
import { labelMatch, type Filters } from './router.js';

export interface Prunable { created: string; labels: Record<string, string> }

/** An `until` filter's moment in Unix seconds (the last one counts, as in dockerd), or undefined without one. */
export function untilCutoff(values: string[] = []): number | undefined {
  let cutoff: number | undefined;
  for (const u of values) {
    try {
      const t = parseUnixTimestamp(getTimestamp(u))!;
      cutoff = t.sec + t.nsec / 1e9;
    } catch (e) {
      if (e instanceof TimestampError) throw new InvalidParameterError(e.message);
      throw e;
    }
  }
  return cutoff;
}

/** Whether an object passes the prune filters; `extra` names the filters an endpoint takes besides these. */
export function pruneMatcher(f: Filters, extra: string[] = []): (o: Prunable) => boolean {
  for (const key of Object.keys(f)) {
    if (!['until', 'label', 'label!', ...extra].includes(key)) throw new InvalidParameterError(`invalid filter '${key}'`);
  }
  const cutoff = untilCutoff(f.until);
  return (o) => (cutoff === undefined || Date.parse(o.created) / 1000 < cutoff)
    && (f.label ?? []).every((l) => labelMatch(o.labels, l))
    && !(f['label!'] ?? []).some((l) => labelMatch(o.labels, l));
}
