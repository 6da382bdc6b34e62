import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cleanPath, parseDockerignore, readDockerignore, walkContext } from './dockerignore.js';

function check(ignore: string, cases: Record<string, boolean>): void {
  const m = parseDockerignore(ignore);
  for (const [path, want] of Object.entries(cases)) assert.equal(m.ignored(path, false), want, `${JSON.stringify(ignore)} on ${path}`);
}

test('readDockerignore: cleaning, leading / dropped, comments only in column one', () => {
  const text = '# comment\n\n  /foo/../bar/  \n!/keep//me/.\n./x\n  # not a comment\n*.md\r\n!\n';
  // docker: a `#` after leading whitespace is NOT a comment — the line is trimmed after the comment test
  assert.deepEqual(readDockerignore(text), ['bar', '!keep/me', 'x', '# not a comment', '*.md', '!']);
  assert.throws(() => parseDockerignore('!\n'), /illegal exclusion pattern: "!"/);
  assert.throws(() => parseDockerignore('a[\n'), /syntax error in pattern/);
  assert.throws(() => parseDockerignore('[z-a]\n'), /syntax error in pattern/);
  assert.equal(cleanPath('a//b/./c/..'), 'a/b');
  assert.equal(cleanPath('../a'), '../a');
  assert.equal(cleanPath(''), '.');
});

test('plain names match the path and everything under it (parent-directory matching)', () => {
  check('node_modules\n', { node_modules: true, 'node_modules/x/y.js': true, 'src/node_modules': false, node_modules2: false });
  check('a/b\n', { 'a/b': true, 'a/b/c': true, a: false, 'a/bc': false });
  check('build/\n', { build: true, 'build/out.o': true }, );
});

test('* and ? stay within one path segment; [...] classes', () => {
  check('*.log\n', { 'x.log': true, 'dir/x.log': false, 'x.logs': false });
  check('*/*.log\n', { 'dir/x.log': true, 'x.log': false, 'a/b/x.log': false });
  check('file?.txt\n', { 'file1.txt': true, 'file12.txt': false, 'file/.txt': false });
  check('[ab]*.c\n', { 'a.c': true, 'bx.c': true, 'c.c': false });
  check('[^a]?\n', { b1: true, a1: false });
  check('*\n', { anything: true, 'deep/path': true }); // via the parent "deep"
});

test('** matches any number of directories, including none', () => {
  check('**/*.go\n', { 'a.go': true, 'x/a.go': true, 'x/y/z/a.go': true, 'a.go.txt': false });
  check('**/vendor\n', { vendor: true, 'a/vendor': true, 'a/vendor/x': true, 'a/myvendor': false });
  check('docs/**\n', { 'docs/a': true, 'docs/a/b': true, docs: false, 'docsx/a': false });
  check('a/**/b\n', { 'a/b': true, 'a/x/b': true, 'a/x/y/b': true, 'a/x/c': false });
  check('**\n', { x: true, 'x/y': true });
});

test('! exceptions re-include; the last matching pattern wins', () => {
  check('*.md\n!README.md\n', { 'a.md': true, 'README.md': false });
  check('!README.md\n*.md\n', { 'README.md': true }, );
  check('docs\n!docs/keep.txt\n', { docs: true, 'docs/x': true, 'docs/keep.txt': false });
  check('dir\n!dir/sub\ndir/sub/secret\n', { 'dir/a': true, 'dir/sub/a': false, 'dir/sub/secret': true, 'dir/sub/secret/x': true });
  // docker: the parent matching also applies to exceptions, so `!dir` re-includes all of dir/
  check('*\n!src\n', { src: false, 'src/main.ts': false, 'test/x': true });
  check('**/*.tmp\n!keep/*.tmp\n', { 'a/x.tmp': true, 'keep/x.tmp': false, 'keep/sub/x.tmp': true });
});

test('regexp characters in patterns are literal; escapes work', () => {
  check('a+b.(c)\n', { 'a+b.(c)': true, 'aab.(c)': false, 'a+bx(c)': false });
  check('\\*literal\n', { '*literal': true, xliteral: false });
  check('Dockerfile\n.dockerignore\n', { Dockerfile: true, '.dockerignore': true }); // the builder decides to send them anyway
});

test('paths are cleaned before matching', () => {
  check('a/b\n', { './a/b': true, '/a/b': true, 'a//b/': true });
});

async function tree(files: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-ignore-'));
  for (const f of files) {
    const p = join(dir, f);
    if (f.endsWith('/')) await mkdir(p, { recursive: true });
    else {
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, f);
    }
  }
  return dir;
}

test('walkContext: sorted, prunes ignored dirs, walks into them only for a ! pattern under them', async () => {
  const dir = await tree([
    'Dockerfile', '.dockerignore', 'src/a.ts', 'src/b.log', 'node_modules/m/index.js', 'logs/x.log',
    'docs/keep.md', 'docs/drop.md', 'empty/', 'deep/a/b/c.txt',
  ]);
  try {
    await symlink('src/a.ts', join(dir, 'link'));
    await symlink('src', join(dir, 'srclink')); // a symlink to a directory is an entry, not walked
    const ignore = 'node_modules\n*/*.log\nlogs\ndocs\n!docs/keep.md\ndeep/a\n';
    assert.deepEqual(await walkContext(dir, parseDockerignore(ignore)), [
      '.dockerignore', 'Dockerfile', 'deep', 'docs/keep.md', 'empty', 'link', 'src', 'src/a.ts', 'srclink',
    ]);
    // no patterns: everything
    assert.deepEqual((await walkContext(dir, parseDockerignore(''))).length, 20);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('walkContext: docker only walks an ignored dir for an exception that names a path under it', async () => {
  const dir = await tree(['a/keep', 'a/other', 'b/keep']);
  try {
    // `!*/keep` would re-include a/keep, but docker never looks inside the ignored directories: nothing left
    assert.deepEqual(await walkContext(dir, parseDockerignore('a\nb\n!*/keep\n')), []);
    assert.deepEqual(await walkContext(dir, parseDockerignore('a\nb\n!a/keep\n')), ['a/keep']);
    // ignoring everything but one file
    assert.deepEqual(await walkContext(dir, parseDockerignore('*\n!b/keep\n')), ['b/keep']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
