/** The berth command line's commands: which registrar defines each, and docker's management-command spellings. */
import { Command, type CommanderError } from 'commander';
import { BERTH_VERSION } from '../api/index.js';
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
import { registerRun } from './commands/run.js';
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
  [registerRun, ['run', 'create']],
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
  [registerSystem, ['system-check', 'system-df', 'system-prune']],
  [registerNetwork, ['network']],
  [registerPort, ['port']],
  [registerVolume, ['volume']],
  [registerEvents, ['events']],
  [registerStats, ['stats']],
  [registerCp, ['cp']],
  [registerUpdate, ['update']],
];

export function program(argv: string[] = []): Command {
  const p = new Command('berth')
    .description('A container engine: containers and micro-VMs, Docker-compatible')
    .usage('[OPTIONS] COMMAND')
    .option('-H, --host <socket>', 'Daemon socket to connect to: unix://PATH or tcp://HOST:PORT (default unix:///run/berth/berth.sock, or $BERTH_HOST)')
    .option('--tls', 'Use TLS; implied by --tlsverify')
    .option('--tlsverify', 'Use TLS and verify the remote')
    .option('--tlscacert <file>', 'Trust certs signed only by this CA (default ~/.docker/ca.pem)')
    .option('--tlscert <file>', 'Path to TLS certificate file (default ~/.docker/cert.pem)')
    .option('--tlskey <file>', 'Path to TLS key file (default ~/.docker/key.pem)')
    .helpOption('--help', 'Print usage')
    .version(BERTH_VERSION, '-v, --version', 'Print version information and quit')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  const word = argv[commandIndex(argv)];
  const own = COMMANDS.find(([, names]) => word !== undefined && names.includes(word));
  for (const [register] of own ? [own] : COMMANDS) register(p);
  for (const c of p.commands) c.helpOption('--help', 'Print usage').exitOverride().configureOutput({ outputError: () => {} });
  return p;
}

export function commanderMessage(e: CommanderError, argv: string[]): string {
  const sub = argv.find((a) => !a.startsWith('-'));
  const see = `See 'berth ${sub ? `${sub} ` : ''}--help'.`;
  const flag = /'([^']+)'/.exec(e.message)?.[1];
  if (e.code === 'commander.unknownOption') return `unknown flag: ${flag}\n${see}`;
  if (e.code === 'commander.unknownCommand') return `berth: '${flag}' is not a berth command.\nSee 'berth --help'`;
  if (e.code === 'commander.missingArgument') return `"berth ${sub}" requires at least 1 argument.\n${see}`;
  return `${e.message.replace(/^error: /, '')}\n${see}`;
}

/**
 * docker's management commands (`image ls`, `container rm`, `system df`) map onto the top-level verbs,
 * so both spellings work with one implementation each.
 */
const GROUPS: Record<string, Record<string, string[]>> = {
  image: {
    ls: ['images'], list: ['images'], rm: ['rmi'], remove: ['rmi'], inspect: ['inspect', '--type', 'image'], history: ['history'],
    tag: ['tag'], pull: ['pull'], build: ['build'], push: ['push'], save: ['save'], load: ['load'], import: ['import'], prune: ['prune-images'],
  },
  container: {
    ls: ['ps'], list: ['ps'], ps: ['ps'], rm: ['rm'], remove: ['rm'], inspect: ['inspect', '--type', 'container'], run: ['run'],
    create: ['create'], exec: ['exec'], start: ['start'], attach: ['attach'], restart: ['restart'], rename: ['rename'],
    pause: ['pause'], unpause: ['unpause'], port: ['port'], top: ['top'], stats: ['stats'], cp: ['cp'], update: ['update'], prune: ['prune-containers'], commit: ['commit'], diff: ['diff'], stop: ['stop'], kill: ['kill'], wait: ['wait'], logs: ['logs'], export: ['export'],
  },
  system: { df: ['system-df'], info: ['info'], check: ['system-check'], events: ['events'], prune: ['system-prune'] },
};

/** berth's own options that take a value, before the command: the command word comes after their values. */
const ROOT_VALUE_FLAGS = ['-H', '--host', '--tlscacert', '--tlscert', '--tlskey'];

/** Where the command word is: global flags (-H x) come before it. */
function commandIndex(argv: string[]): number {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) i += ROOT_VALUE_FLAGS.includes(argv[i]!) ? 2 : 1;
  return i;
}

export function expandGroups(argv: string[]): string[] {
  const i = commandIndex(argv);
  const group = GROUPS[argv[i] ?? ''];
  const sub = group?.[argv[i + 1] ?? ''];
  return sub ? [...argv.slice(0, i), ...sub, ...argv.slice(i + 2)] : argv;
}

