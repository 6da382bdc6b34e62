/** `berth logs` */
import type { Command } from 'commander';
import { Demuxer } from '../../api/index.js';
import { clientOf } from '../context.js';

export function registerLogs(program: Command): void {
  program.command('logs').description('Fetch the logs of a container')
    .argument('<container>')
    .option('-f, --follow', 'Follow log output')
    .option('-n, --tail <n>', 'Number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'Show timestamps')
    .option('--since <time>', 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)')
    .option('--until <time>', 'Show logs before a timestamp or relative')
    .option('--details', 'Show extra details provided to logs (berth records none, so the lines are the same)')
    .action(async (id: string, o: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      const c = await client.json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${id}/json`);
      const res = await client.raw('GET', `/containers/${c.Id}/logs`, {
        query: { stdout: 1, stderr: 1, follow: !!o.follow, tail: o.tail, timestamps: !!o.timestamps, since: toUnix(o.since, 'since'), until: toUnix(o.until, 'until') },
      });
      const demux = new Demuxer((s, p) => (s === 2 ? process.stderr : process.stdout).write(p));
      for await (const chunk of res) {
        if (c.Config.Tty) process.stdout.write(chunk as Buffer); else demux.push(chunk as Buffer);
      }
    });
}

/** docker's --since/--until: RFC 3339, unix seconds, or a duration before now (10m, 1h30m). */
export function toUnix(v?: string, flag = 'since'): string | undefined {
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  // Go's time.ParseDuration grammar: `10m`, `1h30m`, `1.5h`, `500ms`.
  if (/^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.test(v)) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
    let ms = 0;
    for (const [, n, u] of v.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * unit[u!]!;
    return String(Math.floor((Date.now() - ms) / 1000));
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`invalid value for "${flag}": failed to parse value as time or duration: "${v}"`);
  return String(Math.floor(t / 1000));
}
