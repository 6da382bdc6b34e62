/**
 * The embedded DNS server of user networks, as aardvark-dns or docker's 127.0.0.11 do it: it listens
 * on each network's gateway address (UDP and TCP port 53), answers A queries for the names and
 * aliases of the containers the asker shares a network with, and forwards every other question to
 * the host's resolvers. Debian's CNI plugins have no DNS plugin, so this lives in the daemon.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';

/** Finds the addresses of `name` as seen from a container with address `from` on the network served at `server`. */
export type Lookup = (name: string, from: string, server: string) => string[] | undefined;

export interface Question { name: string; type: number; class: number; end: number }

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TTL = 600;

/** The first question of a query, or undefined when the packet is not one berth can read. */
export function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) { off++; break; }
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), class: msg.readUInt16BE(off + 2), end: off + 4 };
}

/** An authoritative answer to `query` with the given IPv4 addresses (none: NOERROR without records). */
export function answer(query: Buffer, q: Question, ips: string[], rcode = 0): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 4);                                  // ID and the first flag byte
  header[2] = 0x84 | (query[2]! & 0x79);                        // QR, AA, keep opcode and RD
  header[3] = 0x80 | rcode;                                     // RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(ips.length, 6);
  const question = query.subarray(12, q.end);
  const records = ips.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);                                // name: pointer to the question's
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(TTL, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => { rr[12 + i] = Number(o); });
    return rr;
  });
  return Buffer.concat([header, question, ...records]);
}

/** An empty answer with an error code: 2 SERVFAIL, 3 NXDOMAIN. */
export function failure(query: Buffer, rcode: number): Buffer {
  const q = parseQuestion(query);
  if (q) return answer(query, q, [], rcode);
  const h = Buffer.alloc(12);
  query.copy(h, 0, 0, Math.min(4, query.length));
  h[2] = 0x80 | (h[2]! & 0x79);
  h[3] = 0x80 | rcode;
  return h;
}

export class DnsServer {
  private readonly listeners = new Map<string, { udp: Socket; tcp: Server }>();

  constructor(private readonly lookup: Lookup, private readonly upstreams: (from: string) => string[], private readonly log: (m: string) => void = () => {}) {}

  /** Starts answering on `address`:53. Idempotent. */
  async listen(address: string): Promise<void> {
    if (this.listeners.has(address)) return;
    const udp = createSocket({ type: 'udp4', reuseAddr: true });
    udp.on('message', (msg, rinfo) => {
      void this.handle(msg, rinfo.address, address, true).then((out) => { if (out) udp.send(out, rinfo.port, rinfo.address); });
    });
    udp.on('error', (e) => this.log(`dns ${address}: ${e.message}`));
    await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(53, address, () => { udp.off('error', reject); resolve(); }); });
    const tcp = createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('error', () => sock.destroy());
      sock.setTimeout(10_000, () => sock.destroy());
      sock.on('data', (b: Buffer) => {
        buf = Buffer.concat([buf, b]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          void this.handle(msg, sock.remoteAddress?.replace(/^::ffff:/, '') ?? '', address, false).then((out) => {
            if (!out || sock.destroyed) return;
            const len = Buffer.alloc(2); len.writeUInt16BE(out.length);
            sock.write(Buffer.concat([len, out]));
          });
        }
      });
    });
    try {
      await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen(53, address, () => { tcp.off('error', reject); resolve(); }); });
    } catch (e) {
      udp.close();
      throw e;
    }
    this.listeners.set(address, { udp, tcp });
  }

  close(address: string): void {
    const l = this.listeners.get(address);
    if (!l) return;
    l.udp.close();
    l.tcp.close();
    this.listeners.delete(address);
  }

  closeAll(): void {
    for (const a of [...this.listeners.keys()]) this.close(a);
  }

  private async handle(msg: Buffer, from: string, server: string, udp: boolean): Promise<Buffer | undefined> {
    if (msg.length < 12 || msg[2]! & 0x80) return undefined; // not a query
    const q = parseQuestion(msg);
    if (q && q.class === 1 && (q.type === TYPE_A || q.type === TYPE_AAAA)) {
      const ips = this.lookup(q.name.replace(/\.$/, ''), from, server);
      if (ips) return answer(msg, q, q.type === TYPE_A ? ips : []);
    }
    return this.forward(msg, from, udp).catch(() => failure(msg, 2));
  }

  /** Asks the host's resolvers in turn; the first answer wins. */
  private async forward(msg: Buffer, from: string, udp: boolean): Promise<Buffer> {
    for (const server of this.upstreams(from)) {
      try {
        return udp ? await forwardUdp(msg, server) : await forwardTcp(msg, server);
      } catch { /* the next one */ }
    }
    return failure(msg, 2);
  }
}

function forwardUdp(msg: Buffer, server: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket(server.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => { s.close(); reject(new Error('timeout')); }, 3000);
    s.on('message', (reply) => {
      if (reply.length < 2 || reply.readUInt16BE(0) !== msg.readUInt16BE(0)) return;
      clearTimeout(timer); s.close(); resolve(reply);
    });
    s.on('error', (e) => { clearTimeout(timer); s.close(); reject(e); });
    s.send(msg, 53, server);
  });
}

function forwardTcp(msg: Buffer, server: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(53, server);
    let buf = Buffer.alloc(0);
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('timeout')); });
    sock.on('connect', () => { const len = Buffer.alloc(2); len.writeUInt16BE(msg.length); sock.write(Buffer.concat([len, msg])); });
    sock.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { sock.destroy(); resolve(buf.subarray(2, 2 + buf.readUInt16BE(0))); }
    });
    sock.on('error', reject);
  });
}
