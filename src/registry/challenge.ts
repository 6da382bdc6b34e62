/** `WWW-Authenticate` challenges (RFC 7235): one header may carry several. */

export interface Challenge {
  scheme: 'bearer' | 'basic' | string;
  params: Record<string, string>;
}

export function parseChallenges(header: string | null): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  // A token, then either `=value` (a parameter of the current challenge) or a new scheme.
  const re = /\s*,?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < header.length && (m = re.exec(header)) !== null) {
    if (m[0].length === 0) break;
    const [, token, quoted, bare] = m;
    if (quoted === undefined && bare === undefined) {
      out.push({ scheme: token!.toLowerCase(), params: {} });
    } else if (out.length) {
      out[out.length - 1]!.params[token!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!;
    }
  }
  return out;
}
