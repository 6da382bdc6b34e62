/**
 * The dashboard (`berth daemon --ui`), driven in real headless Chromium (Debian's /usr/bin/chromium) through
 * playwright-core: the live list, Start/Stop/Remove from the page, followed logs, images, the VM panel, charts
 * from a stats stream, and the refusal of requests from other origins. Screenshots go to /tmp/berth-ui-test/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { startUiServer, type UiServer } from '../src/ui/server.js';
import { BERTH, exec, ROOT, startDaemon, teardown, waitFor, type TestDaemon } from './harness.js';

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
  return errors;
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
