/** `berth stats`: docker's live table of CPU %, memory, network and block I/O and PIDs per container. */
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { jsonLines, type Client } from '../client.js';
import { clientOf, ExitError } from '../context.js';
import { humanSize, shortId } from '../format.js';
import { formatList } from '../go-format.js';

interface Cpu { cpu_usage: { total_usage: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number }
export interface StatsJson {
  read: string; name: string; id: string;
  cpu_stats: Cpu; precpu_stats: Cpu;
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  pids_stats: { current?: number };
  blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] | null };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
}

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const HEADERS: Record<string, string> = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

/** go-units BytesSize: binary units, 4 significant digits (`1.5MiB`, `23.44GiB`). */
export function bytesSize(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** The docker CLI's arithmetic (cli/command/container/stats_helpers.go) for one sample. */
export function statsRow(s: StatsJson, container: string, trunc: boolean): Record<string, string> {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const online = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
  const m = s.memory_stats;
  // Page cache the kernel can drop does not count (v1: total_inactive_file, v2: inactive_file).
  const inactive = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? 0;
  const used = m.usage !== undefined ? (inactive < m.usage ? m.usage - inactive : m.usage) : 0;
  const limit = m.limit ?? 0;
  let rx = 0; let tx = 0;
  for (const n of Object.values(s.networks ?? {})) { rx += n.rx_bytes; tx += n.tx_bytes; }
  let rd = 0; let wr = 0;
  for (const e of s.blkio_stats.io_service_bytes_recursive ?? []) {
    if (e.op.toLowerCase() === 'read') rd += e.value;
    if (e.op.toLowerCase() === 'write') wr += e.value;
  }
  // In the order docker's `{{json .}}` prints them (its row marshals as a map: sorted keys).
  return {
    BlockIO: `${humanSize(rd)} / ${humanSize(wr)}`,
    CPUPerc: `${cpu.toFixed(2)}%`,
    Container: container,
    ID: trunc ? shortId(s.id) : s.id,
    MemPerc: `${(limit > 0 ? (used / limit) * 100 : 0).toFixed(2)}%`,
    MemUsage: `${bytesSize(used)} / ${bytesSize(limit)}`,
    Name: s.name.replace(/^\//, ''),
    NetIO: `${humanSize(rx)} / ${humanSize(tx)}`,
    PIDs: String(s.pids_stats.current ?? 0),
  };
}

async function targets(client: Client, refs: string[], all: boolean): Promise<string[]> {
  if (refs.length) return refs;
  const list = await client.json<{ Id: string }[]>('GET', '/containers/json', { query: { all } });
  return list.map((c) => c.Id.slice(0, 12));
}

export function registerStats(program: Command): void {
  program.command('stats').description('Display a live stream of container(s) resource usage statistics')
    .usage('[OPTIONS] [CONTAINER...]')
    .argument('[container...]')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', "Don't truncate output")
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (refs: string[], o: { all?: boolean; stream: boolean; trunc: boolean; format?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      const trunc = o.trunc !== false;
      const format = o.format === 'json' ? '{{json .}}' : o.format && o.format !== 'table' ? o.format : DEFAULT_TABLE;
      const ids = await targets(client, refs, !!o.all);
      const print = (rows: Record<string, string>[]) => formatList(format, rows, HEADERS, DEFAULT_TABLE);
      if (!o.stream) {
        const rows: Record<string, string>[] = [];
        let failed = false;
        for (const [i, s] of (await Promise.allSettled(ids.map((id) => client.json<StatsJson>('GET', `/containers/${encodeURIComponent(id)}/stats`, { query: { stream: false } })))).entries()) {
          if (s.status === 'fulfilled') rows.push(statsRow(s.value, ids[i]!, trunc));
          else { process.stderr.write(`Error response from daemon: ${(s.reason as Error).message}\n`); failed = true; }
        }
        process.stdout.write(print(rows));
        if (failed) throw new ExitError(1);
        return;
      }
      const latest = new Map<string, Record<string, string>>();
      const streams: Readable[] = [];
      for (const id of ids) {
        const res = await client.raw('GET', `/containers/${encodeURIComponent(id)}/stats`, { query: { stream: true } });
        streams.push(res);
        void (async () => {
          try {
            for await (const s of jsonLines<StatsJson>(res)) latest.set(id, statsRow(s, id, trunc));
          } catch { /* the connection ended */ }
          if (refs.length === 0) latest.delete(id);
        })();
      }
      const tty = process.stdout.isTTY;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const rows = ids.map((id) => latest.get(id)).filter((r): r is Record<string, string> => !!r);
          // On a terminal the table redraws in place, as docker's; piped, each refresh follows the last.
          process.stdout.write(`${tty ? '\x1b[2J\x1b[H' : ''}${print(rows)}`);
        }, 1000);
        const stop = () => { clearInterval(timer); for (const s of streams) s.destroy(); resolve(); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
