/**
 * The dashboard's listen address: `PORT` alone is 127.0.0.1:PORT; `HOST:PORT` (or `[V6]:PORT`) binds
 * HOST as given. Only an address named explicitly may be beyond loopback.
 */
import { isIP } from 'node:net';

export class UiError extends Error {}

export interface UiAddress {
  /** What to bind: an IP literal or a host name, without brackets. */
  host: string;
  /** 0 asks the kernel for a free port. */
  port: number;
  /** Whether every address `host` names is a loopback one (127.0.0.0/8, ::1, localhost). */
  loopback: boolean;
}

export const DEFAULT_UI_HOST = '127.0.0.1';

export function parseUiAddress(spec: string): UiAddress {
  const raw = spec.trim().replace(/^(tcp|http):\/\//, '').replace(/\/$/, '');
  let host: string;
  let portText: string;
  if (/^\d+$/.test(raw)) {
    host = DEFAULT_UI_HOST;
    portText = raw;
  } else {
    const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(raw) ?? /^([^:[\]]*):(\d+)$/.exec(raw);
    if (!m) throw new UiError(`invalid dashboard address "${spec}": want PORT or HOST:PORT (IPv6 as [ADDR]:PORT)`);
    host = m[1] || DEFAULT_UI_HOST;
    portText = m[2]!;
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UiError(`invalid dashboard port "${portText}": want 0-65535`);
  if (!isIP(host) && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(host)) throw new UiError(`invalid dashboard host "${host}"`);
  return { host, port, loopback: isLoopbackHost(host) };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** `host:port` as a URL authority (IPv6 in brackets). */
export function authority(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
