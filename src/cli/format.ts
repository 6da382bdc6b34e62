/** Output helpers that print what docker prints: tables, short IDs, sizes, ages. */
import { humanDuration } from '../common/duration.js';

export { humanDuration };

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Go's tabwriter as the docker CLI configures it: min width 10, padding 3. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(Math.max(widths[i]! + 3, 10)))).join('').trimEnd()).join('\n') + '\n';
}

/**
 * units.HumanSizeWithPrecision(size, precision): decimal units. The docker CLI uses 3 significant
 * digits in `images` and `history`, and units.HumanSize (4) in `system df`.
 */
export function humanSize(bytes: number, precision = 3): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes; let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${Number(v.toPrecision(precision))}${units[i]}`;
}

export function ago(unixSeconds: number): string {
  return `${humanDuration(Date.now() - unixSeconds * 1000)} ago`;
}

export function ellipsis(s: string, max: number): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max - 1)}…`;
}

/** Go's time.Time String(): `2006-01-02 15:04:05 -0700 MST`. */
export function goTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'UTC' : Intl.DateTimeFormat('en', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? '';
  const sign = off >= 0 ? '+' : '-';
  // Go prints a fraction of a second only when there is one, without trailing zeros.
  const frac = d.getMilliseconds() ? `.${String(d.getMilliseconds()).padStart(3, '0').replace(/0+$/, '')}` : '';
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${frac} ${sign}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)} ${zone}`;
}
