import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand } from './expand.js';
import { chompHeredoc, heredocCommand, parseArgDecls, parseDockerfile, parseHeredoc, parseKeyValues } from './parser.js';
import { DockerfileError, type Instruction } from './types.js';

const df = (lines: string[]) => parseDockerfile(lines.join('\n') + '\n');
/** The instructions of the only stage. */
const ins = (...lines: string[]): Instruction[] => df(['FROM scratch', ...lines]).stages[0]!.instructions;
const one = (line: string): Instruction => ins(line)[0]!;
const fails = (text: string, re: RegExp, line?: number) =>
  assert.throws(() => parseDockerfile(text), (e: unknown) => {
    assert.ok(e instanceof DockerfileError, String(e));
    assert.match(e.message, re);
    if (line !== undefined) assert.equal(e.line, line, e.message);
    return true;
  });

test('stages, AS names (case-insensitive keyword, name lower-cased), global ARGs', () => {
  const d = df(['ARG BASE=alpine', 'ARG V', 'from $BASE as Builder', 'run make', 'FROM scratch AS final', 'copy --from=builder /out /']);
  assert.equal(d.globalArgs.length, 2);
  assert.deepEqual(d.globalArgs.map((a) => a.args[0]), ['BASE=alpine', 'V']);
  assert.equal(d.stages.length, 2);
  assert.deepEqual([d.stages[0]!.name, d.stages[0]!.index, d.stages[0]!.from.args[0]], ['builder', 0, '$BASE']);
  assert.equal(d.stages[0]!.from.line, 3);
  assert.deepEqual(d.stages[0]!.instructions.map((i) => i.cmd), ['RUN']);
  assert.equal(d.stages[1]!.name, 'final');
  const copy = d.stages[1]!.instructions[0]!;
  assert.deepEqual([copy.cmd, copy.flags, copy.args, copy.line], ['COPY', { from: 'builder' }, ['/out', '/'], 6]);
  assert.equal(d.escape, '\\');
});

