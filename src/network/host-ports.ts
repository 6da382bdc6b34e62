/**
 * Host ports for published container ports: the ones asked for, checked against what other containers
 * hold and what the host has bound; a range's first free one; or one the kernel picks (`-p 80`, `-P`).
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { PortMapping } from './ports.js';

/** The concrete mappings of `wanted`, none of them clashing with `taken` or a port bound on the host; `fail` makes dockerd's error. */
export async function pickHostPorts(wanted: (PortMapping & { hostRange?: [number, number] })[], taken: PortMapping[], fail: (why: string) => Error): Promise<PortMapping[]> {
  taken = [...taken];
  const clash = (m: PortMapping, p: number) => taken.some((t) => t.protocol === m.protocol && t.hostPort === p && (!t.hostIp || !m.hostIp || t.hostIp === m.hostIp));
  const out: PortMapping[] = [];
  for (const w of wanted) {
    const m: PortMapping = { hostIp: w.hostIp, hostPort: w.hostPort, containerPort: w.containerPort, protocol: w.protocol };
    const shown = `${m.hostIp || '0.0.0.0'}:${m.hostPort}`;
    if (w.hostRange) {
      let got = 0;
      for (let p = w.hostRange[0]; p <= w.hostRange[1] && !got; p++) if (!clash(m, p) && await canBind(m.hostIp, p, m.protocol)) got = p;
      if (!got) throw fail(`Bind for ${m.hostIp || '0.0.0.0'}:${w.hostRange[0]}-${w.hostRange[1]} failed: port is already allocated`);
      m.hostPort = got;
    } else if (m.hostPort === 0) {
      for (let tries = 0; tries < 50 && !m.hostPort; tries++) {
        const p = await freePort(m.hostIp, m.protocol);
        if (!clash(m, p)) m.hostPort = p;
      }
      if (!m.hostPort) throw fail('no free host port found');
    } else {
      if (clash(m, m.hostPort)) throw fail(`Bind for ${shown} failed: port is already allocated`);
      if (!await canBind(m.hostIp, m.hostPort, m.protocol)) {
        throw fail(`Error starting userland proxy: listen ${m.protocol}4 ${shown}: bind: address already in use`);
      }
    }
    taken.push(m);
    out.push(m);
  }
  return out;
}

/** A port the kernel hands out for `ip` (TCP or UDP), free at this moment. */
function freePort(ip: string, proto: string): Promise<number> {
  return new Promise((resolve, reject) => {
    if (proto === 'udp') {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, ip || '0.0.0.0', () => { const p = s.address().port; s.close(() => resolve(p)); });
      return;
    }
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, ip || '0.0.0.0', () => { const a = srv.address(); srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0)); });
  });
}

/** Whether nothing on the host holds `ip:port` (berth does not hold published ports open: the kernel forwards them). */
function canBind(ip: string, port: number, proto: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (proto === 'udp') {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, ip || '0.0.0.0', () => s.close(() => resolve(true)));
      return;
    }
    if (proto === 'sctp') { resolve(true); return; }
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, ip || '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}
