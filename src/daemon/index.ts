/**
 * `berth daemon`: assembles the parts, takes the data root's lock, serves the
 * API on its socket and shuts down cleanly on SIGTERM/SIGINT. Containers keep
 * running under conmon across daemon restarts and are picked up again.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { BERTH_VERSION, createApiServer, type Engine } from '../api/index.js';
import { wireEvents } from '../events/index.js';
import { RegistryClient } from '../registry/index.js';
import { ContainerService } from '../containers/index.js';
import { ImageService } from '../images/index.js';
import { NetworkService } from '../network/index.js';
import { VolumeService } from '../volumes/index.js';
import { OciRuntime, VmRuntime } from '../runtime/index.js';
import { Store } from '../store/index.js';
import { startUi, UiError, type UiServer } from '../ui/index.js';

export interface DaemonOptions {
  host: string;      // unix:///run/berth/berth.sock
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

function socketPath(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new DaemonError(`unsupported host ${host}: berth listens on unix:// sockets only`);
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
  const sock = socketPath(opts.host);
  await mkdir(opts.dataRoot, { recursive: true, mode: 0o710 });
  await mkdir(opts.execRoot, { recursive: true, mode: 0o700 });
  await mkdir(dirname(sock), { recursive: true });
  const pidFile = join(opts.dataRoot, 'berth.pid');
  await takeLock(pidFile);
  let store: Store | undefined;
  let ui: UiServer | undefined;
  try {
    if (await socketAnswers(sock)) throw new DaemonError(`the socket ${sock} is in use by another daemon; pass a different -H`);
    await rm(sock, { force: true });
    // The dashboard's port first, so a bad or busy address fails before anything is set up (its /api waits for serve()).
    if (opts.ui !== undefined) {
      ui = await startUi({ address: opts.ui, log }).catch((e: unknown) => { throw e instanceof UiError ? new DaemonError(`--ui ${opts.ui}: ${e.message}`) : e; });
    }

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
    const containers = new ContainerService(store, images, runtimes, { dataRoot: opts.dataRoot, network, volumes });
    await containers.init();

    const events = wireEvents({ containers, network, volumes });
    const registry = new RegistryClient({ insecureRegistries: opts.insecureRegistries ?? [], userAgent: `berth/${BERTH_VERSION}` });
    const engine: Engine = {
      id, dataRoot: opts.dataRoot, cgroupVersion: cgroupVersion(), images, containers, runtimes, registry, network, volumes,
      events,
    };
    const server = createApiServer(engine);
    ui?.serve(server, { containers });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, () => resolve());
    });
    await chmod(sock, 0o660);
    log(`berth daemon listening on unix://${sock} (data root ${opts.dataRoot}, exec root ${opts.execRoot})`);

    let stopping: Promise<void> | undefined;
    const s = store;
    const stop = () => (stopping ??= (async () => {
      log('berth daemon shutting down');
      server.close();
      server.closeAllConnections();
      await ui?.close();
      await containers.shutdown();
      await network.shutdown(true);
      oci.close();
      vm.close();
      s.close();
      await rm(sock, { force: true });
      await rm(pidFile, { force: true });
    })());
    return { stop };
  } catch (e) {
    await ui?.close();
    store?.close();
    await rm(pidFile, { force: true });
    throw e;
  }
}
