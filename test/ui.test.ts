/**
 * The dashboard (`berth daemon --ui`), driven in real headless Chromium (Debian's /usr/bin/chromium) through
 * playwright-core: the live list, Start/Stop/Remove from the page, followed logs, a terminal in a container,
 * images with their layers, a pull from a real registry with its progress, the VM panel, charts from a stats
 * stream, and the refusal of requests (and WebSockets) from other origins. Screenshots go to /tmp/berth-ui-test/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { startUiServer, type UiServer } from '../src/ui/server.js';
import { BERTH, exec, ROOT, startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';
import { startRegistry } from './registry-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = '/tmp/berth-ui-test';
const noBrowser = existsSync(CHROMIUM) ? false : `Debian's chromium is not installed (${CHROMIUM}); scripts/setup.sh installs it`;
const hasVm = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/boot') && readdirSync('/boot').some((f) => /^vmlinuz-.*-cloud-amd64$/.test(f));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Chromium as the probe runs it here: no sandbox (root), no GPU, nothing that phones home, a fresh profile. */
async function launch(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync('/tmp/berth-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return { context, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // What the page's policy blocked (the terminal's own styles must not be among them).
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text()); });
  return errors;
}

/**
 * A WebSocket to the dashboard's terminal from outside a browser, with any Origin and token; resolves with the
 * HTTP status of a refused upgrade, or 101 and the first control message of an accepted one. With `untilExit`
 * an accepted socket is held until the process has exited: closing it hangs the process up, which may come
 * before the command ran (`ready` means runc has made the process, not that it has run the command yet).
 */
