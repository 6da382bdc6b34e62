/**
 * `berth daemon`: assembles the parts, takes the data root's lock, serves the
 * API on its socket and shuts down cleanly on SIGTERM/SIGINT. Containers keep
 * running under conmon across daemon restarts and are picked up again.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { BERTH_VERSION, createApiServer, type Engine } from '../api/index.js';
import { wireEvents } from '../events/index.js';
import { RegistryClient } from '../registry/index.js';
import { ContainerService } from '../containers/index.js';
import { ImageService } from '../images/index.js';
import { NetworkService } from '../network/index.js';
import { VolumeService } from '../volumes/index.js';
import { closeInheritedFds, OciRuntime, VmRuntime } from '../runtime/index.js';
import { Store } from '../store/index.js';
import { stopLauncher, useLauncher } from '../host/index.js';
import { startUi, UiError, type UiServer } from '../ui/index.js';

export interface TlsOptions {
  /** dockerd's --tls: serve TCP over TLS (without checking clients, unless `verify`). */
  tls?: boolean;
  /** dockerd's --tlsverify: serve TCP over TLS and accept only clients whose certificate the CA signed. */
  verify?: boolean;
  cacert?: string;
  cert?: string;
  key?: string;
}

export interface DaemonOptions {
  /** Where to listen (dockerd's -H, repeatable): unix:///run/berth/berth.sock, /path, tcp://HOST:PORT. */
  hosts: string[];
  /** The group that owns the Unix sockets (dockerd's -G/--group, `docker` there); made if missing. */
  group?: string;
  tls?: TlsOptions;
  /** Allow a TCP listener without TLS client verification: anyone who reaches the port is root on this host. */
  allowInsecureTcp?: boolean;
  dataRoot: string;
  execRoot: string;
  /** Registries spoken to over plain HTTP besides localhost/127.0.0.1 (dockerd's --insecure-registry). */
  insecureRegistries?: string[];
  /** The default bridge network: its Linux bridge and gateway/prefix (dockerd's --bridge, --bip), and the pools of user networks (--default-address-pool). */
  bridge?: string;
  bip?: string;
  addressPools?: string[];
  /** The web dashboard's TCP address (`PORT` is 127.0.0.1:PORT); none unless given. */
  ui?: string;
  /** The kernel `--runtime vm` boots unless a container names one (`--vm-kernel`). */
  vmKernel?: string;
  log?: (msg: string) => void;
}

export class DaemonError extends Error {}

type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number; spec: string };

/** One `-H` value, as dockerd reads it: unix://PATH (or a bare absolute path), tcp://[HOST][:PORT]. */
export function parseHost(spec: string, tls: boolean): Listen {
  if (spec.startsWith('unix://')) {
    const path = spec.slice('unix://'.length);
    if (!path.startsWith('/')) throw new DaemonError(`invalid host ${spec}: a unix socket needs an absolute path`);
    return { kind: 'unix', path };
  }
  if (spec.startsWith('/')) return { kind: 'unix', path: spec };
  if (spec.startsWith('tcp://')) {
    const rest = spec.slice('tcp://'.length).replace(/\/$/, '');
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]]*))(?::(\d{1,5}))?$/.exec(rest);
    if (!m) throw new DaemonError(`invalid host ${spec}: expected tcp://HOST:PORT`);
    // dockerd's defaults: 127.0.0.1, and 2376 with TLS, 2375 without.
    const host = m[1] ?? (m[2] || '127.0.0.1');
    const port = m[3] !== undefined ? Number(m[3]) : tls ? 2376 : 2375;
    if (port < 1 || port > 65535) throw new DaemonError(`invalid host ${spec}: port ${port} is out of range`);
    return { kind: 'tcp', host, port, spec };
  }
  throw new DaemonError(`unsupported host ${spec}: berth listens on unix:// sockets and tcp://HOST:PORT`);
}

