/**
 * The volumes part: named and anonymous volumes of the `local` driver (a directory under the data
 * root, bind-mounted into containers; with the driver's options, a device mounted there while containers
 * that use it run: local-options.ts), host bind mounts and `--mount type=tmpfs`. It turns a container's
 * `Binds`, `Mounts`, `VolumesFrom` and its image's `VOLUME`s into the `Mounts` of its record,
 * and those into OCI mounts at start, filling an empty volume from the image as docker does. It
 * counts which containers use each volume, so one in use is not removed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat, chown, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedQueue } from '../common/keyed-queue.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../errors/index.js';
import { contentSize, run } from '../host/index.js';
import type { Store } from '../store/index.js';
import { checkLocalOptions, mountLocal, needsMount, unmountLocal } from './local-options.js';
import { checkVolumeName, fromApiMount, parseBind, type ApiMount, type MountSpec } from './mounts.js';

export { parseBind, parseMountFlag, type ApiMount } from './mounts.js';

/** `GET /volumes/{name}` */
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string> | null;
}

/** One entry of a container's `Mounts` in inspect. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** What a container asks for, from its create request and its image. */
export interface MountRequest {
  binds: string[];
  mounts: ApiMount[];
  /** The image's VOLUMEs and the request's `Volumes`: anonymous volumes unless something else is mounted there. */
  volumes: string[];
  /** `--volumes-from`: the other containers' mounts, resolved by the caller, with `ro` when asked. */
  volumesFrom: { mounts: MountPoint[]; readOnly?: boolean }[];
}

export interface OciMount { destination: string; type: string; source: string; options: string[] }

