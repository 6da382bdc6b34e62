/**
 * Where a container's lifecycle meets the network part: the view of a record the network part
 * reads, and the /etc files its answer becomes. The network part does the plumbing.
 */
import { writeFile } from 'node:fs/promises';
import { NetworkService, type ContainerLink, type ContainerNetInfo, type NetworkSettings, type PortBinding } from '../network/index.js';
import type { ContainerRecord } from './types.js';

export function netInfo(c: ContainerRecord): ContainerNetInfo {
  const hc = c.HostConfig;
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    hostname: c.Config.Hostname,
    domainname: c.Config.Domainname,
    mode: hc.NetworkMode || 'default',
    settings: c.NetworkSettings as unknown as NetworkSettings,
    portBindings: (hc.PortBindings as Record<string, PortBinding[] | null> | undefined) ?? null,
    publishAll: !!hc.PublishAllPorts,
    exposedPorts: c.Config.ExposedPorts ?? {},
    extraHosts: list(hc.ExtraHosts),
    dns: list(hc.Dns),
    dnsSearch: list(hc.DnsSearch),
    dnsOptions: list(hc.DnsOptions),
    ...(c.DesiredMacs ? { macs: c.DesiredMacs } : {}),
  };
}

/**
 * Starts a container's networking: resolves with the netns for the spec (a path, `host`, or undefined
 * for a new namespace with loopback only) as soon as it exists; `ready` settles when the namespace is
 * plumbed and the container's /etc/hosts and /etc/resolv.conf are written. The runtime may create the
 * container meanwhile, but must not start its process before `ready`. On a failure of `ready` nothing
 * of the networking is left.
 */
/** A container's network namespace (none: runc makes a private one), and its plumbing under way. */
export interface StartedNetworking {
  netns?: string;
  ready: Promise<void>;
}

export async function startNetworking(network: NetworkService | undefined, c: ContainerRecord, links: ContainerLink[] = []): Promise<StartedNetworking> {
  if (!network) return { ready: Promise.resolve() };
  const info = { ...netInfo(c), ...(links.length ? { links } : {}) };
  const started = await network.setUp(info);
  if (started.files) {
    // dockerd's container:<ref> mode: the record names the other container's files, which the spec then mounts.
    Object.assign(c, { HostnamePath: started.files.hostname, HostsPath: started.files.hosts, ResolvConfPath: started.files.resolvConf });
  }
  const ready = started.ready.then(async (att) => {
    c.NetworkSettings = info.settings as unknown as Record<string, unknown>;
    if (att.files) return;
    try {
      // The files are bind-mounted by path at create: rewritten in place, the container sees the new content.
      await writeFile(c.HostsPath, att.hosts);
      await writeFile(c.ResolvConfPath, att.resolvConf);
    } catch (e) {
      await stopNetworking(network, c);
      throw e;
    }
  });
  // Awaited later, after other start-up steps: a failure meanwhile must not count as unhandled.
  ready.catch(() => {});
  return { netns: started.netns, ready };
}

/**
 * Releases what the container's network held and clears its addresses from the record. The record is cleared
 * at once, before the plumbing is gone: an exit records it while the release goes on (ContainerService.onExit).
 */
export async function stopNetworking(network: NetworkService | undefined, c: ContainerRecord): Promise<void> {
  if (!network) return;
  if (c.NetworkSettings && (c.NetworkSettings as { Networks?: unknown }).Networks) {
    c.NetworkSettings = NetworkService.cleared(c.NetworkSettings as unknown as NetworkSettings, c.DesiredMacs) as unknown as Record<string, unknown>;
  }
  await network.tearDown(c.Id);
}
