/**
 * Draws docker's JSON progress messages as the docker CLI does: on a
 * terminal, one line per layer ID, redrawn in place; elsewhere, only the
 * status changes, without bars.
 */
import type { Readable, Writable } from 'node:stream';
import { jsonLines } from './client.js';

export interface JsonMessage {
  id?: string;
  status?: string;
  progress?: string;
  stream?: string;
  error?: string;
  errorDetail?: { message: string };
  aux?: Record<string, unknown>;
}

export class StreamError extends Error {}

/** Renders a message stream to `out`; rejects with the stream's error message if it carries one. */
export async function renderProgress(stream: Readable, out: Writable & { isTTY?: boolean }, onAux?: (aux: Record<string, unknown>) => void): Promise<void> {
  const tty = !!out.isTTY;
  const lines = new Map<string, number>(); // id -> line index from the top of our block
  let total = 0;
  for await (const m of jsonLines<JsonMessage>(stream)) {
    if (m.error || m.errorDetail) throw new StreamError(m.errorDetail?.message ?? m.error ?? 'unknown error');
    if (m.aux) { onAux?.(m.aux); continue; }
    if (m.stream !== undefined) { out.write(m.stream); continue; }
    const text = `${m.id ? `${m.id}: ` : ''}${m.status ?? ''}${m.progress && tty ? ` ${m.progress}` : ''}`;
    if (!tty) {
      if (m.progress) continue;
      out.write(`${text}\n`);
      continue;
    }
    if (m.id && lines.has(m.id)) {
      const up = total - lines.get(m.id)!;
      out.write(`\x1b[${up}A\r\x1b[2K${text}\x1b[${up}B\r`);
    } else {
      if (m.id) lines.set(m.id, total);
      out.write(`\x1b[2K${text}\n`);
      total++;
    }
  }
}
