/**
 * The berth command line: docker's verbs and flags over the Engine API, so
 * `alias docker=berth` works. Flag errors exit 125, as docker's do.
 */
import { CommanderError } from 'commander';
import { describe, ExitError } from './context.js';
import { expandGroups, program, usageError } from './program.js';

async function main(): Promise<void> {
  const argv = expandGroups(process.argv.slice(2));
  try {
    await program(argv).parseAsync(argv, { from: 'user' });
    process.exit(0);
  } catch (e) {
    if (e instanceof ExitError) {
      if (e.message) process.stderr.write(`${e.message}\n`);
      process.exit(e.code);
    }
    if (e instanceof CommanderError) {
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code)) process.exit(0);
      const { message, code } = usageError(e, argv);
      process.stderr.write(`${message}\n`);
      process.exit(code);
    }
    process.stderr.write(`${describe(e)}\n`);
    process.exit(1);
  }
}

void main();
