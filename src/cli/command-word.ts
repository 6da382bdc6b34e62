/**
 * Where a berth command line's command word is, and which words are commands. Shared by the program (which
 * builds only that command's flags) and the boot file (which keeps a code cache per command), in a module of
 * its own so that the boot bundle takes nothing else of the CLI.
 */

/** berth's own options that take a value, before the command: the command word comes after their values. */
export const ROOT_VALUE_FLAGS = ['-H', '--host', '--tlscacert', '--tlscert', '--tlskey', '--config', '-c', '--context', '-l', '--log-level'];

/** Where the command word is: global flags (-H x) come before it. */
export function commandIndex(argv: string[]): number {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) i += ROOT_VALUE_FLAGS.includes(argv[i]!) ? 2 : 1;
  return i;
}

/** Every word a command line can start with: the top-level commands and docker's management groups (program.test.ts keeps it true). */
export const COMMAND_WORDS: ReadonlySet<string> = new Set([
  'run', 'create', 'exec', 'build', 'commit', 'diff', 'compare', 'start', 'attach', 'restart', 'rename', 'pause', 'unpause',
  'top', 'prune-containers', 'stop', 'kill', 'rm', 'wait', 'ps', 'logs', 'images', 'history', 'prune-images', 'rmi', 'tag',
  'import', 'inspect', 'version', 'info', 'pull', 'push', 'login', 'logout', 'save', 'load', 'export', 'bootstrap', 'daemon',
  'system-check', 'system-df', 'system-prune', 'system-dial-stdio', 'network', 'port', 'volume', 'events', 'stats', 'cp',
  'update', 'image', 'container', 'system',
]);
