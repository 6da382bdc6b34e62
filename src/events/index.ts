/**
 * The events part: what `GET /events` serves. Every part's events go through one `EventLog`, which
 * stamps them, keeps the last `limit` in memory for `since` replays (dockerd keeps 256; berth 1000),
 * and hands them to live subscribers. `EventFilter` is dockerd's daemon/events filter: `type`,
 * `event`, `container`, `image`, `network`, `volume`, `label`, `scope`, `daemon`.
 */
import type { ContainerRecord, ContainerService } from '../containers/index.js';
import { InvalidParameterError } from '../errors/index.js';
import type { NetworkRecord, NetworkService } from '../network/index.js';
import type { VolumeService } from '../volumes/index.js';

/** One event in docker's JSON shape (the legacy `status`, `id`, `from` for containers and images, as dockerd). */
export interface EngineEvent {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'builder';

const FILTER_KEYS = ['config', 'container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'secret', 'service', 'type', 'volume'];

/** dockerd's events filter. */
export class EventFilter {
  constructor(private readonly f: Record<string, string[]>) {
    for (const k of Object.keys(f)) if (!FILTER_KEYS.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
  }

  private exact(key: string, v: string | undefined): boolean {
    const want = this.f[key];
    return !want?.length || (v !== undefined && want.includes(v));
  }

  private fuzzy(key: string, v: string | undefined): boolean {
    const want = this.f[key];
    return !want?.length || (v !== undefined && want.some((w) => v === w || v.startsWith(w)));
  }

  private has(key: string): boolean {
    return !!this.f[key]?.length;
  }

  matches(ev: EngineEvent): boolean {
    const a = ev.Actor.Attributes;
    // health_status, exec_create and exec_start carry a suffix (`exec_start: sh -c …`): a prefix matches them.
    const eventOk = (this.f.event ?? []).some((e) => ['health_status', 'exec_create', 'exec_start'].includes(e)) ? this.fuzzy('event', ev.Action) : this.exact('event', ev.Action);
    const name = (t: string) => this.fuzzy(t, ev.Actor.ID) || (this.has(t) && this.fuzzy(t, a.name));
    const imageName = ev.Type === 'image' ? a.name : a.image;
    const stripTag = (s: string | undefined) => s?.replace(/@.*$/, '').replace(/:[^:/]*$/, '');
    const image = !this.has('image') || [ev.Actor.ID, imageName, stripTag(ev.Actor.ID), stripTag(imageName)].some((v) => v !== undefined && this.f.image!.includes(v));
    const labels = !this.has('label') || this.f.label!.every((l) => {
      const i = l.indexOf('=');
      return i < 0 ? l in a : a[l.slice(0, i)] === l.slice(i + 1);
    });
    const daemon = !this.has('daemon') || ev.Type !== 'daemon' || this.fuzzy('daemon', ev.Actor.ID) || this.fuzzy('daemon', a.name);
    return eventOk && this.exact('type', ev.Type) && this.exact('scope', ev.scope) && daemon
      && name('container') && name('volume') && name('network') && image && labels
      && !['plugin', 'node', 'service', 'secret', 'config'].some((k) => this.has(k));
  }
}

export class EventLog {
  private readonly ring: EngineEvent[] = [];
  private readonly listeners = new Set<(ev: EngineEvent) => void>();
  private lastNano = 0;

  constructor(private readonly limit = 1000) {}

  /** Stamps, records and hands out one event. */
  log(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    // Strictly increasing times, so `since`/`until` at an event's own time are exact.
    const nano = Math.max(Date.now() * 1e6, this.lastNano + 1000);
    this.lastNano = nano;
    const legacy = type === 'container' ? { status: action, id, from: attributes.image ?? '' } : type === 'image' ? { status: action, id } : {};
    const ev: EngineEvent = { ...legacy, Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local', time: Math.floor(nano / 1e9), timeNano: nano };
    this.ring.push(ev);
    if (this.ring.length > this.limit) this.ring.splice(0, this.ring.length - this.limit);
    for (const l of this.listeners) l(ev);
    return ev;
  }

  /** The recorded events from `since` to `until` (nanoseconds; either may be open) that pass the filter, oldest first. */
  history(since: number | undefined, until: number | undefined, filter?: EventFilter): EngineEvent[] {
    if (since === undefined && until === undefined) return [];
    return this.ring.filter((ev) => ev.timeNano >= (since ?? 0) && (until === undefined || ev.timeNano <= until) && (!filter || filter.matches(ev)));
  }

  subscribe(listener: (ev: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}

// ---- wiring: the parts' hooks to one log ----

interface MountLike { Type: string; Name?: string; Destination: string; Driver?: string; RW: boolean; Propagation: string }

export interface EventSources {
  /** The containers part: an emitter of `('event', action, record, extraAttributes?)`. */
  containers: Pick<ContainerService, 'on'>;
  network: Pick<NetworkService, 'onEvent' | 'find'>;
  volumes: Pick<VolumeService, 'onEvent'>;
}

/** Makes the log and hooks every part's events to it. */
export function wireEvents(parts: EventSources, limit?: number): EventLog {
  const log = new EventLog(limit);
  const networkEvent = (action: string, n: NetworkRecord, containerId?: string) =>
    log.log('network', action, n.Id, { ...(containerId ? { container: containerId } : {}), name: n.Name, type: n.Driver });
  parts.network.onEvent = networkEvent;
  parts.volumes.onEvent = (action, v) => log.log('volume', action, v.Name, { driver: v.Driver });
  parts.containers.on('event', (action: string, c: ContainerRecord, extra?: Record<string, string>) => {
    const nets = () => Object.keys((c.NetworkSettings?.Networks as Record<string, unknown> | undefined) ?? {})
      .map((name) => parts.network.find(name)).filter((n): n is NetworkRecord => !!n);
    const vols = () => ((c.Mounts ?? []) as MountLike[]).filter((m) => m.Type === 'volume' && m.Name);
    // As dockerd: network connect and volume mount before the container's start; die before disconnect and unmount.
    if (action === 'start') {
      for (const n of nets()) networkEvent('connect', n, c.Id);
      for (const m of vols()) {
        log.log('volume', 'mount', m.Name!, { container: c.Id, destination: m.Destination, driver: m.Driver ?? 'local', propagation: m.Propagation ?? '', 'read/write': String(m.RW) });
      }
    }
    const attrs: Record<string, string> = { ...(c.Config.Labels ?? {}), image: c.Config.Image, name: c.Name.replace(/^\//, ''), ...(extra ?? {}) };
    if (action === 'die' && attrs.exitCode === undefined) attrs.exitCode = String(c.State.ExitCode);
    log.log('container', action, c.Id, attrs);
    if (action === 'die') {
      for (const n of nets()) networkEvent('disconnect', n, c.Id);
      for (const m of vols()) log.log('volume', 'unmount', m.Name!, { container: c.Id, driver: m.Driver ?? 'local' });
    }
  });
  return log;
}
