/**
 * The classic builder, step by step as dockerd's: every instruction makes an
 * image (a RUN or COPY a new layer, the rest only config), so every step can
 * be cached and reused. A step's cache key is its parent image, its
 * instruction after variable expansion, and its inputs: the files it copies,
 * the build args a RUN sees.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, open, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import type { ContainerService } from '../containers/index.js';
import { isMounted, run, unmount } from '../host/index.js';
import type { ContainerConfigSection, HistoryEntry, Image, ImageService, LayerBlob } from '../images/index.js';
import { applyXattrs, injectXattrs, readXattrs, type Xattrs } from '../common/tar-xattrs.js';
import { keepXattr, TAR_XATTR_ARGS } from '../images/xattrs.js';
import { resolveInScope, runner } from './context.js';
import { parseDockerignore, walkContext } from './dockerignore.js';
import { expand, splitWords } from './expand.js';
import { heredocCommand, parseArgDecls, parseDockerfile, parseKeyValues } from './parser.js';
import { DockerfileError, type Instruction, type Stage } from './types.js';

export interface BuildOptions {
  contextDir: string;
  dockerfile: string;          // path inside the context
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  labels: Record<string, string>;
  /** Where temporary staging and mounts go (inside the data root). */
  tmpRoot: string;
  out: (text: string) => void;
  /** Fetches a base image that is not here yet. */
  pull: (ref: string) => Promise<void>;
  /** The network mode of every RUN step's container (`--network`), as `HostConfig.NetworkMode` takes it. */
  networkMode?: string;
  /** `name:ip` entries for every RUN step's /etc/hosts (`--add-host`). */
  extraHosts?: string[];
  /** More HostConfig of every RUN step's container: the resource limits, `--ulimit`, `--shm-size`, `--cgroup-parent`. */
  hostConfig?: Record<string, unknown>;
  /** `--cache-from`: images, wherever they came from, whose history may stand in for steps (names not found are skipped). */
  cacheFrom?: string[];
}

interface State {
  image?: Image;                // undefined for FROM scratch until the first step commits
  layers: LayerBlob[];
  config: ContainerConfigSection & { Shell?: string[]; OnBuild?: string[]; Healthcheck?: unknown };
  history: HistoryEntry[];
  shell: string[];
  args: Map<string, string>;    // ARGs declared in this stage, with their values
  /** A CMD was set in this stage (so a later ENTRYPOINT keeps it). */
  cmdSet?: boolean;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** Every key the builder owns, so a committed container's own values (its RUN command) never leak into the image. */
function normalConfig(c: State['config']): State['config'] {
  return {
    User: c.User ?? '', ExposedPorts: c.ExposedPorts, Env: c.Env ?? [], Entrypoint: c.Entrypoint ?? null, Cmd: c.Cmd ?? null,
    Volumes: c.Volumes, WorkingDir: c.WorkingDir ?? '', Labels: c.Labels ?? {}, StopSignal: c.StopSignal,
    ...(c.Shell ? { Shell: c.Shell } : {}), ...(c.OnBuild?.length ? { OnBuild: c.OnBuild } : {}), ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
  };
}

function envMap(env: string[] = []): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env) { const i = e.indexOf('='); m.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1)); }
  return m;
}

function setEnv(env: string[] = [], key: string, value: string): string[] {
  const out = env.filter((e) => e.split('=')[0] !== key);
  out.push(`${key}=${value}`);
  return out;
}

