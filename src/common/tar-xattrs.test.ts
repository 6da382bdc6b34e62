import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, test } from 'node:test';
import { create } from 'tar';
import { applyXattrs, collectXattrs, copiedXattr, injectXattrs, readXattrs, spawnRunner } from './tar-xattrs.js';

const dir = mkdtempSync(join(tmpdir(), 'tar-xattrs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const getfattr = (f: string) => execFileSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', f], { encoding: 'utf8' });
// A value with a newline and an `=`, bytes node-tar's own PAX parser would split on.
const VALUE = Buffer.from('a\n=b\0c');

test('injected records reach GNU tar, merged into the PAX header node-tar writes for a long name', async () => {
  const src = join(dir, 'src');
  // Too long for a ustar name and its prefix both: node-tar gives the file a PAX header of its own.
  const long = 'f'.repeat(120);
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'd', long), 'x');
  writeFileSync(join(src, 'short'), 'y');
  execFileSync('setfattr', ['-n', 'user.v', '-v', `0s${VALUE.toString('base64')}`, join(src, 'd', long)]);
  execFileSync('setfattr', ['-n', 'user.s', '-v', 'one', join(src, 'short')]);
  execFileSync('setfattr', ['-n', 'user.overlay.opaque', '-v', 'y', join(src, 'short')]);
  const attrs = readXattrs(spawnRunner, src, src, { keep: copiedXattr });
  const tar = await buffer((create({ cwd: src, portable: false }, ['.']) as unknown as Readable).pipe(injectXattrs(attrs)));

  // Read back by this module (one PAX header each: a second one would hide the first from Go's reader) ...
  const collect = collectXattrs(copiedXattr);
  collect.end(tar);
  await buffer(collect);
  const got = Object.fromEntries(collect.collected.map((e) => [e.path, e.xattrs.map(([n, v]) => `${n}=${v.toString('base64')}`)]));
  assert.deepEqual(got, { [`d/${long}`]: [`user.v=${VALUE.toString('base64')}`], short: ['user.s=b25l'] });
  assert.equal(tar.toString('latin1').split(`path=./d/${long}`).length, 2, 'the long name stays in one PAX header');

  // ... and by GNU tar, which sets them.
  const out = join(dir, 'out');
  mkdirSync(out);
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xf', '-', '-C', out], { input: tar });
  assert.match(getfattr(join(out, 'd', long)), /user\.v=0sYQo9YgBj/);
  assert.match(getfattr(join(out, 'short')), /user\.s="one"/);
  assert.doesNotMatch(getfattr(join(out, 'short')), /overlay/);
});

test('applyXattrs sets nothing through a symlink, nor on one', async () => {
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(join(root, 'real'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'f'), '');
  writeFileSync(join(root, 'real', 'f'), '');
  symlinkSync(outside, join(root, 'lnk'));
  symlinkSync(join(outside, 'f'), join(root, 'flink'));
  const x: [string, Buffer][] = [['user.t', Buffer.from('v')]];
  await applyXattrs(spawnRunner, root, [
    { path: 'lnk/f', type: '0', xattrs: x },
    { path: 'flink', type: '0', xattrs: x },
    { path: 'real/../../outside/f', type: '0', xattrs: x },
    { path: 'real/f', type: '0', xattrs: x },
  ]);
  assert.equal(getfattr(join(outside, 'f')), '');
  assert.match(getfattr(join(root, 'real', 'f')), /user\.t="v"/);
});

test('a stream that is no tar passes the collector unchanged, for the reader after it to refuse', async () => {
  // Its first block reads as a PAX header of no size at all ('x' typeflag, letters where the size goes).
  const garbage = Buffer.concat([Buffer.alloc(512, 'z'), randomBytes(64 * 1024)]);
  garbage[156] = 'x'.charCodeAt(0);
  const collector = collectXattrs(() => true);
  const out = await buffer(Readable.from([garbage]).pipe(collector));
  assert.ok(out.equals(garbage));
  assert.deepEqual(collector.collected, []);
});
