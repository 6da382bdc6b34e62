/**
 * The CNI driver: Debian's containernetworking-plugins run as libcni would run a conflist. ADD goes
 * through the plugins in order, each getting the previous one's result; DEL goes backwards with the
 * cached final result, so each plugin can find what it made. berth keeps that cache in its exec root.
 */
import { SystemError } from '../errors/index.js';
import { run, type RunResult } from '../host/index.js';

export const CNI_PATH = process.env.BERTH_CNI_PATH ?? '/usr/lib/cni';
const CNI_VERSION = '1.0.0';

export type PluginConf = Record<string, unknown> & { type: string };

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { interface?: number; address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

export interface CniTarget {
  containerId: string;
  netns: string;
  ifname: string;
}

function exec(plugin: string, command: 'ADD' | 'DEL' | 'CHECK', t: CniTarget, conf: Record<string, unknown>): Promise<RunResult> {
  return run(`${CNI_PATH}/${plugin}`, [], {
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command, CNI_CONTAINERID: t.containerId, CNI_NETNS: t.netns, CNI_IFNAME: t.ifname, CNI_PATH,
    },
    input: JSON.stringify(conf),
    allowFailure: true,
    label: `cni ${plugin} ${command}`,
  });
}

function pluginError(plugin: string, command: string, res: { code: number; stdout: string; stderr: string }): SystemError {
  let msg = (res.stderr || res.stdout).trim();
  try {
    const e = JSON.parse(res.stdout) as { msg?: string; details?: string };
    if (e.msg) msg = e.details ? `${e.msg}: ${e.details}` : e.msg;
  } catch { /* not JSON */ }
  return new SystemError(`CNI ${plugin} ${command} failed: ${msg || `exit ${res.code}`}`);
}

function confFor(name: string, p: PluginConf, prevResult?: CniResult): Record<string, unknown> {
  return { ...p, cniVersion: CNI_VERSION, name, ...(prevResult ? { prevResult } : {}) };
}

/**
 * Runs ADD through the list; on a failure undoes what the earlier plugins did and rethrows.
 * `progress` gets each intermediate result, so a caller can record it before the next plugin runs.
 */
export async function cniAdd(name: string, plugins: PluginConf[], t: CniTarget, progress?: (r: CniResult) => Promise<void>): Promise<CniResult> {
  let result: CniResult | undefined;
  for (let i = 0; i < plugins.length; i++) {
    const p = plugins[i]!;
    const res = await exec(p.type, 'ADD', t, confFor(name, p, result));
    if (res.code !== 0) {
      const err = pluginError(p.type, 'ADD', res);
      await cniDel(name, plugins.slice(0, i + 1), t, result).catch(() => {});
      throw err;
    }
    if (res.stdout.trim()) result = JSON.parse(res.stdout) as CniResult;
    if (result && progress) await progress(result);
  }
  return result ?? {};
}

/** Runs DEL through the list backwards. Every plugin gets its turn even when one fails; the first error is thrown after. */
export async function cniDel(name: string, plugins: PluginConf[], t: CniTarget, cached?: CniResult): Promise<void> {
  let first: Error | undefined;
  for (const p of [...plugins].reverse()) {
    const res = await exec(p.type, 'DEL', t, confFor(name, p, cached && Object.keys(cached).length ? cached : undefined));
    if (res.code !== 0) first ??= pluginError(p.type, 'DEL', res);
  }
  if (first) throw first;
}

/** The container's side of the result: its interface's MAC, its address (CIDR) and gateway. */
export function containerSide(r: CniResult, ifname: string): { mac: string; address: string; gateway: string } {
  const idx = (r.interfaces ?? []).findIndex((i) => i.name === ifname && i.sandbox);
  const ip = (r.ips ?? []).find((x) => x.interface === idx) ?? r.ips?.[0];
  return { mac: idx >= 0 ? r.interfaces![idx]!.mac ?? '' : '', address: ip?.address ?? '', gateway: ip?.gateway ?? '' };
}
