/**
 * `--format` for list commands (`ps`, `stats`), the subset of Go templates people use with them:
 * `{{.Field}}`, `{{.Field.Sub}}`, `{{json .}}`, `{{json .Field}}`, `{{upper .Field}}`, `{{lower .Field}}`,
 * `\t` and `\n`; a leading `table` aligns the cells as docker's tabwriter and adds the header row.
 */
import { table } from './format.js';

const ACTION = /\{\{-?\s*(?:(json|upper|lower|title)\s+)?\.([\w.]*)\s*-?\}\}/g;

function lookup(ctx: unknown, path: string): unknown {
  let v: unknown = ctx;
  for (const k of path.split('.').filter(Boolean)) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

function render(tpl: string, ctx: unknown): string {
  const unknownAction = /\{\{(?![-\s]*(?:(?:json|upper|lower|title)\s+)?\.[\w.]*\s*-?\}\})[^}]*\}\}/.exec(tpl);
  if (unknownAction) throw new Error(`template: unsupported action ${unknownAction[0]} (berth understands {{.Field}}, {{json .}}, {{json .Field}}, {{upper .X}}, {{lower .X}})`);
  return tpl.replace(ACTION, (_m, fn: string | undefined, path: string) => {
    const v = lookup(ctx, path);
    if (fn === 'json') return JSON.stringify(v ?? null);
    if (path && v === undefined) throw new Error(`template: can't evaluate field ${path.split('.').pop()}`);
    const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (fn === 'upper') return s.toUpperCase();
    if (fn === 'lower') return s.toLowerCase();
    if (fn === 'title') return s.replace(/\b\w/g, (c) => c.toUpperCase());
    return s;
  });
}

/**
 * The rows of a list command with a `--format`. `defaultTable` is the command's default `table …`
 * template (what `--format table` means); `headers` names each field's column.
 */
export function formatList(format: string, rows: Record<string, unknown>[], headers: Record<string, string>, defaultTable: string): string {
  let tpl = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const isTable = /^table(\s|$)/.test(tpl);
  if (!isTable) return rows.map((r) => `${render(tpl, r)}\n`).join('');
  tpl = tpl.replace(/^table\s*/, '') || defaultTable.replace(/^table\s*/, '').replace(/\\t/g, '\t');
  const head = render(tpl, headers);
  const cells = [head, ...rows.map((r) => render(tpl, r))].map((line) => line.split('\t'));
  return table(cells);
}
