/**
 * Mount specifications as docker takes them: `-v`/`Binds` strings, `--mount` key=value lists and
 * `HostConfig.Mounts` objects. All become one `MountSpec` list with
 * docker's messages for the bad ones. Pure: nothing here touches the disk.
 */
import { InvalidParameterError } from '../errors/index.js';

/** `HostConfig.Mounts[i]` of the API. */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** One mount of a container, before volumes are looked up or made. */
export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name ('' = anonymous), unused for tmpfs. */
  source: string;
  destination: string;
  readOnly: boolean;
  /** The `-v` mode string as given (`ro,z`), shown as `Mode` in inspect. */
  mode: string;
  propagation: string;
  /** Volumes: do not fill an empty volume from the image. */
  noCopy: boolean;
  /** Binds: `-v` makes a missing source directory, `--mount` refuses it. */
  createSource: boolean;
  labels?: Record<string, string>;
  /** Volumes: the local driver's options a volume made for this mount gets (`--mount volume-opt=…`). */
  driverOpts?: Record<string, string>;
  tmpfsOptions?: string[];
}

const PROPAGATIONS = ['shared', 'slave', 'private', 'rshared', 'rslave', 'rprivate'];
const VALID_VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkVolumeName(name: string): void {
  if (!VALID_VOLUME_NAME.test(name)) {
    throw new InvalidParameterError(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  // The name is a directory under the data root, so one path component: a longer one would be ENAMETOOLONG, a 500.
  if (name.length > 255) throw new InvalidParameterError(`create ${name.slice(0, 64)}…: volume name too long: ${name.length} characters, at most 255`);
}

function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (!s || s === '.') continue;
    if (s === '..') parts.pop(); else parts.push(s);
  }
  return `/${parts.join('/')}`;
}

function absoluteTarget(target: string, kind: string): string {
  if (!target) throw new InvalidParameterError(`invalid mount config for type "${kind}": field Target must not be empty`);
  if (!target.startsWith('/')) throw new InvalidParameterError(`invalid mount config for type "${kind}": invalid mount path: '${target}' mount path must be absolute`);
  const clean = cleanPath(target);
  if (clean === '/') throw new InvalidParameterError(`invalid specification: destination can't be '/'`);
  return clean;
}

/** One `-v` / `Binds` entry: `name:/dst[:opts]`, `/src:/dst[:opts]`, or `/dst` alone (an anonymous volume). */
export function parseBind(spec: string): MountSpec {
  const parts = spec.split(':');
  if (parts[0] === '') throw new InvalidParameterError(`invalid volume specification: '${spec}'`);
  let src = ''; let dst: string; let opts = '';
  if (parts.length === 1) dst = parts[0]!;
  else if (parts.length === 2) {
    // `/a:/b` is source and target; `/a:ro` is a target with options.
    if (parts[1]!.startsWith('/')) [src, dst] = parts as [string, string];
    else [dst, opts] = parts as [string, string];
  } else if (parts.length === 3) [src, dst, opts] = parts as [string, string, string];
  else throw new InvalidParameterError(`invalid volume specification: '${spec}'`);
  if (!dst || !dst.startsWith('/')) throw new InvalidParameterError(`invalid volume specification: '${spec}': invalid mount config for type "${src.startsWith('/') ? 'bind' : 'volume'}": invalid mount path: '${dst}' mount path must be absolute`);
  const flags = opts ? opts.split(',') : [];
  let readOnly = false; let propagation = ''; let noCopy = false;
  for (const f of flags) {
    if (f === 'ro') readOnly = true;
    else if (f === 'rw') readOnly = false;
    else if (f === 'nocopy') noCopy = true;
    else if (PROPAGATIONS.includes(f)) propagation = f;
    else if (f === 'z' || f === 'Z' || f === 'consistent' || f === 'cached' || f === 'delegated') { /* SELinux labels and macOS hints: nothing to do here */ } else {
      throw new InvalidParameterError(`invalid mode: ${f}`);
    }
  }
  const destination = absoluteTarget(dst, src.startsWith('/') ? 'bind' : 'volume');
  if (src.startsWith('/')) {
    if (noCopy) throw new InvalidParameterError(`invalid mode: nocopy`);
    return { type: 'bind', source: cleanPath(src), destination, readOnly, mode: opts, propagation: propagation || 'rprivate', noCopy: false, createSource: true };
  }
  if (propagation) throw new InvalidParameterError(`invalid volume specification: '${spec}': propagation is for bind mounts only`);
  if (src) checkVolumeName(src);
  return { type: 'volume', source: src, destination, readOnly, mode: opts || 'z', propagation: '', noCopy, createSource: false };
}

