/**
 * docker's boolean flags take a value too (`--rm=false`, `-d=false`, `--sig-proxy=false`, `-H=false`): its flag
 * library reads `=true|false` (and 1, 0, t, f…) on any of them. commander reads none, so the command's own
 * boolean flags are rewritten before it parses: true is the bare flag, false the `--no-` one where the command
 * has it, else nothing (the flag is off unless given). Flags may follow arguments (`rm x -f=true`), as with
 * docker, except in the commands that pass what follows their first argument on (`run`'s image is followed by
 * the container's command, whose words are its own).
 */
import type { Command, Option } from 'commander';
import { commandIndex } from './command-word.js';
import { FlagError } from './context.js';
import { commandAt } from './program.js';

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** `argv` with `--flag=BOOL` and `-x=BOOL` spelled as commander reads them: berth's own before the command word, the command's after it. */
export function withBoolValues(program: Command, argv: string[]): string[] {
  const rootEnd = commandIndex(argv);
  const rooted = [...rewrite(program, argv.slice(0, rootEnd), 0), ...argv.slice(rootEnd)];
  const { cmd, end } = commandAt(program, rooted);
  return cmd === program ? rooted : rewrite(cmd, rooted, end);
}

/** The rewrite for `cmd`'s flags, whose own words end before `from`. */
function rewrite(cmd: Command, argv: string[], from: number): string[] {
  const options = cmd.options as readonly Option[];
  // commander keeps passThroughOptions() in a field of its own; bool-values.test.ts fails if that ever changes.
  const passesThrough = (cmd as unknown as { _passThroughOptions?: boolean })._passThroughOptions === true;
  const takesValue = (o: Option | undefined) => !!o && (o.required || o.optional);
  const out = argv.slice(0, from);
  for (let i = from; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--' || ((!a.startsWith('-') || a === '-') && passesThrough)) { out.push(...argv.slice(i)); break; }
    if (!a.startsWith('-') || a === '-') { out.push(a); continue; }
    const m = /^(--[^=]+|-[^-=]+)=(.*)$/s.exec(a);
    if (m) {
      // `-it=false`: the letters before the last are on, as pflag reads them, when all of them are booleans.
      const lead = m[1]!.startsWith('--') ? '' : m[1]!.slice(1, -1);
      const named = options.find((o) => o.long === m[1] || o.short === (lead ? `-${m[1]!.at(-1)}` : m[1]));
      const leadOk = [...lead].every((ch) => { const o = options.find((x) => x.short === `-${ch}`); return o && !takesValue(o); });
      if (named && !takesValue(named) && leadOk) {
        if (!TRUE.has(m[2]!) && !FALSE.has(m[2]!)) {
          const flag = [named.short, named.long].filter(Boolean).join(', ');
          throw new FlagError(`invalid argument "${m[2]}" for "${flag}" flag: strconv.ParseBool: parsing "${m[2]}": invalid syntax`);
        }
        if (lead) out.push(`-${lead}`);
        const word = spelling(named, TRUE.has(m[2]!), options);
        if (word) out.push(word);
        // Off with no word of its own: the flag given earlier goes, as the last one wins with docker.
        else for (let k = out.length - 1; k >= from; k--) if (out[k] === named.long || out[k] === named.short) out.splice(k, 1);
        continue;
      }
    }
    out.push(a);
    // A flag whose value is the next word (`-e X`, `--name n`): that word is no argument.
    if (!a.includes('=')) {
      const last: Option | undefined = a.startsWith('--') ? options.find((o) => o.long === a) : options.find((o) => o.short === `-${a.at(-1)}`);
      const valueInWord = !a.startsWith('--') && a.length > 2 && [...a.slice(1, -1)].some((ch) => takesValue(options.find((o) => o.short === `-${ch}`)));
      // commander gives an optional value (`[x]`) the next word only when that is no flag.
      const next = argv[i + 1];
      if (last && !valueInWord && next !== undefined && (last.required || (last.optional && !next.startsWith('-')))) out.push(argv[++i]!);
    }
  }
  return out;
}

/**
 * A flag as the user named it, given true or false: true is its own word (`--rm`, `--no-cache`), false the other
 * spelling commander has for it (`--sig-proxy=false` is `--no-sig-proxy`), else none.
 */
function spelling(o: Option, on: boolean, options: readonly Option[]): string | undefined {
  if (on) return o.long ?? o.short;
  const twin = o.negate ? `--${o.long!.slice(5)}` : `--no-${o.long?.slice(2)}`;
  return options.find((x) => x.long === twin)?.long;
}
