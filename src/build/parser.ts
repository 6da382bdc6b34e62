/**
 * The Dockerfile parser, after buildkit's frontend/dockerfile/parser (lines, directives, continuations,
 * comments, heredocs, per-instruction argument shapes) and frontend/dockerfile/instructions (argument
 * checks, flags, stages). Error messages are docker's where it has one.
 */
import { lexWords, splitWords, unquote } from './expand.js';
import { type Dockerfile, DockerfileError, type Instruction, type Stage } from './types.js';

type Heredoc = NonNullable<Instruction['heredocs']>[number];

const INSTRUCTIONS = [
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label', 'maintainer',
  'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
] as const;

type FlagType = 'string' | 'strings' | 'bool';
/** The flags each instruction accepts (buildkit's BFlags declarations); any other is `unknown flag`. */
const FLAGS: Record<string, Record<string, FlagType>> = {
  add: { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'strings', unpack: 'bool' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' },
  from: { platform: 'string' },
  run: { mount: 'strings', network: 'string', security: 'string', device: 'strings' },
  healthcheck: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

/** Go's regexp `[\t\v\f\r ]+` (buildkit's reWhitespace). */
const WS = /[\t\v\f\r ]+/;
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const HEREDOC = /^(\d*)<<(-?)([^<]*)$/;
const STAGE_NAME = /^[a-z][a-z0-9_.-]*$/;

const trimLeft = (s: string) => s.replace(/^\s+/, '');
const isComment = (line: string) => trimLeft(line).startsWith('#');

// ---------------------------------------------------------------------------------------------------
// Key/value parsing for ENV, LABEL and ARG

/** buildkit's parseNameVal (ENV, LABEL) / parseNameOrNameVal + parseArg (ARG), values still raw. */
function rawKeyValues(text: string, cmd: string, allowBareKey: boolean, escape: string): [string, string | undefined][] {
  const rest = text.trim();
  const words = splitWords(rest, escape);
  if (!words.length) throw new DockerfileError(`${cmd} requires at least one argument`);
  const out: [string, string | undefined][] = [];
  if (allowBareKey) {
    for (const w of words) {
      const i = w.indexOf('=');
      out.push(i < 0 ? [w, undefined] : [w.slice(0, i), w.slice(i + 1)]);
    }
  } else if (!words[0]!.includes('=')) {
    // Legacy form: `ENV key value with spaces`: the key is the first word, the value all the rest.
    const m = /^(\S+?)[\t\v\f\r ]+([\s\S]*)$/.exec(rest);
    if (!m) throw new DockerfileError(`${cmd} must have two arguments`);
    out.push([m[1]!, m[2]!]);
  } else {
    for (const w of words) {
      const i = w.indexOf('=');
      if (i < 0) throw new DockerfileError(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
      out.push([w.slice(0, i), w.slice(i + 1)]);
    }
  }
  for (const [k] of out) if (k === '') throw new DockerfileError(`${cmd} names can not be blank`);
  return out;
}

/**
 * docker's ENV/LABEL (`allowBareKey` false) and ARG (`allowBareKey` true) argument parsing:
 * `a=1 b="two words" c=x\ y`, and for ENV/LABEL the legacy `key value with spaces`.
 *
 * Keys and values come back RAW — quotes and escapes still in them — because docker expands each key and
 * value separately after the split (`ENV a='$x'` keeps `$x`, `ENV a=$x` with x="1 2" is one value): pass each
 * through expand(), which removes the quotes and escapes. With `unquoteValues`, quotes and escapes are removed
 * here instead (no variable expansion), for a caller that does not expand. An ARG without `=` gets ''
 * (use parseArgDecls to tell `ARG a` from `ARG a=`).
 */
export function parseKeyValues(text: string, allowBareKey: boolean, unquoteValues = false, escape = '\\'): [string, string][] {
  return rawKeyValues(text, allowBareKey ? 'ARG' : 'ENV', allowBareKey, escape).map(([k, v]) =>
    unquoteValues ? [unquote(k, escape), unquote(v ?? '', escape)] : [k, v ?? '']);
}

/** ARG declarations: `ARG a b=1 c=` → [{name:'a'}, {name:'b', value:'1'}, {name:'c', value:''}], values raw. */
export function parseArgDecls(text: string, escape = '\\'): { name: string; value?: string }[] {
  return rawKeyValues(text, 'ARG', true, escape).map(([name, value]) => (value === undefined ? { name } : { name, value }));
}

// ---------------------------------------------------------------------------------------------------
// Heredocs

/** buildkit's ParseHeredoc: `<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF` as one word; null when it is not one. */
export function parseHeredoc(word: string): Omit<Heredoc, 'body'> | null {
  const m = HEREDOC.exec(word);
  if (!m || m[3] === '') return null;
  const rest = m[3]!;
  // Lexed with and without quote removal: if quotes went away, the delimiter was quoted (no expansion).
  const words = lexWords(rest, '\\', { skipUnset: true });
  if (words.length !== 1) return null;
  const raw = lexWords(rest, '\\', { skipUnset: true, rawQuotes: true });
  if (raw.length !== 1) throw new DockerfileError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return { name: words[0]!, chomp: m[2] === '-', expand: quotes(words[0]!) === quotes(raw[0]!), fd: m[1] ? Number(m[1]) : 0 };
}

/** `<<-EOF`: leading tabs off every line (buildkit's ChompHeredocContent). */
export function chompHeredoc(body: string): string {
  return body.replace(/^\t+/gm, '');
}

function heredocsFromLine(line: string): Omit<Heredoc, 'body'>[] {
  let words: string[];
  try {
    words = lexWords(line, '\\', { rawQuotes: true, rawEscapes: true });
  } catch {
    return []; // docker ignores a lexing error here
  }
  return words.map(parseHeredoc).filter((h): h is Omit<Heredoc, 'body'> => h !== null);
}

/**
 * The shell command docker runs for a shell-form RUN with heredocs (dispatchRun): when the command is
 * only a heredoc (`RUN <<EOF`), the heredoc body itself (chomped for `<<-`); otherwise the line with the
 * heredocs put back after it, for the shell to handle (`RUN cat <<EOF >file`, `RUN python3 <<EOF`).
 * (docker runs a lone heredoc starting with `#!` as a script file instead; this returns its body.)
 */
export function heredocCommand(ins: Instruction): string {
  const cmdline = ins.args[0] ?? '';
  const docs = ins.heredocs ?? [];
  if (!docs.length) return cmdline;
  if (parseHeredoc(cmdline) !== null) return docs[0]!.chomp ? chompHeredoc(docs[0]!.body) : docs[0]!.body;
  let full = cmdline;
  for (const d of docs) full += '\n' + d.body + d.name;
  return full;
}

// ---------------------------------------------------------------------------------------------------
// Lines to instructions

interface Directives {
  escape: string;
  done: boolean;
  seen: Set<string>;
  syntax?: string;
}

function possibleDirective(d: Directives, line: string, lineNo: number): void {
  if (d.done) return;
  const m = DIRECTIVE.exec(line);
  const key = m?.[1]!.toLowerCase();
  if (!m || (key !== 'escape' && key !== 'syntax' && key !== 'check')) {
    d.done = true;
    return;
  }
  if (d.seen.has(key!)) throw new DockerfileError(`only one ${key} parser directive can be used`, lineNo);
  d.seen.add(key!);
  if (key === 'escape') {
    const v = m[2]!;
    if (v !== '`' && v !== '\\') throw new DockerfileError(`invalid escape token '${v}' does not match \` or \\`, lineNo);
    d.escape = v;
  } else if (key === 'syntax') d.syntax = m[2]!;
}

/** buildkit's extractBuilderFlags: leading `--name[=value]` words (quotes removed), and the rest. */
function extractFlags(line: string): [string, string[]] {
  const words: string[] = [];
  let word = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const end = pos === line.length;
    let ch = end ? '' : line[pos]!;
    if (phase === 'spaces') {
      if (end) break;
      if (/\s/.test(ch)) continue;
      if (ch !== '-' || line[pos + 1] !== '-') return [line.slice(pos), words];
      phase = 'word';
    }
    if (end) {
      if (word !== '--' && (blankOK || word.length)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (word === '--') return [line.slice(pos), words];
        if (blankOK || word.length) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      word += ch;
      continue;
    }
    // phase === 'quote'
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos]!;
    }
    word += ch;
  }
  return ['', words];
}

/** buildkit's BFlags.Parse against the instruction's declared flags. */
function parseFlags(cmd: string, words: string[]): { flags: Record<string, string>; list: [string, string][] } {
  const decl = FLAGS[cmd] ?? {};
  const flags: Record<string, string> = {};
  const list: [string, string][] = [];
  for (const w of words) {
    const arg = w.slice(2);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const value = eq < 0 ? '' : arg.slice(eq + 1);
    const type = Object.hasOwn(decl, name) ? decl[name] : undefined;
    if (!type) throw new DockerfileError(`unknown flag: ${name}`);
    if (type !== 'strings' && Object.hasOwn(flags, name)) throw new DockerfileError(`duplicate flag specified: ${name}`);
    if (type === 'bool') {
      if (eq >= 0 && value === '') throw new DockerfileError(`missing a value on flag: ${name}`);
      if (!['true', 'false', ''].includes(value.toLowerCase())) throw new DockerfileError(`expecting boolean value for flag ${name}, not: ${value}`);
    } else if (eq < 0) throw new DockerfileError(`missing a value on flag: ${name}`);
    flags[name] = value;
    list.push([name, value]);
  }
  return { flags, list };
}

const NOT_STRINGS = 'when using JSON array syntax, arrays must be comprised of strings only';

/** buildkit's parseJSON: an array of strings, or null when the text is not JSON (shell form). */
function parseJSON(rest: string): string[] | null {
  const t = trimLeft(rest);
  if (!t.startsWith('[')) return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return null;
  }
  if (!Array.isArray(v)) return null;
  if (!v.every((s) => typeof s === 'string')) throw new DockerfileError(NOT_STRINGS);
  return v as string[];
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

function unknownInstruction(word: string): string {
  const w = word.toLowerCase();
  let best = '';
  let dist = Infinity;
  for (const c of INSTRUCTIONS) {
    const d = levenshtein(w, c);
    if (d < dist) [best, dist] = [c, d];
  }
  const hint = dist <= Math.max(1, Math.floor(w.length / 3)) ? ` (did you mean ${best}?)` : '';
  return `unknown instruction: ${word}${hint}`;
}

/** One logical line (continuations joined) to an Instruction, with docker's per-instruction checks. */
function parseInstruction(line: string, lineNo: number, d: Directives): Instruction {
  const trimmed = line.trim();
  const m = /^(\S+)(?:[\t\v\f\r ]+([\s\S]*))?$/.exec(trimmed)!;
  const keyword = m[1]!;
  const cmd = keyword.toLowerCase();
  const afterKeyword = m[2] ?? '';
  const fail = (msg: string): never => {
    throw new DockerfileError(msg, lineNo);
  };
  if (!(INSTRUCTIONS as readonly string[]).includes(cmd)) fail(unknownInstruction(keyword));

  const [restRaw, flagWords] = extractFlags(afterKeyword);
  const rest = restRaw.trim();
  const ins: Instruction = { cmd: cmd.toUpperCase(), flags: {}, args: [], json: false, original: afterKeyword.trim(), line: lineNo };
  const withFlags = () => {
    try {
      const { flags, list } = parseFlags(cmd, flagWords);
      ins.flags = flags;
      if (list.length) ins.flagList = list;
    } catch (e) {
      fail((e as Error).message);
    }
  };
  const maybeJSON = (): void => {
    if (rest === '') return;
    const j = parseJSON(rest);
    if (j) [ins.args, ins.json] = [j, true];
    else ins.args = [rest];
  };
  const maybeJSONToList = (): void => {
    const j = parseJSON(rest);
    if (j) [ins.args, ins.json] = [j, true];
    else ins.args = splitWords(rest, d.escape);
  };
  const single = (): void => {
    if (rest !== '') ins.args = [rest];
    if (ins.args.length !== 1) fail(`${ins.cmd} requires exactly one argument`);
  };

  try {
    switch (cmd) {
      case 'from':
        ins.args = rest === '' ? [] : rest.split(WS);
        withFlags();
        if (!(ins.args.length === 1 || (ins.args.length === 3 && ins.args[1]!.toLowerCase() === 'as'))) {
          fail('FROM requires either one or three arguments');
        }
        if (ins.args.length === 3 && !STAGE_NAME.test(ins.args[2]!.toLowerCase())) {
          fail(`invalid name for build stage: ${JSON.stringify(ins.args[2])}, name can't start with a number or contain symbols`);
        }
        break;
      case 'run':
      case 'cmd':
      case 'entrypoint':
        maybeJSON();
        withFlags();
        // buildkit's RUN --network check, made while parsing, so a bad value fails before any step runs.
        if (ins.flags.network !== undefined && !['default', 'none', 'host'].includes(ins.flags.network)) fail(`invalid network mode ${JSON.stringify(ins.flags.network)}`);
        break;
      case 'shell':
        maybeJSON();
        withFlags();
        if (!ins.args.length) fail('SHELL requires at least one argument');
        if (!ins.json) fail('SHELL requires the arguments to be in JSON form');
        break;
      case 'copy':
      case 'add':
        maybeJSONToList();
        withFlags();
        if (ins.args.length < 2) fail(`${ins.cmd} requires at least two arguments, but only one was provided. Destination could not be determined`);
        break;
      case 'volume':
        maybeJSONToList();
        withFlags();
        if (!ins.args.length) fail('VOLUME requires at least one argument');
        if (ins.args.some((v) => v.trim() === '')) fail('VOLUME specified can not be an empty string');
        break;
      case 'expose':
        ins.args = splitWords(rest, d.escape);
        withFlags();
        if (!ins.args.length) fail('EXPOSE requires at least one argument');
        break;
      case 'env':
      case 'label':
      case 'arg':
        if (rest === '') fail(`${ins.cmd} requires at least one argument`);
        rawKeyValues(rest, ins.cmd, cmd === 'arg', d.escape); // docker's syntax errors, now
        ins.args = [rest];
        withFlags();
        break;
      case 'maintainer':
      case 'user':
      case 'workdir':
      case 'stopsignal':
        single();
        withFlags();
        break;
      case 'healthcheck': {
        const hm = /^(\S+)\s*([\s\S]*)$/.exec(rest);
        if (!hm) fail('HEALTHCHECK requires at least one argument');
        const typ = hm![1]!.toUpperCase();
        if (typ === 'NONE') {
          if (hm![2] !== '') fail('HEALTHCHECK NONE takes no arguments');
          ins.args = ['NONE'];
          break; // docker does not look at the flags of HEALTHCHECK NONE
        }
        withFlags();
        if (typ !== 'CMD') fail(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`);
        const cmdText = hm![2]!;
        const j = cmdText === '' ? null : parseJSON(cmdText);
        const cmdArgs = j ?? (cmdText === '' ? [] : [cmdText]);
        if (!cmdArgs.length) fail('Missing command after HEALTHCHECK CMD');
        ins.args = ['CMD', ...cmdArgs];
        ins.json = j !== null;
        break;
      }
      case 'onbuild': {
        withFlags();
        if (rest === '') fail('ONBUILD requires at least one argument');
        const trigger = rest.split(WS, 1)[0]!.toUpperCase();
        if (trigger === 'ONBUILD') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
        if (trigger === 'MAINTAINER' || trigger === 'FROM') fail(`${trigger} isn't allowed as an ONBUILD trigger`);
        ins.args = [rest];
        break;
      }
    }
  } catch (e) {
    if (e instanceof DockerfileError && e.line === undefined) fail(e.message);
    throw e;
  }
  return ins;
}

/** Splits as Go's bufio.ScanLines: "\n" ends a line, one "\r" before it is dropped, no empty last line. */
function scanLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

export function parseDockerfile(text: string): Dockerfile {
  if (text.length === 0) throw new DockerfileError('the Dockerfile cannot be empty');
  const lines = scanLines(text.replace(/^\uFEFF/, ''));
  const d: Directives = { escape: '\\', done: false, seen: new Set() };
  const warnings: { message: string; line: number }[] = [];
  const esc = () => (d.escape === '\\' ? '\\\\' : '`');
  const trimContinuation = (s: string): [string, boolean] => {
    const re = new RegExp(esc() + '[ \\t]*$');
    return re.test(s) ? [s.replace(re, ''), false] : [s, true];
  };
  /** buildkit's processLine: left-trim (first line only), directive check, comment lines to ''. */
  const processLine = (raw: string, stripLeft: boolean, lineNo: number): string => {
    const token = stripLeft ? trimLeft(raw) : raw;
    possibleDirective(d, token, lineNo);
    return isComment(token) ? '' : token;
  };

  const instructions: Instruction[] = [];
  let i = 0;
  while (i < lines.length) {
    const first = processLine(lines[i]!, true, i + 1);
    i++;
    const startLine = i;
    let [line, eol] = trimContinuation(first);
    if (eol && line === '') continue;
    let emptyContinuation = false;
    while (!eol && i < lines.length) {
      const raw = lines[i]!;
      const tok = processLine(raw, false, i + 1);
      i++;
      if (isComment(raw)) continue; // comment lines inside a continued instruction are skipped
      if (trimLeft(tok) === '') {
        emptyContinuation = true; // and so are empty ones (docker warns; a future docker may refuse)
        continue;
      }
      const [more, e] = trimContinuation(tok);
      line += more;
      eol = e;
    }
    if (emptyContinuation) warnings.push({ message: `Empty continuation line found in: ${line}`, line: startLine });
    if (line.trim() === '') continue;

    const ins = parseInstruction(line, startLine, d);
    if ((ins.cmd === 'RUN' || ins.cmd === 'COPY' || ins.cmd === 'ADD') && !ins.json && line.includes('<<')) {
      let docs: Omit<Heredoc, 'body'>[];
      try {
        docs = heredocsFromLine(line);
      } catch (e) {
        throw new DockerfileError((e as Error).message, startLine);
      }
      for (const doc of docs) {
        let body = '';
        let terminated = false;
        while (i < lines.length) {
          const raw = lines[i]!;
          i++;
          if ((doc.chomp ? raw.replace(/^\t+/, '') : raw) === doc.name) {
            terminated = true;
            break;
          }
          body += raw + '\n';
        }
        if (!terminated) throw new DockerfileError('unterminated heredoc', startLine);
        (ins.heredocs ??= []).push({ name: doc.name, body, chomp: doc.chomp, expand: doc.expand, fd: doc.fd });
      }
    }
    instructions.push(ins);
  }
  if (!instructions.length) throw new DockerfileError('file with no instructions');

  // Stages (buildkit's instructions.Parse): ARGs before the first FROM are global.
  const df: Dockerfile = { globalArgs: [], stages: [], escape: d.escape };
  if (d.syntax !== undefined) df.syntax = d.syntax;
  if (warnings.length) df.warnings = warnings;
  let stage: Stage | undefined;
  for (const ins of instructions) {
    if (ins.cmd === 'FROM') {
      stage = { index: df.stages.length, from: ins, instructions: [] };
      if (ins.args.length === 3) {
        const name = ins.args[2]!.toLowerCase();
        if (df.stages.some((s) => s.name === name)) throw new DockerfileError(`duplicate stage name ${JSON.stringify(name)}`, ins.line);
        stage.name = name;
      }
      df.stages.push(stage);
    } else if (!stage) {
      if (ins.cmd === 'ARG') df.globalArgs.push(ins);
      else throw new DockerfileError('no build stage in current context', ins.line);
    } else stage.instructions.push(ins);
  }
  if (!df.stages.length) throw new DockerfileError('dockerfile contains no stages to build');
  return df;
}
