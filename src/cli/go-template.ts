/**
 * A Go text/template engine for `--format`: the language (`{{.A.B}}`, pipelines, `$x := …`,
 * `if`/`else if`/`else`, `range` with `$i, $v :=` and `else`, `with`, `break`/`continue`,
 * parenthesised pipelines, `{{-`/`-}}` trimming, comments), Go's builtins (`and or not eq ne lt le
 * gt ge len index slice print printf println`) and the docker CLI's own functions (`json split join
 * title lower upper pad truncate`). Values print as Go's fmt prints decoded JSON (`[a b]`,
 * `map[k:v]`); a field name finds a key that differs only in case (Go's `ID` for the JSON's `Id`);
 * a missing key of a map is `<no value>` (or, with `missingKey: 'error'`, Go's error, as `inspect -f` has it),
 * a missing field of a struct (an object made with `goStruct`) is an error, as in docker. Object properties that are functions are methods:
 * `{{.Label "com.example.x"}}` calls them with the arguments.
 */

export class TemplateError extends Error {}

const STRUCT = Symbol('go-struct');

/** Marks an object as a Go struct: asking for a field it lacks is an error, not `<no value>`. */
export function goStruct<T extends object>(o: T, typeName = 'formatter.Context'): T {
  Object.defineProperty(o, STRUCT, { value: typeName, enumerable: false });
  return o;
}

// ---------------------------------------------------------------- lexing

/** Where a field chain is, for Go's error (`template: :1:9: executing "" at <.A.B>`): line, column, the chain's text. */
interface Where { line: number; col: number; text: string }

type Tok =
  | { k: 'field'; v: string[]; at: Where } // .A.B, or [] for "."
  | { k: 'var'; v: string; chain: string[]; at: Where }
  | { k: 'ident'; v: string }
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'nil' }
  | { k: '(' } | { k: ')' } | { k: '|' } | { k: ':=' } | { k: '=' } | { k: ',' }
  | { k: 'chain'; v: string[] }; // .Field after a closing parenthesis

type Piece = { text: string } | { action: Tok[]; src: string; line: number };

function lexAction(src: string, line: number, place: (offset: number) => { line: number; col: number } = () => ({ line, col: 0 })): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const err = (m: string) => new TemplateError(`template: :${line}: ${m}`);
  let starts: number[] = [];
  const fieldChain = (): string[] => {
    const out: string[] = [];
    starts = [];
    while (src[i] === '.') {
      starts.push(i);
      i++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      if (!m) { if (out.length === 0) return out; throw err(`bad character ${JSON.stringify(src[i] ?? 'EOF')}`); }
      out.push(m[0]);
      i += m[0].length;
    }
    return out;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(' || c === ')' || c === '|' || c === ',') {
      toks.push({ k: c } as Tok);
      i++;
      if (c === ')' && src[i] === '.') toks.push({ k: 'chain', v: fieldChain() });
      continue;
    }
    if (c === ':' && src[i + 1] === '=') { toks.push({ k: ':=' }); i += 2; continue; }
    if (c === '=') { toks.push({ k: '=' }); i++; continue; }
    if (c === '"') {
      let j = i + 1; let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') {
          const n = src[j + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0' };
          if (n === undefined || !(n in map)) throw err('unknown escape sequence');
          s += map[n]; j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw err('unterminated quoted string');
      toks.push({ k: 'str', v: s }); i = j + 1; continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw err('unterminated raw quoted string');
      toks.push({ k: 'str', v: src.slice(i + 1, j) }); i = j + 1; continue;
    }
    if (c === '.') {
      if (/[0-9]/.test(src[i + 1] ?? '')) {
        const m = /^\.[0-9]+/.exec(src.slice(i))!;
        toks.push({ k: 'num', v: Number(m[0]) }); i += m[0].length; continue;
      }
      const from = i;
      const chain = fieldChain();
      if (chain.length === 0) i++; // a lone "."
      // Go's parser places a chain at its second link (where the chain node starts), a lone field at itself.
      toks.push({ k: 'field', v: chain, at: { ...place(starts[1] ?? from), text: src.slice(from, i) } });
      continue;
    }
    if (c === '$') {
      const from = i;
      const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(i))!;
      i += m[0].length;
      const chain = fieldChain();
      toks.push({ k: 'var', v: m[0], chain, at: { ...place(starts[0] ?? from), text: src.slice(from, i) } });
      continue;
    }
    const num = /^[-+]?(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?)/.exec(src.slice(i));
    if (num) { toks.push({ k: 'num', v: Number(num[0]) }); i += num[0].length; continue; }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      i += id[0].length;
      if (id[0] === 'true' || id[0] === 'false') toks.push({ k: 'bool', v: id[0] === 'true' });
      else if (id[0] === 'nil') toks.push({ k: 'nil' });
      else toks.push({ k: 'ident', v: id[0] });
      continue;
    }
    throw err(`unexpected ${JSON.stringify(c)} in command`);
  }
  return toks;
}

