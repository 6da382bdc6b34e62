/**
 * `--format` for list commands (`ps`, `images`, `network ls`, `volume ls`, `stats`), as the docker
 * CLI's formatter: the Go template (see go-template.ts) runs once per row and each row ends in a
 * newline; `\t` and `\n` written literally become tab and newline; a leading `table` runs the
 * template once more on the column names for the header row (with docker's header functions, which
 * leave names as they are) and aligns everything with Go's tabwriter.
 */
import { goStruct, HEADER_FUNCS, parseTemplate, tabwrite, TemplateError } from './go-template.js';

/** `.Label "com.example.name"` of a row: the value of that label, or ''. */
export function labelMethod(labels: Record<string, string> | null | undefined): (name: unknown) => string {
  return (name: unknown) => (labels ?? {})[String(name)] ?? '';
}

/** docker's SubHeaderContext.Label: the last dotted part of the key, `-` and `_` as spaces. */
function headerLabel(name: unknown): string {
  return String(name).split('.').pop()!.replace(/[-_]/g, ' ');
}

function parse(tpl: string, opts?: Parameters<typeof parseTemplate>[1]) {
  try {
    return parseTemplate(tpl, opts);
  } catch (e) {
    if (e instanceof TemplateError) throw new Error(`template parsing error: ${e.message}`);
    throw e;
  }
}

function run(t: ReturnType<typeof parseTemplate>, data: unknown, funcs?: typeof HEADER_FUNCS): string {
  try {
    return t.execute(data, funcs);
  } catch (e) {
    if (e instanceof TemplateError) throw new Error(`template parsing error: ${e.message}`);
    throw e;
  }
}

/**
 * The rows of a list command with a `--format`. `defaultTable` is the command's default `table …`
 * template (what `--format table` means); `headers` names each field's column. `typeName` is the
 * Go type docker's message names when a template asks for a field the rows lack.
 */
export function formatList(format: string, rows: Record<string, unknown>[], headers: Record<string, string>, defaultTable: string, typeName = '*formatter.Context'): string {
  let tpl = format;
  const isTable = tpl.startsWith('table');
  if (isTable) {
    tpl = tpl.slice('table'.length).replace(/^ +| +$/g, '');
    if (!tpl) tpl = defaultTable.replace(/^table\s*/, '');
  } else tpl = tpl.replace(/^ +| +$/g, '');
  tpl = tpl.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const t = parse(tpl);
  let body = '';
  for (const r of rows) body += `${run(t, goStruct({ ...r }, typeName))}\n`;
  if (!isTable) return body;
  const head = run(t, { ...headers, Label: headerLabel }, HEADER_FUNCS);
  return tabwrite(`${head}\n${body}`);
}

/**
 * `--format` on decoded JSON (a map): a missing key is `<no value>`, or with `missingKey: 'error'` (inspect's)
 * Go's "map has no entry for key" error.
 */
export function formatValue(format: string, value: unknown, opts?: { missingKey?: 'error'; rootType?: string }): string {
  return run(parse(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'), opts), value);
}
