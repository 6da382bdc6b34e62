/** The berth command line's commands: which registrar defines each, and docker's management-command spellings. */
import { Command, type CommanderError } from 'commander';
import { BERTH_VERSION } from '../api/index.js';
import { commandIndex, ROOT_VALUE_FLAGS } from './command-word.js';
import { commandPath, ExitError, flagErrorText } from './context.js';
import { registerBootstrap } from './commands/bootstrap.js';
import { registerBuild } from './commands/build.js';
import { registerCommit } from './commands/commit.js';
import { registerCompare } from './commands/compare.js';
import { registerDaemon } from './commands/daemon.js';
import { registerExec } from './commands/exec.js';
import { registerExport } from './commands/export.js';
import { registerImages } from './commands/images.js';
import { registerInspect } from './commands/inspect.js';
import { registerLifecycle } from './commands/lifecycle.js';
import { registerLogs } from './commands/logs.js';
import { registerPs } from './commands/ps.js';
import { registerPull } from './commands/pull.js';
import { registerCreate, registerRun } from './commands/run.js';
import { registerSaveLoad } from './commands/save-load.js';
import { registerSystem } from './commands/system.js';
import { registerNetwork } from './commands/network.js';
import { registerPort } from './commands/port.js';
import { registerStats } from './commands/stats.js';
import { registerCp } from './commands/cp.js';
import { registerUpdate } from './commands/update.js';
import { registerVolume } from './commands/volume.js';
import { registerEvents } from './commands/events.js';

type Register = (program: Command) => void;

/**
 * Every registrar with the top-level commands it defines. A run builds only its own command's
 * registrar: building all sixty commands cost commander about 8 ms of every start. Help and words
 * that are no command build them all. main.test.ts keeps these names true.
 */
export const COMMANDS: [Register, string[]][] = [
  [registerRun, ['run']],
  [registerCreate, ['create']],
  [registerExec, ['exec']],
  [registerBuild, ['build']],
  [registerCommit, ['commit', 'diff']],
  [registerCompare, ['compare']],
  [registerLifecycle, ['start', 'attach', 'restart', 'rename', 'pause', 'unpause', 'top', 'prune-containers', 'stop', 'kill', 'rm', 'wait']],
  [registerPs, ['ps']],
  [registerLogs, ['logs']],
  [registerImages, ['images', 'history', 'prune-images', 'rmi', 'tag', 'import']],
  [registerInspect, ['inspect', 'version', 'info']],
  [registerPull, ['pull', 'push', 'login', 'logout']],
  [registerSaveLoad, ['save', 'load']],
  [registerExport, ['export']],
  [registerBootstrap, ['bootstrap']],
  [registerDaemon, ['daemon']],
  [registerSystem, ['system-check', 'system-df', 'system-prune', 'system-dial-stdio']],
  [registerNetwork, ['network']],
  [registerPort, ['port']],
  [registerVolume, ['volume']],
  [registerEvents, ['events']],
  [registerStats, ['stats']],
  [registerCp, ['cp']],
  [registerUpdate, ['update']],
];

/** docker's other global flags, checked as the docker CLI checks them before any command runs. */
function rootFlags(o: { host?: string; context?: string; logLevel?: string; config?: string }): void {
  if (!['debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic', 'trace'].includes(String(o.logLevel).toLowerCase())) {
    throw new ExitError(1, `Unable to parse logging level: ${o.logLevel}`);
  }
  if (o.context !== undefined && o.host !== undefined) throw new ExitError(1, 'conflicting options: cannot specify both --host and --context');
  if (o.context !== undefined && o.context !== 'default') {
    throw new ExitError(1, `Failed to initialize: unable to resolve docker endpoint: context "${o.context}": context not found`);
  }
  // Where login keeps credentials (commands/pull.ts reads it): docker's --config names the directory of config.json.
  if (o.config !== undefined) process.env.BERTH_CONFIG = o.config;
}

