/**
 * Docker's shell-like word processing for Dockerfile instructions, after buildkit's
 * frontend/dockerfile/shell/lex.go: variable substitution ($VAR, ${VAR}, ${VAR:-x}, ${VAR:+x}, ${VAR-x},
 * ${VAR+x}, ${VAR?msg}, ${VAR:?msg}, ${VAR#pat}, ${VAR##pat}, ${VAR%pat}, ${VAR%%pat}, ${VAR/pat/repl},
 * ${VAR//pat/repl}), quote removal ('…' literal, "…" with expansion) and escapes (the Dockerfile's escape
 * character, `\` or `` ` ``).
 *
 * Nothing here runs a shell: RUN/CMD/ENTRYPOINT in shell form are not expanded by the builder.
 */
import { DockerfileError } from './types.js';

export type Vars = (name: string) => string | undefined;

interface LexOptions {
  escape: string;
  vars: Vars;
  /** Keep the quote characters in the result (buildkit's RawQuotes). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result (buildkit's RawEscapes). */
  rawEscapes?: boolean;
  /** `$VAR` of an unset variable stays as written (buildkit's SkipUnsetEnv). */
  skipUnset?: boolean;
  /** Treat `$` as an ordinary character (quote and escape removal only). */
  noDollar?: boolean;
}

const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;
export function isSpace(ch: string): boolean {
  return SPACE.test(ch);
}

/** Go's unicode.IsLetter / IsDigit, near enough. */
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

/** buildkit's wordsStruct: words split on unquoted whitespace that did not come from quotes. */
class Words {
  private readonly words: string[] = [];
  private word = '';
  private inWord = false;
  addChar(ch: string): void {
    if (isSpace(ch) && this.inWord) {
      if (this.word.length) this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    } else if (!isSpace(ch)) this.addRawChar(ch);
  }
  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  get(): string[] {
    if (this.word.length) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  constructor(text: string, private readonly o: LexOptions) {
    this.chars = Array.from(text);
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  process(): { result: string; words: string[] } {
    const r = this.processStopOn([], this.o.rawEscapes ?? false);
    return { result: r.result, words: r.words };
  }

  /** Reads up to (and consumes) one of `stops`, or to the end when `stops` is empty. */
  private processStopOn(stops: string[], rawEscapes: boolean): { result: string; words: string[]; stop?: string } {
    let result = '';
    const words = new Words();
    while (this.peek() !== undefined) {
      const ch = this.peek()!;
      if (stops.includes(ch)) {
        this.next();
        return { result, words: words.get(), stop: ch };
      }
      if (ch === '$' && !this.o.noDollar) {
        const v = this.processDollar();
        result += v;
        words.addString(v);
      } else if (ch === "'") {
        const v = this.processSingleQuote();
        result += v;
        words.addRawString(v);
      } else if (ch === '"') {
        const v = this.processDoubleQuote();
        result += v;
        words.addRawString(v);
      } else {
        let c = this.next()!;
        if (c === this.o.escape) {
          if (rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          // The escape character escapes anything, except at the end of the word (then it is dropped).
          const n = this.next();
          if (n === undefined) break;
          c = n;
          words.addRawChar(c);
        } else words.addChar(c);
        result += c;
      }
    }
    if (stops.length) throw new DockerfileError(`unexpected end of statement while looking for matching ${stops.join('')}`);
    return { result, words: words.get() };
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    this.next();
    let result = this.o.rawQuotes ? "'" : '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new DockerfileError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.o.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal up to the next ", except $ expansions; the escape character only escapes " $ and itself.
    this.next();
    let result = this.o.rawQuotes ? '"' : '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new DockerfileError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        if (this.o.rawQuotes) result += ch;
        return result;
      }
      if (ch === '$' && !this.o.noDollar) {
        result += this.processDollar();
        continue;
      }
      let c = this.next()!;
      if (c === this.o.escape) {
        if (this.o.rawEscapes) result += c;
        const n = this.peek();
        if (n === undefined) continue;
        if (n === '"' || n === '$' || n === this.o.escape) c = this.next()!;
      }
      result += c;
    }
  }

  private getEnv(name: string): string | undefined {
    return this.o.vars(name);
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== undefined) {
      const ch = this.peek()!;
      if (name === '' && DIGIT.test(ch)) {
        while (this.peek() !== undefined && DIGIT.test(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && '@*#?-$!0'.includes(ch)) {
        this.next();
        return ch;
      }
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const v = this.getEnv(name);
      if (v === undefined && this.o.skipUnset) return '$' + name;
      return v ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new DockerfileError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new DockerfileError('syntax error: bad substitution');
    const name = this.processName();
    if (this.peek() === undefined) throw new DockerfileError("syntax error: missing '}'");
    let ch = this.next();
    let chs = ch ?? '';
    switch (ch) {
      case '}': {
        const v = this.getEnv(name);
        if (v === undefined && this.o.skipUnset) return `\${${name}}`;
        return v ?? '';
      }
      case ':':
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        let nullIsUnset = false;
        if (ch === ':') {
          nullIsUnset = true;
          ch = this.next();
          chs += ch ?? '';
        }
        const rawEscapes = ch === '#' || ch === '%';
        if (nullIsUnset && rawEscapes) throw new DockerfileError(`unsupported modifier (${chs}) in substitution`);
        let word: string;
        try {
          word = this.processStopOn(['}'], rawEscapes).result;
        } catch (e) {
          if (this.peek() === undefined) throw new DockerfileError("syntax error: missing '}'");
          throw e;
        }
        const value = this.getEnv(name);
        const set = value !== undefined;
        if (this.o.skipUnset && !set) return `\${${name}${chs}${word}}`;
        switch (ch) {
          case '-':
            return !set || (nullIsUnset && value === '') ? word : value;
          case '+':
            return !set || (nullIsUnset && value === '') ? '' : word;
          case '?':
            if (!set) throw new DockerfileError(`${name}: ${word || 'is not allowed to be unset'}`);
            if (nullIsUnset && value === '') throw new DockerfileError(`${name}: ${word || 'is not allowed to be empty'}`);
            return value;
          case '#':
          case '%': {
            // #/% remove the shortest match, ##/%% the longest.
            let greedy = false;
            if (word.startsWith(ch)) {
              greedy = true;
              word = word.slice(1);
            }
            return trimPattern(value ?? '', word, ch === '#' ? 'prefix' : 'suffix', greedy, this.o.escape);
          }
          default:
            throw new DockerfileError(`unsupported modifier (${chs}) in substitution`);
        }
      }
      case '/': {
        const all = this.peek() === '/';
        if (all) this.next();
        let pattern: string;
        let stop: string | undefined;
        let replacement = '';
        try {
          ({ result: pattern, stop } = this.processStopOn(['/', '}'], true));
          if (stop === '/') replacement = this.processStopOn(['}'], false).result;
        } catch (e) {
          if (this.peek() === undefined) throw new DockerfileError("syntax error: missing '}'");
          throw e;
        }
        const value = this.getEnv(name);
        if (this.o.skipUnset && value === undefined) return `\${${name}/${all ? '/' : ''}${pattern}${stop === '/' ? '/' + replacement : ''}}`;
        const re = new RegExp(patternToRegex(pattern, true, this.o.escape), all ? 'gsu' : 'su');
        return (value ?? '').replace(re, () => replacement);
      }
      default:
        throw new DockerfileError(`unsupported modifier (${chs}) in substitution`);
    }
  }
}

/** A shell glob (`*`, `?`, `[…]`, escapes) as a regular expression source, unanchored. */
function patternToRegex(pattern: string, greedy: boolean, escape: string): string {
  let re = '';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === escape && i + 1 < chars.length) re += quoteMeta(chars[++i]!);
    else if (ch === '*') re += greedy ? '.*' : '.*?';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = chars.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = chars.slice(i + 1, end).join('');
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else re += quoteMeta(ch);
  }
  return re;
}