export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export class VolumeService {
  private readonly vols = new Map<string, VolumeRecord>();
  private readonly users = new Map<string, Set<string>>();
  /** The running containers of each volume that is a mount of its own (local-options.ts): the last to stop unmounts it. */
  private readonly active = new Map<string, Set<string>>();
  /** Mounts and unmounts of one volume, one after another: a start must not find a mount that a stop is taking away. */
  private readonly mounting = new KeyedQueue();
  private readonly root: string;
  /** Where `create` and `destroy` are reported (the events part sets it). */
  onEvent?: (action: 'create' | 'destroy', v: VolumeRecord) => void;

  constructor(private readonly store: Store, opts: { dataRoot: string }) {
    this.root = join(opts.dataRoot, 'volumes');
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o701 });
    for (const row of this.store.listVolumes()) this.vols.set(row.name, JSON.parse(row.record) as VolumeRecord);
  }

  // ---- volumes ----

  list(): VolumeRecord[] {
    return [...this.vols.values()].sort((a, b) => a.Name.localeCompare(b.Name));
  }

  get(name: string): VolumeRecord {
    const v = this.vols.get(name);
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  find(name: string): VolumeRecord | undefined {
    return this.vols.get(name);
  }

  /** `volume create`: a new volume, or the existing one of that name (docker's create is idempotent). */
  async create(req: { Name?: string; Driver?: string; DriverOpts?: Record<string, string> | null; Labels?: Record<string, string> | null } = {}): Promise<VolumeRecord> {
    if (req.Driver && req.Driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${req.Driver}: plugin "${req.Driver}" not found`);
    const anonymous = !req.Name;
    const name = req.Name || randomBytes(32).toString('hex');
    checkVolumeName(name);
    // Sorted by key, as dockerd's JSON has them (a Go map).
    const options = req.DriverOpts && Object.keys(req.DriverOpts).length
      ? Object.fromEntries(Object.entries(req.DriverOpts).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : null;
    if (options) {
      try { checkLocalOptions(options); } catch (e) { throw new InvalidParameterError(`create ${name}: ${(e as Error).message}`); }
    }
    const existing = this.vols.get(name);
    if (existing) return existing;
    const v: VolumeRecord = {
      Name: name, Driver: 'local', Mountpoint: join(this.root, name, '_data'), CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      Labels: { ...(req.Labels ?? {}), ...(anonymous ? { [ANONYMOUS_LABEL]: '' } : {}) }, Scope: 'local', Options: options,
    };
    this.vols.set(name, v);
    try {
      await mkdir(v.Mountpoint, { recursive: true, mode: 0o755 });
      this.store.putVolume(name, JSON.stringify(v));
    } catch (e) {
      this.vols.delete(name);
      await rm(join(this.root, name), { recursive: true, force: true });
      throw e;
    }
    this.onEvent?.('create', v);
    return v;
  }

  /** IDs of the containers whose mounts name the volume. */
  usedBy(name: string): string[] {
    return [...(this.users.get(name) ?? [])];
  }

  async remove(name: string, force = false): Promise<void> {
    const v = this.vols.get(name);
    if (!v) {
      if (force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    const users = this.usedBy(name);
    if (users.length) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    // Its device goes away first: removing the directory must never reach into a mounted device (a bound host directory).
    if (needsMount(v.Options)) await this.mounting.run(name, () => unmountLocal(v.Mountpoint));
    this.active.delete(name);
    this.vols.delete(name);
    this.store.deleteVolume(name);
    await rm(join(this.root, name), { recursive: true, force: true });
    this.onEvent?.('destroy', v);
  }

  /** `volume prune`: unused anonymous volumes, or with `all` every unused one. */
  async prune(opts: { all?: boolean; match?: (v: VolumeRecord) => boolean } = {}): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of this.list()) {
      if (this.usedBy(v.Name).length) continue;
      if (!opts.all && !(ANONYMOUS_LABEL in v.Labels)) continue;
      if (opts.match && !opts.match(v)) continue;
      reclaimed += await this.size(v.Name);
      await this.remove(v.Name);
      deleted.push(v.Name);
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  async size(name: string): Promise<number> {
    return contentSize(this.get(name).Mountpoint);
  }

  // ---- containers ----

  /**
   * Checks a container's mounts and makes what they need: named volumes on first use, anonymous
   * volumes, missing `-v` source directories. Returns the record's `Mounts`; on failure makes nothing.
   */
  async prepare(req: MountRequest): Promise<MountPoint[]> {
    const specs: MountSpec[] = [];
    const seen = new Set<string>();
    const add = (s: MountSpec) => {
      if (seen.has(s.destination)) throw new InvalidParameterError(`Duplicate mount point: ${s.destination}`);
      seen.add(s.destination);
      specs.push(s);
    };
    for (const b of req.binds) add(parseBind(b));
    for (const m of req.mounts) add(fromApiMount(m));
    // Inherited and image volumes fill only the places nothing above took.
    const inherited: MountPoint[] = [];
    for (const from of req.volumesFrom) {
      for (const m of from.mounts) {
        if (m.Type === 'tmpfs' || seen.has(m.Destination)) continue;
        seen.add(m.Destination);
        inherited.push({ ...m, RW: from.readOnly ? false : m.RW });
      }
    }
    for (const path of req.volumes) {
      const dest = path.replace(/\/+$/, '') || '/';
      if (seen.has(dest)) continue;
      add({ type: 'volume', source: '', destination: dest, readOnly: false, mode: '', propagation: '', noCopy: false, createSource: false });
    }
    for (const s of specs) {
      if (s.type !== 'bind') continue;
      const st = await stat(s.source).catch(() => undefined);
      if (!st && !s.createSource) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${s.source}`);
    }
    const made: string[] = [];
    try {
      const out: MountPoint[] = [];
      for (const s of specs) {
        if (s.type === 'bind') {
          // A missing -v source is made as a directory; an existing one (a file, a socket) is bound as it is.
          if (s.createSource && !(await stat(s.source).catch(() => undefined))) await mkdir(s.source, { recursive: true });
          out.push({ Type: 'bind', Source: s.source, Destination: s.destination, Mode: s.mode, RW: !s.readOnly, Propagation: s.propagation });
        } else if (s.type === 'volume') {
          const fresh = !s.source || !this.vols.has(s.source);
          const v = await this.create({ Name: s.source, Labels: s.labels, DriverOpts: s.driverOpts });
          if (fresh) made.push(v.Name);
          out.push({ Type: 'volume', Name: v.Name, Source: v.Mountpoint, Destination: s.destination, Driver: 'local', Mode: s.mode, RW: !s.readOnly, Propagation: '' });
        } else {
          out.push({ Type: 'tmpfs', Source: '', Destination: s.destination, Mode: s.mode, RW: !s.readOnly, Propagation: '' });
        }
      }
      return [...out, ...inherited];
    } catch (e) {
      for (const name of made) await this.remove(name, true).catch(() => {});
      throw e;
    }
  }

  /** Counts a container as a user of the volumes its mounts name. */
  acquire(containerId: string, mounts: MountPoint[]): void {
    for (const m of mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      let set = this.users.get(m.Name);
      if (!set) this.users.set(m.Name, set = new Set());
      set.add(containerId);
    }
  }

  /** A container went away: it no longer uses its volumes; with `removeAnonymous` (`rm -v`, `--rm`) its anonymous ones go too. */
  async release(containerId: string, mounts: MountPoint[], removeAnonymous: boolean): Promise<void> {
    for (const m of mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      const set = this.users.get(m.Name);
      set?.delete(containerId);
      if (set && !set.size) this.users.delete(m.Name);
      const v = this.vols.get(m.Name);
      if (removeAnonymous && v && ANONYMOUS_LABEL in v.Labels && !this.usedBy(m.Name).length) await this.remove(m.Name, true);
    }
  }

  /**
   * The OCI mounts of a starting container. An empty volume is first filled with what the image has
   * at its destination (owner and mode of the directory too), unless the mount says `nocopy`.
   * `req` is what the container asked for (tmpfs options and `nocopy` live there, not in `Mounts`);
   * `inRootfs` resolves a container path to the host path under the container's mounted root.
   */
  async ociMounts(containerId: string, mounts: MountPoint[], req: Pick<MountRequest, 'binds' | 'mounts'>, inRootfs: (path: string) => Promise<string>): Promise<OciMount[]> {
    const asked = [...req.binds.map(parseBind), ...req.mounts.map(fromApiMount)];
    const spec = (dest: string) => asked.find((s) => s.destination === dest);
    const out: OciMount[] = [];
    for (const m of mounts) {
      if (m.Type === 'tmpfs') {
        const opts = spec(m.Destination)?.tmpfsOptions ?? [];
        const base = ['nosuid', 'nodev', ...(opts.includes('exec') ? [] : ['noexec'])];
        out.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: [...base, ...opts.filter((o) => !base.includes(o)), ...(m.RW ? [] : ['ro'])] });
        continue;
      }
      if (m.Type === 'volume') {
        const v = this.vols.get(m.Name ?? '');
        if (!v) throw new NotFoundError(`get ${m.Name}: no such volume`);
        await mkdir(v.Mountpoint, { recursive: true });
        if (needsMount(v.Options)) await this.activate(v, containerId);
        if (!spec(m.Destination)?.noCopy) await fillFromImage(v.Mountpoint, await inRootfs(m.Destination));
      } else if (!await stat(m.Source).catch(() => undefined)) {
        throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
      }
      const propagation = m.Type === 'bind' ? (m.Propagation || 'rprivate') : 'rprivate';
      out.push({ destination: m.Destination, type: 'bind', source: m.Source, options: ['rbind', m.RW ? 'rw' : 'ro', propagation] });
    }
    return out;
  }

  /** A container that uses `v` starts: the first one mounts its device. */
  private activate(v: VolumeRecord, containerId: string): Promise<void> {
    return this.mounting.run(v.Name, async () => {
      const set = this.active.get(v.Name) ?? new Set<string>();
      if (!set.size) await mountLocal(v.Options!, v.Mountpoint);
      this.active.set(v.Name, set.add(containerId));
    });
  }

  /** Counts a running container found at the daemon's start as one that holds its volumes' mounts. */
  resume(containerId: string, mounts: MountPoint[]): void {
    for (const m of mounts) {
      const v = m.Type === 'volume' && m.Name ? this.vols.get(m.Name) : undefined;
      if (!v || !needsMount(v.Options)) continue;
      const set = this.active.get(v.Name) ?? new Set<string>();
      this.active.set(v.Name, set.add(containerId));
    }
  }

  /** A container stopped (or failed to start): the volumes it was the last running user of are unmounted. */
  async deactivate(containerId: string): Promise<void> {
    for (const [name, set] of [...this.active]) {
      if (!set.has(containerId)) continue;
      await this.mounting.run(name, async () => {
        const cur = this.active.get(name);
        if (!cur?.delete(containerId) || cur.size) return;
        this.active.delete(name);
        const v = this.vols.get(name);
        if (v) await unmountLocal(v.Mountpoint);
      });
    }
  }
}

/** docker's copy-up: an empty volume gets the image's files at the mount point, with their owners and modes. */
async function fillFromImage(volume: string, fromImage: string): Promise<void> {
  const src = await stat(fromImage).catch(() => undefined);
  if (!src?.isDirectory()) return;
  if ((await readdir(volume)).length) return;
  if ((await readdir(fromImage)).length) await run('cp', ['-a', '--', `${fromImage}/.`, `${volume}/`]);
  await chown(volume, src.uid, src.gid);
  await chmod(volume, src.mode & 0o7777);
}
