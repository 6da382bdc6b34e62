/** `berth save` and `load`: images to and from a tar archive (docker-archive and OCI layout in one). */
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { fsPromises } from '../builtins.js';
import { jsonLines } from '../client.js';
import { clientOf, collect, ExitError, needsApi } from '../context.js';
import { checkOutput, writeTar } from '../tar-output.js';

export function registerSaveLoad(program: Command): void {
  program.command('save').description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<image...>')
    .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
    .option('--platform <platform>', 'Save only the given platform variant (API 1.48)', collect)
    .action(async (names: string[], o: { output?: string; platform?: string[] }, cmd: Command) => {
      if (o.platform) needsApi('platform', '1.48');
      await checkOutput(o.output);
      const res = await clientOf(cmd).raw('GET', '/images/get', { query: { names } });
      await writeTar(res, o.output);
    });

  program.command('load').description('Load an image from a tar archive or STDIN')
    .option('-i, --input <file>', 'Read from tar archive file, instead of STDIN')
    .option('-q, --quiet', 'Suppress the load output')
    .option('--platform <platform>', 'Load only the given platform variant (API 1.48)', collect)
    .action(async (o: { input?: string; quiet?: boolean; platform?: string[] }, cmd: Command) => {
      if (o.platform) needsApi('platform', '1.48');
      if (!o.input && process.stdin.isTTY) throw new ExitError(1, 'requested load from stdin, but stdin is empty');
      // Opened first, so a missing file is an error message rather than a failed upload.
      const stream: Readable = o.input ? (await fsPromises().open(o.input).catch((e: NodeJS.ErrnoException) => {
        throw new ExitError(1, `open ${o.input}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
      })).createReadStream() : process.stdin;
      const res = await clientOf(cmd).raw('POST', '/images/load', {
        query: { quiet: !!o.quiet }, stream, headers: { 'Content-Type': 'application/x-tar' },
      });
      for await (const m of jsonLines<{ stream?: string; error?: string }>(res)) {
        if (m.error) throw new Error(m.error);
        if (m.stream) process.stdout.write(m.stream);
      }
    });
}
