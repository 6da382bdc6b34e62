import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, expandWords, splitWords, unquote } from './expand.js';

const env: Record<string, string> = { A: 'a', B: 'two words', E: '', PATH: '/usr/bin:/bin', F: 'file.tar.gz', _x1: 'u' };
const vars = (n: string) => (Object.hasOwn(env, n) ? env[n] : undefined);
const x = (w: string, escape = '\\') => expand(w, vars, escape);

test('$VAR and ${VAR}; unknown variables are empty', () => {
  assert.equal(x('$A'), 'a');
  assert.equal(x('${A}b'), 'ab');
  assert.equal(x('$Ab'), '', 'the name runs as far as letters, digits and _ go');
  assert.equal(x('$_x1/$A'), 'u/a');
  assert.equal(x('x$NOPE-y'), 'x-y');
  assert.equal(x('$PATH:/opt'), '/usr/bin:/bin:/opt');
});

test('a $ that starts no name stays; special parameters expand to empty (docker: $$ is not a pid)', () => {
  assert.equal(x('a$'), 'a$');
  assert.equal(x('$ $/ $.'), '$ $/ $.');
  assert.equal(x('$$'), '');
  assert.equal(x('$1x'), 'x', 'digits form a positional name');
});

test('${VAR:-x} ${VAR-x} ${VAR:+x} ${VAR+x}: with the colon an empty value counts as unset', () => {
  assert.equal(x('${A:-d}'), 'a');
  assert.equal(x('${NOPE:-d}'), 'd');
  assert.equal(x('${E:-d}'), 'd');
  assert.equal(x('${E-d}'), '');
  assert.equal(x('${NOPE-d}'), 'd');
  assert.equal(x('${A:+alt}'), 'alt');
  assert.equal(x('${E:+alt}'), '');
  assert.equal(x('${E+alt}'), 'alt');
  assert.equal(x('${NOPE+alt}'), '');
  assert.equal(x('${NOPE:-$A and ${B}}'), 'a and two words', 'the default is expanded itself');
  assert.equal(x('${NOPE:-"q}"}'), 'q}', 'quotes in the default');
});

test('${VAR?msg} / ${VAR:?msg} fail with docker\'s message', () => {
  assert.equal(x('${A?}'), 'a');
  assert.equal(x('${E?}'), '');
  assert.throws(() => x('${NOPE?}'), /NOPE: is not allowed to be unset/);
  assert.throws(() => x('${E:?}'), /E: is not allowed to be empty/);
  assert.throws(() => x('${NOPE:?needs a value}'), /NOPE: needs a value/);
});

test('pattern removal and substitution (newer dockerfile frontends)', () => {
  assert.equal(x('${F#*.}'), 'tar.gz');
  assert.equal(x('${F##*.}'), 'gz');
  assert.equal(x('${F%.*}'), 'file.tar');
  assert.equal(x('${F%%.*}'), 'file');
  assert.equal(x('${F/a/A}'), 'file.tAr.gz');
  assert.equal(x('${F//./_}'), 'file_tar_gz');
  assert.equal(x('${F/.*}'), 'file', 'no replacement: removed');
  assert.equal(x('${NOPE#x}'), '');
});

test('syntax errors are docker\'s', () => {
  assert.throws(() => x('${A'), /missing '}'/);
  assert.throws(() => x('${}'), /bad substitution/);
  assert.throws(() => x('${:-x}'), /bad substitution/);
  assert.throws(() => x('${A:-x'), /missing '}'/);
  assert.throws(() => x('${A*}'), /unsupported modifier \(\*\) in substitution/);
  assert.throws(() => x('${A:#x}'), /unsupported modifier \(:#\)/);
  assert.throws(() => x('"abc'), /matching double-quote/);
  assert.throws(() => x("'abc"), /matching single-quote/);
});

test('escapes: \\$ is a literal $, the escape character itself is removed', () => {
  assert.equal(x('\\$A'), '$A');
  assert.equal(x('\\${A}'), '${A}');
  assert.equal(x('a\\ b'), 'a b');
  assert.equal(x('c:\\\\dir'), 'c:\\dir');
  assert.equal(x('trailing\\'), 'trailing', 'an escape at the end is dropped');
});

test('quotes: single quotes are literal, double quotes expand', () => {
  assert.equal(x("'$A'"), '$A');
  assert.equal(x('"$A"'), 'a');
  assert.equal(x(`"it's $A"`), "it's a");
  assert.equal(x(`'say "$A"'`), 'say "$A"');
  assert.equal(x('"a\\"b"'), 'a"b');
  assert.equal(x('"\\$A"'), '$A');
  // docker: inside "…" only " $ and the escape character can be escaped; other escapes stay as written
  assert.equal(x('"a\\nb"'), 'a\\nb');
  assert.equal(x("'a\\'"), 'a\\', 'no escapes inside single quotes');
  assert.equal(x('x"y z"w'), 'xy zw');
});

test('the backtick escape (# escape=`)', () => {
  assert.equal(x('`$A', '`'), '$A');
  assert.equal(x('c:\\dir\\$A', '`'), 'c:\\dir\\a', 'a backslash is ordinary then');
  assert.equal(x('"`"q"', '`'), '"q');
});

test('unquote: quote and escape removal without expansion', () => {
  assert.equal(unquote('"two words"'), 'two words');
  assert.equal(unquote('x\\ y'), 'x y');
  assert.equal(unquote("'$A'"), '$A');
  assert.equal(unquote('"$A"'), '$A');
});

test('expandWords (docker ProcessWords): unquoted expansions split, quoted ones do not, "" vanishes', () => {
  assert.deepEqual(expandWords('$B "$B" x', vars), ['two', 'words', 'two words', 'x']);
  assert.deepEqual(expandWords('a\\ b  c', vars), ['a b', 'c']);
  assert.deepEqual(expandWords('a "" b', vars), ['a', 'b'], 'docker drops empty quoted words');
  assert.deepEqual(expandWords('pre"$B"post', vars), ['pretwo wordspost']);
});

test('splitWords keeps quotes and escapes for a later expand()', () => {
  assert.deepEqual(splitWords('  a  "b c"   d\\ e '), ['a', '"b c"', 'd\\ e']);
  assert.deepEqual(splitWords(`'x y'z "q\\"r s"`), [`'x y'z`, '"q\\"r s"']);
  assert.deepEqual(splitWords('""'), ['""'], 'an empty quoted word is a word');
  assert.deepEqual(splitWords('"unterminated x'), ['"unterminated x'], 'never throws');
  assert.deepEqual(splitWords('a` b', '`'), ['a` b']);
  assert.deepEqual(splitWords(''), []);
  // The two compose as docker does: split first, then expand each word.
  assert.deepEqual(splitWords('"$B" /dst').map((w) => x(w)), ['two words', '/dst']);
});
