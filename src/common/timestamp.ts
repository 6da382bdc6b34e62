/**
 * Times as the docker CLI and dockerd pass them for `events --since/--until` (and `logs --since`):
 * the CLI turns a Go duration (`10m`, `1h30m`), an RFC 3339 date or date-time (with or without a
 * zone; without one it is local time) or a Unix timestamp into `seconds[.nanoseconds]`
 * (timetypes.GetTimestamp); the daemon parses that back (timetypes.ParseTimestamps).
 */

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; undefined when the text is not a duration. */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') { sign = s[0] === '-' ? -1 : 1; s = s.slice(1); }
  if (s === '0') return 0;
  if (!s) return undefined;
  let total = 0;
  const re = /^([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/;
  while (s) {
    const m = re.exec(s);
    if (!m || m[1] === '' || m[1] === '.' || !(m[2]! in UNITS)) return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/** `seconds[.fraction]` as dockerd parses it; undefined if it is not that. */
export function parseUnixTimestamp(value: string): { sec: number; nsec: number } | undefined {
  const m = /^(-?\d+)(?:\.(\d{1,9})\d*)?$/.exec(value);
  if (!m) return undefined;
  return { sec: Number(m[1]), nsec: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
}

export class TimestampError extends Error {}

/**
 * timetypes.GetTimestamp: `value` as the string the CLI sends, relative to `reference` for durations.
 */
export function getTimestamp(value: string, reference: Date = new Date()): string {
  const d = parseGoDuration(value);
  if (value !== '0' && d !== undefined) return String(Math.floor((reference.getTime() - d / 1e6) / 1000));
  const hasZone = /[zZ+]/.test(value) || (value.match(/-/g) ?? []).length === 3;
  const date = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (date && (!date[8] || hasZone)) {
    const [, y, mo, da, h = '00', mi = '00', se = '00', frac = '', zone] = date;
    const iso = `${y}-${mo}-${da}T${h}:${mi}:${se}`;
    const ms = zone ? Date.parse(`${iso}${zone.toUpperCase()}`) : Date.parse(iso); // without a zone: local time, as Go's ParseInLocation
    if (!Number.isNaN(ms)) {
      const nsec = frac ? Number(frac.slice(0, 9).padEnd(9, '0')) : 0;
      return `${Math.floor(ms / 1000)}.${String(nsec).padStart(9, '0')}`;
    }
  }
  if (value.includes('-') && !/^-?\d+(\.\d+)?$/.test(value)) throw new TimestampError(`parsing time "${value}": cannot parse as RFC 3339`);
  if (!parseUnixTimestamp(value)) throw new TimestampError(`failed to parse value as time or duration: "${value}"`);
  return value;
}

/** A time the daemon was given, in nanoseconds since the epoch (a number: exact to 256 ns today, which is enough). */
export function timestampNanos(value: string, reference: Date = new Date()): number {
  const t = parseUnixTimestamp(value) ?? parseUnixTimestamp(getTimestamp(value, reference));
  if (!t) throw new TimestampError(`failed to parse value as time or duration: "${value}"`);
  return t.sec * 1e9 + t.nsec;
}
