import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { test } from 'node:test';
import { renderProgress, StreamError, type JsonMessage } from './progress.js';

/** A writable that keeps what it is given; `isTTY` as process.stdout has it on a terminal. */
function sink(isTTY: boolean): Writable & { isTTY?: boolean; text: () => string } {
  let out = '';
  const w = new Writable({ write(chunk: Buffer, _e, cb) { out += chunk.toString(); cb(); } });
  return Object.assign(w, { isTTY: isTTY || undefined, text: () => out });
}

/** The daemon's stream: one JSON message a line, split across chunks at awkward places. */
function messages(ms: JsonMessage[]): Readable {
  const text = ms.map((m) => `${JSON.stringify(m)}\n`).join('');
  return Readable.from([text.slice(0, 7), text.slice(7, 60), text.slice(60)].filter(Boolean).map((s) => Buffer.from(s)));
}

const PULL: JsonMessage[] = [
  { id: 'latest', status: 'Pulling from library/busybox' },
  { id: 'aaaaaaaaaaaa', status: 'Pulling fs layer' },
  { id: 'bbbbbbbbbbbb', status: 'Pulling fs layer' },
  { id: 'aaaaaaaaaaaa', status: 'Downloading', progress: '[=====>      ] 1MB/2MB' },
  { id: 'bbbbbbbbbbbb', status: 'Download complete' },
  { id: 'aaaaaaaaaaaa', status: 'Download complete' },
  { id: 'bbbbbbbbbbbb', status: 'Extracting', progress: '[==========>] 2MB/2MB' },
  { id: 'bbbbbbbbbbbb', status: 'Pull complete' },
  { status: 'Digest: sha256:0123' },
  { status: 'Status: Downloaded newer image for busybox:latest' },
];

test('renderProgress on a terminal: a line per ID, redrawn in place with cursor-up and cursor-down', async () => {
  const out = sink(true);
  await renderProgress(messages(PULL), out);
  const CLR = '\x1b[2K';
  const redraw = (up: number, text: string) => `\x1b[${up}A\r${CLR}${text}\x1b[${up}B\r`;
  assert.equal(out.text(), [
    `${CLR}latest: Pulling from library/busybox\n`,
    `${CLR}aaaaaaaaaaaa: Pulling fs layer\n`,
    `${CLR}bbbbbbbbbbbb: Pulling fs layer\n`,
    // Three lines drawn; aaaa… is the second, two up from the cursor; bbbb… one up.
    redraw(2, 'aaaaaaaaaaaa: Downloading [=====>      ] 1MB/2MB'),
    redraw(1, 'bbbbbbbbbbbb: Download complete'),
    redraw(2, 'aaaaaaaaaaaa: Download complete'),
    redraw(1, 'bbbbbbbbbbbb: Extracting [==========>] 2MB/2MB'),
    redraw(1, 'bbbbbbbbbbbb: Pull complete'),
    // Without an ID: a new line below the block.
    `${CLR}Digest: sha256:0123\n`,
    `${CLR}Status: Downloaded newer image for busybox:latest\n`,
  ].join(''));
});

test('renderProgress elsewhere: only the status lines, no bars and no escape sequences', async () => {
  const out = sink(false);
  await renderProgress(messages(PULL), out);
  assert.equal(out.text(), [
    'latest: Pulling from library/busybox',
    'aaaaaaaaaaaa: Pulling fs layer',
    'bbbbbbbbbbbb: Pulling fs layer',
    'bbbbbbbbbbbb: Download complete',
    'aaaaaaaaaaaa: Download complete',
    'bbbbbbbbbbbb: Pull complete',
    'Digest: sha256:0123',
    'Status: Downloaded newer image for busybox:latest',
    '',
  ].join('\n'));
  assert.doesNotMatch(out.text(), /\x1b/);
});

test('renderProgress passes `stream` text through and hands `aux` to its callback', async () => {
  const out = sink(false);
  const aux: Record<string, unknown>[] = [];
  await renderProgress(messages([{ stream: 'Step 1/2\n' }, { aux: { ID: 'sha256:abc' } }, { status: 'done' }]), out, (a) => aux.push(a));
  assert.equal(out.text(), 'Step 1/2\ndone\n');
  assert.deepEqual(aux, [{ ID: 'sha256:abc' }]);
});

test('renderProgress rejects on an error message, after drawing what came before it', async () => {
  for (const tty of [true, false]) {
    const out = sink(tty);
    await assert.rejects(
      renderProgress(messages([
        { id: 'aaaaaaaaaaaa', status: 'Pulling fs layer' },
        { errorDetail: { message: 'unexpected EOF' }, error: 'unexpected EOF' },
        { status: 'never drawn' },
      ]), out),
      (e: unknown) => e instanceof StreamError && e.message === 'unexpected EOF',
    );
    assert.match(out.text(), /aaaaaaaaaaaa: Pulling fs layer\n$/);
  }
  // `error` alone (older daemons) is enough.
  await assert.rejects(renderProgress(messages([{ error: 'manifest unknown' }]), sink(false)), (e: unknown) => e instanceof StreamError && e.message === 'manifest unknown');
});