function lex(src: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) { if (text) out.push({ text }); break; }
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) { text = text.replace(/\s+$/, ''); start += 2; }
    if (text) out.push({ text });
    const line = src.slice(0, open).split('\n').length;
    // Find the closing delimiter outside quotes.
    let j = start; let q = '';
    for (; j < src.length; j++) {
      const ch = src[j]!;
      if (q) { if (ch === '\\' && q === '"') j++; else if (ch === q) q = ''; continue; }
      if (ch === '"' || ch === '`') { q = ch; continue; }
      if (src.startsWith('}}', j)) break;
    }
    if (j >= src.length) throw new TemplateError(`template: :${line}: unclosed action`);
    let inner = src.slice(start, j);
    if (/\s-$/.test(inner)) { inner = inner.slice(0, -2); trimNext = true; }
    i = j + 2;
    if (/^\s*\/\*[\s\S]*\*\/\s*$/.test(inner)) continue; // a comment
    // Go's ErrorContext: the line, and the byte offset within it.
    const place = (offset: number) => {
      const abs = start + offset;
      return { line: src.slice(0, abs).split('\n').length, col: abs - (src.lastIndexOf('\n', abs - 1) + 1) };
    };
    out.push({ action: lexAction(inner, line, place), src: inner.trim(), line });
  }
  return out;
}

// ---------------------------------------------------------------- parsing

type Arg =
  | { k: 'field'; chain: string[]; at?: Where }
  | { k: 'var'; name: string; chain: string[]; at?: Where }
  | { k: 'ident'; name: string }
  | { k: 'lit'; v: unknown }
  | { k: 'pipe'; pipe: Pipe; chain: string[] };
interface Cmd { args: Arg[] }
interface Pipe { decl: string[]; assign: boolean; cmds: Cmd[] }
type Node =
  | { k: 'text'; text: string }
  | { k: 'action'; pipe: Pipe }
  | { k: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; else?: Node[] }
  | { k: 'break' } | { k: 'continue' };

const BUILTINS = new Set(['and', 'or', 'not', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'len', 'index', 'slice', 'print', 'printf', 'println', 'json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate', 'urlquery', 'html', 'js', 'call']);

function parsePipe(toks: Tok[], line: number, allowDecl: boolean): Pipe {
  let pos = 0;
  const err = (m: string) => new TemplateError(`template: :${line}: ${m}`);
  const decl: string[] = [];
  let assign = false;
  // `$x :=`, `$i, $v :=`, `$x =`
  if (allowDecl && toks[0]?.k === 'var') {
    let p = 0; const names: string[] = [];
    while (toks[p]?.k === 'var' && (toks[p] as { chain: string[] }).chain.length === 0) {
      names.push((toks[p] as { v: string }).v); p++;
      if (toks[p]?.k === ',') { p++; continue; }
      break;
    }
    if (names.length && (toks[p]?.k === ':=' || toks[p]?.k === '=')) {
      decl.push(...names); assign = toks[p]!.k === '='; pos = p + 1;
    }
  }
  const parseCmds = (stopAtParen: boolean): Cmd[] => {
    const cmds: Cmd[] = [];
    let args: Arg[] = [];
    for (;;) {
      const t = toks[pos];
      if (!t || (stopAtParen && t.k === ')')) break;
      pos++;
      switch (t.k) {
        case '|':
          if (!args.length) throw err('missing command');
          cmds.push({ args }); args = []; break;
        case 'field': args.push({ k: 'field', chain: t.v, at: t.at }); break;
        case 'var': args.push({ k: 'var', name: t.v, chain: t.chain, at: t.at }); break;
        case 'ident':
          if (!BUILTINS.has(t.v)) throw err(`function "${t.v}" not defined`);
          args.push({ k: 'ident', name: t.v }); break;
        case 'str': case 'num': case 'bool': args.push({ k: 'lit', v: t.v }); break;
        case 'nil': args.push({ k: 'lit', v: null }); break;
        case '(': {
          const inner = parseCmds(true);
          if (toks[pos]?.k !== ')') throw err('unclosed left paren');
          pos++;
          let chain: string[] = [];
          if (toks[pos]?.k === 'chain') { chain = (toks[pos] as { v: string[] }).v; pos++; }
          args.push({ k: 'pipe', pipe: { decl: [], assign: false, cmds: inner }, chain });
          break;
        }
        default: throw err(`unexpected "${t.k}" in command`);
      }
    }
    if (args.length) cmds.push({ args });
    else if (cmds.length) throw err('missing command');
    return cmds;
  };
  const cmds = parseCmds(false);
  if (pos < toks.length) throw err(`unexpected "${toks[pos]!.k}" in operand`);
  if (!cmds.length) throw err('missing value for command');
  return { decl, assign, cmds };
}