/** One `HostConfig.Mounts` object. */
export function fromApiMount(m: ApiMount): MountSpec {
  const type = m.Type ?? '';
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw new InvalidParameterError(`invalid mount config for type "${type}": mount type unknown`);
  const destination = absoluteTarget(m.Target ?? '', type);
  const readOnly = !!m.ReadOnly;
  if (type === 'bind') {
    const src = m.Source ?? '';
    if (!src) throw new InvalidParameterError(`invalid mount config for type "bind": field Source must not be empty`);
    if (!src.startsWith('/')) throw new InvalidParameterError(`invalid mount config for type "bind": invalid mount path: '${src}' mount path must be absolute`);
    if (m.VolumeOptions) throw new InvalidParameterError(`invalid mount config for type "bind": field VolumeOptions must not be specified`);
    const propagation = m.BindOptions?.Propagation || 'rprivate';
    if (!PROPAGATIONS.includes(propagation)) throw new InvalidParameterError(`invalid mount config for type "bind": invalid propagation mode: ${propagation}`);
    return { type: 'bind', source: cleanPath(src), destination, readOnly, mode: '', propagation, noCopy: false, createSource: !!m.BindOptions?.CreateMountpoint };
  }
  if (type === 'volume') {
    if (m.BindOptions) throw new InvalidParameterError(`invalid mount config for type "volume": field BindOptions must not be specified`);
    const driver = m.VolumeOptions?.DriverConfig?.Name;
    if (driver && driver !== 'local') throw new InvalidParameterError(`plugin "${driver}" not found`);
    if (m.Source) checkVolumeName(m.Source);
    return {
      type: 'volume', source: m.Source ?? '', destination, readOnly, mode: 'z', propagation: '', noCopy: !!m.VolumeOptions?.NoCopy,
      createSource: false, ...(m.VolumeOptions?.Labels ? { labels: m.VolumeOptions.Labels } : {}),
      ...(m.VolumeOptions?.DriverConfig?.Options ? { driverOpts: m.VolumeOptions.DriverConfig.Options } : {}),
    };
  }
  if (m.Source) throw new InvalidParameterError(`invalid mount config for type "tmpfs": field Source must not be specified`);
  const opts: string[] = [];
  if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
  if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
  return { type: 'tmpfs', source: '', destination, readOnly, mode: '', propagation: '', noCopy: false, createSource: false, tmpfsOptions: opts };
}

/** The CLI's `--mount type=volume,source=v,target=/data,readonly,volume-nocopy` → `HostConfig.Mounts[i]`. */
export function parseMountFlag(spec: string): ApiMount {
  const m: ApiMount = { Type: 'volume' };
  for (const field of csvFields(spec)) {
    if (!field) continue;
    const i = field.indexOf('=');
    const key = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? undefined : field.slice(i + 1);
    const bool = () => value === undefined || ['1', 'true'].includes(value.toLowerCase());
    switch (key) {
      case 'type': m.Type = value; break;
      case 'source': case 'src': m.Source = value; break;
      case 'target': case 'destination': case 'dst': m.Target = value; break;
      case 'readonly': case 'ro': m.ReadOnly = bool(); break;
      case 'consistency': m.Consistency = value; break;
      case 'bind-propagation': m.BindOptions = { ...m.BindOptions, Propagation: value }; break;
      case 'bind-nonrecursive': m.BindOptions = { ...m.BindOptions, NonRecursive: bool() }; break;
      case 'volume-nocopy': m.VolumeOptions = { ...m.VolumeOptions, NoCopy: bool() }; break;
      case 'volume-label': {
        const [k = '', v = ''] = (value ?? '').split('=');
        m.VolumeOptions = { ...m.VolumeOptions, Labels: { ...(m.VolumeOptions?.Labels ?? {}), [k]: v } };
        break;
      }
      case 'volume-driver': m.VolumeOptions = { ...m.VolumeOptions, DriverConfig: { ...(m.VolumeOptions?.DriverConfig ?? {}), Name: value } }; break;
      case 'volume-opt': {
        // The docker CLI's `volume-opt=type=tmpfs`: the key up to the next `=`, a value that may hold more.
        const at = (value ?? '').indexOf('=');
        if (at < 1) throw new InvalidParameterError(`invalid argument "${spec}" for "--mount" flag: invalid volume-opt '${value ?? ''}'`);
        const config = m.VolumeOptions?.DriverConfig ?? {};
        m.VolumeOptions = { ...m.VolumeOptions, DriverConfig: { ...config, Options: { ...(config.Options ?? {}), [value!.slice(0, at)]: value!.slice(at + 1) } } };
        break;
      }
      case 'tmpfs-size': m.TmpfsOptions = { ...m.TmpfsOptions, SizeBytes: parseSize(value ?? '') }; break;
      case 'tmpfs-mode': m.TmpfsOptions = { ...m.TmpfsOptions, Mode: parseInt(value ?? '', 8) }; break;
      default: throw new InvalidParameterError(`invalid argument "${spec}" for "--mount" flag: unexpected key '${key}' in '${field}'`);
    }
  }
  return m;
}

/**
 * The fields of one CSV line, as the docker CLI reads `--mount` (Go's encoding/csv): a field in double quotes
 * may hold commas, and `""` in it is one quote (`"volume-opt=o=size=1m,uid=1000",dst=/d`).
 */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      for (i++; i < line.length; i++) {
        if (line[i] !== '"') field += line[i];
        else if (line[i + 1] === '"') { field += '"'; i++; } else { i++; break; }
      }
    }
    const end = line.indexOf(',', i);
    field += end < 0 ? line.slice(i) : line.slice(i, end);
    out.push(field);
    if (end < 0) return out;
    i = end + 1;
  }
}

/** A size in docker's binary units (`64m`, `1.5g`, `512`), in bytes; undefined when it is none. */
export function sizeInBytes(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase()]!;
  return Math.round(Number(m[1]) * unit);
}

function parseSize(v: string): number {
  const bytes = sizeInBytes(v);
  if (bytes === undefined) throw new InvalidParameterError(`invalid tmpfs-size: ${v}`);
  return bytes;
}
