import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSshUrl, shellQuote, sshArgs } from './ssh.js';

test('ssh:// URLs become the docker CLI\'s ssh arguments', () => {
  assert.deepEqual(sshArgs(parseSshUrl('ssh://me@example.com:2222'), 'berth'),
    ['-l', 'me', '-p', '2222', '-o', 'ConnectTimeout=30', '-T', '--', 'example.com', 'berth system dial-stdio']);
  assert.deepEqual(sshArgs(parseSshUrl('ssh://example.com'), 'berth'), ['-o', 'ConnectTimeout=30', '-T', '--', 'example.com', 'berth system dial-stdio']);
  assert.deepEqual(sshArgs(parseSshUrl('ssh://[::1]/'), 'docker').slice(-2), ['::1', 'docker system dial-stdio']);
  assert.equal(sshArgs(parseSshUrl('ssh://h/run/my%20dir/b.sock'), '/opt/berth/bin/berth').at(-1),
    "/opt/berth/bin/berth '--host=unix:///run/my dir/b.sock' system dial-stdio");
  assert.equal(sshArgs(parseSshUrl('ssh://h/var/run/berth.sock'), 'berth').at(-1), 'berth --host=unix:///var/run/berth.sock system dial-stdio');
});

test('ssh:// URLs the docker CLI refuses are refused in its words', () => {
  assert.throws(() => parseSshUrl('ssh://u:pw@h'), { message: 'ssh host connection is not valid: invalid SSH URL: plain-text password is not supported' });
  assert.throws(() => parseSshUrl('ssh://h?x=1'), { message: 'ssh host connection is not valid: invalid SSH URL: query parameters are not allowed: "x=1"' });
  assert.throws(() => parseSshUrl('ssh://h#f'), { message: 'ssh host connection is not valid: invalid SSH URL: fragments are not allowed: "f"' });
  assert.throws(() => parseSshUrl('ssh://'), /invalid SSH URL/);
});

test('shellQuote leaves plain words alone and single-quotes the rest', () => {
  assert.equal(shellQuote('--host=unix:///a/b.sock'), '--host=unix:///a/b.sock');
  assert.equal(shellQuote("it's here"), `'it'\\''s here'`);
});