function parse(src: string): Node[] {
  const pieces = lex(src);
  let i = 0;
  // Returns the list and what ended it: 'end', 'else' (with the rest of the else action), or EOF.
  const list = (depth: number): { nodes: Node[]; end: 'end' | 'else' | 'eof'; elseToks?: Tok[]; line?: number } => {
    const nodes: Node[] = [];
    while (i < pieces.length) {
      const p = pieces[i++]!;
      if ('text' in p) { nodes.push({ k: 'text', text: p.text }); continue; }
      const [first, ...rest] = p.action;
      const kw = first?.k === 'ident' ? first.v : '';
      if (kw === 'end') {
        if (depth === 0) throw new TemplateError(`template: :${p.line}: unexpected {{end}}`);
        return { nodes, end: 'end' };
      }
      if (kw === 'else') {
        if (depth === 0) throw new TemplateError(`template: :${p.line}: unexpected {{else}}`);
        return { nodes, end: 'else', elseToks: rest, line: p.line };
      }
      if (kw === 'break' || kw === 'continue') { nodes.push({ k: kw }); continue; }
      if (kw === 'if' || kw === 'with' || kw === 'range') { nodes.push(control(kw, rest, p.line, depth)); continue; }
      if (['define', 'template', 'block'].includes(kw)) throw new TemplateError(`template: :${p.line}: {{${kw}}} is not supported by berth`);
      if (!p.action.length) throw new TemplateError(`template: :${p.line}: missing value for command`);
      nodes.push({ k: 'action', pipe: parsePipe(p.action, p.line, true) });
    }
    if (depth > 0) throw new TemplateError('template: :1: unexpected EOF');
    return { nodes, end: 'eof' };
  };
  const control = (kw: 'if' | 'with' | 'range', toks: Tok[], line: number, depth: number): Node => {
    if (!toks.length) throw new TemplateError(`template: :${line}: missing value for ${kw}`);
    const pipe = parsePipe(toks, line, true);
    const body = list(depth + 1);
    const node: Node = { k: kw, pipe, list: body.nodes };
    if (body.end === 'else') {
      const et = body.elseToks ?? [];
      if (et.length && et[0]!.k === 'ident' && ((et[0] as { v: string }).v === 'if' || (et[0] as { v: string }).v === 'with')) {
        // `{{else if …}}` is an if inside the else branch, closed by the same {{end}}.
        node.else = [control((et[0] as { v: 'if' | 'with' }).v, et.slice(1), body.line!, depth)];
      } else {
        if (et.length) throw new TemplateError(`template: :${body.line}: unexpected tokens after else`);
        const eb = list(depth + 1);
        if (eb.end !== 'end') throw new TemplateError(`template: :${body.line}: expected end; found else`);
        node.else = eb.nodes;
      }
    }
    return node;
  };
  return list(0).nodes;
}

// ---------------------------------------------------------------- values

/** Go's fmt %v for decoded JSON and the formatter's values. */
export function goString(v: unknown, top = true): string {
  if (v instanceof GoNil) return '<nil>';
  if (v === undefined) return top ? '<no value>' : '<nil>';
  if (v === null) return top ? '<no value>' : '<nil>';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map((x) => goString(x, false)).join(' ')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => typeof (v as Record<string, unknown>)[k] !== 'function').sort();
    return `map[${keys.map((k) => `${k}:${goString((v as Record<string, unknown>)[k], false)}`).join(' ')}]`;
  }
  return String(v);
}

