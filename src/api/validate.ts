/**
 * The types of the Engine API's JSON bodies, checked as dockerd's Go decoder checks them: a value
 * of the wrong JSON kind is a 400 with Go's wording (`json: cannot unmarshal string into Go struct
 * field ContainerConfigWrapper.HostConfig.Memory of type int64`), `null` is always allowed, unknown
 * fields are ignored. So a body of the wrong shape stops here, before any part of the engine takes
 * it for what its TypeScript type says it is.
 */
import { InvalidParameterError } from '../errors/index.js';

export type GoType =
  | 'string' | 'bool' | 'int64' | 'uint64' | 'int' | 'float64' | 'any' | 'strslice'
  | { list: GoType; name?: string }
  | { map: GoType; name?: string }
  | { struct: string; fields: Record<string, GoType> };

function kind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number, object
}

function typeName(t: GoType): string {
  if (typeof t === 'string') return t === 'strslice' ? 'strslice.StrSlice' : t === 'any' ? 'interface {}' : t;
  if ('list' in t) return t.name ?? `[]${typeName(t.list)}`;
  if ('map' in t) return t.name ?? `map[string]${typeName(t.map)}`;
  return t.struct;
}

function fail(root: string, path: string[], v: unknown, t: GoType): never {
  const what = typeof v === 'number' && (t === 'int64' || t === 'uint64' || t === 'int') ? `number ${v}` : kind(v);
  throw new InvalidParameterError(`json: cannot unmarshal ${what} into Go struct field ${[root, ...path].join('.')} of type ${typeName(t)}`);
}

function check(root: string, path: string[], v: unknown, t: GoType): void {
  if (v === null || v === undefined || t === 'any') return;
  if (typeof t === 'string') {
    switch (t) {
      case 'string': if (typeof v !== 'string') fail(root, path, v, t); return;
      case 'bool': if (typeof v !== 'boolean') fail(root, path, v, t); return;
      case 'float64': if (typeof v !== 'number') fail(root, path, v, t); return;
      case 'int': case 'int64': case 'uint64':
        // 2^63 is the first double past int64's range (its largest value rounds up to it).
        if (typeof v !== 'number' || !Number.isInteger(v) || (t === 'uint64' ? v < 0 || v >= 2 ** 64 : v >= 2 ** 63 || v < -(2 ** 63))) fail(root, path, v, t);
        return;
      case 'strslice': // a string or a list of strings
        if (typeof v === 'string') return;
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(root, path, v, t);
        return;
    }
  }
  if (typeof t === 'string') return;
  if ('list' in t) {
    if (!Array.isArray(v)) fail(root, path, v, t);
    for (const x of v) check(root, path, x, t.list);
    return;
  }
  if (typeof v !== 'object' || Array.isArray(v)) fail(root, path, v, t);
  if ('map' in t) {
    for (const x of Object.values(v)) check(root, path, x, t.map);
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    // Go matches field names without regard to case.
    // Own fields only: `__proto__` or `constructor` in a body must not find Object's own properties.
    const field = Object.hasOwn(t.fields, k) ? k : Object.keys(t.fields).find((f) => f.toLowerCase() === k.toLowerCase());
    if (field !== undefined) check(root, [...path, field], x, t.fields[field]!);
  }
}

/** Checks `body` against `t`, naming fields from `root` (Go's outer struct) as dockerd does. */
export function checkBody(root: string, body: unknown, t: GoType): void {
  check(root, [], body, t);
}

const S = 'string'; const B = 'bool'; const I = 'int64'; const U = 'uint64';
const strs: GoType = { list: S };
const strMap: GoType = { map: S };
const struct = (name: string, fields: Record<string, GoType>): GoType => ({ struct: name, fields });

const healthConfig = struct('container.HealthConfig', { Test: 'strslice', Interval: I, Timeout: I, StartPeriod: I, StartInterval: I, Retries: 'int' });

export const CONTAINER_CONFIG_FIELDS: Record<string, GoType> = {
  Hostname: S, Domainname: S, User: S, AttachStdin: B, AttachStdout: B, AttachStderr: B,
  ExposedPorts: { map: { map: 'any' }, name: 'nat.PortSet' }, Tty: B, OpenStdin: B, StdinOnce: B, Env: strs, Cmd: 'strslice',
  Healthcheck: healthConfig, ArgsEscaped: B, Image: S, Volumes: { map: { map: 'any' } }, WorkingDir: S, Entrypoint: 'strslice',
  NetworkDisabled: B, MacAddress: S, OnBuild: strs, Labels: strMap, StopSignal: S, StopTimeout: 'int', Shell: 'strslice',
};

const RESOURCES: Record<string, GoType> = {
  CpuShares: I, Memory: I, NanoCpus: I, CgroupParent: S, BlkioWeight: U,
  BlkioWeightDevice: { list: struct('blkiodev.WeightDevice', { Path: S, Weight: U }) },
  BlkioDeviceReadBps: { list: struct('blkiodev.ThrottleDevice', { Path: S, Rate: U }) },
  BlkioDeviceWriteBps: { list: struct('blkiodev.ThrottleDevice', { Path: S, Rate: U }) },
  CpuPeriod: I, CpuQuota: I, CpuRealtimePeriod: I, CpuRealtimeRuntime: I, CpusetCpus: S, CpusetMems: S,
  Devices: { list: struct('container.DeviceMapping', { PathOnHost: S, PathInContainer: S, CgroupPermissions: S }) },
  DeviceCgroupRules: strs, DeviceRequests: { list: { map: 'any' } }, KernelMemory: I, KernelMemoryTCP: I, MemoryReservation: I,
  MemorySwap: I, MemorySwappiness: I, OomKillDisable: B, PidsLimit: I,
  Ulimits: { list: struct('units.Ulimit', { Name: S, Soft: I, Hard: I }) }, CpuCount: I, CpuPercent: I,
  IOMaximumIOps: U, IOMaximumBandwidth: U,
};