/** The TLS material a TCP listener needs, read before anything else starts so a missing file stops the daemon at once. */
async function tlsMaterial(t: TlsOptions): Promise<{ ca?: Buffer; cert: Buffer; key: Buffer }> {
  // As dockerd: files default to DOCKER_CERT_PATH (or ~/.docker)/{ca,cert,key}.pem.
  const dir = process.env.DOCKER_CERT_PATH || join(homedir(), '.docker');
  const read = async (flag: string, file: string) => readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new DaemonError(`could not read ${flag} ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const cert = await read('--tlscert', t.cert ?? join(dir, 'cert.pem'));
  const key = await read('--tlskey', t.key ?? join(dir, 'key.pem'));
  const ca = t.verify ? await read('--tlscacert', t.cacert ?? join(dir, 'ca.pem')) : undefined;
  return { ca, cert, key };
}

const execFileP = promisify(execFile);

/**
 * The group of the daemon's Unix sockets: `name` as it is, or made with `groupadd --system` when missing (as the
 * docker package makes `docker`). If it cannot be made, the socket stays root's alone (0660 root:root) and the
 * daemon says so: nobody but root gets in, which is the safe way to fail.
 */
async function socketGroup(name: string, log: (m: string) => void): Promise<number> {
  const lookup = async () => {
    try {
      const { stdout } = await execFileP('getent', ['group', name]);
      const gid = Number(stdout.split(':')[2]);
      return Number.isInteger(gid) ? gid : undefined;
    } catch { return undefined; }
  };
  let gid = await lookup();
  if (gid === undefined) {
    try {
      await execFileP('groupadd', ['--system', name]);
      gid = await lookup();
      if (gid !== undefined) log(`made the group ${name} (gid ${gid}) for the API socket: its members may use berth`);
    } catch (e) {
      // Two daemons starting at once may race to make it.
      gid = await lookup();
      if (gid === undefined) log(`warning: could not make the group ${name} (${errorText(e)}); the API socket is root's alone`);
    }
  }
  return gid ?? 0;
}

function errorText(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr?.trim() || err.message || String(e)).split('\n')[0]!;
}

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** One daemon per data root: a PID file whose owner must be gone before another may start. */
async function takeLock(pidFile: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(pidFile, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (pid && pid !== process.pid && processAlive(pid)) {
        throw new DaemonError(`another berth daemon (pid ${pid}) is already using the data root ${dirname(pidFile)}; stop it first or pass a different --data-root`);
      }
      await rm(pidFile, { force: true }); // stale: its daemon died without cleaning up
    }
  }
  throw new DaemonError(`could not lock ${pidFile}`);
}

function cgroupVersion(): string {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
}