function truth(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '' || v instanceof GoNil) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !(STRUCT in v)) return Object.keys(v).length > 0;
  return true;
}

function jsonOf(v: unknown): string {
  // docker's json: encoding/json without HTML escaping; functions (methods) are not data.
  const s = JSON.stringify(v === undefined ? null : v, (_k, x: unknown) => (typeof x === 'function' ? undefined : x)) ?? 'null';
  // A formatter row marshals itself with encoding/json's defaults, which do escape (`<none>` is `\u003cnone\u003e`).
  if (!(v && typeof v === 'object' && STRUCT in v)) return s;
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : goString(v);
}

function cmp(name: string, a: unknown, b: unknown): number {
  if (typeof a !== typeof b && !(a === null || b === null)) throw new TemplateError(`error calling ${name}: incompatible types for comparison`);
  if (typeof a === 'number' || typeof a === 'string') return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  throw new TemplateError(`error calling ${name}: invalid type for comparison`);
}

function sprintf(format: string, args: unknown[]): string {
  let ai = 0;
  return format.replace(/%([-+# 0]*)(\d+)?(?:\.(\d+))?([%vsdqfxXtT])/g, (_m, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    const a = args[ai++];
    let s: string;
    switch (verb) {
      case 'd': s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeof a}=${str(a)})`; break;
      case 'f': s = typeof a === 'number' ? a.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${typeof a}=${str(a)})`; break;
      case 'q': s = JSON.stringify(str(a)); break;
      case 'x': case 'X': s = typeof a === 'number' ? a.toString(16) : Buffer.from(str(a)).toString('hex'); if (verb === 'X') s = s.toUpperCase(); break;
      case 't': s = String(a); break;
      case 'T': s = a === null || a === undefined ? '<nil>' : Array.isArray(a) ? '[]interface {}' : typeof a === 'object' ? 'map[string]interface {}' : typeof a === 'number' ? 'float64' : typeof a; break;
      default: s = str(a); if (prec !== undefined && verb === 's') s = s.slice(0, Number(prec));
    }
    const w = width ? Number(width) : 0;
    if (s.length < w) s = flags.includes('-') ? s.padEnd(w) : flags.includes('0') && /[dfxX]/.test(verb) ? s.padStart(w, '0') : s.padStart(w);
    return s;
  }) + (ai < args.length ? `%!(EXTRA ${args.slice(ai).map(str).join(', ')})` : '');
}

