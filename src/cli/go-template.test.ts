import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goStruct, parseTemplate, tabwrite } from './go-template.js';
import { formatList } from './go-format.js';

const run = (tpl: string, data: unknown) => parseTemplate(tpl).execute(data);

test('fields, nested fields, dot, and Go\'s printing of maps, lists and missing keys', () => {
  const d = { A: { B: 'x', N: 3, T: true }, L: ['a', 'b'], M: { z: 1, a: null } };
  assert.equal(run('{{.A.B}} {{.A.N}} {{.A.T}}', d), 'x 3 true');
  assert.equal(run('{{.L}} {{.M}}', d), '[a b] map[a:<nil> z:1]');
  assert.equal(run('{{.Nope}}|{{.A.Nope}}|{{.Nope.Deeper}}', d), '<no value>|<no value>|<no value>');
  assert.equal(run('{{.}}', 'plain'), 'plain');
  assert.equal(run('{{$.A.B}}', d), 'x');
});

test("a Go field name finds the JSON key that differs only in case; a lower-case map key must match exactly", () => {
  const d = { Id: 'sha256:1', Client: { ApiVersion: '1.45' }, Labels: { Foo: 'x' } };
  assert.equal(run('{{.ID}} {{.Id}} {{.Client.APIVersion}}', d), 'sha256:1 sha256:1 1.45');
  assert.equal(run('{{.Labels.foo}}', d), '<no value>');
});

test("json of a formatter row escapes <, > and & as encoding/json does; json of a plain value does not", () => {
  assert.equal(run('{{json .}}', goStruct({ Digest: '<none>', Cmd: 'a && b' })), '{"Digest":"\\u003cnone\\u003e","Cmd":"a \\u0026\\u0026 b"}');
  assert.equal(run('{{json .Digest}}', goStruct({ Digest: '<none>' })), '"<none>"');
});

