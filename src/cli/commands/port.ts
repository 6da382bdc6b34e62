/** `berth port`, and the PORTS column docker's `ps` prints. */
import type { Command } from 'commander';
import { clientOf, ExitError } from '../context.js';

export interface ApiPort { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }

/** docker's `DisplayablePorts`: `0.0.0.0:8080->80/tcp, 443/tcp`, consecutive ports folded into ranges. */
export function displayPorts(ports: ApiPort[]): string {
  const sorted = [...ports].sort((a, b) => (a.IP ?? '').localeCompare(b.IP ?? '') || a.Type.localeCompare(b.Type)
    || (a.PublicPort ?? 0) - (b.PublicPort ?? 0) || a.PrivatePort - b.PrivatePort);
  const parts: string[] = [];
  let run: { ip: string; type: string; pub: [number, number]; priv: [number, number] } | undefined;
  const range = ([lo, hi]: [number, number]) => (lo === hi ? `${lo}` : `${lo}-${hi}`);
  const flush = () => {
    if (run) parts.push(`${run.ip ? `${run.ip}:` : ''}${range(run.pub)}->${range(run.priv)}/${run.type}`);
    run = undefined;
  };
  for (const p of sorted) {
    if (!p.PublicPort) { flush(); parts.push(`${p.PrivatePort}/${p.Type}`); continue; }
    const ip = p.IP ?? '';
    if (run && run.ip === ip && run.type === p.Type && p.PublicPort === run.pub[1] + 1 && p.PrivatePort === run.priv[1] + 1) {
      run.pub[1]++; run.priv[1]++;
      continue;
    }
    flush();
    run = { ip, type: p.Type, pub: [p.PublicPort, p.PublicPort], priv: [p.PrivatePort, p.PrivatePort] };
  }
  flush();
  return parts.join(', ');
}

export function registerPort(program: Command): void {
  program.command('port').description('List port mappings or a specific mapping for the container')
    .usage('CONTAINER [PRIVATE_PORT[/PROTO]]')
    .argument('<container>').argument('[port]')
    .action(async (ref: string, port: string | undefined, _o: unknown, cmd: Command) => {
      const c = await clientOf(cmd).json<{ Name: string; NetworkSettings: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> } }>('GET', `/containers/${encodeURIComponent(ref)}/json`);
      const ports = c.NetworkSettings.Ports ?? {};
      if (port) {
        const key = port.includes('/') ? port : `${port}/tcp`;
        const binds = ports[key];
        if (!binds?.length) throw new ExitError(1, `Error: No public port '${port}' published for ${ref}`);
        process.stdout.write(binds.map((b) => `${b.HostIp}:${b.HostPort}\n`).join(''));
        return;
      }
      const keys = Object.keys(ports).sort((a, b) => Number(a.split('/')[0]) - Number(b.split('/')[0]));
      for (const k of keys) for (const b of ports[k] ?? []) process.stdout.write(`${k} -> ${b.HostIp}:${b.HostPort}\n`);
    });
}