/** fmt.Sprint: a space between operands when neither side is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += str(a);
  });
  return out;
}

export type Funcs = Record<string, (...args: unknown[]) => unknown>;

export const FUNCS: Funcs = {
  json: (v) => jsonOf(v),
  split: (s, sep) => str(s).split(str(sep)),
  join: (a, sep) => {
    if (!Array.isArray(a)) throw new TemplateError(`error calling join: wrong type for value; expected []string; got ${typeof a === 'string' ? 'string' : typeof a}`);
    return a.map(str).join(str(sep));
  },
  title: (s) => str(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  lower: (s) => str(s).toLowerCase(),
  upper: (s) => str(s).toUpperCase(),
  pad: (s, before, after) => ' '.repeat(Number(before)) + str(s) + ' '.repeat(Number(after)),
  truncate: (s, n) => { const t = str(s); return [...t].length > Number(n) ? [...t].slice(0, Number(n)).join('') : t; },
  len: (v) => {
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new TemplateError(`error calling len: len of ${v === null || v === undefined ? 'nil pointer' : `type ${typeof v}`}`);
  },
  index: (v, ...keys) => {
    let x: unknown = v;
    for (const k of keys) {
      if (Array.isArray(x) || typeof x === 'string') {
        const n = Number(k);
        if (!Number.isInteger(n) || n < 0 || n >= x.length) throw new TemplateError(`error calling index: index out of range: ${str(k)}`);
        x = x[n];
      } else if (x && typeof x === 'object') x = (x as Record<string, unknown>)[str(k)];
      else throw new TemplateError(`error calling index: can't index item of type ${x === null || x === undefined ? 'nil' : typeof x}`);
    }
    return x;
  },
  slice: (v, ...idx) => {
    if (!Array.isArray(v) && typeof v !== 'string') throw new TemplateError('error calling slice: can\'t slice item');
    const [a, b] = idx.map(Number);
    return v.slice(a ?? 0, b);
  },
  not: (v) => !truth(v),
  eq: (a, ...bs) => {
    if (!bs.length) throw new TemplateError('error calling eq: missing argument for comparison');
    return bs.some((b) => (a ?? null) === (b ?? null));
  },
  ne: (a, b) => (a ?? null) !== (b ?? null),
  lt: (a, b) => cmp('lt', a, b) < 0,
  le: (a, b) => cmp('le', a, b) <= 0,
  gt: (a, b) => cmp('gt', a, b) > 0,
  ge: (a, b) => cmp('ge', a, b) >= 0,
  print: (...a) => sprint(a),
  println: (...a) => `${a.map(str).join(' ')}\n`,
  printf: (f, ...a) => sprintf(str(f), a),
  urlquery: (...a) => encodeURIComponent(sprint(a)),
  html: (...a) => sprint(a).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!),
  js: (...a) => JSON.stringify(sprint(a)).slice(1, -1),
  call: (fn, ...a) => {
    if (typeof fn !== 'function') throw new TemplateError('error calling call: non-function');
    return (fn as (...x: unknown[]) => unknown)(...a);
  },
};

/** The docker CLI's functions for a table's header row: they leave the column names as they are. */
export const HEADER_FUNCS: Funcs = {
  ...FUNCS,
  json: (v) => str(v), split: (v) => str(v), join: (v) => str(v), title: (v) => str(v), lower: (v) => str(v), upper: (v) => str(v), truncate: (v) => str(v),
};

// ---------------------------------------------------------------- execution

/**
 * The docker CLI runs inspect's template on docker's Go types first, and only when that fails on the JSON as a map
 * with missingkey=error. So a key missing from one of the types' own maps (labels, options, ports by name) prints
 * `<no value>`, while a field no type has is an error: these are the maps, by the field that holds them.
 */
const GO_MAPS = new Set(['Labels', 'ExposedPorts', 'Volumes', 'PortBindings', 'Sysctls', 'StorageOpt', 'Annotations', 'Tmpfs',
  'Networks', 'Ports', 'Data', 'Options', 'Containers', 'DriverOpts', 'Status', 'AuxiliaryAddresses', 'LogConfig.Config']);

/**
 * Field names of docker's inspect types (containers, images, networks, volumes) that a document may lack (omitempty,
 * or not kept by berth): the typed template prints their zero value where the map one would fail, so only a chain
 * that goes on past a missing one (a nil pointer in the typed run) fails.
 */