test('a struct (a formatter row) refuses a field it lacks, as docker does', () => {
  assert.throws(() => run('{{.Nope}}', goStruct({ ID: 'x' }, '*formatter.ContainerContext')), /can't evaluate field Nope in type \*formatter.ContainerContext/);
});

test('if / else if / else, with truthiness as Go\'s', () => {
  const t = '{{if .A}}a{{else if .B}}b{{else}}none{{end}}';
  assert.equal(run(t, { A: 'x' }), 'a');
  assert.equal(run(t, { A: '', B: [1] }), 'b');
  assert.equal(run(t, { A: 0, B: [] }), 'none');
  assert.equal(run(t, { A: {}, B: null }), 'none');
  assert.equal(run('{{if not .A}}no{{end}}', { A: false }), 'no');
  assert.equal(run('{{if and .A .B}}both{{end}}{{if or .C .B}}-either{{end}}', { A: 1, B: 'y', C: '' }), 'both-either');
  assert.equal(run('{{or .C "default"}}', { C: '' }), 'default');
  assert.equal(run('{{if eq .S "up" "running"}}yes{{end}}', { S: 'running' }), 'yes');
  assert.equal(run('{{if ne .N 2}}ne{{end}}{{if gt .N 1}} gt{{end}}{{if le .N 3}} le{{end}}', { N: 3 }), 'ne gt le');
});

test('range over lists (with index), maps (sorted keys), else, break and continue', () => {
  assert.equal(run('{{range .L}}[{{.}}]{{end}}', { L: ['a', 'b'] }), '[a][b]');
  assert.equal(run('{{range $i, $v := .L}}{{$i}}={{$v}} {{end}}', { L: ['a', 'b'] }), '0=a 1=b ');
  assert.equal(run('{{range $k, $v := .M}}{{$k}}:{{$v}};{{end}}', { M: { b: 2, a: 1 } }), 'a:1;b:2;');
  assert.equal(run('{{range .L}}x{{else}}empty{{end}}', { L: [] }), 'empty');
  assert.equal(run('{{range .L}}{{if eq . "b"}}{{continue}}{{end}}{{if eq . "d"}}{{break}}{{end}}{{.}}{{end}}', { L: ['a', 'b', 'c', 'd', 'e'] }), 'ac');
  assert.equal(run('{{range .N.Networks}}{{.IPAddress}} {{end}}', { N: { Networks: { b: { IPAddress: '10.0.0.3' }, a: { IPAddress: '10.0.0.2' } } } }), '10.0.0.2 10.0.0.3 ');
});

test('with, variables, pipelines and parentheses', () => {
  assert.equal(run('{{with .A}}{{.B}}{{else}}none{{end}}', { A: { B: 'in' } }), 'in');
  assert.equal(run('{{with .A}}{{.B}}{{else}}none{{end}}', { A: null }), 'none');
  assert.equal(run('{{$x := .A}}{{$x}}{{$x = "y"}}{{$x}}', { A: 'x' }), 'xy');
  assert.equal(run('{{.A | upper}} {{"MiXed" | lower}}', { A: 'abc' }), 'ABC mixed');
  assert.equal(run('{{(index .L 1) | upper}} {{len .L}} {{index .M "k"}}', { L: ['a', 'b'], M: { k: 'v' } }), 'B 2 v');
  assert.equal(run('{{(split .S ",") | len}}', { S: 'a,b,c' }), '3');
});

test('docker\'s functions: join, split, json, title, pad, truncate, println, printf', () => {
  assert.equal(run('{{join .L ", "}}', { L: ['a', 'b'] }), 'a, b');
  assert.equal(run('{{join (split .S ",") "+"}}', { S: 'x,y' }), 'x+y');
  assert.equal(run('{{json .}}', { a: [1, '<b>'], f: () => 1 }), '{"a":[1,"<b>"]}');
  assert.equal(run('{{json .Nope}}', {}), 'null');
  assert.equal(run('{{title .S}}', { S: 'hello world' }), 'Hello World');
  assert.equal(run('[{{pad .S 1 2}}] {{truncate .S 3}}', { S: 'abcd' }), '[ abcd  ] abc');
  assert.equal(run('{{println .A .B}}', { A: 'x', B: 2 }), 'x 2\n');
  assert.equal(run('{{range .L}}{{println .}}{{end}}', { L: ['a', 'b'] }), 'a\nb\n');
  assert.equal(run('{{printf "%-5s|%3d|%q" .A .N .A}}', { A: 'ab', N: 7 }), 'ab   |  7|"ab"');
  assert.equal(run('{{print 1 2 "x" 3}}', {}), '1 2x3');
});

test('methods: .Label "key" calls the row\'s function with its argument', () => {
  const row = { Labels: 'a=1', Label: (k: unknown) => ({ 'com.x.role': 'db' } as Record<string, string>)[String(k)] ?? '' };
  assert.equal(run('{{.Label "com.x.role"}}|{{.Label "missing"}}', row), 'db|');
  assert.equal(run('{{.Label "com.x.role" | upper}}', row), 'DB');
});

test('trim markers and comments', () => {
  assert.equal(run('a  {{- .X -}}  b {{/* note */}}c', { X: 1 }), 'a1b c');
  assert.equal(run('{{range .L -}}\n  {{.}}\n{{- end}}', { L: [1, 2] }), '12');
});

test('bad templates fail with Go\'s messages', () => {
  assert.throws(() => parseTemplate('{{nosuch .A}}'), /function "nosuch" not defined/);
  assert.throws(() => parseTemplate('{{if .A}}x'), /unexpected EOF/);
  assert.throws(() => parseTemplate('{{end}}'), /unexpected \{\{end\}\}/);
  assert.throws(() => parseTemplate('{{.A'), /unclosed action/);
  assert.throws(() => run('{{join .S ","}}', { S: 'x' }), /wrong type for value; expected \[\]string; got string/);
});

test('tabwrite(): Go tabwriter (minwidth 10, padding 3), the last cell of a line unaligned, blocks per column', () => {
  assert.equal(tabwrite('A\tBB\tC\nlonger-cell\tx\ty\n'), 'A             BB        C\nlonger-cell   x         y\n');
  // A line without tabs ends the column block: the next lines align on their own.
  assert.equal(tabwrite('a\tb\nplain\nccccccccccccc\td\n'), 'a         b\nplain\nccccccccccccc   d\n');
});

test('formatList(): rows, table with header from docker\'s header functions, .Label header; a tab-terminated cell keeps its padding as Go\'s tabwriter', () => {
  const rows = [
    { ID: 'abc', Names: 'web', Labels: 'com.x.role=db', Label: (k: unknown) => (k === 'com.x.role' ? 'db' : '') },
    { ID: 'def', Names: 'cache', Labels: '', Label: () => '' },
  ];
  const headers = { ID: 'CONTAINER ID', Names: 'NAMES', Labels: 'LABELS' };
  assert.equal(formatList('{{.ID}}:{{.Names}}', rows, headers, ''), 'abc:web\ndef:cache\n');
  assert.equal(formatList('table {{.ID}}\\t{{upper .Names}}\\t{{.Label "com.x.role"}}', rows, headers, ''),
    'CONTAINER ID   NAMES     role\nabc            WEB       db\ndef            CACHE     \n');
  assert.equal(formatList('table', rows, headers, 'table {{.ID}}\t{{.Names}}'), 'CONTAINER ID   NAMES\nabc            web\ndef            cache\n');
  assert.equal(formatList('{{range split .Labels ","}}{{println .}}{{end}}', rows.slice(0, 1), headers, ''), 'com.x.role=db\n\n');
  assert.equal(formatList('{{if .Labels}}{{.Names}} has labels{{else}}{{.Names}} has none{{end}}', rows, headers, ''), 'web has labels\ncache has none\n');
  assert.throws(() => formatList('{{.Nope}}', rows, headers, '', '*formatter.ContainerContext'), /template parsing error: .*can't evaluate field Nope in type \*formatter.ContainerContext/);
});