export function program(argv: string[] = []): Command {
  const p = new Command('berth')
    .description('A container engine: containers and micro-VMs, Docker-compatible')
    .usage('[OPTIONS] COMMAND')
    .option('-H, --host <socket>', 'Daemon socket to connect to: unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT] (default unix:///run/berth/berth.sock, or $BERTH_HOST)')
    .option('--tls', 'Use TLS; implied by --tlsverify')
    .option('--tlsverify', 'Use TLS and verify the remote')
    .option('--tlscacert <file>', 'Trust certs signed only by this CA (default ~/.docker/ca.pem)')
    .option('--tlscert <file>', 'Path to TLS certificate file (default ~/.docker/cert.pem)')
    .option('--tlskey <file>', 'Path to TLS key file (default ~/.docker/key.pem)')
    .option('--config <dir>', 'Location of client config files (default ~/.berth, or $BERTH_CONFIG)')
    .option('-c, --context <name>', 'Name of the context to use: berth has only "default", the daemon -H or $BERTH_HOST names')
    .option('-D, --debug', 'Enable debug mode (accepted; berth prints nothing more)')
    .option('-l, --log-level <level>', 'Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (accepted)', 'info')
    .hook('preAction', (root) => rootFlags(root.opts()))
    .helpOption('--help', 'Print usage')
    .version(BERTH_VERSION, '-v, --version', 'Print version information and quit')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  const word = argv[commandIndex(argv)];
  const own = COMMANDS.find(([, names]) => word !== undefined && names.includes(word));
  for (const [register] of own ? [own] : versionOnly(argv) ? [] : COMMANDS) register(p);
  const withErrors = (c: Command) => c.exitOverride((err: CommandError) => { err.command = c; throw err; });
  withErrors(p);
  const prepare = (c: Command) => {
    // docker shows [OPTIONS] only for a command with flags besides --help.
    const usage = dockerUsage(c.usage());
    c.helpOption('--help', 'Print usage').configureOutput({ outputError: () => {} }).usage(c.options.length ? usage : usage.replace(/^\[OPTIONS\] ?/, ''));
    withErrors(c);
    c.commands.forEach(prepare);
  };
  p.commands.forEach(prepare);
  return p;
}

/** docker's spelling of commander's generated usage: `[options] <container...>` becomes `[OPTIONS] CONTAINER [CONTAINER...]`. */
export function dockerUsage(usage: string): string {
  const word = (n: string) => n.toUpperCase().replace(/-/g, '_');
  return usage
    .replace(/\[options\]/g, '[OPTIONS]')
    .replace(/<([a-z][\w-]*)\.\.\.>/g, (_, n: string) => `${word(n)} [${word(n)}...]`)
    .replace(/<([a-z][\w-]*)>/g, (_, n: string) => word(n))
    .replace(/\[([a-z][\w-]*)(\.\.\.)?\]/g, (_, n: string, dots?: string) => `[${word(n)}${dots ?? ''}]`);
}

/** Commander's errors name no command: each command's exit override hangs itself on the error it throws. */
type CommandError = CommanderError & { command?: Command };

/** What a wrong number of arguments breaks, in the docker CLI's words; `see` as docker's RequiresMinArgs says it. */
function argsRequirement(cmd: Command): { text: string; see: boolean } {
  const args = cmd.registeredArguments;
  const required = args.filter((a) => a.required).length;
  const n = (k: number) => `${k} argument${k === 1 ? '' : 's'}`;
  if (args.at(-1)?.variadic) return { text: `requires at least ${n(required)}`, see: true };
  if (args.length === 0) return { text: 'accepts no arguments', see: false };
  if (required === args.length) return { text: `requires ${n(required)}`, see: false };
  if (required === 0) return { text: `requires at most ${n(args.length)}`, see: false };
  return { text: `requires at least ${required} and at most ${n(args.length)}`, see: false };
}


/** The (sub)command `argv` names in the program: `network create` in `-H x network create n`. */
export function commandFor(p: Command, argv: string[]): Command {
  return commandAt(p, argv).cmd;
}

/** The command the words name, and where its own flags and arguments start. */
export function commandAt(p: Command, argv: string[]): { cmd: Command; end: number } {
  let c = p;
  let end = commandIndex(argv);
  for (; end < argv.length; end++) {
    const word = argv[end]!;
    const sub = c.commands.find((x) => x.name() === word || x.aliases().includes(word));
    if (!sub) break;
    c = sub;
  }
  return { cmd: c, end };
}

/**
 * A usage error as the docker CLI prints it, with its exit code: a flag error (125) says what is wrong with
 * the flag, a wrong number of arguments or an unknown command (1) says so after `berth: `; both show the
 * command's usage and where its help is.
 */