const DOCKER_FIELDS = new Set([
  'Aliases', 'Annotations', 'AppArmorProfile', 'Architecture', 'Args', 'ArgsEscaped', 'AttachStderr', 'AttachStdin',
  'AttachStdout', 'Attachable', 'Author', 'AutoRemove', 'Binds', 'BlkioDeviceReadBps', 'BlkioDeviceReadIOps',
  'BlkioDeviceWriteBps', 'BlkioDeviceWriteIOps', 'BlkioWeight', 'BlkioWeightDevice', 'Bridge', 'CapAdd', 'CapDrop',
  'Cgroup', 'CgroupParent', 'CgroupnsMode', 'ClusterVolume', 'Cmd', 'Comment', 'Config', 'ConfigFrom', 'ConfigOnly',
  'ConsoleSize', 'Container', 'ContainerConfig', 'ContainerIDFile', 'Containers', 'CpuCount', 'CpuPercent',
  'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpuShares', 'CpusetCpus', 'CpusetMems',
  'Created', 'CreatedAt', 'DNSNames', 'Data', 'Dead', 'Descriptor', 'DeviceCgroupRules', 'DeviceRequests', 'Devices',
  'Dns', 'DnsOptions', 'DnsSearch', 'DockerVersion', 'Domainname', 'Driver', 'DriverOpts', 'EnableIPv4',
  'EnableIPv6', 'EndpointID', 'Entrypoint', 'Env', 'Error', 'ExecIDs', 'ExitCode', 'ExposedPorts', 'ExtraHosts',
  'FinishedAt', 'Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'GraphDriver', 'GroupAdd', 'HairpinMode',
  'Health', 'Healthcheck', 'HostConfig', 'Hostname', 'HostnamePath', 'HostsPath', 'IOMaximumBandwidth',
  'IOMaximumIOps', 'IPAM', 'IPAMConfig', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'Id', 'Image',
  'ImageManifestDescriptor', 'Ingress', 'Init', 'Internal', 'IpcMode', 'Isolation', 'Labels', 'LastTagTime',
  'Layers', 'LinkLocalIPv6Address', 'LinkLocalIPv6PrefixLen', 'Links', 'LogConfig', 'LogPath', 'MacAddress',
  'Manifests', 'MaskedPaths', 'MaximumRetryCount', 'Memory', 'MemoryReservation', 'MemorySwap', 'MemorySwappiness',
  'Metadata', 'MountLabel', 'Mountpoint', 'Mounts', 'Name', 'NanoCpus', 'NetworkDisabled', 'NetworkID',
  'NetworkMode', 'NetworkSettings', 'Networks', 'OOMKilled', 'OnBuild', 'OomKillDisable', 'OomScoreAdj',
  'OpenStdin', 'Options', 'Os', 'OsVersion', 'Parent', 'Path', 'Paused', 'Peers', 'Pid', 'PidMode', 'PidsLimit',
  'Platform', 'PortBindings', 'Ports', 'Privileged', 'ProcessLabel', 'PublishAllPorts', 'ReadonlyPaths',
  'ReadonlyRootfs', 'RepoDigests', 'RepoTags', 'ResolvConfPath', 'RestartCount', 'RestartPolicy', 'Restarting',
  'RootFS', 'Running', 'Runtime', 'SandboxID', 'SandboxKey', 'Scope', 'SecondaryIPAddresses',
  'SecondaryIPv6Addresses', 'SecurityOpt', 'Services', 'Shell', 'ShmSize', 'Size', 'SizeRootFs', 'SizeRw',
  'StartedAt', 'State', 'Status', 'StdinOnce', 'StopSignal', 'StopTimeout', 'Subnet', 'Tty', 'Type', 'UTSMode',
  'Ulimits', 'UsageData', 'User', 'UsernsMode', 'Variant', 'VirtualSize', 'VolumeDriver', 'Volumes', 'VolumesFrom',
  'WorkingDir',
]);

/** A nil pointer of docker's types: prints `<nil>`, is false, and is null in json. */
class GoNil { toJSON(): null { return null; } }
const GO_NIL = new GoNil();

/** What the typed template prints for docker's omitempty fields when a document lacks them (others: `<no value>`). */
const OMITTED: Record<string, unknown> = {
  Health: GO_NIL, Healthcheck: GO_NIL, SizeRw: GO_NIL, SizeRootFs: GO_NIL, StopTimeout: GO_NIL, Init: GO_NIL,
  ImageManifestDescriptor: GO_NIL, Descriptor: GO_NIL, ClusterVolume: GO_NIL, UsageData: GO_NIL,
  Variant: '', OsVersion: '', StopSignal: '', MacAddress: '', Comment: '', DockerVersion: '', Author: '', Parent: '',
  ArgsEscaped: false, NetworkDisabled: false, Shell: [], OnBuild: [], ExecIDs: [], Annotations: {},
};

function goMap(path: string[]): boolean {
  const last = path.at(-1);
  return !!last && (GO_MAPS.has(last) || GO_MAPS.has(path.slice(-2).join('.')));
}

class Break { }
class Continue { }

interface Scope { vars: [string, unknown][] }

class Exec {
  out = '';
  constructor(private readonly funcs: Funcs, private readonly strict = false, private readonly rootType?: string) {}

