/**
 * The berth command line: docker's verbs and flags over the Engine API, so
 * `alias docker=berth` works. Flag errors exit 125, as docker's do.
 */
import { CommanderError } from 'commander';
import { describe, ExitError, FlagError, flagErrorText } from './context.js';
import { withBoolValues } from './bool-values.js';
import { commandFor, expandGroups, program, usageError } from './program.js';

async function main(): Promise<void> {
  let argv = expandGroups(process.argv.slice(2));
  const p = program(argv);
  try {
    argv = withBoolValues(p, argv);
    await p.parseAsync(argv, { from: 'user' });
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
    if (e instanceof FlagError) {
      process.stderr.write(`${flagErrorText(e.message, commandFor(p, argv))}\n`);
      process.exit(125);
    }
    process.stderr.write(`${describe(e)}\n`);
    process.exit(1);
  }
}

void main();
