/**
 * The network part: docker's network model on Debian's CNI plugins. Networks (the default `bridge`,
 * `host`, `none` and user bridges) are records in the store; each bridge network is a Linux bridge
 * berth makes, and every container on one gets its own network namespace (a bind-mounted netns file
 * under the exec root) plumbed by the CNI chain bridge + host-local → portmap. The firewall rules are
 * per network, as dockerd's (firewall.ts). Names on
 * user networks resolve through berth's DNS server on the gateway. What a running container holds
 * (its netns, each plugin chain's cached result, its host ports) is kept in a file under the exec
 * root, so a daemon that crashed can still tear it all down.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { BerthError, ConflictError, InvalidParameterError, NotFoundError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { JoinConflicts, PeerContainer } from './types.js';
import { checkBridgeName, conflictingRoute, defaultRouteMtu, ensureBridge, hostRoutes, removeBridge } from './bridge.js';
import { Firewall, type BridgeNetwork } from './firewall.js';
import { cniAdd, cniDel, containerSide, type CniResult, type PluginConf } from './cni.js';
import { DnsServer } from './dns.js';
import { formatResolvConf, hostResolvConf, hostsFile, reachableNameservers } from './etc.js';
import {
  allocateSubnet, auxErrors, broadcast, carve, checkHostAddress, contains, formatCidr, formatIp, joinErrors, nth, overlaps, parseCidr, parseIp, parsePool,
  type AddressPool, type Cidr,
} from './ipam.js';
import { createNetns, removeNetns } from './netns.js';
import { pickHostPorts } from './host-ports.js';
import { portsView, wantedMappings, type PortMapping } from './ports.js';
import {
  emptyEndpoint, emptySettings, parseLink, type Attachment, type ContainerNetInfo, type EndpointSettings, type IpamConfig, type NetworkRecord, type NetworkSettings,
} from './types.js';

export * from './types.js';
export { parsePublish } from './ports.js';
export { checkExtraHost, hostsFile } from './etc.js';
export { Firewall, firewallChains } from './firewall.js';

export interface NetworkOptions {
  execRoot: string;
  /** The default bridge's Linux bridge (dockerd's `--bridge`). */
  bridge?: string;
  /** The default bridge's gateway and prefix, e.g. `172.30.0.1/16` (dockerd's `--bip`). */
  bip?: string;
  /** Where user networks without `--subnet` get theirs (dockerd's `--default-address-pool`). */
  addressPools?: string[];
  log?: (msg: string) => void;
}

export interface CreateNetworkRequest {
  Name?: string;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string } | null;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: Partial<IpamConfig>[]; Options?: Record<string, string> | null };
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  CheckDuplicate?: boolean;
}

export type NetworkView = NetworkRecord & { Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }> };

interface LiveEndpoint {
  networkId: string;
  networkName: string;
  ifname: string;
  cniName: string;
  plugins: PluginConf[];
  result: CniResult;
  ip: string;
  prefix: number;
  gateway: string;
  mac: string;
  endpointId: string;
  names: string[];
}

/** What a running container holds, on disk under the exec root until it is torn down. */
interface LiveState {
  id: string;
  name: string;
  netns: string;
  endpoints: LiveEndpoint[];
  ports: PortMapping[];
  dns: string[];
  /**
   * Containers that joined this namespace with `--network container:` (directly or through another joiner);
   * saved, so a restarted daemon knows them too. Absent in a state an older berth saved.
   */
  joiners?: string[];
  /** `--link` aliases on user networks, which berth's DNS answers for this container alone; other container's ID by alias. */
  links?: Record<string, string>;
}

const BRIDGE_NAME_OPT = 'com.docker.network.bridge.name';
const ENABLE_IPV4_OPT = 'com.docker.network.enable_ipv4';
const ENABLE_IPV6_OPT = 'com.docker.network.enable_ipv6';
const DEFAULT_BIP = '172.30.0.1/16';
const DEFAULT_POOLS = ['base=172.31.0.0/16,size=24'];
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** A 48-bit MAC address as Go's net.ParseMAC takes it with colons (the docker CLI's own check). */
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

const forbidden = (msg: string) => new BerthError(403, msg);
const notFound = (ref: string) => new NotFoundError(`network ${ref} not found`);

export class NetworkService {
  private readonly nets = new Map<string, NetworkRecord>();
  private readonly live = new Map<string, LiveState>();
  private readonly dns: DnsServer;
  private readonly firewall: Firewall;
  private readonly stateDir: string;
  private readonly netnsDir: string;
  private readonly ipamDir: string;
  private readonly pools: AddressPool[];
  private readonly log: (m: string) => void;
  private mtu = 1500;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly tearingDown = new Set<Promise<void>>();
  /** Where `create`, `destroy` and a running container's `connect`/`disconnect` are reported (the events part sets it). */
  onEvent?: (action: 'create' | 'destroy' | 'connect' | 'disconnect', n: NetworkRecord, containerId?: string) => void;
  /** How `--network container:<ref>` finds the other container (the containers part sets it). */
  peer?: (ref: string) => PeerContainer | undefined;

  constructor(private readonly store: Store, private readonly opts: NetworkOptions) {
    this.log = opts.log ?? (() => {});
    this.stateDir = join(opts.execRoot, 'network', 'containers');
    this.netnsDir = join(opts.execRoot, 'netns');
    this.ipamDir = join(opts.execRoot, 'network', 'ipam');
    this.pools = (opts.addressPools?.length ? opts.addressPools : DEFAULT_POOLS).map(parsePool);
    this.firewall = new Firewall(opts.execRoot);
    this.dns = new DnsServer((name, from, server) => this.lookup(name, from, server), (from) => this.upstreams(from), this.log);
  }

