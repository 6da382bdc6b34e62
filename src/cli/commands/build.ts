/** `berth build`: the context as a tar (what .dockerignore leaves), sent to POST /build, its output shown as it comes. */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { Command } from 'commander';
import { zlib } from '../builtins.js';
import { clientOf, collect, ExitError } from '../context.js';
import { humanSize } from '../format.js';
import { extraHost } from './add-host.js';
import { hostConfigBody, parseBytes, type HostFlags } from './host-flags.js';
import { renderProgress, StreamError } from '../progress.js';

interface BuildFlags {
  tag?: string[]; file?: string; buildArg?: string[]; target?: string; cache: boolean; label?: string[]; quiet?: boolean; pull?: boolean; iidfile?: string;
  network?: string; addHost?: string[]; platform?: string;
  memory?: string; cgroupParent?: string; cacheFrom?: string[]; compress?: boolean; squash?: boolean; isolation?: string;
  securityOpt?: string[];
}

type StepFlags = Pick<HostFlags, 'memorySwap' | 'cpuShares' | 'cpusetCpus' | 'cpusetMems' | 'cpuPeriod' | 'cpuQuota' | 'ulimit' | 'shmSize'>;

/**
 * The RUN steps' limits as the build endpoint's query parameters (docker's names; zero values left out, as
 * the docker CLI leaves them), parsed by `run`'s own parsers so a bad value fails in the same words.
 */
function stepQuery(o: BuildFlags & StepFlags): Record<string, string | number | undefined> {
  // securityOpt stays out: build sends the values as given (dockerd on Linux refuses any), not run's seccomp file reading.
  const { memorySwap, cpuShares, cpusetCpus, cpusetMems, cpuPeriod, cpuQuota, ulimit, shmSize } = o;
  const hc = hostConfigBody({ memorySwap, cpuShares, cpusetCpus, cpusetMems, cpuPeriod, cpuQuota, ulimit, shmSize }, false);
  const n = (v: unknown) => (typeof v === 'number' && v !== 0 ? v : undefined);
  return {
    memory: o.memory !== undefined ? n(parseBytes(o.memory)) : undefined, memswap: n(hc.MemorySwap), cpushares: n(hc.CpuShares),
    cpusetcpus: o.cpusetCpus || undefined, cpusetmems: o.cpusetMems || undefined, cpuperiod: n(hc.CpuPeriod), cpuquota: n(hc.CpuQuota),
    shmsize: n(hc.ShmSize), cgroupparent: o.cgroupParent || undefined,
    ulimits: Array.isArray(hc.Ulimits) && hc.Ulimits.length ? JSON.stringify(hc.Ulimits) : undefined,
  };
}

function keyValues(list: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i < 0) { if (process.env[kv] !== undefined) out[kv] = process.env[kv]!; } else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

async function contextTar(dir: string, dockerfile: string): Promise<{ stream: Readable; dockerfileName: string }> {
  const { parseDockerignore, walkContext } = await import('../../build/dockerignore.js');
  const ignore = existsSync(join(dir, '.dockerignore')) ? readFileSync(join(dir, '.dockerignore'), 'utf8') : '';
  const files = await walkContext(dir, parseDockerignore(ignore));
  let dockerfileName = relative(dir, dockerfile);
  const extra: string[] = [];
  if (dockerfileName.startsWith('..')) {
    // A Dockerfile outside the context travels inside it under a private name, as the docker CLI does.
    dockerfileName = `.dockerfile.${basename(dockerfile)}`;
  } else {
    for (const f of [dockerfileName, '.dockerignore']) if (existsSync(join(dir, f)) && !files.includes(f)) extra.push(f);
  }
  const tar = await import('tar');
  const create = tar.c as unknown as (o: Record<string, unknown>, f: string[]) => Readable;
  // File capabilities and user.* attributes go along as SCHILY.xattr records, which node-tar cannot write itself.
  const { copiedXattr, injectXattrs, readXattrs, spawnRunner } = await import('../../common/tar-xattrs.js');
  const packed = create({ cwd: dir, noDirRecurse: true, portable: false }, [...files, ...extra]);
  const body = packed.pipe(injectXattrs(readXattrs(spawnRunner, dir, dir, { keep: copiedXattr })));
  packed.on('error', (e: Error) => body.destroy(e));
  if (!dockerfileName.startsWith('.dockerfile.')) return { stream: body, dockerfileName };
  // Append the outside Dockerfile by packing it from its own directory after the context.
  const out = new PassThrough();
  void (async () => {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    const ctx = Buffer.concat(chunks);
    out.write(ctx.subarray(0, ctx.length - 1024));
    const { Header } = tar;
    const content = readFileSync(dockerfile);
    const h = new Header({ path: dockerfileName, type: 'File', size: content.length, mode: 0o644, mtime: new Date() });
    h.encode();
    out.write(h.block!);
    out.write(content);
    out.write(Buffer.alloc((512 - (content.length % 512)) % 512));
    out.end(Buffer.alloc(1024));
  })();
  return { stream: out, dockerfileName };
}

