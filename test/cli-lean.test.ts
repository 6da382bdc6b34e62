/**
 * The CLI's start-up stays lean: the built-in modules only some commands need (node:zlib for
 * `build --compress`, node:tls for a TLS daemon, node:crypto, node:child_process for ssh:// and a
 * terminal's stty, node:fs/promises for saved logins, save, export and load) are loaded by those commands alone.
 * A static import of one of them costs every `run` and `ps` 1-8 ms, and nothing but this test would notice.
 * No daemon: the commands stop at the unreachable socket, after their modules and flags have loaded.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bt-lean-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The built-in modules a CLI command loaded, as Node lists them at exit. */
function loaded(args: string[], expect = /Cannot connect to the berth daemon/): string[] {
  const out = join(dir, 'modules.json');
  const hook = join(dir, 'hook.cjs');
  writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)));\n`);
  const r = spawnSync(process.execPath, ['-r', hook, join(ROOT, 'dist', 'berth.cjs'), '--', '-H', `unix://${join(dir, 'none.sock')}`, ...args], { encoding: 'utf8' });
  assert.match(`${r.stdout}${r.stderr}`, expect, `${args.join(' ')}: ${r.stderr}`);
  return (JSON.parse(readFileSync(out, 'utf8')) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
}

// child_process also stands for what it brings (dgram, internal/child_process), fs/promises for readline and fs/dir.
// node:http is not among them: the CLI speaks HTTP itself (src/cli/http-client.ts) and never loads it.
const LAZY = ['http', '_http_client', 'zlib', 'tls', '_tls_wrap', 'crypto', 'https', 'http2', 'worker_threads', 'child_process', 'dgram', 'fs/promises', 'internal/readline/interface'];

for (const args of [['ps'], ['create', '-e', 'A=1', '-p', '8080:80', 'busybox', 'true'], ['run', '--rm', 'busybox', 'true'], ['images']]) {
  test(`berth ${args[0]} loads none of the built-ins only some commands need`, () => {
    const mods = loaded(args);
    assert.ok(mods.includes('net'), 'the list is the real one');
    assert.deepEqual(mods.filter((m) => LAZY.includes(m)), []);
  });
}

test('berth --version loads none of them either', () => {
  const mods = loaded(['--version'], /^\d+\.\d+/);
  assert.ok(mods.includes('vm'), 'the list is the real one');
  assert.deepEqual(mods.filter((m) => LAZY.includes(m)), []);
});
