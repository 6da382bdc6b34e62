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
    .action(async (id: string, o: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      const c = await client.json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${id}/json`);
      const res = await client.raw('GET', `/containers/${c.Id}/logs`, {
        query: { stdout: 1, stderr: 1, follow: !!o.follow, tail: o.tail, timestamps: !!o.timestamps, since: toUnix(o.since), until: toUnix(o.until) },
      });
      const demux = new Demuxer((s, p) => (s === 2 ? process.stderr : process.stdout).write(p));
      for await (const chunk of res) {
        if (c.Config.Tty) process.stdout.write(chunk as Buffer); else demux.push(chunk as Buffer);
      }
    });
}

/** docker's --since/--until: RFC 3339, unix seconds, or a duration before now (10m, 1h30m). */
export function toUnix(v?: string): string | undefined {
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const dur = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(v);
  if (dur && v) {
    const secs = Number(dur[1] ?? 0) * 3600 + Number(dur[2] ?? 0) * 60 + Number(dur[3] ?? 0);
    return String(Math.floor(Date.now() / 1000) - secs);
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`invalid value for "since": ${v}`);
  return String(Math.floor(t / 1000));
}
