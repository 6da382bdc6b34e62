/**
 * The Dockerfile subset `docker import --change` and `docker commit -c`
 * accept, applied to an image config.
 */
import { posix } from 'node:path';
import { InvalidParameterError } from '../errors/index.js';
import type { ContainerConfigSection } from './types.js';

function jsonOrShell(arg: string): string[] {
  const t = arg.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch { /* fall through to shell form */ }
  }
  return ['/bin/sh', '-c', t];
}

function keyValues(arg: string): [string, string][] {
  const out: [string, string][] = [];
  const t = arg.trim();
  if (!t.includes('=') || /^\S+\s/.test(t) && !/^\S+=/.test(t)) {
    const m = /^(\S+)\s+(.*)$/.exec(t);
    if (!m) throw new InvalidParameterError(`invalid change: ${arg}`);
    return [[m[1]!, m[2]!]];
  }
  const re = /("(?:[^"\\]|\\.)*"|'[^']*'|[^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  const unquote = (v: string) => (v.startsWith('"') ? JSON.parse(v) as string : v.startsWith("'") ? v.slice(1, -1) : v);
  for (let m = re.exec(t); m; m = re.exec(t)) out.push([unquote(m[1]!), unquote(m[2]!)]);
  return out;
}

export function applyChanges(cfg: ContainerConfigSection, changes: string[]): ContainerConfigSection {
  const c: ContainerConfigSection = structuredClone(cfg);
  for (const change of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
    if (!m) throw new InvalidParameterError(`invalid change: ${change}`);
    const [, instr, arg] = m as unknown as [string, string, string];
    switch (instr.toUpperCase()) {
      case 'CMD': c.Cmd = jsonOrShell(arg); break;
      case 'ENTRYPOINT': c.Entrypoint = jsonOrShell(arg); break;
      // A relative WORKDIR is relative to the current one, as in a Dockerfile.
      case 'WORKDIR': c.WorkingDir = posix.resolve('/', c.WorkingDir ?? '', arg.trim()); break;
      case 'USER': c.User = arg.trim(); break;
      case 'STOPSIGNAL': c.StopSignal = arg.trim(); break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(arg)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`; else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(keyValues(arg)) };
        break;
      case 'EXPOSE':
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of arg.trim().split(/\s+/)) {
          const [port = '', rawProto] = p.split('/');
          const proto = rawProto || 'tcp';
          // `8000-8002` exposes each port of the range, like nat.ParsePortSpecs.
          const range = /^(\d+)-(\d+)$/.exec(port);
          if (!range) { c.ExposedPorts[`${port}/${proto}`] = {}; continue; }
          for (let n = Number(range[1]); n <= Number(range[2]); n++) c.ExposedPorts[`${n}/${proto}`] = {};
        }
        break;
      case 'VOLUME': {
        c.Volumes = { ...(c.Volumes ?? {}) };
        const paths = arg.trim().startsWith('[') ? (JSON.parse(arg) as string[]) : arg.trim().split(/\s+/);
        for (const p of paths) c.Volumes[p] = {};
        break;
      }
      default:
        throw new InvalidParameterError(`${instr.toUpperCase()} is not a valid change command`);
    }
  }
  return c;
}