function quoteMeta(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function trimPattern(value: string, pattern: string, side: 'prefix' | 'suffix', longest: boolean, escape: string): string {
  const re = new RegExp('^(?:' + patternToRegex(pattern, true, escape) + ')$', 'su');
  const cps = Array.from(value);
  const n = cps.length;
  if (side === 'prefix') {
    // Shortest: try the shortest prefixes first; longest: the longest first.
    for (let k = 0; k <= n; k++) {
      const len = longest ? n - k : k;
      if (re.test(cps.slice(0, len).join(''))) return cps.slice(len).join('');
    }
  } else {
    for (let k = 0; k <= n; k++) {
      const len = longest ? n - k : k;
      if (re.test(cps.slice(n - len).join(''))) return cps.slice(0, n - len).join('');
    }
  }
  return value;
}

/**
 * Docker's ProcessWord: expands variables in `word` and removes quotes and escapes, returning one string
 * (whitespace, quoted or not, is kept). Unset variables expand to ''. Errors (bad substitution, unmatched
 * quote, `${X:?msg}`) are DockerfileErrors without a line: the caller adds the instruction's.
 */
export function expand(word: string, vars: Vars, escape = '\\'): string {
  return new ShellWord(word, { escape, vars }).process().result;
}

/**
 * Docker's ProcessWords: expands and splits into words on unquoted whitespace. Whitespace produced by a
 * `$VAR` outside quotes splits too; inside quotes it does not. Empty words (`""`) are dropped, as docker's.
 */
export function expandWords(text: string, vars: Vars, escape = '\\'): string[] {
  return new ShellWord(text, { escape, vars }).process().words;
}

/** Quote and escape removal only: `$` is literal. */
export function unquote(word: string, escape = '\\'): string {
  return new ShellWord(word, { escape, vars: () => undefined, noDollar: true }).process().result;
}

/** Internal: buildkit's lexer with its raw options (used for heredoc words). */
export function lexWords(text: string, escape: string, opts: { rawQuotes?: boolean; rawEscapes?: boolean; skipUnset?: boolean }): string[] {
  return new ShellWord(text, { escape, vars: () => undefined, ...opts }).process().words;
}

/**
 * Splits `text` on whitespace outside quotes, keeping the quotes and escape characters in the words
 * (docker's parser parseWords): `a "b c" d\ e` → [`a`, `"b c"`, `d\ e`]. Meant to run BEFORE expand(),
 * which then removes the quotes and escapes of each word, in docker's order. Never throws: an unmatched
 * quote runs to the end of the text.
 */
export function splitWords(text: string, escape = '\\'): string[] {
  const words: string[] = [];
  const chars = Array.from(text);
  let inWord = false;
  let quote = '';
  let word = '';
  let blankOK = false;
  for (let pos = 0; pos < chars.length; pos++) {
    const ch = chars[pos]!;
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote === '') {
      if (isSpace(ch)) {
        if (blankOK || word.length) words.push(word);
        word = '';
        blankOK = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue; // an escape at the very end is dropped
        word += ch + chars[++pos]!;
        continue;
      }
      word += ch;
    } else {
      if (ch === quote) quote = '';
      else if (ch === escape && quote !== "'") {
        // Inside "…" the escape keeps the next character (even a ") in the word; inside '…' it is literal.
        if (pos + 1 === chars.length) continue;
        word += ch + chars[++pos]!;
        continue;
      }
      word += ch;
    }
  }
  if (inWord && (blankOK || word.length)) words.push(word);
  return words;
}
