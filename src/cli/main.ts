/**
 * The berth command line: docker's verbs and flags over the Engine API, so
 * `alias docker=berth` works. Flag errors exit 125, as docker's do.
 */
import { Command, CommanderError } from 'commander';
import { BERTH_VERSION } from '../api/index.js';
import { describe, ExitError } from './context.js';
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

function program(): Command {
  const p = new Command('berth')
    .description('A container engine: containers and micro-VMs, Docker-compatible')
    .usage('[OPTIONS] COMMAND')
    .option('-H, --host <socket>', 'Daemon socket to connect to (default unix:///run/berth/berth.sock, or $BERTH_HOST)')
    .helpOption('--help', 'Print usage')
    .version(BERTH_VERSION, '-v, --version', 'Print version information and quit')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  for (const register of [registerRun, registerExec, registerBuild, registerCommit, registerCompare, registerLifecycle, registerPs, registerLogs, registerImages, registerInspect, registerPull, registerSaveLoad, registerExport, registerBootstrap, registerDaemon, registerSystem]) {
    register(p);
  }
  for (const register of [registerNetwork, registerPort, registerVolume, registerEvents]) register(p);
  for (const register of [registerStats, registerCp, registerUpdate]) register(p);
  for (const c of p.commands) c.helpOption('--help', 'Print usage').exitOverride().configureOutput({ outputError: () => {} });
  return p;
}

function commanderMessage(e: CommanderError, argv: string[]): string {
  const sub = argv.find((a) => !a.startsWith('-'));
  const see = `See 'berth ${sub ? `${sub} ` : ''}--help'.`;
  const flag = /'([^']+)'/.exec(e.message)?.[1];
  if (e.code === 'commander.unknownOption') return `unknown flag: ${flag}\n${see}`;
  if (e.code === 'commander.unknownCommand') return `berth: '${flag}' is not a berth command.\n${see}`;
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
  system: { df: ['system-df'], info: ['info'], check: ['system-check'], events: ['events'] },
};

export function expandGroups(argv: string[]): string[] {
  // Global flags (-H x) come before the command.
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) i += argv[i] === '-H' || argv[i] === '--host' ? 2 : 1;
  const group = GROUPS[argv[i] ?? ''];
  const sub = group?.[argv[i + 1] ?? ''];
  return sub ? [...argv.slice(0, i), ...sub, ...argv.slice(i + 2)] : argv;
}

async function main(): Promise<void> {
  const argv = expandGroups(process.argv.slice(2));
  try {
    await program().parseAsync(argv, { from: 'user' });
    process.exit(0);
  } catch (e) {
    if (e instanceof ExitError) {
      if (e.message) process.stderr.write(`${e.message}\n`);
      process.exit(e.code);
    }
    if (e instanceof CommanderError) {
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code)) process.exit(0);
      process.stderr.write(`${commanderMessage(e, argv)}\n`);
      process.exit(125);
    }
    process.stderr.write(`${describe(e)}\n`);
    process.exit(1);
  }
}

void main();
