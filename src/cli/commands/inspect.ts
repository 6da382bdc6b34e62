/** `berth inspect`, `version`, `info` */
import type { Command } from 'commander';
import { formatValue } from '../go-format.js';
import { ApiError, DaemonUnreachable } from '../client.js';
import { clientOf, describe, ExitError } from '../context.js';
import { API_VERSION, BERTH_VERSION } from '../../api/index.js';

export function registerInspect(program: Command): void {
  program.command('inspect').description('Return low-level information on containers or images').usage('[OPTIONS] NAME|ID [NAME|ID...]')
    .argument('<name...>')
    .option('--type <type>', 'Only inspect objects of the given type (container|image|network|volume)')
    .option('-f, --format <template>', 'Format output using a Go-style template path, e.g. {{.State.Status}}')
    .option('-s, --size', 'Display total file sizes if the type is container')
    .action(async (names: string[], o: { type?: string; format?: string; size?: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      const out: unknown[] = [];
      const errors: string[] = [];
      for (const n of names) {
        let found: unknown;
        let notFound: ApiError | undefined;
        if (o.type && !(o.type in INSPECT_PATHS)) throw new ExitError(1, `"${o.type}" is not a valid value for --type`);
        // Without a type, as docker: the first of container, image, network, volume that has the name.
        for (const kind of o.type ? [o.type] : Object.keys(INSPECT_PATHS)) {
          try {
            found = await client.json('GET', INSPECT_PATHS[kind]!(n), kind === 'container' && o.size ? { query: { size: 1 } } : {});
            break;
          } catch (e) {
            if (!(e instanceof ApiError) || e.status !== 404) throw e;
            notFound = e;
          }
        }
        if (found === undefined) {
          // With a type (`image inspect`, `container inspect`) docker passes on the daemon's "No such image/container".
          errors.push(o.type && notFound ? describe(notFound) : `Error: No such object: ${n}`);
          continue;
        }
        out.push(found);
      }
      printInspected(out, o.format);
      if (errors.length) throw new ExitError(1, errors.join('\n'));
    });

  program.command('version').description('Show the berth version information')
    .option('-f, --format <template>', 'Format output using a Go template ({{.Client.Version}}, {{.Server.APIVersion}}, {{json .}})')
    .action(async (o: { format?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      if (o.format) {
        // The docker CLI's version document: its own Client section and the daemon's /version as Server.
        const server = await client.json<Record<string, unknown>>('GET', '/version');
        const doc = {
          Client: {
            Platform: { Name: 'berth' }, Version: BERTH_VERSION, ApiVersion: API_VERSION, DefaultAPIVersion: API_VERSION,
            GitCommit: 'berth', GoVersion: `node${process.versions.node}`, Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch,
            BuildTime: '', Context: 'default',
          },
          Server: server,
        };
        process.stdout.write(`${formatTemplate(o.format, doc)}\n`);
        return;
      }
      process.stdout.write(`Client:\n Version:           ${BERTH_VERSION}\n API version:       ${API_VERSION}\n Node version:      ${process.version}\n OS/Arch:           linux/${process.arch === 'x64' ? 'amd64' : process.arch}\n\n`);
      const v = await client.json<{ Version: string; ApiVersion: string; MinAPIVersion: string; GoVersion: string; Os: string; Arch: string; KernelVersion: string }>('GET', '/version');
      process.stdout.write(`Server: berth\n Engine:\n  Version:          ${v.Version}\n  API version:      ${v.ApiVersion} (minimum version ${v.MinAPIVersion})\n  Runtime:          ${v.GoVersion}\n  OS/Arch:          ${v.Os}/${v.Arch}\n  Kernel:           ${v.KernelVersion}\n`);
    });

  program.command('info').description('Display system-wide information')
    .option('-f, --format <template>', 'Format output using a Go-style template path')
    .action(async (o: { format?: string }, cmd: Command) => {
      const i = await clientOf(cmd).json<Record<string, unknown>>('GET', '/info');
      if (o.format) { process.stdout.write(`${formatTemplate(o.format, i)}\n`); return; }
      const lines = [
        'Server:',
        ` Containers: ${i.Containers}`, `  Running: ${i.ContainersRunning}`, `  Paused: ${i.ContainersPaused}`, `  Stopped: ${i.ContainersStopped}`,
        ` Images: ${i.Images}`, ` Server Version: ${i.ServerVersion}`, ` Storage Driver: ${i.Driver}`, ` Logging Driver: ${i.LoggingDriver}`,
        ` Cgroup Driver: ${i.CgroupDriver}`, ` Cgroup Version: ${i.CgroupVersion}`,
        ` Runtimes: ${Object.keys(i.Runtimes as object).join(' ')}`, ` Default Runtime: ${i.DefaultRuntime}`,
        ...vmInfoLines((i.Runtimes as Record<string, Record<string, unknown>>).vm),
        ` Kernel Version: ${i.KernelVersion}`, ` Operating System: ${i.OperatingSystem}`, ` OSType: ${i.OSType}`, ` Architecture: ${i.Architecture}`,
        ` CPUs: ${i.NCPU}`, ` Total Memory: ${((i.MemTotal as number) / 2 ** 30).toFixed(2)}GiB`, ` Name: ${i.Name}`, ` ID: ${i.ID}`,
        ` Docker Root Dir: ${i.DockerRootDir}`, ` Live Restore Enabled: ${i.LiveRestoreEnabled}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

const INSPECT_PATHS: Record<string, (n: string) => string> = {
  container: (n) => `/containers/${n}/json`,
  image: (n) => `/images/${n}/json`,
  network: (n) => `/networks/${n}`,
  volume: (n) => `/volumes/${n}`,
};

/** `info`'s lines about the vm runtime: accelerator, default kernel, vCPUs and memory. */
function vmInfoLines(vm: Record<string, unknown> | undefined): string[] {
  if (!vm) return [];
  if (vm.Error) return [` VM Runtime: unavailable: ${String(vm.Error)}`];
  const mib = Math.round(Number(vm.DefaultMemoryBytes) / 2 ** 20);
  return [
    ` VM Runtime: QEMU ${String(vm.Machine)} (${String(vm.path)})`,
    `  Accelerator: ${String(vm.Accelerator)}`,
    `  Kernel: ${String(vm.KernelVersion)} (${String(vm.Kernel)})`,
    `  Default vCPUs: ${String(vm.DefaultVCPUs)}`,
    `  Default Memory: ${mib}MiB`,
  ];
}

/**
 * `network inspect`, `volume inspect`: each name's document, printed as `inspect` prints them, then the names that failed.
 * `rootType`: the Go type the docker CLI's template runs on with no map to fall back on (volumes').
 */
export async function inspectEach(names: string[], fetch: (name: string) => Promise<unknown>, format: string | undefined, rootType?: string): Promise<void> {
  const out: unknown[] = [];
  const errors: string[] = [];
  for (const n of names) {
    try { out.push(await fetch(n)); } catch (e) {
      if (e instanceof DaemonUnreachable) throw e;
      errors.push(describe(e));
    }
  }
  printInspected(out, format, rootType);
  if (errors.length) throw new ExitError(1, errors.join('\n'));
}

/**
 * What `inspect` prints for the documents it found (before the errors, as docker): indented JSON, one line of JSON with `--format json`
 * (docker 28), or the template once per document (docker's template inspector writes an empty line when it
 * found nothing at all).
 */
export function printInspected(out: unknown[], format: string | undefined, rootType?: string): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(out)}\n`);
  else if (!format) process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
  else if (!out.length) process.stdout.write('\n');
  else {
    for (const v of out) {
      let text: string;
      // As the docker CLI's: inspect's template runs with missingkey=error, and a failure still ends the output's line.
      try { text = formatTemplate(format, v, { missingKey: 'error', rootType }); } catch (e) { process.stdout.write('\n'); throw new ExitError(1, (e as Error).message); }
      process.stdout.write(`${text}\n`);
    }
  }
}

/**
 * `-f`/`--format` on an inspect document (or the version or info document): the Go template engine, a missing key
 * printing `<no value>` unless `missingKey` says otherwise; `json` is `{{json .}}`.
 */
export function formatTemplate(tpl: string, value: unknown, opts?: { missingKey?: 'error'; rootType?: string }): string {
  return formatValue(tpl === 'json' ? '{{json .}}' : tpl, value, opts);
}
