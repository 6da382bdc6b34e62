/**
 * The Dockerfile subset `docker import --change` and `docker commit -c`
 * accept, applied to an image config.
 */
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
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    let v = m[2]!;
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1]!, v]);
  }
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
      case 'WORKDIR': c.WorkingDir = arg.trim(); break;
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
        for (const p of arg.trim().split(/\s+/)) c.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
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