export function usageError(e: CommanderError, argv: string[]): { message: string; code: number } {
  const cmd = (e as CommandError).command;
  const path = commandPath(cmd);
  const usage = cmd ? `\n\nUsage:  ${path} ${cmd.usage()}` : '';
  const help = `Run '${path} --help' for more information`;
  const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
  const flagError = (text: string) => ({ message: flagErrorText(text, cmd), code: 125 });
  switch (e.code) {
    case 'commander.unknownOption':
      return flagError(quoted.startsWith('--') ? `unknown flag: ${quoted}` : `unknown shorthand flag: '${quoted.slice(1, 2)}' in ${quoted}`);
    case 'commander.optionMissingArgument': {
      const [short, long] = [/^-\w\b/.exec(quoted)?.[0], /--[\w-]+/.exec(quoted)?.[0]];
      return flagError(short && argv.at(-1) === short ? `flag needs an argument: '${short.slice(1)}' in ${short}` : `flag needs an argument: ${long ?? short}`);
    }
    case 'commander.invalidArgument': {
      const m = /option '(.+?)(?: [<[].*)?' argument '(.*)' is invalid\. (.*)/s.exec(e.message);
      return flagError(m ? `invalid argument "${m[2]}" for "${m[1]}" flag: ${m[3]}` : e.message.replace(/^error: /, ''));
    }
    case 'commander.missingArgument':
    case 'commander.excessArguments': {
      const { text, see } = argsRequirement(cmd!);
      return { message: `berth: '${path}' ${text}${usage}\n\n${see ? 'See' : 'Run'} '${path} --help' for more information`, code: 1 };
    }
    case 'commander.unknownCommand':
      return { message: `berth: unknown command: ${path} ${quoted}${cmd?.parent ? `\n\nUsage:  ${path}` : ''}\n\n${help}`, code: 1 };
    default:
      return flagError(e.message.replace(/^error: /, ''));
  }
}

/**
 * docker's management commands (`image ls`, `container rm`, `system df`) map onto the top-level verbs,
 * so both spellings work with one implementation each.
 */
export const GROUPS: Record<string, Record<string, string[]>> = {
  image: {
    ls: ['images'], list: ['images'], rm: ['rmi'], remove: ['rmi'], inspect: ['inspect', '--type', 'image'], history: ['history'],
    tag: ['tag'], pull: ['pull'], build: ['build'], push: ['push'], save: ['save'], load: ['load'], import: ['import'], prune: ['prune-images'],
  },
  container: {
    ls: ['ps'], list: ['ps'], ps: ['ps'], rm: ['rm'], remove: ['rm'], inspect: ['inspect', '--type', 'container'], run: ['run'],
    create: ['create'], exec: ['exec'], start: ['start'], attach: ['attach'], restart: ['restart'], rename: ['rename'],
    pause: ['pause'], unpause: ['unpause'], port: ['port'], top: ['top'], stats: ['stats'], cp: ['cp'], update: ['update'], prune: ['prune-containers'], commit: ['commit'], diff: ['diff'], stop: ['stop'], kill: ['kill'], wait: ['wait'], logs: ['logs'], export: ['export'],
  },
  system: { df: ['system-df'], info: ['info'], check: ['system-check'], events: ['events'], prune: ['system-prune'], 'dial-stdio': ['system-dial-stdio'] },
};


/**
 * `berth [-H x] [--tls…] --version`: no command word, and berth's own flags only, one of them the version.
 * It prints the version and needs no command built (all sixty cost it about 10 ms); anything else
 * (--help, an unknown flag, `-H -v`, whose -v is the host) builds them all, as before.
 */
function versionOnly(argv: string[]): boolean {
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-v' || a === '--version') version = true;
    else if (ROOT_VALUE_FLAGS.includes(a)) i++;
    else if (a !== '--tls' && a !== '--tlsverify') return false;
  }
  return version;
}

export function expandGroups(argv: string[]): string[] {
  const i = commandIndex(argv);
  const group = GROUPS[argv[i] ?? ''];
  const sub = group?.[argv[i + 1] ?? ''];
  return sub ? [...argv.slice(0, i), ...sub, ...argv.slice(i + 2)] : argv;
}