  field(recv: unknown, name: string, args: unknown[] | undefined, final: unknown, hasFinal: boolean, at?: Where, path: string[] = [], last = true): unknown {
    const fail = (why: string) => new TemplateError(`template: :${at?.line ?? 1}:${at?.col ?? 0}: executing "" at <${at?.text ?? `.${name}`}>: ${why}`);
    // Lenient where Go would say "nil pointer evaluating": a field of a missing value is missing too (`<no value>`).
    if (recv === null || recv === undefined) {
      // A nil Go map answers every key with its zero value; a nil pointer fails.
      if (this.strict && !goMap(path)) throw fail(`nil pointer evaluating interface {}.${name}`);
      return undefined;
    }
    if (typeof recv !== 'object') throw new TemplateError(`template: executing: can't evaluate field ${name} in type ${typeof recv}`);
    const o = recv as Record<string | symbol, unknown>;
    // docker runs templates on Go structs, whose field names differ from the JSON's keys only in case
    // (`ID` is `Id`, `APIVersion` is `ApiVersion`): an exported name not in the JSON finds its key that way.
    if (!(name in o) && /^[A-Z]/.test(name) && !Array.isArray(recv)) {
      const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
      if (key !== undefined) name = key;
    }
    const v = o[name];
    if (typeof v === 'function') {
      const a = [...(args ?? []), ...(hasFinal ? [final] : [])];
      return (v as (...x: unknown[]) => unknown).apply(recv, a);
    }
    if (args?.length || hasFinal) throw new TemplateError(`template: executing: ${name} has arguments but cannot be invoked as function`);
    if (!(name in o) && STRUCT in o && !Array.isArray(recv)) throw new TemplateError(`template: executing: can't evaluate field ${name} in type ${String(o[STRUCT])}`);
    if (!(name in o) && this.strict && !Array.isArray(recv) && !goMap(path)) {
      if (last && DOCKER_FIELDS.has(name)) return OMITTED[name];
      throw fail(this.rootType && !path.length ? `can't evaluate field ${name} in type ${this.rootType}` : `map has no entry for key ${JSON.stringify(name)}`);
    }
    return v;
  }

  chain(v: unknown, chain: string[], args?: unknown[], final?: unknown, hasFinal = false, at?: Where): unknown {
    let x = v;
    chain.forEach((name, i) => {
      const last = i === chain.length - 1;
      x = this.field(x, name, last ? args : undefined, final, last && hasFinal, at, chain.slice(0, i), last);
    });
    return x;
  }

  lookupVar(scope: Scope, name: string): unknown {
    for (let i = scope.vars.length - 1; i >= 0; i--) if (scope.vars[i]![0] === name) return scope.vars[i]![1];
    throw new TemplateError(`template: undefined variable: ${name}`);
  }

  arg(a: Arg, dot: unknown, scope: Scope): unknown {
    switch (a.k) {
      case 'field': return a.chain.length ? this.chain(dot, a.chain, undefined, undefined, false, a.at) : dot;
      case 'var': return this.chain(this.lookupVar(scope, a.name), a.chain, undefined, undefined, false, a.at);
      case 'lit': return a.v;
      case 'pipe': return this.chain(this.pipe(a.pipe, dot, scope), a.chain);
      case 'ident': {
        const f = this.funcs[a.name]!;
        return f();
      }
    }
  }