/** `*`, `?` and `[…]` within one path segment, as Go's filepath.Match. */
function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') { const j = seg.indexOf(']', i); if (j < 0) re += '\\['; else { re += `[${seg.slice(i + 1, j).replace(/^!/, '^')}]`; i = j; } }
    else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function glob(root: string, pattern: string, allowed?: Set<string>): Promise<string[]> {
  const segs = posix.normalize(pattern).replace(/^\/+/, '').split('/').filter((s) => s && s !== '.');
  let found = [''];
  for (const [i, seg] of segs.entries()) {
    const next: string[] = [];
    const magic = /[*?[]/.test(seg);
    // A directory reached through a symlink is the one the link names inside this root, never the host's.
    if (i > 0) found = await Promise.all(found.map((f) => resolveInScope(root, f)));
    for (const base of found) {
      if (!magic) {
        const p = base ? `${base}/${seg}` : seg;
        if (await lstat(join(root, p)).then(() => true, () => false)) next.push(p);
        continue;
      }
      const names = await readdir(join(root, base)).catch(() => [] as string[]);
      const re = segmentRegex(seg);
      for (const n of names.sort()) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
    }
    found = next;
  }
  return allowed ? found.filter((f) => f === '' || allowed.has(f)) : found;
}

export class Builder {
  private readonly stageImages = new Map<string, Image>();
  private escape = '\\';
  /** The `--cache-from` images found, and those this stage may still take steps from. */
  private cacheFrom: Image[] = [];
  private sources: Image[] = [];

  constructor(private readonly images: ImageService, private readonly containers: ContainerService, private readonly o: BuildOptions) {}

  async build(): Promise<Image> {
    const text = await readFile(join(this.o.contextDir, this.o.dockerfile), 'utf8').catch(() => {
      throw new DockerfileError(`Cannot locate specified Dockerfile: ${this.o.dockerfile}`);
    });
    const df = parseDockerfile(text);
    this.escape = df.escape;
    for (const ref of this.o.cacheFrom ?? []) {
      // As dockerd: a name that is not here is skipped, not an error.
      const img = await this.images.find(ref);
      if (img) this.cacheFrom.push(img);
    }
    const ignoreText = await readFile(join(this.o.contextDir, '.dockerignore'), 'utf8').catch(() => '');
    const allowed = new Set(await walkContext(this.o.contextDir, parseDockerignore(ignoreText)));

    const globalArgs = new Map<string, string>();
    for (const a of df.globalArgs) {
      for (const { name, value } of parseArgDecls(a.args[0] ?? '', df.escape)) {
        const v = this.o.buildArgs[name] ?? (value !== undefined ? expand(value, (n) => globalArgs.get(n), df.escape) : undefined);
        if (v !== undefined) globalArgs.set(name, v);
      }
    }
    const byName = new Map(df.stages.filter((s) => s.name).map((s) => [s.name!, s]));
    const targetIndex = this.o.target === undefined ? df.stages.length - 1 : byName.get(this.o.target.toLowerCase())?.index;
    if (targetIndex === undefined) throw new DockerfileError(`failed to reach build target ${this.o.target} in Dockerfile`);

    // Only the stages the target needs, in order.
    const needed = new Set<number>();
    const visit = (i: number) => {
      if (needed.has(i)) return;
      needed.add(i);
      const s = df.stages[i]!;
      const deps = [s.from.args[0] ?? '', ...s.instructions.filter((x) => (x.cmd === 'COPY' || x.cmd === 'ADD') && x.flags.from).map((x) => x.flags.from!)];
      for (const d of deps) {
        const name = expand(d, (n) => globalArgs.get(n)).toLowerCase();
        const dep = byName.get(name) ?? (/^\d+$/.test(name) && Number(name) < i ? df.stages[Number(name)] : undefined);
        if (dep && dep.index < i) visit(dep.index);
      }
    };
    visit(targetIndex);
    const total = df.stages.filter((s) => needed.has(s.index)).reduce((n, s) => n + 1 + s.instructions.length, 0);
    let step = 0;
    let last: Image | undefined;
    for (const stage of df.stages) {
      if (!needed.has(stage.index)) continue;
      last = await this.buildStage(stage, globalArgs, byName, allowed, () => `Step ${++step}/${total} : `);
      this.stageImages.set(String(stage.index), last);
      if (stage.name) this.stageImages.set(stage.name, last);
      if (stage.index === targetIndex) break;
    }
    if (!last) throw new DockerfileError('no build stage in current context');
    if (Object.keys(this.o.labels).length) {
      // --label goes on the final image only.
      const st = await this.stateOf(last, new Map());
      st.config.Labels = { ...(st.config.Labels ?? {}), ...this.o.labels };
      last = (await this.commitConfig(st, 'LABEL', Object.entries(this.o.labels).map(([k, v]) => `${k}=${v}`).join(' '))).image!;
    }
    return last;
  }

  private say(text: string): void {
    this.o.out(text);
  }

  private async buildStage(stage: Stage, globalArgs: Map<string, string>, byName: Map<string, Stage>, allowed: Set<string>, stepPrefix: () => string): Promise<Image> {
    const from = stage.from;
    const baseRef = expand(from.args[0] ?? '', (n) => globalArgs.get(n));
    this.say(`${stepPrefix()}FROM ${from.original}\n`);
    // Every stage may again take steps from any of the --cache-from images, as dockerd resets its prober at FROM.
    this.sources = [...this.cacheFrom];
    let state: State;
    if (baseRef === 'scratch') {
      state = { layers: [], config: { Env: [] }, history: [], shell: DEFAULT_SHELL, args: new Map() };
      this.say(' ---> \n');
    } else {
      const stageBase = byName.get(baseRef.toLowerCase());
      let base = stageBase && stageBase.index < stage.index ? this.stageImages.get(stageBase.name!) : undefined;
      if (!base) {
        base = await this.images.find(baseRef);
        if (!base) {
          await this.o.pull(baseRef).catch((e: Error) => { throw new DockerfileError(`pull access denied for ${baseRef}: ${e.message}`, from.line); });
          base = await this.images.resolve(baseRef);
        }
      }
      state = await this.stateOf(base, new Map());
      state.shell = (state.config.Shell as string[] | undefined) ?? DEFAULT_SHELL;
      this.say(` ---> ${short(base.id)}\n`);
      for (const trigger of state.config.OnBuild ?? []) {
        const parsed = parseDockerfile(`FROM scratch\n${trigger}`).stages[0]!.instructions[0]!;
        this.say(`# Executing 1 build trigger\n`);
        state = await this.step(state, { ...parsed, line: from.line }, globalArgs, allowed);
      }
      state.config.OnBuild = [];
    }
    for (const ins of stage.instructions) {
      this.say(`${stepPrefix()}${ins.cmd} ${ins.original}\n`);
      state = await this.step(state, ins, globalArgs, allowed);
      this.say(` ---> ${short(state.image!.id)}\n`);
    }
    // A stage that is only FROM scratch still needs an image of its own.
    if (!state.image) state = await this.commitConfig(state, 'CMD', '[]');
    return state.image!;
  }

  private async stateOf(img: Image, args: Map<string, string>): Promise<State> {
    return {
      image: img, layers: await this.images.layersOf(img), config: structuredClone(img.config.config ?? {}),
      history: [...(img.config.history ?? [])], shell: DEFAULT_SHELL, args,
    };
  }

  /** Values for variable expansion: the stage's ENV over its ARGs. */
  private vars(state: State): (name: string) => string | undefined {
    const env = envMap(state.config.Env);
    return (n) => env.get(n) ?? state.args.get(n);
  }

  private async step(state: State, ins: Instruction, globalArgs: Map<string, string>, allowed: Set<string>): Promise<State> {
    const x = (w: string) => expand(w, this.vars(state), this.escape);
    const s: State = { ...state, config: structuredClone(state.config), args: new Map(state.args) };
    switch (ins.cmd) {
      case 'ARG': {
        for (const { name, value } of parseArgDecls(ins.args[0] ?? '', this.escape)) {
          const dflt = value !== undefined ? x(value) : globalArgs.get(name);
          const v = this.o.buildArgs[name] ?? dflt;
          if (v !== undefined) s.args.set(name, v);
        }
        return this.cachedOrCommit(state, s, ins, `ARG ${ins.original}`);
      }
      case 'ENV':
        for (const [k, v] of parseKeyValues(ins.args[0] ?? '', false, false, this.escape)) s.config.Env = setEnv(s.config.Env, x(k), x(v));
        return this.cachedOrCommit(state, s, ins, `ENV ${ins.original}`);
      case 'LABEL':
        s.config.Labels = { ...(s.config.Labels ?? {}) };
        for (const [k, v] of parseKeyValues(ins.args[0] ?? '', false, false, this.escape)) s.config.Labels[x(k)] = x(v);
        return this.cachedOrCommit(state, s, ins, `LABEL ${ins.original}`);
      case 'MAINTAINER':
        return this.cachedOrCommit(state, s, ins, `MAINTAINER ${ins.original}`);
      case 'WORKDIR': {
        const dir = x(ins.args[0] ?? '');
        s.config.WorkingDir = posix.resolve(s.config.WorkingDir || '/', dir);
        return this.cachedOrCommit(state, s, ins, `WORKDIR ${s.config.WorkingDir}`);
      }
      case 'USER':
        s.config.User = x(ins.args[0] ?? '');
        return this.cachedOrCommit(state, s, ins, `USER ${s.config.User}`);
      case 'EXPOSE':
        s.config.ExposedPorts = { ...(s.config.ExposedPorts ?? {}) };
        for (const p of ins.args.map(x)) s.config.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        return this.cachedOrCommit(state, s, ins, `EXPOSE ${Object.keys(s.config.ExposedPorts).join(' ')}`);
      case 'VOLUME':
        s.config.Volumes = { ...(s.config.Volumes ?? {}) };
        for (const v of (ins.json ? ins.args : ins.args.flatMap((a) => splitWords(a))).map(x)) s.config.Volumes[v] = {};
        return this.cachedOrCommit(state, s, ins, `VOLUME [${Object.keys(s.config.Volumes).join(' ')}]`);
      case 'STOPSIGNAL':
        s.config.StopSignal = x(ins.args[0] ?? '');
        return this.cachedOrCommit(state, s, ins, `STOPSIGNAL ${s.config.StopSignal}`);
      case 'CMD':
        s.config.Cmd = ins.json ? ins.args : [...s.shell, ins.args[0] ?? ''];
        s.cmdSet = true;
        return this.cachedOrCommit(state, s, ins, `CMD ${goQuoted(s.config.Cmd)}`);
      case 'ENTRYPOINT':
        s.config.Entrypoint = ins.json ? ins.args : [...s.shell, ins.args[0] ?? ''];
        // As docker: a new ENTRYPOINT drops a CMD inherited from the base image, not one set in this stage.
        if (!s.cmdSet) s.config.Cmd = null;
        return this.cachedOrCommit(state, s, ins, `ENTRYPOINT ${goQuoted(s.config.Entrypoint)}`);
      case 'SHELL':
        if (!ins.json) throw new DockerfileError('SHELL requires the arguments to be in JSON form', ins.line);
        s.shell = ins.args;
        s.config.Shell = ins.args;
        return this.cachedOrCommit(state, s, ins, `SHELL [${ins.args.join(' ')}]`);
      case 'ONBUILD':
        s.config.OnBuild = [...(s.config.OnBuild ?? []), ins.original];
        return this.cachedOrCommit(state, s, ins, `ONBUILD ${ins.original}`);
      case 'HEALTHCHECK':
        s.config.Healthcheck = healthcheck(ins, s.shell);
        return this.cachedOrCommit(state, s, ins, `HEALTHCHECK ${ins.original}`);
      case 'RUN':
        return this.run(state, ins);
      case 'COPY':
      case 'ADD':
        return this.copy(state, ins, allowed);
      default:
        throw new DockerfileError(`unknown instruction: ${ins.cmd}`, ins.line);
    }
  }

  private cacheKey(state: State, parts: unknown[]): string {
    return sha(JSON.stringify([state.image?.id ?? 'scratch', state.layers.map((l) => l.diffId), ...parts]));
  }

  /**
   * Takes a step from the cache, or runs `make` and caches what it made. `createdBy` is the history entry
   * the step writes: what a --cache-from image's history is matched against.
   */
  private async cached(state: State, key: string, createdBy: string, make: () => Promise<Image>, after: State): Promise<State> {
    const hit = this.o.noCache ? undefined : await this.fromCache(state, key, createdBy, after);
    if (hit) {
      this.say(' ---> Using cache\n');
      return { ...(await this.stateOf(hit, after.args)), shell: after.shell, cmdSet: after.cmdSet };
    }
    const img = await make();
    this.images.cacheBuildStep(key, img.id);
    return { ...(await this.stateOf(img, after.args)), shell: after.shell, cmdSet: after.cmdSet };
  }

  /**
   * The step's image from the cache, as dockerd's classic builder finds it. Without --cache-from: a step
   * built here before (never a pulled or loaded image). With it: such a step only if it is in the chain of
   * one of those images; else an image whose history starts with this one's and goes on with this step.
   */
  private async fromCache(state: State, key: string, createdBy: string, after: State): Promise<Image | undefined> {
    const local = this.images.cachedBuildStep(key);
    if (!this.cacheFrom.length) return local ? this.images.resolve(local) : undefined;
    if (local && this.sources.some((s) => this.inChain(s.id, local))) return this.images.resolve(local);
    const history = state.image?.config.history ?? [];
    const diffIds = state.layers.map((l) => l.diffId);
    for (const target of this.sources) {
      const th = target.config.history ?? [];
      const entry = th[history.length];
      if (!entry || entry.created_by !== createdBy || !extends_(target, th, history, diffIds)) continue;
      // The last entry is the image itself.
      if (th.length - 1 === history.length) return target;
      // A middle one: an image of this step's own, made from the entry and its layer, as dockerd restores it.
      const layerIndex = th.slice(0, history.length).filter((h) => !h.empty_layer).length;
      const layers = entry.empty_layer ? state.layers : [...state.layers, (await this.images.layersOf(target))[layerIndex]!];
      const img = await this.images.commitImage(layers, {
        config: normalConfig(after.config), history: [...history, entry], created: entry.created ?? new Date().toISOString(), parent: state.image?.id,
      });
      // dockerd follows one image once a middle step matched, rather than jump between them.
      this.sources = [target];
      return img;
    }
    return undefined;
  }

  /** Whether `id` is `top` or one of the images it was built on. */
  private inChain(top: string, id: string): boolean {
    for (let at: string | undefined = top, n = 0; at && n < 10_000; at = this.images.parentOf(at), n++) if (at === id) return true;
    return false;
  }

  /** A metadata-only step: the same layers, a new config, an empty-layer history entry. */
  private async cachedOrCommit(state: State, next: State, ins: Instruction, nop: string): Promise<State> {
    const key = this.cacheKey(state, [ins.cmd, nop, [...next.args.entries()]]);
    return this.cached(state, key, `/bin/sh -c #(nop)  ${nop}`, () => this.commitConfigImage(state, next, nop), next);
  }

  private async commitConfig(state: State, cmd: string, what: string): Promise<State> {
    const img = await this.commitConfigImage(state, state, `${cmd} ${what}`);
    return { ...(await this.stateOf(img, state.args)), shell: state.shell };
  }

  private async commitConfigImage(parent: State, next: State, nop: string): Promise<Image> {
    const created = new Date().toISOString();
    return this.images.commitImage(parent.layers, {
      config: normalConfig(next.config),
      history: [...parent.history, { created, created_by: `/bin/sh -c #(nop)  ${nop}`, empty_layer: true }],
      created,
      parent: parent.image?.id,
    });
  }

  private async run(state: State, ins: Instruction): Promise<State> {
    // The classic builder takes no RUN flags (--mount, --network, --security, --device): dockerd refuses the
    // first one in these words, before the cache is looked at, rather than run the step without what it asks.
    const flag = ins.flagList?.[0]?.[0];
    if (flag) throw new DockerfileError(`the --${flag} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`);
    let argv: string[];
    if (ins.heredocs?.length && !ins.json) {
      // `RUN <<EOF …`, `RUN cat <<EOF > f`: the line with its heredoc bodies put back, run by the shell.
      argv = [...state.shell, heredocCommand(ins)];
    } else {
      argv = ins.json ? ins.args : [...state.shell, ins.args[0] ?? ''];
    }
    const usedArgs = [...state.args.entries()].filter(([k]) => !envMap(state.config.Env).has(k));
    const key = this.cacheKey(state, ['RUN', argv, usedArgs]);
    // The build args the step saw go first, as dockerd writes them (`|1 A=b /bin/sh -c …`): two runs under
    // other values are other history, so a --cache-from image never stands in for a run under other args.
    const argsPrefix = usedArgs.length ? `|${usedArgs.length} ${usedArgs.map(([k, v]) => `${k}=${v}`).sort().join(' ')} ` : '';
    const createdBy = argsPrefix + (ins.json ? `RUN ${JSON.stringify(argv)}` : `/bin/sh -c ${ins.args[0] ?? ''}`);
    return this.cached(state, key, createdBy, async () => {
      if (!state.image) throw new DockerfileError('RUN needs a base image with a shell: this stage starts FROM scratch', ins.line);
      let env = [...(state.config.Env ?? [])];
      for (const [k, v] of usedArgs) env = setEnv(env, k, v);
      const { Id } = await this.containers.create({
        Image: state.image.id, Cmd: argv, Entrypoint: [], Env: env, WorkingDir: state.config.WorkingDir ?? '', User: state.config.User ?? '',
        AttachStdout: true, AttachStderr: true, Labels: { 'berth.build': 'step' },
        // Not part of the cache key, as in dockerd: a cached step is not run again under another network.
        HostConfig: { ...this.o.hostConfig, NetworkMode: this.o.networkMode || 'default', ...(this.o.extraHosts?.length ? { ExtraHosts: this.o.extraHosts } : {}) },
      });
      this.say(` ---> Running in ${short(Id)}\n`);
      const tail: string[] = [];
      try {
        const { connection } = await this.containers.attach(Id);
        const exited = this.containers.wait(Id, 'next-exit');
        const output = connection.then((conn) => new Promise<void>((resolve) => {
          conn.on('data', (_stream, chunk) => {
            const text = chunk.toString();
            this.say(text);
            tail.push(text);
            if (tail.length > 20) tail.shift();
          });
          conn.on('end', () => resolve());
          conn.on('error', () => resolve());
        }));
        await this.containers.start(Id);
        const { StatusCode } = await exited;
        await output;
        if (StatusCode !== 0) {
          const shown = ins.json ? JSON.stringify(argv) : argv.join(' ');
          throw new DockerfileError(`The command '${shown}' returned a non-zero code: ${StatusCode}`, ins.line);
        }
        const id = await this.containers.commit(Id, {
          config: normalConfig(state.config), pause: false, history: state.history,
          createdBy,
        });
        return await this.images.resolve(id);
      } finally {
        await this.containers.remove(Id, { force: true }).catch(() => {});
        this.say(` ---> Removed intermediate container ${short(Id)}\n`);
      }
    }, state);
  }

  private async copy(state: State, ins: Instruction, allowed: Set<string>): Promise<State> {
    const x = (w: string) => expand(w, this.vars(state));
    // The parser split the words, quotes kept; expansion does not split them again, as docker's.
    const words = ins.args.map(x);
    if (words.length < 2) throw new DockerfileError(`${ins.cmd} requires at least two arguments, but only one was provided. Destination could not be determined`, ins.line);
    const dest0 = words.at(-1)!;
    const sources = words.slice(0, -1);
    const workdir = state.config.WorkingDir || '/';
    const dest = posix.resolve(workdir, dest0) + (dest0.endsWith('/') || dest0 === '.' ? '/' : '');

    // Where the sources come from: the context, or another stage's (or image's) root filesystem.
    let root = this.o.contextDir;
    let filter: Set<string> | undefined = allowed;
    let release = async () => {};
    let sourceId = 'context';
    if (ins.flags.from !== undefined) {
      const ref = x(ins.flags.from);
      const img = this.stageImages.get(ref.toLowerCase()) ?? (await this.images.find(ref));
      if (!img) throw new DockerfileError(`invalid from flag value ${ref}: no stage or image of that name`, ins.line);
      ({ root, release } = await this.mountReadOnly(img));
      filter = undefined;
      sourceId = img.id;
    }
    try {
      const matches: string[] = [];
      for (const src of sources) {
        const found = await glob(root, src, filter);
        if (!found.length) throw new DockerfileError(`${ins.cmd} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`, ins.line);
        matches.push(...found);
      }
      // Each source's content hash, named as dockerd's classic builder names it in the history (file:…, dir:…,
      // multi:… for several), so the history says what was copied and a --cache-from image matches only the same files.
      const hashes: string[] = [];
      const attrs: Map<string, Xattrs>[] = [];
      for (const m of matches) {
        const hash = createHash('sha256');
        await hashTree(root, m, hash, filter);
        // Attributes are content, as dockerd's file hash counts a capability: a setcap on a source is a new step.
        // Only sources that have any hash them, so every other step keeps the key it had.
        const found = await readXattrs(runner, join(root, m), join(root, m), { keep: keepXattr });
        for (const p of [...found.keys()]) if (filter && !filter.has(p === '.' ? m : posix.join(m, p))) found.delete(p);
        for (const [p, list] of [...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          for (const [n, v] of list) hash.update(Buffer.concat([Buffer.from(`\0xattr\0${p}\0${n}\0`), v]));
        }
        attrs.push(found);
        hashes.push(`${(await lstat(join(root, m))).isDirectory() ? 'dir' : 'file'}:${hash.digest('hex')}`);
      }
      const srcHash = hashes.length === 1 ? hashes[0]! : `multi:${sha(hashes.join(','))}`;
      const key = this.cacheKey(state, [ins.cmd, sourceId, srcHash, dest, ins.flags.chown ?? '', ins.flags.chmod ?? '']);
      const owner = `${ins.flags.chown ? `--chown=${ins.flags.chown} ` : ''}${ins.flags.chmod ? `--chmod=${ins.flags.chmod} ` : ''}`;
      const createdBy = `/bin/sh -c #(nop) ${ins.cmd} ${owner}${srcHash} in ${dest} `;
      return await this.cached(state, key, createdBy, async () => {
        const staging = await mkdtemp(join(this.o.tmpRoot, 'copy-'));
        try {
          const intoDir = dest.endsWith('/') || matches.length > 1;
          for (const [i, m] of matches.entries()) {
            const from = join(root, m);
            const st = await lstat(from);
            const target = st.isDirectory() ? join(staging, dest) : join(staging, intoDir ? posix.join(dest, basename(m)) : dest);
            await mkdir(st.isDirectory() ? target : dirname(target), { recursive: true });
            const unpacked = ins.cmd === 'ADD' && st.isFile() && await isArchive(from);
            if (unpacked) {
              await mkdir(intoDir ? join(staging, dest) : dirname(target), { recursive: true });
              await run('tar', ['-x', '-f', from, '-C', intoDir ? join(staging, dest) : dirname(target), '--no-same-owner', ...TAR_XATTR_ARGS]);
            } else if (st.isDirectory()) {
              for (const e of await readdir(from)) {
                const rel = m ? `${m}/${e}` : e;
                if (filter && !filter.has(rel)) continue;
                await cp(join(from, e), join(target, e), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, filter: (p) => !filter || filter.has(posixRel(root, p)) });
              }
            } else {
              await cp(from, target, { verbatimSymlinks: true, preserveTimestamps: true });
            }
            // fs.cp copies no extended attributes: they follow from the source (before any --chown, which
            // clears a file capability, as it does under dockerd's COPY --chown).
            if (!unpacked) {
              const to = posixRel(staging, target);
              await applyXattrs(runner, staging, [...attrs[i]!].map(([path, xattrs]) => ({ path: posix.join(to, path), type: '0', xattrs })));
            }
          }
          if (ins.flags.chown) await chownTree(staging, dest, await this.owner(state, x(ins.flags.chown)));
          if (ins.flags.chmod) await chmodTree(staging, dest, parseInt(ins.flags.chmod, 8));
          const entries = await readdir(staging);
          const { createTar } = await import('../images/layers.js');
          const tar = createTar({ cwd: staging, mtime: undefined }, entries.sort());
          const withXattrs = tar.pipe(injectXattrs(readXattrs(runner, staging, staging, { keep: keepXattr })));
          tar.on('error', (e: Error) => withXattrs.destroy(e));
          const layer = await this.images.storeLayer(withXattrs);
          const created = new Date().toISOString();
          return this.images.commitImage([...state.layers, layer], {
            config: normalConfig(state.config),
            history: [...state.history, { created, created_by: createdBy }],
            created, parent: state.image?.id,
          });
        } finally {
          await rm(staging, { recursive: true, force: true });
        }
      }, state);
    } finally {
      await release();
    }
  }

  /** `--chown` names resolved against the image's own /etc/passwd and /etc/group. */
  private async owner(state: State, spec: string): Promise<{ uid: number; gid: number }> {
    const [u = '', g] = spec.split(':');
    const read = async (file: string) => {
      for (const dir of [...(state.image?.layerDirs ?? [])].reverse()) {
        const text = await readFile(join(dir, file), 'utf8').catch(() => undefined);
        if (text !== undefined) return text.split('\n').map((l) => l.split(':'));
      }
      return [];
    };
    const lookup = async (name: string, file: string) => {
      if (/^\d+$/.test(name)) return Number(name);
      const row = (await read(file)).find((r) => r[0] === name);
      if (!row) throw new DockerfileError(`unable to find ${file === 'etc/passwd' ? 'user' : 'group'} ${name}: no matching entries in ${file === 'etc/passwd' ? 'passwd' : 'group'} file`);
      return Number(row[2]);
    };
    const uid = await lookup(u, 'etc/passwd');
    const gid = g !== undefined ? await lookup(g, 'etc/group') : uid;
    return { uid, gid };
  }

  /** A read-only view of an image's filesystem, for COPY --from. */
  private async mountReadOnly(img: Image): Promise<{ root: string; release: () => Promise<void> }> {
    const dirs = [...img.layerDirs].reverse();
    if (dirs.length === 1) return { root: dirs[0]!, release: async () => {} };
    const target = join(this.o.tmpRoot, `from-${randomBytes(6).toString('hex')}`);
    await mkdir(target, { recursive: true });
    if (dirs.length === 0) return { root: target, release: () => rm(target, { recursive: true, force: true }) };
    // Only lower dirs: overlayfs mounts that read-only.
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dirs.join(':')}`, target]);
    return {
      root: target,
      release: async () => {
        if (await isMounted(target)) await unmount(target);
        await rm(target, { recursive: true, force: true });
      },
    };
  }
}


/** Whether `target`'s history and layers begin with `history` and `diffIds`, entry for entry (dockerd's isValidParent). */
function extends_(target: Image, th: HistoryEntry[], history: HistoryEntry[], diffIds: string[]): boolean {
  if (!th.length) return false;
  if (!history.length && !diffIds.length) return true;
  const tDiffs = target.config.rootfs?.diff_ids ?? [];
  if (history.length >= th.length || diffIds.length > tDiffs.length) return false;
  return history.every((h, i) => sameEntry(h, th[i]!)) && diffIds.every((d, i) => d === tDiffs[i]);
}

function sameEntry(a: HistoryEntry, b: HistoryEntry): boolean {
  const keys = ['created', 'created_by', 'author', 'comment', 'empty_layer'] as const;
  return keys.every((k) => (a[k] || undefined) === (b[k] || undefined));
}

function posixRel(root: string, p: string): string {
  return p.slice(root.length + 1).split('/').join('/');
}

async function hashTree(root: string, rel: string, hash: ReturnType<typeof createHash>, filter?: Set<string>): Promise<void> {
  const p = join(root, rel);
  const st = await lstat(p);
  hash.update(`${rel}\0${st.mode}\0`);
  if (st.isDirectory()) {
    for (const e of (await readdir(p)).sort()) {
      const r = rel ? `${rel}/${e}` : e;
      if (!filter || filter.has(r)) await hashTree(root, r, hash, filter);
    }
  } else if (st.isFile()) {
    hash.update(await readFile(p));
  } else if (st.isSymbolicLink()) {
    hash.update(await readlink(p));
  }
}

async function isArchive(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(262);
    const { bytesRead } = await fh.read(buf, 0, 262, 0);
    const b = buf.subarray(0, bytesRead);
    return (b[0] === 0x1f && b[1] === 0x8b) || b.subarray(0, 3).toString() === 'BZh' || (b[0] === 0xfd && b.subarray(1, 6).toString() === '7zXZ\0')
      || (bytesRead >= 262 && b.subarray(257, 262).toString() === 'ustar');
  } finally {
    await fh.close();
  }
}

async function chownTree(staging: string, dest: string, o: { uid: number; gid: number }): Promise<void> {
  const top = join(staging, dest);
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    await chown(p, o.uid, o.gid).catch(() => {});
    if (st.isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
  };
  if (await stat(top).then(() => true, () => false)) await walk(top);
}

async function chmodTree(staging: string, dest: string, mode: number): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isSymbolicLink()) return;
    await chmod(p, mode);
    if (st.isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
  };
  const top = join(staging, dest);
  if (await stat(top).then(() => true, () => false)) {
    if ((await stat(top)).isDirectory()) for (const e of await readdir(top)) await walk(join(top, e));
    else await walk(top);
  }
}

function duration(v: string | undefined, dflt: number): number {
  if (!v) return dflt;
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (!m) throw new DockerfileError(`invalid duration ${v}`);
  const mult: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  return Number(m[1]) * mult[m[2]!]!;
}

function healthcheck(ins: Instruction, shell: string[]): unknown {
  // The parser gives ['NONE'] or ['CMD', ...the JSON words] / ['CMD', 'the shell text'].
  if (ins.args[0]?.toUpperCase() === 'NONE') return { Test: ['NONE'] };
  const rest = ins.args.slice(1);
  const test = ins.json ? ['CMD', ...rest] : ['CMD-SHELL', rest.join(' ')];
  void shell;
  return {
    Test: test,
    Interval: duration(ins.flags.interval, 0), Timeout: duration(ins.flags.timeout, 0),
    StartPeriod: duration(ins.flags['start-period'], 0), Retries: ins.flags.retries ? Number(ins.flags.retries) : 0,
  };
}

/** A list as Go's `%q` prints it (`["cat" "/b"]`), as dockerd's classic builder writes CMD and ENTRYPOINT into the history. */
function goQuoted(list: string[] | null | undefined): string {
  return `[${(list ?? []).map((a) => JSON.stringify(a)).join(' ')}]`;
}