  /** Serializes what allocates shared things: subnets, bridges, host ports. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    // What the teardowns under way free (endpoints, and with them a network's removal) is free by then.
    const next = this.queue.then(() => this.tornDown()).then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  // ---- start-up and shutdown ----

  async init(): Promise<void> {
    for (const row of this.store.listNetworks()) {
      const n = JSON.parse(row.record) as NetworkRecord;
      this.nets.set(n.Id, n);
    }
    await mkdir(this.stateDir, { recursive: true });
    for (const f of await readdir(this.stateDir)) {
      try { const s = JSON.parse(await readFile(join(this.stateDir, f), 'utf8')) as LiveState; this.live.set(s.id, s); } catch { /* half-written: reconcile drops it */ }
    }
    this.mtu = await defaultRouteMtu();
    for (const [name, driver] of [['host', 'host'], ['none', 'null']] as const) {
      if (!this.byName(name)) this.insert(newRecord(name, driver, [], {}));
    }
    await this.initDefaultBridge();
    for (const n of this.nets.values()) {
      if (n.Driver !== 'bridge') continue;
      const cfg = n.IPAM.Config[0]!;
      await ensureBridge(n.Options[BRIDGE_NAME_OPT]!, cfg.Gateway, parseCidr(cfg.Subnet).bits, this.mtu);
      await this.dns.listen(cfg.Gateway).catch((e: Error) => this.log(`network ${n.Name}: no DNS on ${cfg.Gateway}:53: ${e.message}`));
    }
    await this.firewall.apply(this.bridgeNetworks());
  }

  /** What the firewall needs of the bridge networks: those in `nets`, all by default. */
  private bridgeNetworks(nets: Iterable<NetworkRecord> = this.nets.values()): BridgeNetwork[] {
    return [...nets].filter((n) => n.Driver === 'bridge')
      .map((n) => ({ name: n.Name, bridge: n.Options[BRIDGE_NAME_OPT]!, subnet: n.IPAM.Config[0]!.Subnet, internal: n.Internal }));
  }

  private async initDefaultBridge(): Promise<void> {
    const bridge = this.opts.bridge || 'berth0';
    checkBridgeName(bridge);
    const bip = parseCidr(this.opts.bip || DEFAULT_BIP);
    if (bip.addr === bip.base) throw new InvalidParameterError(`--bip ${this.opts.bip} must be the bridge's address with its prefix, e.g. ${DEFAULT_BIP}`);
    const want: IpamConfig = { Subnet: formatCidr(bip), Gateway: formatIp(bip.addr) };
    const cur = this.byName('bridge');
    const clash = await conflictingRoute(bip, bridge);
    if (clash) throw new InvalidParameterError(`the bridge network's subnet ${want.Subnet} overlaps the host route ${clash}; choose another with --bip`);
    if (cur && cur.Options[BRIDGE_NAME_OPT] === bridge && cur.IPAM.Config[0]?.Subnet === want.Subnet && cur.IPAM.Config[0]?.Gateway === want.Gateway) return;
    if (cur) {
      if (this.endpointsOn(cur.Id).length) {
        this.log(`keeping the bridge network as ${cur.Options[BRIDGE_NAME_OPT]} ${cur.IPAM.Config[0]?.Subnet}: containers still use it`);
        return;
      }
      await removeBridge(cur.Options[BRIDGE_NAME_OPT]!);
      this.dns.close(cur.IPAM.Config[0]!.Gateway);
      cur.IPAM.Config = [want];
      cur.Options = { ...cur.Options, [BRIDGE_NAME_OPT]: bridge };
      this.store.transaction(() => { this.store.deleteNetwork(cur.Id); this.store.insertNetwork(cur.Id, cur.Name, JSON.stringify(cur)); });
      return;
    }
    this.insert(newRecord('bridge', 'bridge', [want], {
      'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.enable_icc': 'true',
      'com.docker.network.bridge.enable_ip_masquerade': 'true', 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      [BRIDGE_NAME_OPT]: bridge, 'com.docker.network.driver.mtu': String(this.mtu),
    }));
  }

  /**
   * Tears down what containers that are no longer running still hold (a daemon that died while they
   * exited, or in the middle of a start). `running` are the IDs of the containers that run.
   */
  async reconcile(running: Set<string>): Promise<void> {
    for (const id of [...this.live.keys()]) if (!running.has(id)) await this.tearDown(id);
    for (const f of await readdir(this.netnsDir).catch(() => [] as string[])) {
      if (![...running].some((id) => id.startsWith(f))) await removeNetns(join(this.netnsDir, f));
    }
  }

  /**
   * Stops the DNS server. With `removeIdle`, deletes the bridges no running container uses: they come
   * back at the next start, and a host without berth running keeps no bridge, veth or rule of it.
   */
  async shutdown(removeIdle = false): Promise<void> {
    await this.serial(async () => {
      this.dns.closeAll();
      if (!removeIdle) return;
      const kept: NetworkRecord[] = [];
      for (const n of this.nets.values()) {
        if (n.Driver !== 'bridge') continue;
        if (this.endpointsOn(n.Id).length) kept.push(n);
        else await removeBridge(n.Options[BRIDGE_NAME_OPT]!);
      }
      await (kept.length ? this.firewall.apply(this.bridgeNetworks(kept)) : this.firewall.remove())
        .catch((e: Error) => this.log(`the network rules: ${e.message}`));
    });
  }

  // ---- lookups ----

  private insert(n: NetworkRecord): void {
    this.store.insertNetwork(n.Id, n.Name, JSON.stringify(n));
    this.nets.set(n.Id, n);
  }

  private byName(name: string): NetworkRecord | undefined {
    for (const n of this.nets.values()) if (n.Name === name) return n;
    return undefined;
  }

  /** By full ID, name, or unique ID prefix, as docker. */
  find(ref: string): NetworkRecord | undefined {
    const exact = this.nets.get(ref) ?? this.byName(ref);
    if (exact) return exact;
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    const hits = [...this.nets.values()].filter((n) => n.Id.startsWith(ref));
    if (hits.length > 1) throw new NotFoundError(`network ${ref} is ambiguous (${hits.length} matches found based on ID prefix)`);
    return hits[0];
  }

  get(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw notFound(ref);
    return n;
  }

  private endpointsOn(networkId: string): { state: LiveState; ep: LiveEndpoint }[] {
    const out: { state: LiveState; ep: LiveEndpoint }[] = [];
    for (const s of this.live.values()) for (const ep of s.endpoints) if (ep.networkId === networkId) out.push({ state: s, ep });
    return out;
  }

  view(n: NetworkRecord): NetworkView {
    const containers: NetworkView['Containers'] = {};
    for (const { state, ep } of this.endpointsOn(n.Id)) {
      containers[state.id] = { Name: state.name, EndpointID: ep.endpointId, MacAddress: ep.mac, IPv4Address: `${ep.ip}/${ep.prefix}`, IPv6Address: '' };
    }
    // As dockerd, a user network shows the bridge name only when it was asked for: the generated br-<id> stays inside
    // (docker-compose compares Options with its own and would otherwise want every existing network recreated).
    const Options = { ...n.Options };
    if (Options[BRIDGE_NAME_OPT] === `br-${n.Id.slice(0, 12)}`) delete Options[BRIDGE_NAME_OPT];
    // dockerd's field order, and its omitempty on a config's fields (a config-only network's may be empty).
    const Config = n.IPAM.Config.map((c) => Object.fromEntries(Object.entries({ Subnet: c.Subnet, IPRange: c.IPRange, Gateway: c.Gateway, AuxiliaryAddresses: c.AuxiliaryAddresses })
      .filter(([, v]) => (typeof v === 'object' ? Object.keys(v).length : v)))) as unknown as IpamConfig[];
    return {
      Name: n.Name, Id: n.Id, Created: n.Created, Scope: n.Scope, Driver: n.Driver, EnableIPv4: n.EnableIPv4 ?? true, EnableIPv6: n.EnableIPv6,
      IPAM: { ...n.IPAM, Config }, Internal: n.Internal, Attachable: n.Attachable, Ingress: n.Ingress, ConfigFrom: n.ConfigFrom, ConfigOnly: n.ConfigOnly,
      Containers: containers, Options, Labels: n.Labels,
    };
  }

  list(): NetworkRecord[] {
    return [...this.nets.values()].sort((a, b) => a.Created.localeCompare(b.Created));
  }

  isPredefined(n: NetworkRecord): boolean {
    return ['bridge', 'host', 'none'].includes(n.Name);
  }

  inUse(n: NetworkRecord): boolean {
    return this.endpointsOn(n.Id).length > 0;
  }

  // ---- networks ----

  async create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? '';
    if (!name) throw new InvalidParameterError('network name is required');
    if (!VALID_NAME.test(name)) throw new InvalidParameterError(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const driver = req.Driver || 'bridge';
    const given = { ...(req.Options ?? {}) };
    const ipv4 = enabled(req.EnableIPv4, given, ENABLE_IPV4_OPT, true);
    const ipv6 = enabled(req.EnableIPv6, given, ENABLE_IPV6_OPT, false);
    const from = req.ConfigFrom?.Network || '';
    // A null entry decodes in dockerd as a zero IPAMConfig: nothing asked for.
    const asked = (req.IPAM?.Config ?? []).filter((c) => c?.Subnet || c?.Gateway || c?.IPRange || Object.keys(c?.AuxiliaryAddresses ?? {}).length);
    if (asked.some((c) => c.Subnet?.includes(':'))) throw new InvalidParameterError('IPv6 subnets are not supported yet');
    const invalid = asked.flatMap((c) => {
      let subnet: Cidr | undefined;
      try { subnet = c.Subnet ? parseCidr(c.Subnet) : undefined; } catch { /* berth's own check below says so */ }
      return auxErrors(subnet, c.Subnet ?? '', c.AuxiliaryAddresses ?? {});
    });
    if (invalid.length) throw new InvalidParameterError(`invalid network config:\n${joinErrors(invalid)}`);
    // libnetwork's validateConfiguration, in its order and words.
    if (req.ConfigOnly && (req.Ingress || req.Internal || req.Attachable || req.Scope)) {
      throw forbidden('configuration network can only contain network specific fields. Network operator fields like [ ingress | internal | attachable | scope ] are not supported.');
    }
    if (from) {
      if (req.ConfigOnly) throw forbidden('a configuration network cannot depend on another configuration network');
      if ((req.IPAM?.Driver || 'default') !== 'default' || !ipv4 || ipv6 || Object.keys(req.Labels ?? {}).length
        || Object.keys(req.IPAM?.Options ?? {}).length || asked.length) {
        throw forbidden('user specified configurations are not supported if the network depends on a configuration network');
      }
      if (Object.keys(given).length) throw forbidden('network driver options are not supported if the network depends on a configuration network');
    }
    return this.serial(async () => {
      if (this.byName(name)) throw new ConflictError(`network with name ${name} already exists`);
      const id = randomBytes(32).toString('hex');
      if (req.ConfigOnly) return this.createConfigOnly(req, id, asked, given, ipv4, ipv6);
      if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
      // A bridge network's scope is local; dockerd records a `global` it is given, and a swarm scope needs a swarm.
      if (req.Scope && !['local', 'global', 'swarm'].includes(req.Scope)) throw new InvalidParameterError(`invalid scope "${req.Scope}": it must be local, global or swarm`);
      if (req.Ingress) throw forbidden('Ingress network can only be global scope network');
      // From here on the network's configuration may be another's: a config-only network's, copied as dockerd copies it.
      let src: { ipamDriver: string; ipamOptions: Record<string, string> | null; configs: Partial<IpamConfig>[]; options: Record<string, string>; labels: Record<string, string>; ipv4: boolean; ipv6: boolean } = {
        ipamDriver: req.IPAM?.Driver || 'default', ipamOptions: req.IPAM ? req.IPAM.Options ?? null : null, configs: asked, options: given, labels: req.Labels ?? {}, ipv4, ipv6,
      };
      if (from) {
        const cfg = [...this.nets.values()].find((n) => n.ConfigOnly && n.Name === from);
        if (!cfg) throw new NotFoundError(`configuration network "${from}" does not exist`);
        src = {
          ipamDriver: cfg.IPAM.Driver, ipamOptions: cfg.IPAM.Options, configs: cfg.IPAM.Config, options: { ...cfg.Options }, labels: { ...cfg.Labels },
          ipv4: cfg.EnableIPv4 ?? true, ipv6: cfg.EnableIPv6,
        };
      }
      if (req.Scope === 'swarm') throw forbidden('cannot create a swarm scoped network when swarm is not active');
      if (src.ipamDriver !== 'default') throw new NotFoundError(`plugin "${src.ipamDriver}" not found`);
      const configs = src.configs;
      if (configs.length > 1) throw new InvalidParameterError('berth networks take one IPv4 subnet');
      const bridge = src.options[BRIDGE_NAME_OPT] || `br-${id.slice(0, 12)}`;
      if ([...this.nets.values()].some((n) => n.Options[BRIDGE_NAME_OPT] === bridge)) {
        throw forbidden(`bridge name ${bridge} is already in use by another network`);
      }
      checkBridgeName(bridge);
      const taken = [...this.nets.values()].filter((n) => n.Driver === 'bridge').map((n) => parseCidr(n.IPAM.Config[0]!.Subnet));
      let subnet: Cidr;
      const c = configs[0];
      if (c?.Subnet) {
        const p = parseCidr(c.Subnet);
        subnet = { base: p.base, bits: p.bits };
        if (p.bits > 30) throw new InvalidParameterError(`subnet ${c.Subnet} is too small`);
        if (taken.some((t) => overlaps(t, subnet)) || await conflictingRoute(subnet, bridge)) {
          throw forbidden('Pool overlaps with other one on this address space');
        }
      } else {
        if (c?.Gateway) throw new InvalidParameterError('a gateway needs a subnet: pass --subnet too');
        const routes = (await hostRoutes()).map((r) => r.dst);
        const got = this.pools.map((p) => allocateSubnet(p, [...taken, ...routes])).find(Boolean);
        if (!got) throw forbidden('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
        subnet = got;
      }
      const gateway = c?.Gateway ? formatIp(checkHostAddress(subnet, c.Gateway, 'gateway')) : formatIp(nth(subnet, 1));
      let range: string | undefined;
      if (c?.IPRange) {
        const r = parseCidr(c.IPRange);
        if (!contains(subnet, r.base) || r.bits < subnet.bits) throw new InvalidParameterError(`ip-range ${c.IPRange} is not inside subnet ${formatCidr(subnet)}`);
        range = formatCidr(r);
      }
      const ipam: IpamConfig = { Subnet: formatCidr(subnet), ...(range ? { IPRange: range } : {}), Gateway: gateway };
      const aux = c?.AuxiliaryAddresses ?? {};
      if (Object.keys(aux).length) {
        // dockerd reserves each in its IPAM when the network is made: the gateway, the subnet's own two addresses or another's fail.
        const held = new Set([parseIp(gateway)!, subnet.base, broadcast(subnet)]);
        for (const [k, v] of Object.entries(aux)) {
          const n = parseIp(v)!;
          if (held.has(n)) throw new BerthError(500, `failed to allocate secondary ip address (${k}:${v}): Address already in use`);
          held.add(n);
        }
        ipam.AuxiliaryAddresses = { ...aux };
      }
      // The bridge driver's check, after the IPAM's; berth's bridges have no IPv6 to stand in for IPv4.
      if (!src.ipv4 && !src.ipv6) throw new InvalidParameterError('IPv4 or IPv6 must be enabled');
      if (!src.ipv4) throw new InvalidParameterError('IPv4 cannot be disabled: berth\'s bridge networks have IPv4 only (IPv6 is not supported yet)');
      const rec = newRecord(name, 'bridge', [ipam], { ...src.options, [BRIDGE_NAME_OPT]: bridge }, id);
      rec.Internal = !!req.Internal;
      rec.Attachable = !!req.Attachable;
      rec.Labels = src.labels;
      rec.IPAM.Options = src.ipamOptions;
      if (req.Scope) rec.Scope = req.Scope;
      if (from) rec.ConfigFrom = { Network: from };
      await ensureBridge(bridge, gateway, subnet.bits, this.mtu);
      try {
        await this.firewall.apply(this.bridgeNetworks([...this.nets.values(), rec]));
        this.insert(rec);
      } catch (e) {
        await removeBridge(bridge);
        await this.firewall.apply(this.bridgeNetworks()).catch(() => {});
        if (/UNIQUE/.test(String(e))) throw new ConflictError(`network with name ${name} already exists`);
        throw e;
      }
      await this.dns.listen(gateway).catch((e: Error) => this.log(`network ${name}: no DNS on ${gateway}:53: ${e.message}`));
      this.onEvent?.('create', rec);
      return { Id: id, Warning: src.ipv6 ? 'IPv6 is not supported yet: the network has IPv4 only' : '' };
    });
  }

  /**
   * A config-only network, as dockerd keeps one: its configuration as given, driver `null`, no subnet picked, no
   * bridge, nothing a container can join. A network made with `--config-from` takes it over.
   */
  private createConfigOnly(req: CreateNetworkRequest, id: string, asked: Partial<IpamConfig>[], options: Record<string, string>, ipv4: boolean, ipv6: boolean): { Id: string; Warning: string } {
    const config = asked.map((c) => ({
      Subnet: c.Subnet ?? '', ...(c.IPRange ? { IPRange: c.IPRange } : {}), Gateway: c.Gateway ?? '',
      ...(Object.keys(c.AuxiliaryAddresses ?? {}).length ? { AuxiliaryAddresses: { ...c.AuxiliaryAddresses } } : {}),
    }));
    const rec = newRecord(req.Name!, 'null', config, options, id);
    Object.assign(rec, { ConfigOnly: true, EnableIPv4: ipv4, EnableIPv6: ipv6, Labels: req.Labels ?? {} });
    rec.IPAM = { Driver: req.IPAM?.Driver || 'default', Options: req.IPAM ? req.IPAM.Options ?? null : null, Config: config };
    this.insert(rec);
    this.onEvent?.('create', rec);
    return { Id: id, Warning: '' };
  }

  async remove(ref: string): Promise<void> {
    const n = this.get(ref);
    if (this.isPredefined(n)) throw forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
    if (n.ConfigOnly) {
      await this.serial(async () => {
        if ([...this.nets.values()].some((o) => o.ConfigFrom?.Network === n.Name)) throw forbidden(`error while removing network: configuration network "${n.Name}" is in use`);
        this.store.deleteNetwork(n.Id);
        this.nets.delete(n.Id);
      });
      return; // dockerd reports no destroy event for a config-only network
    }
    await this.serial(async () => {
      if (this.endpointsOn(n.Id).length) throw forbidden(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
      this.dns.close(n.IPAM.Config[0]!.Gateway);
      await removeBridge(n.Options[BRIDGE_NAME_OPT]!);
      this.store.deleteNetwork(n.Id);
      this.nets.delete(n.Id);
      // The network is gone either way: a rule left over is logged, not the removal failed.
      await this.firewall.apply(this.bridgeNetworks()).catch((e: Error) => this.log(`network ${n.Name}: its rules: ${e.message}`));
      await rm(join(this.ipamDir, cniName(n)), { recursive: true, force: true });
    });
    this.onEvent?.('destroy', n);
  }

  // ---- containers ----

  /**
   * Checks a create request's networking and returns its mode and the `NetworkSettings` to record:
   * an entry per network the container will join, empty until it starts.
   */
  prepare(mode: string, networkingConfig: unknown, publishes: boolean, asked: JoinConflicts = {}): { mode: string; settings: NetworkSettings; hostname?: string; warnings: string[]; macs?: Record<string, string> } {
    const settings = emptySettings();
    const warnings: string[] = [];
    const m = mode || 'default';
    const eps = ((networkingConfig as { EndpointsConfig?: Record<string, Partial<EndpointSettings> | null> } | null)?.EndpointsConfig) ?? {};
    if (m === 'host' || m === 'none') {
      settings.Networks[m] = { ...emptyEndpoint(), NetworkID: this.get(m).Id };
      if (publishes && m === 'host') warnings.push('Published ports are discarded when using host network mode');
      return { mode: m, settings, warnings, ...(m === 'host' ? { hostname: osHostname() } : {}) };
    }
    if (m.startsWith('container:')) {
      // dockerd's validateNetContainerMode, in its order and words.
      const ref = m.slice('container:'.length);
      if (!ref) throw new InvalidParameterError('Invalid network mode: invalid container format container:<name|id>');
      if (asked.hostname) throw new InvalidParameterError('conflicting options: hostname and the network mode');
      if (asked.dns?.length) throw new InvalidParameterError('conflicting options: dns and the network mode');
      if (asked.extraHosts?.length) throw new InvalidParameterError('conflicting options: custom host-to-IP mapping and the network mode');
      if (asked.mac) throw new InvalidParameterError('conflicting options: mac-address and the network mode');
      if (publishes) throw new InvalidParameterError('conflicting options: port publishing and the container type network mode');
      if (asked.exposes) throw new InvalidParameterError('conflicting options: port exposing and the container type network mode');
      const p = this.peer?.(ref);
      if (!p) throw new NotFoundError(`No such container: ${ref}`);
      // The ID, not the name: a rename of the other container must not cut the link. Its hostname too, as docker.
      return { mode: `container:${p.id}`, settings, warnings, hostname: p.hostname };
    }
    const primary = this.get(m === 'default' ? 'bridge' : m);
    const names = [primary.Name];
    for (const ref of Object.keys(eps)) {
      if (ref === m) continue;
      const n = this.get(ref);
      if (n.Driver !== 'bridge' && !n.ConfigOnly) throw new InvalidParameterError(`container cannot be disconnected from host network or connected to host network`);
      if (!names.includes(n.Name)) names.push(n.Name);
    }
    const macs: Record<string, string> = {};
    for (const name of names) {
      const n = this.get(name);
      const given = eps[name] ?? eps[n.Id] ?? (name === primary.Name ? eps[m] : undefined) ?? {};
      settings.Networks[name] = this.endpointConfig(n, given);
      // The container-wide MacAddress of API < 1.44 clients is the primary network's.
      const mac = given.MacAddress || (name === primary.Name ? asked.mac : undefined);
      if (mac) {
        if (!MAC.test(mac)) throw new InvalidParameterError(`invalid MAC address ${mac}`);
        macs[name] = mac.toLowerCase();
        settings.Networks[name]!.MacAddress = macs[name]!;
      }
    }
    return { mode: m, settings, warnings, ...(Object.keys(macs).length ? { macs } : {}) };
  }

  /** An endpoint's recorded configuration: aliases and a fixed address, checked against the network. */
  private endpointConfig(n: NetworkRecord, given: Partial<EndpointSettings>): EndpointSettings {
    const ep = {
      ...emptyEndpoint(), NetworkID: n.Id,
      ...(given.DriverOpts && Object.keys(given.DriverOpts).length ? { DriverOpts: given.DriverOpts } : {}),
      ...(given.Links?.length ? { Links: given.Links } : {}),
    };
    const aliases = (given.Aliases ?? []).filter(Boolean);
    if (aliases.length) {
      if (n.Name === 'bridge') throw new InvalidParameterError('network-scoped alias is supported only for containers in user defined networks');
      ep.Aliases = aliases;
    }
    if (given.IPAMConfig?.IPv6Address || given.IPAMConfig?.LinkLocalIPs?.length) {
      throw new InvalidParameterError(`berth's networks are IPv4 only: ${given.IPAMConfig.IPv6Address ? '--ip6' : '--link-local-ip'} is not supported`);
    }
    const ip = given.IPAMConfig?.IPv4Address;
    if (ip) {
      if (n.Name === 'bridge') throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
      // A config-only network has no endpoints: starting on it fails, whatever the address.
      if (!n.ConfigOnly) {
        const cfg = n.IPAM.Config[0]!;
        checkHostAddress(parseCidr(cfg.Subnet), ip, 'IP address');
        if (ip === cfg.Gateway) throw new InvalidParameterError(`Address already in use: ${ip} is the network's gateway`);
        const aux = Object.entries(cfg.AuxiliaryAddresses ?? {}).find(([, v]) => parseIp(v) === parseIp(ip));
        if (aux) throw new InvalidParameterError(`Address already in use: ${ip} is the network's auxiliary address ${aux[0]}`);
      }
      ep.IPAMConfig = { IPv4Address: ip };
    }
    return ep;
  }

  /**
   * Sets a starting container's networking up in two steps, so the runtime can create the container
   * while the CNI plugins plumb its namespace: `netns` is there when this resolves (an empty namespace,
   * its host ports reserved); `ready` settles once every network is plumbed. The container's process
   * must not run before `ready` resolves. Whichever step fails, nothing of it is left.
   */
  async setUp(c: ContainerNetInfo): Promise<{ netns?: string; files?: Attachment['files']; ready: Promise<Attachment> }> {
    const s = c.settings;
    if (c.mode.startsWith('container:')) {
      const att = await this.joinPeer(c);
      return { netns: att.netns, files: att.files, ready: Promise.resolve(att) };
    }
    if (c.mode === 'none') {
      return { ready: Promise.resolve({ hosts: hostsFile(c.hostname, c.domainname, undefined, extraHosts(c.extraHosts, '')), resolvConf: this.resolvFor(c, undefined) }) };
    }
    if (c.mode === 'host') {
      // With --add-host, dockerd writes a hosts file of its own rather than the host's, so an entry can override one of the host's.
      const host = c.extraHosts.length ? hostsFile(c.hostname, c.domainname, undefined, extraHosts(c.extraHosts, ''))
        : await readFile('/etc/hosts', 'utf8').catch(() => hostsFile(osHostname(), '', undefined, []));
      const resolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
      return { netns: 'host', ready: Promise.resolve({ netns: 'host', hosts: host, resolvConf: resolv, hostname: c.hostname }) };
    }
    await this.tornDown();
    // Records from before berth had networks name none: they join the network of their mode.
    if (!s.Networks || !Object.keys(s.Networks).length) {
      const n = this.get(c.mode === 'default' ? 'bridge' : c.mode);
      Object.assign(s, { ...emptySettings(), Networks: { [n.Name]: { ...emptyEndpoint(), NetworkID: n.Id } } });
    }
    const nets = Object.keys(s.Networks).map((name) => {
      const n = this.find(name);
      if (!n) throw notFound(name);
      if (n.ConfigOnly) throw configOnlyEndpoint();
      return n;
    });
    const primary = nets[0]!;
    const state: LiveState = {
      id: c.id, name: c.name, netns: '', endpoints: [], ports: [], dns: c.dns, joiners: [],
      ...(c.links?.length ? { links: Object.fromEntries(c.links.map((l) => [l.alias.toLowerCase(), l.id])) } : {}),
    };
    this.live.set(c.id, state);
    try {
      if (!primary.Internal) await this.allocatePorts(c, state);
      state.netns = await createNetns(this.netnsDir, c.id.slice(0, 12));
      await this.saveState(state);
    } catch (e) {
      await this.tearDown(c.id);
      throw e;
    }
    const ready = (async (): Promise<Attachment> => {
      try {
        for (const [i, n] of nets.entries()) {
          await this.addEndpoint(state, n, `eth${i}`, s.Networks[n.Name]!, i === 0 ? state.ports : [], c.macs?.[n.Name]);
        }
      } catch (e) {
        await this.tearDown(c.id);
        throw e;
      }
      this.fillSettings(c, state);
      const first = state.endpoints[0]!;
      return {
        netns: state.netns,
        hosts: hostsFile(c.hostname, c.domainname, first.ip, [...extraHosts(c.extraHosts, first.gateway), ...this.linkHosts(c, primary)]),
        resolvConf: this.resolvFor(c, primary),
      };
    })();
    return { netns: state.netns, ready };
  }

  /**
   * Plumbs one network into the container's netns. The endpoint is on disk before the first plugin runs
   * and each plugin's result as it comes, so a daemon that dies half-way can still undo it all.
   */
  private async addEndpoint(state: LiveState, n: NetworkRecord, ifname: string, ep: EndpointSettings, ports: PortMapping[], mac?: string): Promise<LiveEndpoint> {
    const plugins = this.pluginsFor(n, ep.IPAMConfig?.IPv4Address, ports, mac);
    const live: LiveEndpoint = {
      networkId: n.Id, networkName: n.Name, ifname, cniName: cniName(n), plugins, result: {}, ip: '', prefix: 0, gateway: '', mac: '',
      endpointId: randomBytes(32).toString('hex'),
      names: n.Name === 'bridge' ? [] : [...new Set([state.name, state.id.slice(0, 12), ...(ep.Aliases ?? [])].map((x) => x.toLowerCase()))],
    };
    state.endpoints.push(live);
    await this.saveState(state);
    try {
      live.result = await cniAdd(live.cniName, plugins, { containerId: state.id, netns: state.netns, ifname }, async (r) => {
        live.result = r;
        await this.saveState(state);
      });
    } catch (e) {
      state.endpoints = state.endpoints.filter((x) => x !== live); // cniAdd undid its part
      await this.saveState(state);
      const msg = e instanceof Error ? e.message : String(e);
      if (/not available|already reserved|has been allocated/.test(msg)) throw new ConflictError(`Address already in use: ${ep.IPAMConfig?.IPv4Address}`);
      throw e;
    }
    const side = containerSide(live.result, ifname);
    const [ip = '', prefix = '0'] = side.address.split('/');
    Object.assign(live, { ip, prefix: Number(prefix), gateway: side.gateway, mac: side.mac });
    await this.saveState(state);
    return live;
  }

  /** The CNI chain of a network: bridge with host-local addresses, portmap for published ports. NAT and forwarding are the network's rules (firewall.ts). */
  private pluginsFor(n: NetworkRecord, ip: string | undefined, ports: PortMapping[], mac?: string): PluginConf[] {
    const cfg = n.IPAM.Config[0]!;
    const whole = { subnet: cfg.Subnet, gateway: cfg.Gateway };
    let ranges: Record<string, string>[] = [whole];
    // A fixed address may be anywhere in the subnet, as with dockerd: host-local only has to find it in a range, free.
    const aux = Object.values(cfg.AuxiliaryAddresses ?? {}).map((a) => parseIp(a)!);
    if (!ip && (cfg.IPRange || aux.length)) {
      const subnet = parseCidr(cfg.Subnet);
      const r = cfg.IPRange ? parseCidr(cfg.IPRange) : subnet;
      // The whole ip-range, as dockerd hands it out, but never the subnet's own two addresses.
      const runs = carve(Math.max(r.base, subnet.base + 1), Math.min(broadcast(r), broadcast(subnet) - 1), aux);
      if (!runs.length) throw new BerthError(503, 'no available addresses on this pool');
      ranges = runs.map(([a, b]) => ({ ...whole, rangeStart: formatIp(a), rangeEnd: formatIp(b) }));
    }
    const plugins: PluginConf[] = [
      {
        type: 'bridge', bridge: n.Options[BRIDGE_NAME_OPT], isGateway: true, hairpinMode: true, mtu: this.mtu,
        ipam: { type: 'host-local', ranges: [ranges], routes: n.Internal ? [] : [{ dst: '0.0.0.0/0' }], dataDir: this.ipamDir },
        // The bridge plugin's CNI_ARGS-style `args`: a fixed address and MAC for this container.
        ...(ip || mac ? { args: { cni: { ...(ip ? { ips: [ip] } : {}), ...(mac ? { mac } : {}) } } } : {}),
      },
    ];
    if (ports.length) {
      plugins.push({
        type: 'portmap', snat: true, capabilities: { portMappings: true },
        runtimeConfig: { portMappings: ports.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIp ? { hostIP: p.hostIp } : {}) })) },
      });
    }
    return plugins;
  }

  private fillSettings(c: ContainerNetInfo, state: LiveState): void {
    const s = c.settings;
    s.SandboxKey = state.netns;
    s.SandboxID = randomBytes(32).toString('hex');
    s.Ports = portsView(state.ports, c.exposedPorts);
    for (const ep of state.endpoints) {
      const cur = s.Networks[ep.networkName] ?? { ...emptyEndpoint(), NetworkID: ep.networkId };
      s.Networks[ep.networkName] = {
        ...cur, NetworkID: ep.networkId, EndpointID: ep.endpointId, Gateway: ep.gateway, IPAddress: ep.ip, IPPrefixLen: ep.prefix,
        MacAddress: ep.mac, DNSNames: ep.names.length ? [c.name, c.id.slice(0, 12), ...(cur.Aliases ?? [])] : null,
      };
      if (ep.networkName === 'bridge') {
        Object.assign(s, { EndpointID: ep.endpointId, Gateway: ep.gateway, IPAddress: ep.ip, IPPrefixLen: ep.prefix, MacAddress: ep.mac });
      }
    }
  }

  /**
   * `--network container:<id>`: the other container's namespace (its netns file, the host's, or its
   * process's when runc made it), and its /etc/hostname, /etc/hosts and resolv.conf files themselves. It
   * must be running; nothing is plumbed, so there is nothing to tear down when this one stops.
   */
  private async joinPeer(c: ContainerNetInfo): Promise<Attachment> {
    const ref = c.mode.slice('container:'.length);
    const p = this.peer?.(ref);
    if (!p) throw new NotFoundError(`No such container: ${ref}`);
    if (p.id === c.id) throw new InvalidParameterError('cannot join own network');
    if (p.restarting) throw new ConflictError(`Container ${p.id} is restarting, wait until the container is running`);
    if (!p.running || !p.pid) throw new ConflictError(`cannot join network namespace of a non running container: container ${p.name} is ${p.status}`);
    // The namespace's owner: the other container, or the one it joined in turn (`container:` of a `container:`).
    let owner = p;
    for (let hops = 0; owner.mode.startsWith('container:') && hops < 16; hops++) {
      const next = this.peer?.(owner.mode.slice('container:'.length));
      if (!next) break;
      owner = next;
    }
    const held = this.live.get(owner.id);
    const netns = owner.mode === 'host' ? 'host' : held?.netns || `/proc/${p.pid}/ns/net`;
    if (held && !held.joiners?.includes(c.id)) {
      held.joiners = [...(held.joiners ?? []).filter((j) => this.peer?.(j)?.running), c.id];
      await this.saveState(held);
    }
    return { netns, hosts: '', resolvConf: '', hostname: p.hostname, files: { hostname: p.hostnamePath, hosts: p.hostsPath, resolvConf: p.resolvConfPath } };
  }

  /**
   * Releases everything a container holds: each network's CNI DEL, the netns, its host ports. Safe to call twice.
   *
   * When nothing else runs in the namespace, its file goes while the plugins run DEL without it (which CNI plugins
   * must accept), releasing what lives outside it: the address and portmap's rules. The kernel destroys the
   * namespace, and its veths with it, in the background; the bridge plugin deleting the veth from inside would
   * wait out the kernel's RCU grace periods, about 25 ms of every `run --rm`. A namespace that a `--network
   * container:` joiner still runs in outlives the file, so there DEL takes the interfaces out first, as docker
   * takes them from the joiner.
   */
  async tearDown(id: string): Promise<void> {
    const work = this.unplumb(id);
    this.tearingDown.add(work);
    try { await work; } finally { this.tearingDown.delete(work); }
  }

  /**
   * Waits for the teardowns under way. A container's exit is answered while its network is torn down, so the
   * next allocation (host ports, a fixed address), a connect and every serial change wait for what they free.
   * Only those already under way: under a steady stream of exits a start must not wait for a lull.
   */
  private async tornDown(): Promise<void> {
    if (this.tearingDown.size) await Promise.allSettled([...this.tearingDown]);
  }

  private async unplumb(id: string): Promise<void> {
    const state = this.live.get(id);
    if (!state) return;
    // A state saved before joiners were recorded does not say who joined: it takes the careful way.
    const shared = state.joiners?.some((j) => this.peer?.(j)?.running) ?? true;
    const release = async () => {
      for (const ep of [...state.endpoints].reverse()) {
        await cniDel(ep.cniName, ep.plugins, { containerId: id, netns: shared ? state.netns : '', ifname: ep.ifname }, ep.result)
          .catch((e: Error) => this.log(`container ${id.slice(0, 12)}: ${e.message}`));
      }
    };
    if (shared) {
      await release();
      if (state.netns) await removeNetns(state.netns);
    } else {
      await Promise.all([state.netns ? removeNetns(state.netns) : undefined, release()]);
    }
    this.live.delete(id);
    await rm(join(this.stateDir, id), { force: true });
  }

  /**
   * `NetworkSettings` of a container that stopped: the endpoints stay configured, their addresses go, as docker
   * shows it; a MAC address that was asked for stays, as it is configuration too.
   */
  static cleared(s: NetworkSettings, macs: Record<string, string> = {}): NetworkSettings {
    const out = { ...s, SandboxKey: '', SandboxID: '', Ports: {}, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '', Networks: { ...s.Networks } };
    for (const [k, ep] of Object.entries(out.Networks)) {
      out.Networks[k] = { ...ep, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: macs[k] ?? '', DNSNames: null };
    }
    return out;
  }

  /** `network connect`: records the endpoint, and plumbs it at once into a running container. */
  async connect(ref: string, c: ContainerNetInfo, cfg: Partial<EndpointSettings> | undefined, running: boolean): Promise<void> {
    const n = this.get(ref);
    if ((n.Driver !== 'bridge' && !n.ConfigOnly) || c.mode === 'host' || c.mode === 'none') {
      throw forbidden('container cannot be disconnected from host network or connected to host network');
    }
    // As dockerd: a stopped container may name a config-only network, and fails when it starts.
    if (n.ConfigOnly && running) throw configOnlyEndpoint();
    if (c.settings.Networks[n.Name]) throw forbidden(`endpoint with name ${c.name} already exists in network ${n.Name}`);
    const ep = this.endpointConfig(n, cfg ?? {});
    await this.tornDown();
    if (running) {
      const state = this.live.get(c.id);
      if (!state) throw new ConflictError(`container ${c.id} has no network namespace to connect`);
      const used = new Set(state.endpoints.map((e) => e.ifname));
      let i = 0;
      while (used.has(`eth${i}`)) i++;
      // `connect --link other:alias`: berth's DNS answers the alias for this container alone, as for run's links.
      const links: Record<string, string> = {};
      for (const l of ep.Links ?? []) {
        const { name, alias } = parseLink(l);
        const other = this.peer?.(name);
        if (!other) throw new InvalidParameterError(`could not get container for ${name}: No such container: ${name}`);
        links[alias.toLowerCase()] = other.id;
      }
      c.settings.Networks[n.Name] = ep;
      try {
        await this.addEndpoint(state, n, `eth${i}`, ep, []);
      } catch (e) {
        delete c.settings.Networks[n.Name];
        throw e;
      }
      if (Object.keys(links).length) {
        state.links = { ...state.links, ...links };
        await this.saveState(state);
      }
      this.fillSettings(c, state);
      this.onEvent?.('connect', n, c.id);
    } else {
      c.settings.Networks[n.Name] = ep;
    }
  }

  async disconnect(ref: string, c: ContainerNetInfo): Promise<void> {
    const n = this.get(ref);
    if (n.Driver !== 'bridge' && !n.ConfigOnly) throw forbidden('container cannot be disconnected from host network or connected to host network');
    if (!c.settings.Networks[n.Name]) throw forbidden(`container ${c.id} is not connected to network ${n.Name}`);
    const state = this.live.get(c.id);
    const ep = state?.endpoints.find((e) => e.networkId === n.Id);
    if (state && ep) {
      await cniDel(ep.cniName, ep.plugins, { containerId: c.id, netns: state.netns, ifname: ep.ifname }, ep.result);
      state.endpoints = state.endpoints.filter((e) => e !== ep);
      await this.saveState(state);
      this.onEvent?.('disconnect', n, c.id);
    }
    delete c.settings.Networks[n.Name];
    if (n.Name === 'bridge') Object.assign(c.settings, { EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' });
  }

  /** A running container's new name answers DNS from now on, and its old one no longer does. */
  async rename(id: string, name: string): Promise<void> {
    const state = this.live.get(id);
    if (!state) return;
    const old = state.name.toLowerCase();
    for (const ep of state.endpoints) if (ep.names.length) ep.names = [...new Set([name.toLowerCase(), ...ep.names.filter((n) => n !== old)])];
    state.name = name;
    await this.saveState(state);
  }

  /** `NetworkSettings.Ports` of a running container, for `ps` and `port`. */
  portsOf(id: string): PortMapping[] {
    return this.live.get(id)?.ports ?? [];
  }

  private async saveState(s: LiveState): Promise<void> {
    const path = join(this.stateDir, s.id);
    await writeFile(`${path}.tmp`, JSON.stringify(s));
    await rename(`${path}.tmp`, path);
  }

  // ---- host ports ----

  /** Picks and checks the host ports of `state`'s container; they count as taken once this returns. */
  private allocatePorts(c: ContainerNetInfo, state: LiveState): Promise<void> {
    const wanted = wantedMappings(c.portBindings, c.publishAll, c.exposedPorts);
    if (!wanted.length) return Promise.resolve();
    return this.serial(async () => {
      state.ports = await pickHostPorts(wanted, [...this.live.values()].flatMap((s) => s.ports), (why) => failed(c, why));
    });
  }

  // ---- DNS ----

  /**
   * /etc/hosts lines for legacy links on the default bridge, as dockerd writes them: the other container's
   * address under the alias, its hostname and its name. On user networks berth's DNS answers links instead.
   */
  private linkHosts(c: ContainerNetInfo, primary: NetworkRecord): { name: string; ip: string }[] {
    if (primary.Name !== 'bridge') return [];
    return (c.links ?? []).flatMap((l) => {
      const ip = this.live.get(l.id)?.endpoints.find((e) => e.networkName === 'bridge')?.ip;
      return ip ? [{ name: [l.alias, l.hostname, ...(l.name === l.alias ? [] : [l.name])].join(' '), ip }] : [];
    });
  }

  private lookup(name: string, from: string, server: string): string[] | undefined {
    const net = [...this.nets.values()].find((n) => n.Driver === 'bridge' && n.IPAM.Config[0]?.Gateway === server);
    if (!net || net.Name === 'bridge') return undefined;
    const asker = this.endpointsOn(net.Id).find(({ ep }) => ep.ip === from)?.state;
    const shared = asker ? asker.endpoints.map((e) => e.networkId).filter((id) => id !== net.Id) : [];
    // A link's alias names the other container for the asker only (dockerd's per-endpoint links): its address on
    // the network the question came by, else on another the two share.
    const linked = asker?.links?.[name];
    const target = linked ? this.live.get(linked) : undefined;
    for (const netId of target ? [net.Id, ...shared] : []) {
      const ip = target!.endpoints.find((e) => e.networkId === netId)?.ip;
      if (ip) return [ip];
    }
    for (const netId of [net.Id, ...shared]) {
      const ips = this.endpointsOn(netId).filter(({ ep }) => ep.names.includes(name)).map(({ ep }) => ep.ip);
      if (ips.length) return ips;
    }
    return undefined;
  }

  private upstreams(from: string): string[] {
    for (const s of this.live.values()) if (s.dns.length && s.endpoints.some((e) => e.ip === from)) return s.dns;
    return hostResolvConf().nameservers;
  }

  /** The container's resolv.conf: berth's DNS on user networks; the host's resolvers on the default bridge; `--dns` and friends on top. */
  private resolvFor(c: ContainerNetInfo, primary: NetworkRecord | undefined): string {
    const host = hostResolvConf();
    const search = c.dnsSearch.length ? c.dnsSearch : host.search;
    if (primary && primary.Name !== 'bridge') {
      return formatResolvConf({ nameservers: [primary.IPAM.Config[0]!.Gateway], search, options: ['ndots:0', ...c.dnsOptions] });
    }
    let servers = c.dns.length ? c.dns : reachableNameservers(host);
    if (!servers.length && primary) servers = [primary.IPAM.Config[0]!.Gateway]; // berth's DNS forwards to the host's loopback resolver
    return formatResolvConf({ nameservers: servers, search, options: c.dnsOptions.length ? c.dnsOptions : host.options });
  }
}

function newRecord(name: string, driver: NetworkRecord['Driver'], config: IpamConfig[], options: Record<string, string>, id = randomBytes(32).toString('hex')): NetworkRecord {
  return {
    Name: name, Id: id, Created: new Date().toISOString(), Scope: 'local', Driver: driver, EnableIPv4: true, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: config }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: '' }, ConfigOnly: false, Options: options, Labels: {},
  };
}