  cmd(c: Cmd, dot: unknown, scope: Scope, final: unknown, hasFinal: boolean): unknown {
    const [head, ...rest] = c.args;
    if (head!.k === 'ident') {
      const name = head!.name;
      if (name === 'and' || name === 'or') {
        // Short-circuit, returning the deciding value, as Go 1.18+.
        const operands: (() => unknown)[] = rest.map((r) => () => this.arg(r, dot, scope));
        if (hasFinal) operands.push(() => final);
        let v: unknown;
        for (const op of operands) {
          v = op();
          if (name === 'and' ? !truth(v) : truth(v)) return v;
        }
        return v;
      }
      const args = rest.map((r) => this.arg(r, dot, scope));
      if (hasFinal) args.push(final);
      try {
        return this.funcs[name]!(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        throw new TemplateError(`template: error calling ${name}: ${(e as Error).message}`);
      }
    }
    if (head!.k === 'field' && head!.chain.length) {
      const args = rest.map((r) => this.arg(r, dot, scope));
      return this.chain(dot, head!.chain, args, final, hasFinal, head!.at);
    }
    if (head!.k === 'var' && head!.chain.length) {
      const args = rest.map((r) => this.arg(r, dot, scope));
      return this.chain(this.lookupVar(scope, head!.name), head!.chain, args, final, hasFinal, head!.at);
    }
    if (rest.length || hasFinal) throw new TemplateError(`template: can't give argument to non-function ${head!.k === 'lit' ? JSON.stringify(head!.v) : '.'}`);
    return this.arg(head!, dot, scope);
  }

  pipe(p: Pipe, dot: unknown, scope: Scope): unknown {
    let v: unknown; let has = false;
    for (const c of p.cmds) { v = this.cmd(c, dot, scope, v, has); has = true; }
    if (p.decl.length === 1) {
      if (p.assign) {
        const i = scope.vars.map((x) => x[0]).lastIndexOf(p.decl[0]!);
        if (i < 0) throw new TemplateError(`template: undefined variable: ${p.decl[0]}`);
        scope.vars[i]![1] = v;
      } else scope.vars.push([p.decl[0]!, v]);
    }
    return v;
  }

  list(nodes: Node[], dot: unknown, scope: Scope): void {
    const mark = scope.vars.length;
    try {
      for (const n of nodes) this.node(n, dot, scope);
    } finally {
      scope.vars.length = mark;
    }
  }

  node(n: Node, dot: unknown, scope: Scope): void {
    switch (n.k) {
      case 'text': this.out += n.text; return;
      case 'action': {
        const v = this.pipe(n.pipe, dot, scope);
        if (!n.pipe.decl.length) this.out += goString(v);
        return;
      }
      case 'break': throw new Break();
      case 'continue': throw new Continue();
      case 'if': case 'with': {
        const mark = scope.vars.length;
        const v = this.pipe(n.pipe, dot, scope);
        try {
          if (truth(v)) this.list(n.list, n.k === 'with' ? v : dot, scope);
          else if (n.else) this.list(n.else, dot, scope);
        } finally { scope.vars.length = mark; }
        return;
      }
      case 'range': {
        const mark = scope.vars.length;
        const decl = n.pipe.decl;
        const v = this.pipe({ ...n.pipe, decl: [] }, dot, scope);
        let items: [unknown, unknown][];
        if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
        else if (typeof v === 'number' && Number.isInteger(v)) items = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
        else if (v && typeof v === 'object' && STRUCT in v) throw new TemplateError(`template: range can't iterate over ${String((v as Record<symbol, unknown>)[STRUCT])}`);
        else if (v && typeof v === 'object') items = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
        else if (v === null || v === undefined) items = [];
        else throw new TemplateError(`template: range can't iterate over ${goString(v)}`);
        try {
          if (!items.length) { if (n.else) this.list(n.else, dot, scope); return; }
          for (const [k, x] of items) {
            const m = scope.vars.length;
            if (decl.length === 1) scope.vars.push([decl[0]!, x]);
            if (decl.length === 2) scope.vars.push([decl[0]!, k], [decl[1]!, x]);
            try { this.list(n.list, x, scope); } catch (e) {
              if (e instanceof Break) break;
              if (!(e instanceof Continue)) throw e;
            } finally { scope.vars.length = m; }
          }
        } finally { scope.vars.length = mark; }
      }
    }
  }
}

export interface Template { execute(data: unknown, funcs?: Funcs): string }

/**
 * Parses a template once; `execute` runs it on a value (`$` is that value). `missingKey: 'error'` is Go's
 * `missingkey=error`, which the docker CLI sets for `inspect -f`: a key the JSON lacks fails the template.
 * `rootType` names the Go type of the value itself where the docker CLI has no map to fall back on (`volume.Volume`).
 */
export function parseTemplate(src: string, opts: { missingKey?: 'error'; rootType?: string } = {}): Template {
  const nodes = parse(src);
  return {
    execute(data, funcs = FUNCS) {
      const ex = new Exec(funcs, opts.missingKey === 'error', opts.rootType);
      ex.list(nodes, data, { vars: [['$', data]] });
      return ex.out;
    },
  };
}

/** Go's text/tabwriter as the docker CLI sets it up: minwidth 10, tabwidth 1, padding 3, padded with spaces. */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const width = (s: string) => [...s].length;
  let out = '';
  const widths: number[] = [];
  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      line.forEach((c, j) => {
        if (j < widths.length && j < line.length - 1) out += c + ' '.repeat(Math.max(0, widths[j]! - width(c)));
        else out += c;
      });
      if (i + 1 < lines.length) out += '\n';
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let w = minwidth;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column]!) + padding);
      }
      widths.push(w);
      format(line0, t);
      widths.pop();
      line0 = t;
      t--; // the loop's t++ must look at line t again
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out;
}
