/**
 * .dockerignore, as the docker CLI reads it (moby/patternmatcher: ReadAll, New, MatchesOrParentMatches,
 * MatchesUsingParentResults) and walks the context with it (moby's archive.TarWithOptions).
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface IgnorePattern {
  /** The cleaned pattern, without its `!`. */
  pattern: string;
  /** A `!pattern`: re-includes what it matches. */
  exclusion: boolean;
  match(path: string): boolean;
}

export interface Matcher {
  readonly patterns: readonly IgnorePattern[];
  /** Whether any `!` pattern exists (then an ignored directory may still have to be walked). */
  readonly exclusions: boolean;
  /**
   * Whether `relPath` (relative to the context, `/`-separated) is excluded: the last pattern that matches
   * the path or one of its parent directories decides. `isDir` is accepted for callers' convenience;
   * docker's matching does not look at it (`foo/` is cleaned to `foo` and matches files too).
   */
  ignored(relPath: string, isDir?: boolean): boolean;
}

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
    } else out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

/** patternmatcher.ReadAll: the patterns of a .dockerignore, cleaned, `!` kept in front. */
export function readDockerignore(text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let line of lines) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    // Only a `#` in the very first column makes a comment: docker trims the line after this test, so
    // `  # x` is a pattern (matching a file named "# x").
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? '!' + pattern : pattern);
  }
  return out;
}

function badPattern(): Error {
  return new Error('syntax error in pattern');
}

/** The error cases of Go's filepath.Match, which patternmatcher.New uses to reject a pattern. */
function validate(p: string): void {
  let i = 0;
  for (; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === '\\') {
      if (++i >= p.length) throw badPattern();
    } else if (ch === '[') {
      i++;
      if (p[i] === '^') i++;
      let n = 0;
      for (;;) {
        if (i >= p.length) throw badPattern();
        if (p[i] === ']' && n > 0) break;
        const lo = readClassChar();
        let hi = lo;
        if (p[i] === '-') {
          i++;
          hi = readClassChar();
        }
        if (hi < lo) throw badPattern();
        n++;
      }
    }
  }
  function readClassChar(): string {
    let c = p[i];
    if (c === undefined || c === '-' || c === ']') throw badPattern();
    if (c === '\\') {
      c = p[++i];
      if (c === undefined) throw badPattern();
    }
    i++;
    return c;
  }
}

const REGEX_ESCAPE = '.+()|{}$';

function compile(pattern: string): (path: string) => boolean {
  let re = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  const chars = Array.from(pattern);
  for (let i = 0, n = 0; i < chars.length; i++, n++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++; // `**/` is `**`
        if (i + 1 >= chars.length) {
          // a trailing `**` matches everything below, as .gitignore's
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (n === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (REGEX_ESCAPE.includes(ch)) {
      re += '\\' + ch;
    } else if (ch === '\\') {
      if (i + 1 < chars.length) {
        re += '\\' + chars[++i]!;
        type = 'regexp';
      } else re += '\\\\';
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else re += ch;
  }
  switch (type) {
    case 'exact':
      return (p) => p === pattern;
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return (p) => p.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      // `**/foo` matches "foo" too
      return (p) => p.endsWith(suffix) || (suffix.startsWith('/') && p === suffix.slice(1));
    }
    case 'regexp': {
      let rx: RegExp;
      try {
        rx = new RegExp(re + '$');
      } catch {
        throw badPattern();
      }
      return (p) => rx.test(p);
    }
  }
}

/** patternmatcher.New: patterns as ReadAll returns them. Throws on a bad pattern, as docker does. */
export function newMatcher(lines: string[]): Matcher {
  const patterns: IgnorePattern[] = [];
  for (let p of lines) {
    p = p.trim();
    if (p === '') continue;
    p = cleanPath(p);
    let exclusion = false;
    if (p.startsWith('!')) {
      if (p.length === 1) throw new Error('illegal exclusion pattern: "!"');
      exclusion = true;
      p = p.slice(1);
    }
    validate(p);
    patterns.push({ pattern: p, exclusion, match: compile(p) });
  }
  const exclusions = patterns.some((p) => p.exclusion);
  return {
    patterns,
    exclusions,
    ignored(relPath: string): boolean {
      let file = cleanPath(relPath);
      while (file.startsWith('/')) file = file.slice(1) || '.';
      return matchesOrParentMatches(patterns, file);
    },
  };
}

/** parseDockerignore(text) = newMatcher(readDockerignore(text)). */
export function parseDockerignore(text: string): Matcher {
  return newMatcher(readDockerignore(text));
}

function parentDirs(file: string): string[] {
  const i = file.lastIndexOf('/');
  if (i < 0) return [];
  const parts = file.slice(0, i).split('/');
  return parts.map((_, k) => parts.slice(0, k + 1).join('/'));
}

function matchesOrParentMatches(patterns: readonly IgnorePattern[], file: string): boolean {
  let matched = false;
  const parents = parentDirs(file);
  for (const p of patterns) {
    // An inclusion need not be tested once matched, nor an exclusion before.
    if (p.exclusion !== matched) continue;
    const match = p.match(file) || parents.some((d) => p.match(d));
    if (match) matched = !p.exclusion;
  }
  return matched;
}

/** MatchesUsingParentResults: as above, but reusing which patterns matched the parent directory. */
function matchesUsingParentResults(patterns: readonly IgnorePattern[], file: string, parent: boolean[] | undefined): [boolean, boolean[]] {
  const current: boolean[] = new Array<boolean>(patterns.length).fill(false);
  let matched = false;
  patterns.forEach((p, i) => {
    let match = parent?.[i] ?? false;
    if (!match) {
      if (p.exclusion !== matched) return;
      match = p.match(file);
      if (!match && !parent) match = parentDirs(file).some((d) => p.match(d));
    }
    current[i] = match;
    if (match) matched = !p.exclusion;
  });
  return [matched, current];
}

/**
 * The context entries docker would send: relative `/`-separated paths of the files, directories and
 * symlinks (not followed) that the matcher keeps, sorted. As docker, an ignored directory is not walked
 * unless an exclusion pattern starts with its path (`!dir/keep`), and is itself left out even then; a
 * pattern like `!*\/keep` does not make docker walk an ignored directory.
 */
export async function walkContext(dir: string, matcher: Matcher): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string, parent: boolean[] | undefined): Promise<void> => {
    const entries: Dirent[] = await readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      const [skip, info] = matchesUsingParentResults(matcher.patterns, relPath, parent);
      const isDir = e.isDirectory();
      if (skip) {
        if (!isDir || !matcher.exclusions) continue;
        const dirSlash = relPath + '/';
        if (!matcher.patterns.some((p) => p.exclusion && (p.pattern + '/').startsWith(dirSlash))) continue;
      } else out.push(relPath);
      if (isDir) await walk(join(abs, e.name), relPath, info);
    }
  };
  await walk(dir, '', undefined);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
