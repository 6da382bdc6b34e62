/** `berth events` (`system events`): the daemon's event stream, as the docker CLI prints it. */
import type { Command } from 'commander';
import { jsonLines } from '../client.js';
import { clientOf, collect, ExitError } from '../context.js';
import { formatList } from '../go-format.js';
import { getTimestamp, TimestampError } from '../../common/timestamp.js';
import { filterQuery } from './images.js';

interface Message {
  status?: string; id?: string; from?: string; Type: string; Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> }; scope: string; time: number; timeNano: number;
}

/** jsonmessage.RFC3339NanoFixed in local time: `2006-01-02T15:04:05.000000000Z07:00`. */
export function rfc3339NanoFixed(timeNano: number, time: number): string {
  // The decimal digits on the wire are the value (Go reads them exactly); String() gives them back.
  const ns = timeNano ? BigInt(String(timeNano)) : BigInt(time) * 1_000_000_000n;
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const local = new Date(ms + off * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${local.getUTCFullYear()}-${p(local.getUTCMonth() + 1)}-${p(local.getUTCDate())}T${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}.${frac}${zone}`;
}

/** The docker CLI's default line: time, type, action, actor and its attributes sorted by key. */
export function prettyEvent(ev: Message): string {
  let line = ev.timeNano || ev.time ? `${rfc3339NanoFixed(ev.timeNano, ev.time)} ` : '';
  line += `${ev.Type} ${ev.Action} ${ev.Actor.ID}`;
  const attrs = Object.entries(ev.Actor.Attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (attrs.length) line += ` (${attrs.map(([k, v]) => `${k}=${v}`).join(', ')})`;
  return `${line}\n`;
}

/** The event as Go's events.Message: its field names for templates, its JSON as the wire's. */
function goMessage(ev: Message): Record<string, unknown> {
  return {
    Status: ev.status ?? '', ID: ev.id ?? '', From: ev.from ?? '', Type: ev.Type, Action: ev.Action,
    Actor: { ID: ev.Actor.ID, Attributes: ev.Actor.Attributes ?? {} }, Scope: ev.scope, Time: ev.time, TimeNano: ev.timeNano,
    toJSON: () => ev,
  };
}

export function registerEvents(program: Command): void {
  program.command('events').description('Get real time events from the server')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <string>', "Format output using a custom template: 'json' or a Go template")
    .option('--since <string>', 'Show all events created since timestamp')
    .option('--until <string>', 'Stream events until this timestamp')
    .action(async (o: { filter?: string[]; format?: string; since?: string; until?: string }, cmd: Command) => {
      const now = new Date();
      let since: string | undefined; let until: string | undefined;
      try {
        since = o.since ? getTimestamp(o.since, now) : undefined;
        until = o.until ? getTimestamp(o.until, now) : undefined;
      } catch (e) {
        if (e instanceof TimestampError) throw new ExitError(125, `invalid argument: ${e.message}`);
        throw e;
      }
      const res = await clientOf(cmd).raw('GET', '/events', { query: { since, until, filters: filterQuery(o.filter ?? []) } });
      const format = o.format === 'json' ? '{{json .}}' : o.format;
      for await (const ev of jsonLines<Message>(res)) {
        process.stdout.write(format ? formatList(format, [goMessage(ev)], {}, '', 'events.Message') : prettyEvent(ev));
      }
    });
}