export function registerBuild(program: Command): void {
  program.command('build').description('Build an image from a Dockerfile')
    .argument('<path>')
    .option('-t, --tag <name>', 'Name and optionally a tag (format: "name:tag")', collect)
    .option('-f, --file <file>', "Name of the Dockerfile (default: 'PATH/Dockerfile')")
    .option('--build-arg <kv>', 'Set build-time variables', collect)
    .option('--target <stage>', 'Set the target build stage to build')
    .option('--no-cache', 'Do not use cache when building the image')
    .option('--label <kv>', 'Set metadata for an image', collect)
    .option('-q, --quiet', 'Suppress the build output and print image ID on success')
    .option('--pull', 'Always attempt to pull a newer version of the image')
    .option('--iidfile <file>', 'Write the image ID to the file')
    .option('--rm', 'Remove intermediate containers after a successful build (berth always does)')
    .option('--force-rm', 'Always remove intermediate containers (berth always does)')
    .option('--network <string>', 'Set the networking mode for the RUN instructions during build', 'default')
    .option('--add-host <list>', 'Add a custom host-to-IP mapping ("host:ip")', collect)
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpu-period <int>', 'Limit the CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <int>', 'Limit the CPU CFS (Completely Fair Scheduler) quota')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('--shm-size <bytes>', 'Size of "/dev/shm"')
    .option('--ulimit <ulimit>', 'Ulimit options', collect)
    .option('--cgroup-parent <string>', 'Set the parent cgroup for the "RUN" instructions during build')
    .option('--security-opt <strings>', 'Security options (dockerd on Linux takes none)', collect)
    .option('--cache-from <strings>', 'Images to consider as cache sources', collect)
    .option('--compress', 'Compress the build context using gzip')
    .option('--disable-content-trust', 'Skip image verification (berth does not verify: no Notary)')
    .option('--squash', 'Squash newly built layers into a single new layer (needs an experimental daemon: berth has none)')
    .option('--isolation <string>', 'Container isolation technology (Linux: default only)')
    .action(async (path: string, o: BuildFlags & StepFlags, cmd: Command) => {
      // Checked before the context is read, as the docker CLI checks its flags.
      const extraHosts = (o.addHost ?? []).map(extraHost);
      const limits = stepQuery(o);
      const dir = resolve(path);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ExitError(1, `ERROR: unable to prepare context: path "${path}" not found`);
      const dockerfile = o.file ? resolve(o.file) : join(dir, 'Dockerfile');
      if (!existsSync(dockerfile)) throw new ExitError(1, `ERROR: Cannot locate specified Dockerfile: ${o.file ?? 'Dockerfile'}`);
      const { stream, dockerfileName } = await contextTar(dir, dockerfile);
      // Held in memory to say its size first, as docker does; contexts are small next to images.
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      const tarred = Buffer.concat(chunks);
      const body = o.compress ? zlib().gzipSync(tarred) : tarred;
      if (!o.quiet) process.stdout.write(`Sending build context to berth daemon  ${humanSize(body.length, 4)}\n`);
      const counted = new PassThrough();
      counted.end(body);
      const res = await clientOf(cmd).raw('POST', '/build', {
        query: {
          t: o.tag, dockerfile: dockerfileName, buildargs: JSON.stringify(keyValues(o.buildArg)), target: o.target,
          nocache: !o.cache, labels: JSON.stringify(keyValues(o.label)), q: !!o.quiet, rm: true,
          // As the docker CLI: `default` is not sent, the daemon's default is the same.
          networkmode: o.network && o.network !== 'default' ? o.network : undefined, extrahosts: extraHosts, platform: o.platform || undefined,
          ...limits, securityopt: o.securityOpt, isolation: o.isolation || undefined, squash: o.squash || undefined,
          cachefrom: o.cacheFrom?.length ? JSON.stringify(o.cacheFrom) : undefined,
        },
        stream: counted,
        headers: { 'Content-Type': 'application/x-tar' },
      });
      let imageId: string | undefined;
      try {
        await renderProgress(res, process.stdout, (aux) => { if (typeof aux.ID === 'string') imageId = aux.ID; });
        if (o.iidfile && imageId) writeFileSync(o.iidfile, imageId);
      } catch (e) {
        if (e instanceof StreamError) throw new ExitError(1, `ERROR: ${e.message}`);
        throw e;
      }
    });
}
