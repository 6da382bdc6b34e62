/** `berth daemon`: the engine in the foreground, with dockerd's flag names. */
import type { Command } from 'commander';
import { DEFAULT_HOST } from '../client.js';
import { collect, ExitError } from '../context.js';

export function registerDaemon(program: Command): void {
  program.command('daemon').description('Run the berth engine in the foreground')
    .option('-H, --host <address>', `Address to listen on, repeatable: unix://PATH or tcp://HOST:PORT (default ${DEFAULT_HOST})`, collect)
    .option('-G, --group <name>', 'Group that owns the Unix socket (made if missing)', 'berth')
    .option('--tls', 'Serve tcp:// listeners over TLS (implied by --tlsverify)')
    .option('--tlsverify', 'Serve tcp:// listeners over TLS and accept only clients with a certificate signed by --tlscacert')
    .option('--tlscacert <file>', 'CA that signs trusted client certificates (default ~/.docker/ca.pem)')
    .option('--tlscert <file>', "The daemon's TLS certificate (default ~/.docker/cert.pem)")
    .option('--tlskey <file>', "The daemon's TLS key (default ~/.docker/key.pem)")
    .option('--allow-insecure-tcp', 'Allow a tcp:// listener without --tlsverify: whoever reaches it is root on this host')
    .option('--data-root <dir>', 'Root directory of persistent state', '/var/lib/berth')
    .option('--exec-root <dir>', 'Root directory for execution state files', '/run/berth')
    .option('--insecure-registry <host>', 'Registry to reach over plain HTTP (localhost and 127.0.0.1 always are)', collect, [])
    .option('-b, --bridge <name>', 'Linux bridge of the default bridge network', 'berth0')
    .option('--bip <cidr>', "The default bridge network's gateway address and prefix", '172.30.0.1/16')
    .option('--default-address-pool <pool>', 'Where user networks get subnets: base=CIDR,size=PREFIX', collect, [])
    .option('--ui <address>', 'Serve the web dashboard on this TCP address: PORT (127.0.0.1:PORT) or HOST:PORT')
    .option('--vm-kernel <path>', 'The kernel --runtime vm boots by default (default: the newest /boot/vmlinuz-*-cloud-amd64)')
    .action(async (o: { vmKernel?: string; host: string[]; group: string; tls?: boolean; tlsverify?: boolean; tlscacert?: string; tlscert?: string; tlskey?: string; allowInsecureTcp?: boolean; dataRoot: string; execRoot: string; insecureRegistry: string[]; bridge: string; bip: string; defaultAddressPool: string[]; ui?: string }) => {
      if (process.getuid?.() !== 0) throw new ExitError(1, 'berth daemon needs to run as root');
      // Taken from here on: the socket answers before runDaemon has returned, and a SIGTERM in between must stop the
      // daemon cleanly (once it is up), not kill it with Node's default action.
      const signalled = new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      // The daemon is its own bundle beside this one (see scripts/build.mjs), loaded only here.
      const { runDaemon, DaemonError } = (await import(new URL('./daemon.js', import.meta.url).href)) as typeof import('../../daemon/index.js');
      let daemon;
      try {
        daemon = await runDaemon({ hosts: o.host?.length ? o.host : [DEFAULT_HOST], group: o.group,
          tls: { tls: o.tls, verify: o.tlsverify, cacert: o.tlscacert, cert: o.tlscert, key: o.tlskey }, allowInsecureTcp: o.allowInsecureTcp,
          dataRoot: o.dataRoot, execRoot: o.execRoot, insecureRegistries: o.insecureRegistry,
          bridge: o.bridge, bip: o.bip, addressPools: o.defaultAddressPool, ui: o.ui, vmKernel: o.vmKernel });
      } catch (e) {
        if (e instanceof DaemonError) throw new ExitError(1, `berth daemon: ${e.message}`);
        throw e;
      }
      await signalled;
      await daemon.stop();
    });
}
