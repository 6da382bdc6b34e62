import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { Header } from 'tar';
import { archivePath, StagedArchive } from './archive-read.js';

interface Entry { path: string; data?: string; type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice'; linkpath?: string }

function tarOf(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? 'File';
    const h = new Header({ path: e.path, type, size: type === 'File' ? data.length : 0, mode: 0o644, mtime: new Date(0), linkpath: e.linkpath });
    h.encode();
    parts.push(h.block!);
    if (type === 'File') parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

describe('staging an image archive', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const stage = (buf: Buffer) => StagedArchive.read(Readable.from([buf]), join(root, `s${n++}`));
  const refuses = async (buf: Buffer, message: RegExp) => {
    const dir = join(root, `s${n}`);
    await assert.rejects(stage(buf), message);
    assert.equal(existsSync(dir), false, 'a failed staging leaves no directory');
  };

  test('names are normalized; names leading out are refused', () => {
    assert.equal(archivePath('./blobs//sha256/abc/'), 'blobs/sha256/abc');
    assert.throws(() => archivePath('../evil'), /path leads out of the archive/);
    assert.throws(() => archivePath('a/../../evil'), /path leads out of the archive/);
    assert.throws(() => archivePath('/etc/passwd'), /absolute path/);
  });

  test('files are staged and hashed, blobs checked against their names, links followed inside', async () => {
    const blob = 'layer bytes';
    const s = await stage(tarOf([
      { path: 'blobs/', type: 'Directory' },
      { path: `./blobs/sha256/${hex(blob)}`, data: blob },
      { path: 'manifest.json', data: '[]' },
      { path: 'abc/layer.tar', type: 'SymbolicLink', linkpath: `../blobs/sha256/${hex(blob)}` },
      { path: 'hard', type: 'Link', linkpath: 'manifest.json' },
      { path: 'dirlink', type: 'SymbolicLink', linkpath: 'blobs' },
    ]));
    const f = s.get(`blobs/sha256/${hex(blob)}`)!;
    assert.equal(f.digest, `sha256:${hex(blob)}`);
    assert.equal(f.size, blob.length);
    assert.equal(readFileSync(f.file, 'utf8'), blob);
    assert.equal(s.get('abc/layer.tar')?.digest, f.digest);
    assert.equal(s.get(`dirlink/sha256/${hex(blob)}`)?.digest, f.digest);
    assert.equal(s.blob(f.digest)?.file, f.file);
    assert.deepEqual(await s.json(s.get('hard')!), []);
    assert.equal(s.get('missing'), undefined);
    assert.throws(() => s.require('missing', 'the layer'), /the layer missing is not in the archive/);
    await s.remove();
    assert.equal(existsSync(s.dir), false);
  });

  test('a compressed archive is read as well: gzip, and zstd even where Node\'s zlib has none', async () => {
    const plain = tarOf([{ path: 'index.json', data: '{}' }]);
    const compressed = [gzipSync(plain)];
    if (existsSync('/usr/bin/zstd')) compressed.push(execFileSync('/usr/bin/zstd', ['-c'], { input: plain }));
    for (const archive of compressed) {
      const s = await stage(archive);
      assert.deepEqual(await s.json(s.get('index.json')!), {});
      await s.remove();
    }
  });

  test('hostile or damaged archives are refused and leave nothing', async () => {
    await refuses(tarOf([{ path: 'manifest.json', data: '[]' }, { path: '../evil', data: 'x' }]), /refused entry "\.\.\/evil": path leads out/);
    await refuses(tarOf([{ path: '/etc/evil', data: 'x' }]), /absolute path/);
    await refuses(tarOf([{ path: 'l', type: 'SymbolicLink', linkpath: '../../etc/passwd' }]), /refused symlink l -> \.\.\/\.\.\/etc\/passwd/);
    await refuses(tarOf([{ path: 'l', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), /absolute target/);
    await refuses(tarOf([{ path: 'h', type: 'Link', linkpath: '../x' }]), /path leads out/);
    await refuses(tarOf([{ path: 'dev', type: 'CharacterDevice' }]), /a CharacterDevice has no place/);
    await refuses(tarOf([{ path: `blobs/sha256/${hex('a')}`, data: 'b' }]), new RegExp(`blobs/sha256/${hex('a')} does not match its digest`));
    const whole = tarOf([{ path: 'manifest.json', data: 'x'.repeat(5000) }]);
    await refuses(whole.subarray(0, 3000), /truncated/);
    await refuses(Buffer.from('this is not a tar archive at all, just some text'.repeat(20)), /invalid image archive/);
    assert.deepEqual(readdirSync(root).filter((d) => !existsSync(join(root, d))), []);
  });
});
