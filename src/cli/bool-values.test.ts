import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withBoolValues } from './bool-values.js';
import { FlagError } from './context.js';
import { program } from './program.js';

const rewrite = (...argv: string[]) => withBoolValues(program(argv), argv);

test('--flag=BOOL and -x=BOOL become what commander reads: the flag, its --no- form, or nothing', () => {
  assert.deepEqual(rewrite('run', '--rm=true', '-d=false', '-i=1', 'busybox'), ['run', '--rm', '--interactive', 'busybox']);
  assert.deepEqual(rewrite('run', '--sig-proxy=false', 'busybox'), ['run', '--no-sig-proxy', 'busybox']);
  assert.deepEqual(rewrite('history', '-H=f', 'busybox'), ['history', '--no-human', 'busybox']);
  assert.deepEqual(rewrite('-H', 'unix:///s', 'network', 'create', '--ipv4=False', 'n'), ['-H', 'unix:///s', 'network', 'create', '--no-ipv4', 'n']);
});

test('flags that exist only as --no-x, combined letters, and the last one winning', () => {
  assert.deepEqual(rewrite('build', '--no-cache=true', '.'), ['build', '--no-cache', '.']);
  assert.deepEqual(rewrite('build', '--no-cache', '--no-cache=false', '.'), ['build', '.']);
  assert.deepEqual(rewrite('ps', '--no-trunc=1'), ['ps', '--no-trunc']);
  assert.deepEqual(rewrite('run', '-it=false', 'busybox'), ['run', '-i', 'busybox']);
  assert.deepEqual(rewrite('run', '-dit=true', 'busybox'), ['run', '-di', '--tty', 'busybox']);
  assert.deepEqual(rewrite('run', '--rm', '-d', '--rm=false', '-d=0', 'busybox'), ['run', 'busybox']);
  assert.deepEqual(rewrite('run', '-ep=false', 'busybox'), ['run', '-ep=false', 'busybox'], '-e takes a value: left to commander');
});

test('the words after the first argument are the container\'s, and a flag\'s value is no argument', () => {
  assert.deepEqual(rewrite('run', '-e', 'A=1', '--name', 'x', '-dp', '80:80', 'busybox', 'sh', '--rm=false'),
    ['run', '-e', 'A=1', '--name', 'x', '-dp', '80:80', 'busybox', 'sh', '--rm=false']);
  assert.deepEqual(rewrite('run', '-e', '--rm=false', 'busybox'), ['run', '-e', '--rm=false', 'busybox'], '-e takes it as its value');
  assert.deepEqual(rewrite('run', '--', '--rm=false'), ['run', '--', '--rm=false']);
  assert.deepEqual(rewrite('run', '--name=x', '--rm=1', 'busybox'), ['run', '--name=x', '--rm', 'busybox']);
  assert.deepEqual(rewrite('exec', 'c', 'sh', '-i=false'), ['exec', 'c', 'sh', '-i=false']);
});

test("berth's own flags before the command word, by their own options", () => {
  assert.deepEqual(rewrite('--tls=false', '-D=1', '-H', 'tcp://h:1', '--tlsverify=true', 'ps', '-a=true'), ['--debug', '-H', 'tcp://h:1', '--tlsverify', 'ps', '--all']);
});

test('elsewhere flags may follow the arguments, as docker\'s', () => {
  assert.deepEqual(rewrite('network', 'create', 'n', '--ipv4=false'), ['network', 'create', 'n', '--no-ipv4']);
  assert.deepEqual(rewrite('rm', 'a', '-f=true', 'b'), ['rm', 'a', '--force', 'b']);
});

test('a boolean given no boolean is docker\'s flag error; other flags are left to commander', () => {
  assert.throws(() => rewrite('run', '-d=2', 'busybox'), (e: Error) => e instanceof FlagError
    && e.message === 'invalid argument "2" for "-d, --detach" flag: strconv.ParseBool: parsing "2": invalid syntax');
  assert.throws(() => rewrite('run', '--rm=maybe', 'busybox'), /for "--rm" flag/);
  assert.deepEqual(rewrite('run', '--nope=false', 'busybox'), ['run', '--nope=false', 'busybox']);
});