function terminalSocket(port: number, query: string, opts: { origin?: string; token?: string; host?: string; untilExit?: boolean }): Promise<{ status: number; body: string; first?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const protocols = ['berth.exec', ...(opts.token ? [`berth.token.${opts.token}`] : [])];
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/exec?${query}`, protocols, {
      headers: { ...(opts.host ? { Host: opts.host } : {}) }, ...(opts.origin ? { origin: opts.origin } : {}),
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    let first: Record<string, unknown> | undefined;
    ws.on('message', (data, binary) => {
      if (binary) return;
      const msg = JSON.parse(data.toString()) as Record<string, unknown>;
      first ??= msg;
      if (opts.untilExit && msg.type !== 'exit' && msg.type !== 'error') return;
      resolve({ status: 101, body: '', first });
      ws.close();
    });
    ws.on('close', () => { if (first) resolve({ status: 101, body: '', first }); });
    ws.on('error', (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
  });
}

/** The terminal's screen as text, one row a line (xterm.js draws its rows into the DOM). */
async function screenText(page: Page): Promise<string> {
  return page.locator('[data-panel="terminal"] .xterm-rows').evaluate((el) => [...el.children].map((r) => r.textContent ?? '').join('\n'));
}

/** A raw HTTP request to the dashboard's listener, with any headers (Host and Origin included). */
function raw(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (r) => {
      let body = '';
      r.on('data', (b: Buffer) => { body += b.toString(); });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body, headers: r.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('berth daemon --ui', () => {
  test('a port alone listens on loopback, and the daemon says where', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const d = await startDaemon({ extraArgs: ['--ui', String(port)] });
    try {
      assert.match(d.log(), new RegExp(`berth dashboard on http://127\\.0\\.0\\.1:${port}/`));
      const page = await raw(port, 'GET', '/');
      assert.equal(page.status, 200);
      assert.match(page.body, /<title>berth<\/title>/);
    } finally {
      await teardown(d);
    }
  });

  test('a bad or busy address stops the daemon before it starts, with the reason', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync('/tmp/bt-');
    const busy = createNetServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as AddressInfo).port;
    try {
      const args = (ui: string) => ['daemon', '-H', `unix://${dir}/s.sock`, '--data-root', `${dir}/data`, '--exec-root', `${dir}/run`, '--ui', ui];
      const bad = await exec(BERTH, args('web:port'));
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /berth daemon: --ui web:port: invalid dashboard address "web:port"/);
      const taken = await exec(BERTH, args(`127.0.0.1:${busyPort}`));
      assert.equal(taken.code, 1);
      assert.match(taken.stderr, new RegExp(`--ui 127\\.0\\.0\\.1:${busyPort}: 127\\.0\\.0\\.1:${busyPort} is in use`));
      assert.equal(existsSync(`${dir}/data/berth.pid`), false, 'the lock is released');
      assert.equal(existsSync(`${dir}/s.sock`), false, 'no socket was made');
    } finally {
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the dashboard in Chromium', { skip: noBrowser }, () => {
  let d: TestDaemon;
  let port: number;
  let url: string;
  let browser: Awaited<ReturnType<typeof launch>>;
  const seen: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    port = await freePort();
    d = await startDaemon({ busybox: true, extraArgs: ['--ui', `127.0.0.1:${port}`] });
    url = `http://127.0.0.1:${port}/`;
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await teardown(d, seen);
  });

  const inspect = async (ref: string) => {
    const r = await d.api('GET', `/containers/${ref}/json`);
    return { status: r.status, body: r.status === 200 ? JSON.parse(r.body) as { Id: string; State: { Running: boolean; Status: string } } : undefined };
  };

  test('the daemon says where the dashboard is, on loopback', () => {
    assert.match(d.log(), new RegExp(`berth dashboard on http://127\\.0\\.0\\.1:${port}/`));
  });

  test('the list shows a running container; its logs follow; Stop stops it; Remove removes it', { timeout: 120_000 }, async () => {
    const run = await d.berth(['run', '-d', '--name', 'ui-web', 'busybox', 'sh', '-c',
      'trap "exit 0" TERM; echo "hello from berth"; i=0; while true; do i=$((i+1)); echo "tick $i"; [ $((i % 3)) = 0 ] && echo "warn $i" >&2; sleep 1; done']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    seen.push(id);
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(url);
    const row = page.locator('tr[data-name="ui-web"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'running');
    assert.equal((await row.locator('.badge').textContent())?.trim(), 'oci');
    assert.match((await row.locator('.image').textContent()) ?? '', /busybox/);
    await waitFor(async () => /^\d+s$/.test((await row.locator('.uptime').textContent()) ?? ''), 5000, 'an uptime in seconds');

    // Selecting the row follows its output live: the first line, then ticks written after the page opened.
    await row.locator('.name').click();
    const logs = page.locator('.logs');
    await waitFor(async () => ((await logs.textContent()) ?? '').includes('hello from berth'), 10_000, 'the first line in the log view');
    const ticks = async () => Math.max(0, ...[...((await logs.textContent()) ?? '').matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));
    const before = await ticks();
    await waitFor(async () => (await ticks()) >= before + 2, 10_000, 'new lines while following');
    await waitFor(async () => (await page.locator('.logs .log-stderr').count()) > 0, 10_000, 'stderr lines');
    assert.match((await page.locator('.logs .log-stderr').first().textContent()) ?? '', /warn \d+/);
    await page.screenshot({ path: join(SHOTS, 'containers.png'), fullPage: true });

    // Stop from the row, and the engine agrees.
    await row.locator('[data-action="stop"]').click();
    await waitFor(async () => (await row.getAttribute('data-state')) === 'exited', 20_000, 'the row to show exited');
    assert.equal((await inspect(id)).body?.State.Running, false);
    await waitFor(async () => (await page.locator('.log-state').textContent()) === 'ended', 10_000, 'the log stream to end');
    await page.screenshot({ path: join(SHOTS, 'stopped.png'), fullPage: true });

    // Remove asks once more in place, then removes.
    const remove = row.locator('[data-action="remove"]');
    await remove.click();
    assert.equal(await remove.getAttribute('data-confirming'), '1');
    await remove.click();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal((await inspect(id)).status, 404);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('Start runs a created container from the page, and its output appears', { timeout: 60_000 }, async () => {
    const created = await d.berth(['create', '--name', 'ui-new', 'busybox', 'sh', '-c', 'echo started from the page; sleep 30']);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    seen.push(id);
    const page = await browser.context.newPage();
    await page.goto(url);
    const row = page.locator('tr[data-name="ui-new"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'created');
    await row.locator('.name').click();
    await page.locator('.detail-card [data-action="start"]').click();
    await waitFor(async () => (await row.getAttribute('data-state')) === 'running', 15_000, 'the row to show running');
    assert.equal((await inspect(id)).body?.State.Running, true);
    await waitFor(async () => ((await page.locator('.logs').textContent()) ?? '').includes('started from the page'), 10_000, 'its output');
    await page.close();
    await d.berth(['rm', '-f', id]);
  });

  test('the images list shows busybox with its size, and who uses it', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${url}#/images`);
    const row = page.locator('.images-table tr[data-tags~="busybox:latest"]');
    await row.waitFor();
    assert.match((await row.locator('.size').textContent()) ?? '', /^\d+(\.\d+)?(B|kB|MB)$/);
    await page.screenshot({ path: join(SHOTS, 'images.png'), fullPage: true });
    await page.close();
  });

  test('the containers-vs-VMs panel puts a VM container beside the others, with its kernel', { skip: hasVm ? false : 'no QEMU or Debian cloud kernel here', timeout: 300_000 }, async () => {
    const box = await d.berth(['run', '-d', '--name', 'ui-box', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']);
    assert.equal(box.code, 0, box.stderr);
    const oci = box.stdout.trim();
    const vm = await d.berth(['run', '-d', '--runtime', 'vm', '--name', 'ui-vm', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; uname -r; while true; do sleep 1; done'], { timeoutMs: 240_000 });
    assert.equal(vm.code, 0, vm.stderr);
    seen.push(oci, vm.stdout.trim());
    const page = await browser.context.newPage();
    await page.goto(`${url}#/vms`);
    const card = page.locator('[data-list="vm"] [data-name="ui-vm"]');
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /cloud-amd64/);
    assert.match((await card.textContent()) ?? '', /KVM|TCG/);
    await page.locator('[data-list="oci"] [data-name="ui-box"]').waitFor();
    assert.equal(await page.locator('[data-list="oci"] [data-name="ui-vm"]').count(), 0);
    // The list marks the runtime too.
    await page.screenshot({ path: join(SHOTS, 'vms.png'), fullPage: true });
    await page.goto(`${url}#/containers`);
    await page.locator('tr[data-name="ui-vm"] .badge-vm').waitFor();
    await page.locator('tr[data-name="ui-vm"] .name').click();
    await waitFor(async () => ((await page.locator('.logs').textContent()) ?? '').includes('cloud-amd64'), 60_000, 'the VM\'s uname -r in its logs');
    await page.screenshot({ path: join(SHOTS, 'vm-detail.png'), fullPage: true });
    await d.berth(['rm', '-f', 'ui-box', 'ui-vm'], { timeoutMs: 60_000 });

    // The comparison, run from the page: both runs measured, the kernels each saw beside the host's.
    await page.goto(`${url}#/vms`);
    const panel = page.locator('[data-panel="compare"]');
    await waitFor(async () => (await panel.locator('select option').count()) > 0, 10_000, 'the image list in the compare form');
    assert.equal(await panel.locator('select').inputValue(), 'busybox:latest');
    await panel.locator('input').fill('echo compared');
    await panel.locator('[data-action="compare"]').click();
    const result = panel.locator('[data-compare="result"]');
    await result.waitFor({ timeout: 240_000 });
    assert.equal(await result.locator('[data-metric]').count(), 5);
    for (const m of ['first', 'exit', 'memory', 'storage']) assert.equal(await result.locator(`[data-metric="${m}"] .bar-row`).count(), 2, m);
    const kernels = (await result.locator('[data-metric="kernel"]').textContent()) ?? '';
    assert.match(kernels, /container.+same as the host/);
    assert.match(kernels, /VM6\.1\.0-\d+-cloud-amd64its own/);
    await page.screenshot({ path: join(SHOTS, 'compare.png'), fullPage: true });
    await page.close();
  });

  test('a terminal opens a shell in a running container: typed commands run, resizes reach it, exit ends it', { timeout: 90_000 }, async () => {
    const run = await d.berth(['run', '-d', '--name', 'ui-term', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    seen.push(id);
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${url}#/containers/${id}`);
    const card = page.locator('[data-panel="terminal"]');
    await card.locator('[data-action="terminal"]:not([disabled])').click();
    await card.locator('.xterm-rows').waitFor();
    await waitFor(async () => (await card.getAttribute('data-state')) === 'open', 15_000, 'the terminal to connect');
    // Typed into xterm.js as a person would; the shell computes the number, so only its output can contain it.
    await page.locator('[data-panel="terminal"] .xterm-helper-textarea').focus();
    await page.keyboard.type('echo hi-$((6*7))\n');
    await waitFor(async () => /^hi-42\s*$/m.test(await screenText(page)), 15_000, 'hi-42 on the terminal');
    // The shell runs in the container: its hostname is the container's.
    await page.keyboard.type('hostname; stty size\n');
    await waitFor(async () => (await screenText(page)).includes(id.slice(0, 12)), 10_000, 'the container\'s hostname');
    const sizes = async () => [...(await screenText(page)).matchAll(/^(\d+) (\d+)\s*$/gm)].map((m) => `${m[1]} ${m[2]}`);
    await waitFor(async () => (await sizes()).length === 1, 10_000, 'stty size');
    const [first] = await sizes();
    assert.notEqual(first, '0 0', 'the terminal has a size from the start');
    await page.screenshot({ path: join(SHOTS, 'terminal.png'), fullPage: true });
    // A narrower window fits the terminal anew, and the shell hears of it.
    await page.setViewportSize({ width: 760, height: 900 });
    await page.keyboard.type('clear; stty size\n');
    await waitFor(async () => { const s = await sizes(); return s.length === 1 && s[0] !== first; }, 10_000, 'a new size after the resize');
    const [second] = await sizes();
    // One column at this width instead of two: the terminal is wider now, and the shell's rows are the ones on screen.
    assert.ok(Number(second!.split(' ')[1]) > Number(first!.split(' ')[1]), `more columns in the one-column layout: ${first} → ${second}`);
    assert.equal(Number(second!.split(' ')[0]), await page.locator('[data-panel="terminal"] .xterm-rows > div').count());
    await page.keyboard.type('exit 3\n');
    await waitFor(async () => (await card.getAttribute('data-state')) === 'exited', 10_000, 'the shell to exit');
    assert.match(await screenText(page), /process exited with code 3/);

    // Closing a terminal with its shell still running hangs the shell up, as closing a terminal window does.
    const shells = async () => (await d.berth(['exec', id, 'ps', '-o', 'pid,args'])).stdout.split('\n').filter((l) => /^\s*\d+\s+sh\s*$/.test(l)).length;
    await card.locator('[data-action="terminal"]').click();
    await waitFor(async () => (await card.getAttribute('data-state')) === 'open', 15_000, 'the second terminal to connect');
    assert.equal(await shells(), 1, 'its shell runs');
    await card.locator('[data-action="close-terminal"]').click();
    await waitFor(async () => (await shells()) === 0, 10_000, 'the shell to end once its terminal closed');
    assert.deepEqual(errors, []);
    await page.close();
    await d.berth(['rm', '-f', id]);
  });

  test('an image\'s layers: each build step with what it added, metadata steps as 0 B', { timeout: 120_000 }, async () => {
    const ctxDir = mkdtempSync('/tmp/bt-ctx-');
    writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM busybox\nRUN head -c 300000 /dev/urandom > /blob\nENV GREETING=hi\nCOPY note.txt /note.txt\nCMD ["sh"]\n');
    writeFileSync(join(ctxDir, 'note.txt'), 'x'.repeat(20_000));
    try {
      const built = await d.berth(['build', '-t', 'ui-layers:1', ctxDir], { timeoutMs: 90_000 });
      assert.equal(built.code, 0, built.stderr);
    } finally {
      rmSync(ctxDir, { recursive: true, force: true });
    }
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${url}#/images`);
    const row = page.locator('.images-table tr[data-tags~="ui-layers:1"]');
    await row.locator('[data-action="layers"]').click();
    const imageId = await row.getAttribute('data-id');
    const layers = page.locator(`tr[data-layers-for="${imageId}"] .layers-table tbody tr`);
    await waitFor(async () => (await layers.count()) > 0, 10_000, 'the layer list');
    const steps = await layers.evaluateAll((rows) => rows.map((r) => ({
      step: r.querySelector('.layer-step')?.textContent ?? '', size: r.querySelector('.layer-size')?.textContent ?? '',
      empty: (r as HTMLElement).dataset.empty, digest: r.querySelector('.layer-digest')?.textContent ?? '',
    })));
    const busyboxSteps = Number((await d.berth(['history', '-q', 'busybox'])).stdout.trim().split('\n').length);
    assert.equal(steps.length, busyboxSteps + 4, JSON.stringify(steps));
    const mine = steps.slice(busyboxSteps);
    // COPY's step names the content copied, as dockerd's history does (so --cache-from can match it).
    assert.deepEqual(mine.map((s) => s.step.replace(/file:[0-9a-f]{64}/, 'file:HASH')), ['RUN head -c 300000 /dev/urandom > /blob', 'ENV GREETING=hi', 'COPY file:HASH in /note.txt', 'CMD ["sh"]']);
    assert.match(mine[0]!.size, /^30\d kB$/, 'the RUN step added the 300 kB file');
    assert.match(mine[2]!.size, /^2\d\.\d kB$/, 'COPY added the 20 kB file');
    assert.deepEqual([mine[1]!.size, mine[3]!.size], ['0 B', '0 B']);
    assert.deepEqual(mine.map((s) => s.empty), ['false', 'true', 'false', 'true']);
    // The layers that exist are the image's own, bottom up, as inspect lists them.
    const diffIds = JSON.parse((await d.berth(['inspect', '-f', '{{json .RootFS.Layers}}', 'ui-layers:1'])).stdout) as string[];
    assert.deepEqual(steps.filter((s) => s.empty === 'false').map((s) => s.digest), diffIds.map((l) => l.slice(7, 19)));
    await page.screenshot({ path: join(SHOTS, 'layers.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('pull from a registry with a progress bar per layer, and the image is listed', { timeout: 180_000 }, async () => {
    const reg = await startRegistry();
    try {
      // The image of the layers test, pushed and then forgotten here: busybox's layer stays, the two above it come anew.
      const ref = `${reg.host}/ui/layers:1`;
      assert.equal((await d.berth(['tag', 'ui-layers:1', ref])).code, 0);
      const push = await d.berth(['push', ref]);
      assert.equal(push.code, 0, push.stderr);
      for (const r of [ref, 'ui-layers:1']) assert.equal((await d.berth(['rmi', r])).code, 0);
      assert.notEqual((await d.berth(['inspect', ref])).code, 0, 'gone before the pull');

      const page = await browser.context.newPage();
      const errors = watchErrors(page);
      await page.goto(`${url}#/images`);
      const panel = page.locator('[data-panel="pull"]');
      await panel.locator('input[name="pull-ref"]').fill(ref);
      await panel.locator('[data-action="pull"]').click();
      await waitFor(async () => ['done', 'error'].includes((await panel.getAttribute('data-state')) ?? ''), 120_000, 'the pull to finish');
      assert.equal(await panel.getAttribute('data-state'), 'done', (await panel.locator('.pull-status').textContent()) ?? '');
      assert.equal(await panel.locator('[role="progressbar"]').getAttribute('aria-valuenow'), '100');
      assert.equal((await panel.locator('.pull-percent').textContent())?.trim(), '100%');
      assert.match((await panel.locator('.pull-status').textContent()) ?? '', new RegExp(`Downloaded newer image for ${reg.host}/ui/layers:1`));
      const layerStates = await panel.locator('.pull-layer').evaluateAll((rows) => rows.map((r) => [(r as HTMLElement).dataset.status, (r as HTMLElement).dataset.done]));
      assert.deepEqual(layerStates.map(([s]) => s).sort(), ['Already exists', 'Pull complete', 'Pull complete'], JSON.stringify(layerStates));
      assert.ok(layerStates.every(([, done]) => done === 'true'));
      await page.locator(`.images-table tr[data-tags~="${ref}"]`).waitFor({ timeout: 10_000 });
      await page.screenshot({ path: join(SHOTS, 'pull.png'), fullPage: true });
      assert.equal((await d.berth(['run', '--rm', ref, 'cat', '/note.txt'])).stdout.length, 20_000, 'the pulled image runs');

      // A reference the registry lacks: the bar stops and says why.
      await panel.locator('input[name="pull-ref"]').fill(`${reg.host}/ui/nope:1`);
      await panel.locator('[data-action="pull"]').click();
      await waitFor(async () => (await panel.getAttribute('data-state')) === 'error', 30_000, 'the failed pull');
      assert.match((await panel.locator('.pull-status').textContent()) ?? '', /manifest unknown/);
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await reg.stop();
    }
  });

  test('the terminal\'s WebSocket refuses other origins, foreign hosts and missing tokens', { timeout: 60_000 }, async () => {
    const started = await d.berth(['run', '-d', '--name', 'ui-ws', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']);
    assert.equal(started.code, 0, started.stderr);
    const id = started.stdout.trim();
    seen.push(id);
    const token = /name="berth-token" content="([0-9a-f]+)"/.exec((await raw(port, 'GET', '/')).body)?.[1];
    assert.ok(token);
    const self = `http://127.0.0.1:${port}`;
    // Each would make /pwned-N in the container if it got through.
    const q = (n: number) => `container=${id}&cmd=touch&cmd=/pwned-${n}`;
    const refused = [
      await terminalSocket(port, q(1), { origin: 'http://evil.example', token }),
      await terminalSocket(port, q(2), { origin: `http://127.0.0.1:${port + 1}`, token }),
      await terminalSocket(port, q(3), { token }),
      await terminalSocket(port, q(4), { origin: self }),
      await terminalSocket(port, q(5), { origin: self, token: 'f'.repeat(token.length) }),
      await terminalSocket(port, q(6), { origin: `http://evil.example:${port}`, token, host: `evil.example:${port}` }),
    ];
    for (const r of refused) assert.equal(r.status, 403, r.body);
    assert.match(refused[0]!.body, /cross-origin request from http:\/\/evil\.example refused/);
    // The same request from the page's own origin goes through, which is what makes the refusals above mean something.
    const ok = await terminalSocket(port, q(7), { origin: self, token, untilExit: true });
    assert.equal(ok.status, 101);
    assert.equal(ok.first?.type, 'ready');
    await waitFor(async () => (await d.berth(['exec', id, 'ls', '/pwned-7'])).code === 0, 10_000, 'the accepted exec to run');
    const ls = await d.berth(['exec', id, 'sh', '-c', 'ls / | grep pwned || true']);
    assert.equal(ls.stdout, 'pwned-7\n');

    // A page on another origin tries with a guessed token; its browser sends its own Origin.
    const evil: Server = createHttpServer((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><body><script>
        const ws = new WebSocket('ws://127.0.0.1:${port}/ws/exec?${q(8)}', ['berth.exec', 'berth.token.${'0'.repeat(token.length)}']);
        ws.onopen = () => { document.title = 'open'; };
        ws.onerror = () => { document.title = 'refused'; };
      </script></body>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    try {
      const evilPage = await browser.context.newPage();
      await evilPage.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      await waitFor(async () => (await evilPage.title()) !== '', 10_000, 'the foreign page\'s WebSocket to settle');
      assert.equal(await evilPage.title(), 'refused');
      await evilPage.close();
    } finally {
      evil.close();
    }
    assert.match(d.log(), /refused the terminal: cross-origin request from http:\/\/localhost:\d+ refused/);
    assert.equal((await d.berth(['exec', id, 'sh', '-c', 'ls / | grep pwned || true'])).stdout, 'pwned-7\n');
    await d.berth(['rm', '-f', id]);
  });

  test('requests from other origins are refused, in raw HTTP and from a page elsewhere', { timeout: 60_000 }, async () => {
    const started = await d.berth(['run', '-d', '--name', 'ui-victim', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']);
    assert.equal(started.code, 0, started.stderr);
    const victim = started.stdout.trim();
    seen.push(victim);
    const page = await raw(port, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    const token = /name="berth-token" content="([0-9a-f]+)"/.exec(page.body)?.[1];
    assert.ok(token, 'the page carries its token');

    const stop = `/api/containers/${victim}/stop?t=0`;
    const refused = [
      await raw(port, 'POST', stop, { 'X-Berth-Token': token, Origin: 'http://evil.example' }),
      await raw(port, 'POST', stop, { 'X-Berth-Token': token, Origin: `http://127.0.0.1:${port + 1}` }),
      await raw(port, 'POST', stop, { 'X-Berth-Token': token, 'Sec-Fetch-Site': 'cross-site' }),
      await raw(port, 'POST', stop, { Origin: `http://127.0.0.1:${port}` }),
      await raw(port, 'POST', stop, { 'X-Berth-Token': 'f'.repeat(token.length) }),
      await raw(port, 'POST', stop, { 'X-Berth-Token': token, Host: `evil.example:${port}` }),
      await raw(port, 'OPTIONS', stop, { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' }),
    ];
    for (const r of refused) {
      assert.equal(r.status, 403, r.body);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
    // A DNS-rebinding page could read the token from the page itself: another Host gets no page.
    assert.equal((await raw(port, 'GET', '/', { Host: `rebind.example:${port}` })).status, 403);
    assert.equal((await inspect(victim)).body?.State.Running, true, 'still running after the refused requests');
    const ok = await raw(port, 'GET', '/api/_ping', { 'X-Berth-Token': token, Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'OK');

    // A page on another origin tries what a browser lets any page do: a form POST and a no-cors fetch.
    const evil: Server = createHttpServer((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><body><form id="f" method="POST" action="http://127.0.0.1:${port}${stop}"></form>
        <script>
          fetch('http://127.0.0.1:${port}${stop}', { method: 'POST', mode: 'no-cors' }).catch(() => {});
          fetch('http://127.0.0.1:${port}/api/containers/json', { headers: { 'X-Berth-Token': 'guess' } })
            .then(() => { document.title = 'read'; }, () => { document.title = 'blocked'; });
          setTimeout(() => document.getElementById('f').submit(), 500);
        </script></body>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    try {
      const evilPage = await browser.context.newPage();
      await evilPage.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      await evilPage.waitForURL(`http://127.0.0.1:${port}${stop}`, { timeout: 10_000 });
      assert.match((await evilPage.textContent('body')) ?? '', /refused/);
      await evilPage.close();
    } finally {
      evil.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await inspect(victim)).body?.State.Running, true, 'the foreign page could not stop it');
    await d.berth(['rm', '-f', victim]);
  });
});

/** Charts from `GET /containers/{id}/stats`, against a stand-in engine that streams docker's stats format. */
describe('the dashboard\'s charts', { skip: noBrowser }, () => {
  const ID = 'c0ffee'.padEnd(64, '0');
  let ui: UiServer;
  let browser: Awaited<ReturnType<typeof launch>>;
  let engine: Server;

  before(async () => {
    const started = new Date(Date.now() - 65_000).toISOString();
    const summary = { Id: ID, Names: ['/charted'], Image: 'busybox', ImageID: 'sha256:1', Command: 'sh', Created: Math.floor(Date.now() / 1000) - 70, Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }], State: 'running', Status: 'Up 1 minute' };
    const inspectBody = { Id: ID, State: { Status: 'running', Running: true, Paused: false, StartedAt: started, FinishedAt: '0001-01-01T00:00:00Z', Pid: 42, ExitCode: 0 }, HostConfig: { Runtime: 'oci', Memory: 0 }, NetworkSettings: { Networks: {} } };
    // The handler the UI forwards to, as createApiServer's is: it sees paths without /api.
    engine = createHttpServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const json = (v: unknown) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(v)); };
      if (path === '/containers/json') return json([summary]);
      if (path === `/containers/${ID}/json`) return json(inspectBody);
      if (path === '/images/json') return json([]);
      if (path === '/info') return json({ ServerVersion: 'test', OperatingSystem: 'test', KernelVersion: '6.1.0', NCPU: 2, MemTotal: 2 ** 33, Runtimes: { oci: {} } });
      if (path === '/events') { res.writeHead(200, { 'Content-Type': 'application/json' }); res.flushHeaders(); return; }
      if (path === `/containers/${ID}/logs`) {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
        const frame = (stream: number, text: string) => { const b = Buffer.from(text); const h = Buffer.alloc(8); h[0] = stream; h.writeUInt32BE(b.length, 4); return Buffer.concat([h, b]); };
        // One frame split across writes, to exercise the demultiplexer's buffering.
        const f = Buffer.concat([frame(1, 'out line\n'), frame(2, 'err line\n')]);
        res.write(f.subarray(0, 5));
        setTimeout(() => res.write(f.subarray(5)), 100);
        return;
      }
      if (path === `/containers/${ID}/stats`) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        let n = 0;
        let cpu = 0;
        let sys = 0;
        const tick = () => {
          const pre = { cpu_usage: { total_usage: cpu }, system_cpu_usage: sys, online_cpus: 2 };
          cpu += 1e8 + (n % 3) * 2.5e7; // 10-15 %, as docker stats counts (100 % is one whole CPU)
          sys += 2e9;
          n++;
          res.write(`${JSON.stringify({ read: new Date().toISOString(), pids_stats: { current: 3 },
            cpu_stats: { cpu_usage: { total_usage: cpu }, system_cpu_usage: sys, online_cpus: 2 }, precpu_stats: pre,
            memory_stats: { usage: (20 + n) * 2 ** 20, limit: 512 * 2 ** 20, stats: { inactive_file: 2 ** 20 } } })}\n`);
        };
        tick();
        const timer = setInterval(tick, 200);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: 'page not found' }));
    });
    ui = await startUiServer({ address: '127.0.0.1:0', api: engine, assetDir: join(ROOT, 'dist', 'ui') });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await ui?.close();
    engine?.closeAllConnections();
  });

  test('CPU and memory charts move with the stats stream; logs are demultiplexed', { timeout: 30_000 }, async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${ui.url}#/containers/${ID}`);
    const cpu = page.locator('[data-chart="cpu"]');
    await waitFor(async () => Number(await cpu.getAttribute('data-samples')) >= 5, 10_000, 'five CPU samples');
    assert.match((await cpu.locator('.chart-value').textContent()) ?? '', /^1[0-5](\.\d)?%$/);
    const mem = page.locator('[data-chart="mem"]');
    assert.match((await mem.locator('.chart-value').textContent()) ?? '', /MiB$/);
    assert.match((await mem.locator('.chart-sub').textContent()) ?? '', /of 512 MiB/);
    assert.ok(((await cpu.locator('.chart-line').getAttribute('d')) ?? '').split('L').length >= 5, 'a line through the samples');
    assert.equal((await page.locator('.logs .log-stdout').textContent()), 'out line\n');
    assert.equal((await page.locator('.logs .log-stderr').textContent()), 'err line\n');
    assert.equal(await page.locator('tr[data-name="charted"] a.port').getAttribute('href'), 'http://127.0.0.1:8080/');
    await page.screenshot({ path: join(SHOTS, 'charts.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
