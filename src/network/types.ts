/** Networks and endpoints in the shapes of docker's API (`/networks/{id}`, a container's `NetworkSettings`). */

/**
 * In dockerd's order of fields; `AuxiliaryAddresses` are addresses the IPAM must never hand out, by name. A config-only
 * network keeps what it was given: its empty fields are left out of the API's answers, as dockerd's omitempty does.
 */
export interface IpamConfig { Subnet: string; IPRange?: string; Gateway: string; AuxiliaryAddresses?: Record<string, string> }

/** `GET /networks/{id}`, without `Containers`, which is computed from the live endpoints. */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  /** `local`, or `global` when asked for: dockerd records it for a bridge network too. */
  Scope: string;
  /** `null` for a config-only network, as dockerd records it whatever driver was asked for. */
  Driver: 'bridge' | 'host' | 'null';
  /** Absent in records of a berth from before `--ipv4`: they have IPv4. */
  EnableIPv4?: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** `NetworkSettings.Networks[name]` of a container, and `EndpointConfig` of create/connect requests. */
export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  MacAddress: string;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DriverOpts: Record<string, string> | null;
  DNSNames: string[] | null;
}

export interface PortBinding { HostIp: string; HostPort: string }

/** `NetworkSettings` of a container, as docker's inspect shows it. */
export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  HairpinMode: boolean;
  LinkLocalIPv6Address: string;
  LinkLocalIPv6PrefixLen: number;
  Ports: Record<string, PortBinding[] | null>;
  SecondaryIPAddresses: null;
  SecondaryIPv6Addresses: null;
  EndpointID: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}

/** What the network part needs to know of a container; the containers part fills it from its record. */
export interface ContainerNetInfo {
  id: string;
  /** Without the leading slash. */
  name: string;
  hostname: string;
  domainname: string;
  /** HostConfig.NetworkMode: `default`, `bridge`, `none`, `host`, `container:<ref>` or a network's name or ID. */
  mode: string;
  settings: NetworkSettings;
  portBindings: Record<string, PortBinding[] | null> | null;
  publishAll: boolean;
  exposedPorts: Record<string, object>;
  extraHosts: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  /** The MAC address asked for on each network, by name (`--mac-address`); the others get the bridge plugin's random one. */
  macs?: Record<string, string>;
  /** Legacy `--link`s to running containers: the alias, and the other container's ID, hostname and name. */
  links?: ContainerLink[];
}

export interface ContainerLink { alias: string; id: string; hostname: string; name: string }

/** A link as given (`NAME[:ALIAS]`) or as stored (`/NAME:/ME/ALIAS`): the other container's name and the alias. */
export function parseLink(link: string): { name: string; alias: string } {
  const [name = '', alias] = link.split(':');
  const target = name.replace(/^\//, '');
  return { name: target, alias: (alias ?? target).split('/').pop()! };
}

/** What a started container gets from the network part. */
export interface Attachment {
  /** The network namespace to join: a bind-mounted netns file, `host`, or undefined for a new one with loopback only. */
  netns?: string;
  hosts: string;
  resolvConf: string;
  /** Replaces the container's hostname (host mode and container:<ref> share the other side's). */
  hostname?: string;
  /**
   * Files to bind-mount as they are, instead of writing `hosts` and `resolvConf` into the container's own:
   * `container:<ref>` shares the other container's, as dockerd does, so a change to one is seen by both.
   */
  files?: { hostname: string; hosts: string; resolvConf: string };
}

export function emptyEndpoint(): EndpointSettings {
  return {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '',
    IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: null,
  };
}

export function emptySettings(): NetworkSettings {
  return {
    Bridge: '', SandboxID: '', SandboxKey: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
    Ports: {}, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '', GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0, IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '', Networks: {},
  };
}

/** The container whose namespace `--network container:<ref>` joins, as the containers part describes it. */
export interface PeerContainer {
  id: string;
  /** Without the leading slash. */
  name: string;
  running: boolean;
  restarting: boolean;
  /** State.Status, for docker's message. */
  status: string;
  pid: number;
  /** Its own HostConfig.NetworkMode. */
  mode: string;
  hostname: string;
  hostnamePath: string;
  hostsPath: string;
  resolvConfPath: string;
}

/** What a create request asks for that `container:<ref>` mode refuses (dockerd's validateNetContainerMode). */
export interface JoinConflicts {
  hostname?: string;
  dns?: unknown[] | null;
  extraHosts?: unknown[] | null;
  mac?: string;
  exposes?: boolean;
}