/**
 * `EnableIPv4`/`EnableIPv6` as dockerd reads them: the request's field when given (the driver option of the same
 * meaning is then dropped), else the `com.docker.network.enable_ipv*` option, a Go bool.
 */
function enabled(field: boolean | undefined, options: Record<string, string>, opt: string, dflt: boolean): boolean {
  if (field !== undefined) { delete options[opt]; return field; }
  const v = options[opt];
  if (v === undefined) return dflt;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new InvalidParameterError(`driver-opt "${opt}" is not a valid bool`);
}

const configOnlyEndpoint = () => forbidden('cannot create endpoint on configuration-only network');

/** The CNI network name: host-local keeps its leases under it, and the plugins tag their rules with it. */
function cniName(n: NetworkRecord): string {
  return `berth-${n.Id.slice(0, 12)}`;
}

function extraHosts(list: string[], gateway: string): { name: string; ip: string }[] {
  return list.map((h) => {
    // The first colon, as dockerd splits: the rest may be an IPv6 address (`v6:::1`).
    const i = h.indexOf(':');
    const ip = h.slice(i + 1);
    return { name: h.slice(0, i), ip: ip === 'host-gateway' ? gateway || '127.0.0.1' : ip };
  });
}

function failed(c: ContainerNetInfo, why: string): BerthError {
  return new BerthError(500, `driver failed programming external connectivity on endpoint ${c.name} (${c.id.slice(0, 12)}): ${why}`);
}