const restartPolicy = struct('container.RestartPolicy', { Name: S, MaximumRetryCount: 'int' });

const mount = struct('mount.Mount', {
  Type: S, Source: S, Target: S, ReadOnly: B, Consistency: S,
  BindOptions: struct('mount.BindOptions', { Propagation: S, NonRecursive: B, CreateMountpoint: B, ReadOnlyNonRecursive: B, ReadOnlyForceRecursive: B }),
  VolumeOptions: struct('mount.VolumeOptions', { NoCopy: B, Labels: strMap, Subpath: S, DriverConfig: struct('mount.Driver', { Name: S, Options: strMap }) }),
  TmpfsOptions: struct('mount.TmpfsOptions', { SizeBytes: I, Mode: U, Options: { list: strs } }),
});

const HOST_CONFIG = struct('container.HostConfig', {
  Binds: strs, ContainerIDFile: S, LogConfig: struct('container.LogConfig', { Type: S, Config: strMap }), NetworkMode: S,
  PortBindings: { map: { list: struct('nat.PortBinding', { HostIp: S, HostPort: S }) }, name: 'nat.PortMap' },
  RestartPolicy: restartPolicy, AutoRemove: B, VolumeDriver: S, VolumesFrom: strs, ConsoleSize: { list: U, name: '[2]uint' },
  Annotations: strMap, CapAdd: 'strslice', CapDrop: 'strslice', CgroupnsMode: S, Dns: strs, DnsOptions: strs, DnsSearch: strs,
  ExtraHosts: strs, GroupAdd: strs, IpcMode: S, Cgroup: S, Links: strs, OomScoreAdj: 'int', PidMode: S, Privileged: B,
  PublishAllPorts: B, ReadonlyRootfs: B, SecurityOpt: strs, StorageOpt: strMap, Tmpfs: strMap, UTSMode: S, UsernsMode: S,
  ShmSize: I, Sysctls: strMap, Runtime: S, Isolation: S, Mounts: { list: mount }, MaskedPaths: strs, ReadonlyPaths: strs, Init: B,
  ...RESOURCES,
});

export const ENDPOINT_SETTINGS = struct('network.EndpointSettings', {
  IPAMConfig: struct('network.EndpointIPAMConfig', { IPv4Address: S, IPv6Address: S, LinkLocalIPs: strs }),
  Links: strs, Aliases: strs, DNSNames: strs, MacAddress: S, DriverOpts: strMap, NetworkID: S, EndpointID: S, Gateway: S,
  IPAddress: S, IPPrefixLen: 'int', IPv6Gateway: S, GlobalIPv6Address: S, GlobalIPv6PrefixLen: 'int',
});

/** POST /containers/create: container.Config with HostConfig and NetworkingConfig beside it. */
export const CONTAINER_CREATE = struct('ContainerConfigWrapper', {
  ...CONTAINER_CONFIG_FIELDS,
  HostConfig: HOST_CONFIG,
  NetworkingConfig: struct('network.NetworkingConfig', { EndpointsConfig: { map: ENDPOINT_SETTINGS } }),
});

/** POST /commit's body: a container.Config. */
export const CONTAINER_CONFIG = struct('container.Config', CONTAINER_CONFIG_FIELDS);

/** POST /containers/{id}/update. */
export const CONTAINER_UPDATE = struct('container.UpdateConfig', { ...RESOURCES, RestartPolicy: restartPolicy });

export const EXEC_CONFIG = struct('container.ExecOptions', {
  User: S, Privileged: B, Tty: B, ConsoleSize: { list: U, name: '*[2]uint' }, AttachStdin: B, AttachStderr: B, AttachStdout: B,
  Detach: B, DetachKeys: S, Env: strs, WorkingDir: S, Cmd: 'strslice',
});

export const EXEC_START = struct('container.ExecStartOptions', { Detach: B, Tty: B, ConsoleSize: { list: U, name: '*[2]uint' } });

export const NETWORK_CREATE = struct('network.CreateRequest', {
  Name: S, CheckDuplicate: B, Driver: S, Scope: S, EnableIPv4: B, EnableIPv6: B, Internal: B, Attachable: B, Ingress: B, ConfigOnly: B,
  ConfigFrom: struct('network.ConfigReference', { Network: S }),
  IPAM: struct('network.IPAM', {
    Driver: S, Options: strMap,
    Config: { list: struct('network.IPAMConfig', { Subnet: S, IPRange: S, Gateway: S, AuxiliaryAddresses: strMap }) },
  }),
  Options: strMap, Labels: strMap,
});

export const NETWORK_CONNECT = struct('network.ConnectOptions', { Container: S, EndpointConfig: ENDPOINT_SETTINGS });
export const NETWORK_DISCONNECT = struct('network.DisconnectOptions', { Container: S, Force: B });
export const VOLUME_CREATE = struct('volume.CreateOptions', { Name: S, Driver: S, DriverOpts: strMap, Labels: strMap });
export const AUTH_CONFIG = struct('registry.AuthConfig', {
  username: S, password: S, auth: S, email: S, serveraddress: S, identitytoken: S, registrytoken: S,
});