export async function runDaemon(opts: DaemonOptions): Promise<{ stop: () => Promise<void> }> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`));
  const inherited = closeInheritedFds();
  if (inherited.length) log(`closed descriptors inherited from the daemon's parent: ${inherited.join(', ')}`);
  const tlsOpts = opts.tls ?? {};
  const useTls = !!(tlsOpts.tls || tlsOpts.verify);
  const listens = (opts.hosts.length ? opts.hosts : ['unix:///run/berth/berth.sock']).map((h) => parseHost(h, useTls));
  const unixPaths = listens.flatMap((l) => (l.kind === 'unix' ? [l.path] : []));
  const tcps = listens.flatMap((l) => (l.kind === 'tcp' ? [l] : []));
  if (new Set(unixPaths).size !== unixPaths.length) throw new DaemonError('the same unix socket is given twice with -H');
  // The API is root on this host: over TCP only clients with a certificate the CA signed may use it, unless told otherwise.
  if (tcps.length && !tlsOpts.verify && !opts.allowInsecureTcp) {
    throw new DaemonError(`refusing to listen on ${tcps[0]!.spec} without TLS client verification: anyone who reaches the port would be root on this host. `
      + 'Pass --tlsverify --tlscacert CA --tlscert CERT --tlskey KEY, or --allow-insecure-tcp if that is really meant');
  }
  const tlsFiles = tcps.length && useTls ? await tlsMaterial(tlsOpts) : undefined;
  await mkdir(opts.dataRoot, { recursive: true, mode: 0o710 });
  await mkdir(opts.execRoot, { recursive: true, mode: 0o700 });
  for (const p of unixPaths) await mkdir(dirname(p), { recursive: true });
  const pidFile = join(opts.dataRoot, 'berth.pid');
  await takeLock(pidFile);
  // Past the lock: a second daemon refused here must not take over the first one's launcher directory.
  useLauncher(join(opts.execRoot, 'launcher'));
  let store: Store | undefined;
  let ui: UiServer | undefined;
  const servers: Server[] = [];
  const made: string[] = []; // sockets this daemon made, the only ones it may remove
  const closeServers = () => { for (const s of servers) { s.close(); s.closeAllConnections(); } };
  try {
    for (const p of unixPaths) {
      if (await socketAnswers(p)) throw new DaemonError(`the socket ${p} is in use by another daemon; pass a different -H`);
      await rm(p, { force: true });
    }
    // The dashboard's port first, so a bad or busy address fails before anything is set up (its /api waits for serve()).
    if (opts.ui !== undefined) {
      ui = await startUi({ address: opts.ui, log }).catch((e: unknown) => { throw e instanceof UiError ? new DaemonError(`--ui ${opts.ui}: ${e.message}`) : e; });
    }
    const gid = unixPaths.length ? await socketGroup(opts.group ?? 'berth', log) : 0;

    store = new Store(join(opts.dataRoot, 'berth.db'));
    const idFile = join(opts.dataRoot, 'engine-id');
    const id = (await readFile(idFile, 'utf8').catch(() => '')).trim() || randomBytes(16).toString('hex');
    await writeFile(idFile, id);
    const images = new ImageService(store, join(opts.dataRoot, 'image'));
    await images.init();
    const oci = new OciRuntime({ execRoot: opts.execRoot });
    await oci.init();
    const vm = new VmRuntime({ execRoot: opts.execRoot, kernel: opts.vmKernel });
    await vm.init().catch((e: Error) => { throw new DaemonError(e.message); });
    const runtimes = { oci, vm };
    const network = new NetworkService(store, { execRoot: opts.execRoot, bridge: opts.bridge, bip: opts.bip, addressPools: opts.addressPools, log });
    await network.init();
    const volumes = new VolumeService(store, { dataRoot: opts.dataRoot });
    await volumes.init();
    const containers = new ContainerService(store, images, runtimes, { dataRoot: opts.dataRoot, network, volumes, log });
    await containers.init();

    const events = wireEvents({ containers, network, volumes });
    const registry = new RegistryClient({ insecureRegistries: opts.insecureRegistries ?? [], userAgent: `berth/${BERTH_VERSION}` });
    const engine: Engine = {
      id, dataRoot: opts.dataRoot, cgroupVersion: cgroupVersion(), images, containers, runtimes, registry, network, volumes,
      events,
    };
    const api = createApiServer(engine);
    ui?.serve(api, { containers });
    const listen = (server: Server, ...args: [string] | [number, string]) => new Promise<void>((resolve, reject) => {
      servers.push(server);
      server.once('error', reject);
      server.listen(...(args as [number, string]), () => { server.off('error', reject); resolve(); });
    });
    for (const [i, p] of unixPaths.entries()) {
      // The first socket is the API server itself; others hand their requests to it, as the dashboard does.
      const server = i === 0 ? api : forwardTo(api, createHttpServer());
      await listen(server, p);
      made.push(p);
      await chown(p, 0, gid);
      await chmod(p, 0o660);
      log(`berth daemon listening on unix://${p} (0660 root:${gid === 0 ? 'root' : opts.group ?? 'berth'})`);
    }
    for (const t of tcps) {
      const server = tlsFiles
        ? forwardTo(api, createHttpsServer({
          cert: tlsFiles.cert, key: tlsFiles.key, ca: tlsFiles.ca, minVersion: 'TLSv1.2',
          // A client that half-closes a hijacked stream (stdin done) still reads the output, as over the Unix socket.
          allowHalfOpen: true,
          requestCert: !!tlsOpts.verify, rejectUnauthorized: !!tlsOpts.verify,
        }))
        : forwardTo(api, createHttpServer());
      await listen(server, t.port, t.host).catch((e: NodeJS.ErrnoException) => {
        throw new DaemonError(`cannot listen on ${t.spec}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`);
      });
      if (tlsOpts.verify) log(`berth daemon listening on tcp://${t.host}:${t.port} (TLS, client certificates verified)`);
      else log(`warning: berth daemon listening on tcp://${t.host}:${t.port} ${tlsFiles ? 'over TLS without client verification' : 'in plain HTTP'} (--allow-insecure-tcp): anyone who reaches it is root on this host`);
    }
    log(`berth daemon ready (data root ${opts.dataRoot}, exec root ${opts.execRoot})`);

    let stopping: Promise<void> | undefined;
    const s = store;
    const stop = () => (stopping ??= (async () => {
      log('berth daemon shutting down');
      closeServers();
      await ui?.close();
      await containers.shutdown();
      await network.shutdown(true);
      oci.close();
      vm.close();
      s.close();
      stopLauncher();
      for (const p of unixPaths) await rm(p, { force: true });
      await rm(pidFile, { force: true });
    })());
    return { stop };
  } catch (e) {
    closeServers();
    await ui?.close();
    store?.close();
    stopLauncher();
    for (const p of made) await rm(p, { force: true });
    await rm(pidFile, { force: true });
    throw e;
  }
}

/** A further listener that serves the API server's own handlers (requests and upgrades), with its timeouts. */
function forwardTo(api: Server, server: Server): Server {
  server.on('request', (req, res) => api.emit('request', req, res));
  server.on('upgrade', (req, socket, head) => api.emit('upgrade', req, socket, head));
  server.on('clientError', (err, socket) => api.emit('clientError', err, socket));
  server.keepAliveTimeout = api.keepAliveTimeout;
  server.requestTimeout = api.requestTimeout;
  server.headersTimeout = api.headersTimeout;
  return server;
}
