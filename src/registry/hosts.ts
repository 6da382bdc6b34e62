/**
 * Which URL a registry name is spoken to at. Docker Hub's name is not its API
 * host; loopback registries and those listed as insecure use plain HTTP, as
 * dockerd does (without its fall back from HTTPS, which would only hide a
 * misconfiguration here).
 */
import { BlockList, isIP } from 'node:net';

const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
export const DOCKER_HUB_API = 'registry-1.docker.io';

export const isDockerHub = (registry: string) => DOCKER_HUB_NAMES.has(registry);

/** `127.0.0.1:5000` → { host: '127.0.0.1', port: '5000' }; `[::1]:5000` → { host: '::1', … }. */
export function splitHost(registry: string): { host: string; port?: string } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(registry) ?? /^([^:]+)(?::(\d+))?$/.exec(registry);
  return m ? { host: m[1]!, port: m[2] } : { host: registry };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export class HostRules {
  private readonly names = new Set<string>();
  private readonly ranges = new BlockList();

  constructor(insecure: string[] = []) {
    for (const entry of insecure) {
      const cidr = /^([0-9a-fA-F:.]+)\/(\d+)$/.exec(entry.trim());
      if (cidr) {
        const family = isIP(cidr[1]!) === 6 ? 'ipv6' : 'ipv4';
        this.ranges.addSubnet(cidr[1]!, Number(cidr[2]), family);
      } else {
        this.names.add(entry.trim().replace(/^[a-z]+:\/\//, '').replace(/\/+$/, ''));
      }
    }
  }

  /** Plain HTTP for loopback, listed names (a name without a port covers every port) and listed ranges. */
  insecure(registry: string): boolean {
    const { host } = splitHost(registry);
    if (isLoopback(host) || this.names.has(registry) || this.names.has(host)) return true;
    const family = isIP(host);
    return family !== 0 && this.ranges.check(host, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** The API base URL without a trailing slash: https://registry-1.docker.io */
  baseUrl(registry: string): string {
    if (isDockerHub(registry)) return `https://${DOCKER_HUB_API}`;
    return `${this.insecure(registry) ? 'http' : 'https'}://${registry}`;
  }
}
