import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { COMMAND_WORDS } from './command-word.js';
import { COMMANDS, expandGroups, GROUPS, program } from './program.js';

test('each registrar defines exactly the commands the table names for it', () => {
  for (const [register, names] of COMMANDS) {
    const p = new Command('berth').enablePositionalOptions();
    register(p);
    assert.deepEqual(p.commands.map((c) => c.name()).sort(), [...names].sort(), `${register.name}`);
  }
});

test('the boot file knows every word a command line starts with (it keeps a code cache per command)', () => {
  assert.deepEqual([...COMMAND_WORDS].sort(), [...COMMANDS.flatMap(([, n]) => n), ...Object.keys(GROUPS)].sort());
});

test('a command builds only its own registrar; help and unknown words build all', () => {
  const all = program([]).commands.map((c) => c.name()).sort();
  assert.deepEqual(all, COMMANDS.flatMap(([, n]) => n).sort());
  assert.deepEqual(program(['-H', 'unix:///x', 'kill', '-s', 'HUP', 'c']).commands.map((c) => c.name()).sort(),
    ['attach', 'kill', 'pause', 'prune-containers', 'rename', 'restart', 'rm', 'start', 'stop', 'top', 'unpause', 'wait']);
  assert.equal(program(['nope']).commands.length, all.length);
  assert.equal(program(['--help']).commands.length, all.length);
  // --version alone builds none; with --help, an unknown flag, or as -H's value, all.
  assert.equal(program(['-H', 'unix:///x', '--tls', '-v']).commands.length, 0);
  for (const argv of [['--version', '--help'], ['--bogus', '--version'], ['-H', '-v']]) assert.equal(program(argv).commands.length, all.length, argv.join(' '));
});

test("docker's management spellings map onto the top-level verbs", () => {
  assert.deepEqual(expandGroups(['-H', 'unix:///s', 'container', 'ls', '-a']), ['-H', 'unix:///s', 'ps', '-a']);
  assert.deepEqual(expandGroups(['image', 'rm', 'x']), ['rmi', 'x']);
  assert.deepEqual(expandGroups(['run', 'image', 'ls']), ['run', 'image', 'ls']);
});

test("commander's usage in docker's spelling", async () => {
  const { dockerUsage } = await import('./program.js');
  assert.equal(dockerUsage('[options] <container...>'), '[OPTIONS] CONTAINER [CONTAINER...]');
  assert.equal(dockerUsage('[options] <container> <new-name>'), '[OPTIONS] CONTAINER NEW_NAME');
  assert.equal(dockerUsage('[options] [repository]'), '[OPTIONS] [REPOSITORY]');
  assert.equal(dockerUsage('CONTAINER [ps OPTIONS]'), 'CONTAINER [ps OPTIONS]');
});

test("docker's other global flags: -D and -l are taken, a bad level, a context other than default, or one with -H are refused", async () => {
  const run = async (...argv: string[]) => {
    const saved = process.env.BERTH_CONFIG;
    try {
      await program(argv).exitOverride().parseAsync(argv, { from: 'user' });
      return { config: process.env.BERTH_CONFIG };
    } catch (e) {
      return { error: e as Error, config: process.env.BERTH_CONFIG };
    } finally {
      if (saved === undefined) delete process.env.BERTH_CONFIG; else process.env.BERTH_CONFIG = saved;
    }
  };
  const nowhere = ['-H', 'unix:///nonexistent/berth.sock'];
  assert.equal((await run('-l', 'bogus', ...nowhere, 'ps')).error?.message, 'Unable to parse logging level: bogus');
  assert.equal((await run('-c', 'nope', 'ps')).error?.message, 'Failed to initialize: unable to resolve docker endpoint: context "nope": context not found');
  assert.equal((await run(...nowhere, '--context', 'default', 'ps')).error?.message, 'conflicting options: cannot specify both --host and --context');
  // Taken: the command runs and fails only for want of a daemon.
  const taken = await run('-D', '-l', 'debug', '--config', '/tmp/berth-cfg-test', ...nowhere, 'ps');
  assert.match(taken.error?.message ?? '', /^Cannot connect to the berth daemon at unix:\/\/\/nonexistent\/berth\.sock/);
  assert.equal(taken.config, '/tmp/berth-cfg-test', '--config names where the credentials are');
});