test('FROM argument and stage-name errors', () => {
  fails('FROM\n', /FROM requires either one or three arguments/, 1);
  fails('FROM a b\n', /FROM requires either one or three arguments/);
  fails('FROM a AS b c\n', /FROM requires either one or three arguments/);
  fails('FROM a AS 1x\n', /invalid name for build stage: "1x", name can't start with a number or contain symbols/);
  fails('FROM a AS x\nFROM b AS X\n', /duplicate stage name "x"/, 2);
  fails('FROM --platform linux/amd64 a\n', /missing a value on flag: platform/);
  assert.deepEqual(df(['FROM --platform=$BUILDPLATFORM golang:1 AS b']).stages[0]!.from.flags, { platform: '$BUILDPLATFORM' });
});

test('no stage: instructions before FROM, only ARGs, nothing at all', () => {
  fails('RUN x\nFROM a\n', /^Dockerfile:1: no build stage in current context$/, 1);
  fails('ARG a\nENV b=1\n', /no build stage in current context/, 2);
  fails('ARG a\n', /dockerfile contains no stages to build/);
  fails('# only a comment\n\n', /file with no instructions/);
  fails('', /the Dockerfile cannot be empty/);
});

test('unknown instructions, with a suggestion when one is close', () => {
  fails('FROM a\nRUNN x\n', /^Dockerfile:2: unknown instruction: RUNN \(did you mean run\?\)$/, 2);
  fails('FROM a\nfrm x\n', /unknown instruction: frm/);
  fails('FROM a\nBOGUSTHING x\n', /^Dockerfile:2: unknown instruction: BOGUSTHING$/);
});

test('comments, blank lines, leading whitespace, CRLF and a BOM', () => {
  const d = parseDockerfile('\uFEFF# hello\r\n\r\n   # indented comment\r\nFROM a\r\n\t  RUN   echo hi  \r\n');
  const r = d.stages[0]!.instructions[0]!;
  assert.deepEqual([r.cmd, r.args, r.original, r.line], ['RUN', ['echo hi'], 'echo hi', 5]);
});

test('line continuations: trailing whitespace after the escape, comments and empty lines inside', () => {
  const r = ins('RUN apt-get update && \\  ', '# a comment in the middle is dropped', '    apt-get install -y x \\', '', '    && true')[0]!;
  // docker joins the lines as they are: the continuation lines keep their leading whitespace
  assert.equal(r.args[0], 'apt-get update &&     apt-get install -y x     && true');
  assert.equal(r.line, 2);
  const d = df(['FROM a', 'RUN a \\', '', 'b']);
  assert.deepEqual(d.warnings?.map((w) => w.line), [2], 'docker warns about the empty continuation line');
  // a continuation at the very end of the file just ends the instruction
  assert.equal(parseDockerfile('FROM a\nRUN x \\').stages[0]!.instructions[0]!.args[0], 'x');
  // `#` after the start of a line is not a comment
  assert.equal(one('RUN echo a # b').args[0], 'echo a # b');
});

test('parser directives: escape=` changes continuations, only at the very top', () => {
  const d = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN dir c:\\ `\n  /w\n');
  assert.equal(d.escape, '`');
  assert.equal(d.syntax, 'docker/dockerfile:1');
  assert.equal(d.stages[0]!.instructions[0]!.args[0], 'dir c:\\   /w');
  // after a blank line, a comment or an instruction, it is just a comment
  assert.equal(parseDockerfile('\n# escape=`\nFROM a\n').escape, '\\');
  assert.equal(parseDockerfile('# hi\n# escape=`\nFROM a\n').escape, '\\');
  assert.equal(parseDockerfile('#ESCAPE = `\nFROM a\n').escape, '`', 'case and spaces do not matter');
  fails('# escape=x\nFROM a\n', /invalid escape token 'x' does not match ` or \\/, 1);
  fails('# escape=`\n# escape=`\nFROM a\n', /only one escape parser directive can be used/, 2);
});

test('JSON (exec) form, and invalid JSON falling back to shell form as docker does', () => {
  assert.deepEqual([one('CMD ["a", "b c"]').args, one('CMD ["a", "b c"]').json], [['a', 'b c'], true]);
  assert.deepEqual(one('ENTRYPOINT []').args, []);
  assert.equal(one('ENTRYPOINT []').json, true);
  assert.deepEqual([one("CMD ['a']").args, one("CMD ['a']").json], [["['a']"], false], 'single quotes are not JSON');
  assert.deepEqual([one('RUN ["a" "b"]').args, one('RUN ["a" "b"]').json], [['["a" "b"]'], false]);
  assert.deepEqual(one('RUN ["a"] && b').json, false);
  fails('FROM a\nCMD ["a", 1]\n', /when using JSON array syntax, arrays must be comprised of strings only/, 2);
  assert.deepEqual(one('SHELL ["/bin/bash", "-c"]').args, ['/bin/bash', '-c']);
  fails('FROM a\nSHELL /bin/bash -c\n', /SHELL requires the arguments to be in JSON form/);
  fails('FROM a\nSHELL []\n', /SHELL requires at least one argument/);
  const c = one('COPY ["a b", "/c d/"]');
  assert.deepEqual([c.args, c.json], [['a b', '/c d/'], true]);
  assert.deepEqual(one('VOLUME ["/a", "/b"]').args, ['/a', '/b']);
  assert.deepEqual(one('VOLUME /a /b').args, ['/a', '/b']);
  fails('FROM a\nVOLUME [""]\n', /VOLUME specified can not be an empty string/);
});

test('flags before the arguments; unknown, missing-value and duplicate flags are docker\'s errors', () => {
  const c = one('COPY --from=build --chown=1:2 --chmod=644 --link a b /d/');
  assert.deepEqual(c.flags, { from: 'build', chown: '1:2', chmod: '644', link: '' });
  assert.deepEqual(c.args, ['a', 'b', '/d/']);
  assert.equal(c.original, '--from=build --chown=1:2 --chmod=644 --link a b /d/');
  const r = one('RUN --mount=type=cache,target=/c --mount=type=secret,id=s --network=none make');
  assert.deepEqual(r.args, ['make']);
  assert.equal(r.flags.network, 'none');
  assert.deepEqual(r.flagList, [['mount', 'type=cache,target=/c'], ['mount', 'type=secret,id=s'], ['network', 'none']]);
  assert.deepEqual(one('COPY --chown="a b" x y').flags, { chown: 'a b' }, 'quotes in flag values are removed');
  assert.deepEqual(one('ADD --link=false x y').flags, { link: 'false' });
  assert.deepEqual(one('RUN -- --not-a-flag').args, ['--not-a-flag'], '`--` ends the flags');
  fails('FROM a\nCOPY --form=x a b\n', /^Dockerfile:2: unknown flag: form$/, 2);
  fails('FROM a\nCOPY --from a b\n', /missing a value on flag: from/);
  fails('FROM a\nCOPY --from=a --from=b a b\n', /duplicate flag specified: from/);
  fails('FROM a\nCOPY --link=maybe a b\n', /expecting boolean value for flag link, not: maybe/);
  fails('FROM a\nADD --from=x a b\n', /unknown flag: from/);
  // docker: every instruction parses leading --words as flags, so `CMD --help` is an error
  fails('FROM a\nCMD --help\n', /unknown flag: help/);
  fails('FROM a\nRUN --network=bridge true\n', /^Dockerfile:2: invalid network mode "bridge"$/, 2);
  for (const mode of ['default', 'none', 'host']) assert.equal(one(`RUN --network=${mode} true`).flags.network, mode);
});

test('argument counts', () => {
  fails('FROM a\nCOPY x\n', /^Dockerfile:2: COPY requires at least two arguments/);
  fails('FROM a\nADD\n', /ADD requires at least two arguments/);
  fails('FROM a\nWORKDIR\n', /WORKDIR requires exactly one argument/);
  fails('FROM a\nENV\n', /ENV requires at least one argument/);
  fails('FROM a\nEXPOSE\n', /EXPOSE requires at least one argument/);
  fails('FROM a\nONBUILD\n', /ONBUILD requires at least one argument/);
  // one-string instructions keep the whole rest, spaces included
  assert.deepEqual(one('WORKDIR /path with spaces').args, ['/path with spaces']);
  assert.deepEqual(one('USER 1000:1000').args, ['1000:1000']);
});

test('COPY/EXPOSE split on whitespace outside quotes, quotes kept for expand()', () => {
  assert.deepEqual(one('COPY "a b" c\\ d /dst').args, ['"a b"', 'c\\ d', '/dst']);
  assert.deepEqual(one('EXPOSE 80/tcp  "$P"').args, ['80/tcp', '"$P"']);
});

test('ENV/LABEL/ARG keep the raw text; their syntax errors come at parse time', () => {
  assert.deepEqual(one('ENV a=1 b="two words"').args, ['a=1 b="two words"']);
  assert.deepEqual(one('LABEL version 1.0 beta').args, ['version 1.0 beta']);
  fails('FROM a\nENV a=1 b\n', /Syntax error - can't find = in "b". Must be of the form: name=value/, 2);
  fails('FROM a\nENV onlykey\n', /ENV must have two arguments/);
  fails('FROM a\nLABEL =x\n', /LABEL names can not be blank/);
  fails('FROM a\nARG =x\n', /ARG names can not be blank/);
});

test('parseKeyValues: docker\'s splitting, raw by default (expand each key and value afterwards)', () => {
  assert.deepEqual(parseKeyValues('a=1 b="two words" c=x\\ y', false), [['a', '1'], ['b', '"two words"'], ['c', 'x\\ y']]);
  assert.deepEqual(parseKeyValues('a=1 b="two words" c=x\\ y', false, true), [['a', '1'], ['b', 'two words'], ['c', 'x y']]);
  assert.deepEqual(parseKeyValues('key value with  "spaces"', false, true), [['key', 'value with  spaces']], 'legacy ENV key value');
  assert.deepEqual(parseKeyValues('A B=2 C=', true), [['A', ''], ['B', '2'], ['C', '']]);
  assert.deepEqual(parseKeyValues('"a b"=c', false, true), [['a b', 'c']]);
  assert.deepEqual(parseKeyValues('a=b=c', false), [['a', 'b=c']], 'split at the first =');
  assert.deepEqual(parseArgDecls('A B=2 C='), [{ name: 'A' }, { name: 'B', value: '2' }, { name: 'C', value: '' }]);
  // docker expands after splitting: a value with spaces stays one value, single quotes stay literal
  const vars = (n: string) => ({ X: '1 2' } as Record<string, string>)[n];
  assert.deepEqual(parseKeyValues(`a=$X b='$X' c="$X"`, false).map(([k, v]) => [k, expand(v, vars)]), [['a', '1 2'], ['b', '$X'], ['c', '1 2']]);
});

test('HEALTHCHECK forms', () => {
  assert.deepEqual(one('HEALTHCHECK NONE').args, ['NONE']);
  const h = one('HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1');
  assert.deepEqual([h.args, h.json, h.flags], [['CMD', 'curl -f http://x/ || exit 1'], false, { interval: '5s', retries: '3' }]);
  const j = one('HEALTHCHECK cmd ["curl", "-f"]');
  assert.deepEqual([j.args, j.json], [['CMD', 'curl', '-f'], true]);
  fails('FROM a\nHEALTHCHECK NONE x\n', /HEALTHCHECK NONE takes no arguments/);
  fails('FROM a\nHEALTHCHECK CMD\n', /Missing command after HEALTHCHECK CMD/);
  fails('FROM a\nHEALTHCHECK RUN x\n', /Unknown type "RUN" in HEALTHCHECK \(try CMD\)/);
  fails('FROM a\nHEALTHCHECK --bogus=1 CMD x\n', /unknown flag: bogus/);
});

test('ONBUILD keeps the trigger text; docker refuses ONBUILD ONBUILD, FROM and MAINTAINER', () => {
  const o = one('ONBUILD RUN echo "hi there"');
  assert.deepEqual([o.cmd, o.args], ['ONBUILD', ['RUN echo "hi there"']]);
  fails('FROM a\nONBUILD onbuild RUN x\n', /Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed/);
  fails('FROM a\nONBUILD FROM x\n', /FROM isn't allowed as an ONBUILD trigger/);
});

test('RUN heredocs: bodies recorded, args keep the RUN line, <<- and quoted delimiters', () => {
  const [r, next] = ins('RUN <<EOF', 'echo $HOME', '  indented', 'EOF', 'USER x');
  assert.deepEqual(r!.args, ['<<EOF']);
  assert.deepEqual(r!.heredocs, [{ name: 'EOF', body: 'echo $HOME\n  indented\n', chomp: false, expand: true, fd: 0 }]);
  assert.equal(next!.cmd, 'USER');
  assert.equal(next!.line, 6);

  // with <<- the terminator may be indented by tabs (not spaces)
  const [c] = ins('RUN <<-"END" bash', '\techo a', '\t\t  x', '    END', '\t\tEND');
  assert.deepEqual(c!.heredocs, [{ name: 'END', body: '\techo a\n\t\t  x\n    END\n', chomp: true, expand: false, fd: 0 }]);
  assert.equal(chompHeredoc(c!.heredocs![0]!.body), 'echo a\n  x\n    END\n');

  const [m] = ins("RUN python3 <<'A' && cat 3<<B > /x", 'print(1)', 'A', 'b', 'B');
  assert.deepEqual(m!.heredocs!.map((h) => [h.name, h.body, h.expand, h.fd]), [['A', 'print(1)\n', false, 0], ['B', 'b\n', true, 3]]);
  // docker runs a lone heredoc as the script, and hands anything else to the shell with the bodies put back
  assert.equal(heredocCommand(r!), 'echo $HOME\n  indented\n');
  assert.equal(heredocCommand(m!), "python3 <<'A' && cat 3<<B > /x\nprint(1)\nA\nb\nB");

  // not heredocs: inside quotes, here-strings, JSON form, other instructions
  assert.equal(one('RUN echo "a <<b"').heredocs, undefined);
  assert.equal(one('RUN cat <<< "x"').heredocs, undefined);
  assert.equal(one('RUN ["cat", "<<EOF"]').heredocs, undefined);
  assert.equal(one('ENV a=<<EOF').heredocs, undefined);

  fails('FROM a\nRUN <<EOF\nnever ends\n', /^Dockerfile:2: unterminated heredoc$/, 2);
});

test('COPY heredocs are read too', () => {
  const [c, u] = ins('COPY <<EOF /etc/motd', 'hello', 'EOF', 'USER x');
  assert.deepEqual(c!.args, ['<<EOF', '/etc/motd']);
  assert.equal(c!.heredocs![0]!.body, 'hello\n');
  assert.equal(u!.cmd, 'USER');
});

test('parseHeredoc', () => {
  assert.deepEqual(parseHeredoc('<<EOF'), { name: 'EOF', chomp: false, expand: true, fd: 0 });
  assert.deepEqual(parseHeredoc('<<-"E F"'), { name: 'E F', chomp: true, expand: false, fd: 0 });
  assert.deepEqual(parseHeredoc("2<<E'O'F"), { name: 'EOF', chomp: false, expand: false, fd: 2 }, 'any quoting disables expansion');
  assert.equal(parseHeredoc('<<'), null);
  assert.equal(parseHeredoc('<<<EOF'), null);
  assert.equal(parseHeredoc('cat<<EOF'), null, 'docker only sees a heredoc at the start of a word');
});
