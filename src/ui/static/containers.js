// The containers view: the live list on the left, the selected container's logs, charts and details on the right.

import { followLogs, isMissingRoute, readJsonLines, request } from './api.js';
import { createChart, statsNumbers } from './charts.js';
import { fill, h, icon, setText, shortId, sizeIEC, stripAnsi, time } from './dom.js';
import { containerName, lifecycleButtons, portLinks, runtimeBadge, runtimeOf, stateOf, statePill, uptimeText } from './widgets.js';

export class ContainersView {
  constructor(ctx) {
    this.ctx = ctx;
    this.rows = new Map();
    this.tbody = h('tbody');
    this.empty = h('div', { class: 'empty' },
      icon('box'), h('p', { text: 'No containers yet.' }),
      h('code', { text: 'berth run -d --name web busybox sh -c "while true; do date; sleep 1; done"' }));
    this.table = h('table', { class: 'table containers-table' },
      h('thead', {}, h('tr', {},
        ['Name', 'Image', 'Runtime', 'State', 'Ports', 'Uptime', ''].map((t) => h('th', { text: t })))),
      this.tbody);
    this.filter = h('input', { type: 'search', class: 'search', placeholder: 'Filter', 'aria-label': 'Filter containers', oninput: () => this.render() });
    this.detail = new DetailPanel(ctx);
    this.el = h('section', { class: 'view view-containers', dataset: { view: 'containers' } },
      h('div', { class: 'split' },
        h('div', { class: 'card list-card' },
          h('div', { class: 'card-head' }, h('h2', { text: 'Containers' }), this.filter),
          h('div', { class: 'table-wrap' }, this.table, this.empty)),
        this.detail.el));
  }

  /** Containers, newest first, as docker ps lists them. */
  sorted() {
    const q = this.filter.value.trim().toLowerCase();
    return [...this.ctx.state.containers.values()]
      .filter((c) => !q || containerName(c).toLowerCase().includes(q) || (c.summary.Image ?? '').toLowerCase().includes(q))
      .sort((a, b) => b.summary.Created - a.summary.Created || a.summary.Id.localeCompare(b.summary.Id));
  }

  render() {
    const list = this.sorted();
    this.empty.hidden = list.length > 0 || this.ctx.state.containers.size > 0;
    const keep = new Set(list.map((c) => c.summary.Id));
    for (const [id, row] of this.rows) if (!keep.has(id)) { row.tr.remove(); this.rows.delete(id); }
    let prev = null;
    for (const c of list) {
      const row = this.rows.get(c.summary.Id) ?? this.makeRow(c);
      this.updateRow(row, c);
      // Keep the DOM in list order without re-inserting rows that are already in place.
      const want = prev ? prev.nextSibling : this.tbody.firstChild;
      if (want !== row.tr) this.tbody.insertBefore(row.tr, want);
      prev = row.tr;
    }
    this.detail.render();
  }

  /** Uptimes move every second; nothing else needs to. */
  tick() {
    for (const row of this.rows.values()) {
      const c = this.ctx.state.containers.get(row.id);
      if (c) setText(row.uptime, uptimeText(c));
    }
    this.detail.tick();
  }

  makeRow(c) {
    const id = c.summary.Id;
    const row = {
      id,
      name: h('span', { class: 'name' }),
      sub: h('span', { class: 'sub mono', text: shortId(id) }),
      image: h('td', { class: 'image mono' }),
      runtime: h('td'),
      state: h('td'),
      ports: h('td'),
      uptime: h('td', { class: 'uptime' }),
      actions: h('td', { class: 'actions-cell' }),
      key: '',
    };
    row.tr = h('tr', { class: 'row', tabindex: '0', dataset: { id }, onclick: () => this.ctx.select(id),
      onkeydown: (e) => { if (e.key === 'Enter') this.ctx.select(id); } },
      h('td', { class: 'name-cell' }, row.name, row.sub), row.image, row.runtime, row.state, row.ports, row.uptime, row.actions);
    this.rows.set(id, row);
    return row;
  }

  updateRow(row, c) {
    const name = containerName(c);
    const state = stateOf(c);
    row.tr.dataset.name = name;
    row.tr.dataset.state = state;
    row.tr.classList.toggle('selected', this.ctx.state.selected === row.id);
    setText(row.name, name);
    row.name.title = name;
    setText(row.image, c.summary.Image);
    row.image.title = c.summary.Image;
    setText(row.uptime, uptimeText(c));
    const runtime = runtimeOf(c);
    const ports = JSON.stringify(c.summary.Ports ?? []);
    const key = `${state}|${runtime}|${ports}|${c.inspect?.State?.Paused}|${c.inspect?.State?.ExitCode}`;
    if (key === row.key) return;
    row.key = key;
    fill(row.runtime, runtimeBadge(runtime));
    fill(row.state, statePill(state, c));
    fill(row.ports, portLinks(c));
    fill(row.actions, lifecycleButtons(c, this.ctx, { compact: true }));
  }
}

const MAX_LOG_NODES = 4000;

/** The selected container: its header and buttons, CPU and memory charts, followed logs and key facts. */
class DetailPanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.id = undefined;
    this.title = h('h2', { class: 'detail-title' });
    this.badges = h('div', { class: 'badges' });
    this.actions = h('div');
    this.meta = h('dl', { class: 'facts' });
    this.cpu = createChart({ title: 'CPU', kind: 'cpu', format: (v) => `${v.toFixed(v < 10 ? 1 : 0)}%`, floor: 5 });
    this.mem = createChart({ title: 'Memory', kind: 'mem', format: (v) => sizeIEC(v), floor: 16 * 2 ** 20, scale: 2 ** 20 });
    this.statsNote = h('p', { class: 'note', hidden: true });
    this.logs = h('pre', { class: 'logs', tabindex: '0', 'aria-live': 'off', 'aria-label': 'container output' });
    this.logState = h('span', { class: 'log-state' });
    this.wrap = h('input', { type: 'checkbox', checked: true, onchange: () => this.logs.classList.toggle('nowrap', !this.wrap.checked) });
    this.raw = h('pre', { class: 'raw mono' });
    this.terminal = new TerminalCard(ctx);
    this.body = h('div', { class: 'detail-body' },
      h('div', { class: 'detail-head' }, h('div', {}, this.title, this.badges), this.actions),
      h('div', { class: 'charts' }, this.cpu.el, this.mem.el),
      this.statsNote,
      h('div', { class: 'log-card' },
        h('div', { class: 'log-head' }, h('h3', { text: 'Logs' }), this.logState,
          h('span', { class: 'spacer' }),
          h('label', { class: 'check' }, this.wrap, 'wrap'),
          h('button', { type: 'button', class: 'btn btn-sm btn-ghost', onclick: () => { this.logs.replaceChildren(); }, dataset: { action: 'clear-logs' } }, icon('eraser'), 'Clear')),
        this.logs),
      this.terminal.el,
      h('details', { class: 'facts-card', open: true }, h('summary', { text: 'Details' }), this.meta, h('details', { class: 'raw-card' }, h('summary', { text: 'Inspect (JSON)' }), this.raw)));
    this.placeholder = h('div', { class: 'empty detail-empty' }, icon('pointer'), h('p', { text: 'Select a container to follow its logs and watch its CPU and memory.' }));
    this.el = h('aside', { class: 'card detail-card', dataset: { panel: 'detail' } }, this.placeholder, this.body);
    this.body.hidden = true;
    this.logRun = undefined; // { startedAt, abort, done }
    this.statsRun = undefined;
  }

  container() {
    return this.id ? this.ctx.state.containers.get(this.id) : undefined;
  }

  render() {
    const want = this.ctx.state.selected;
    if (want !== this.id) this.switchTo(want);
    const c = this.container();
    this.placeholder.hidden = !!c;
    this.body.hidden = !c;
    if (!c) {
      if (this.id && !this.ctx.state.containers.has(this.id)) this.switchTo(undefined);
      return;
    }
    const state = stateOf(c);
    setText(this.title, containerName(c));
    this.el.dataset.state = state;
    const key = `${state}|${runtimeOf(c)}|${c.inspect?.State?.StartedAt}|${c.inspect?.State?.Paused}|${c.inspect?.State?.ExitCode}`;
    if (key !== this.key) {
      this.key = key;
      fill(this.badges, runtimeBadge(runtimeOf(c)), statePill(state, c), h('span', { class: 'badge badge-plain mono', text: c.summary.Image }));
      fill(this.actions, lifecycleButtons(c, this.ctx));
      this.renderFacts(c);
    }
    this.ensureStreams(c);
    this.terminal.render(c);
  }

  tick() {
    const c = this.container();
    if (c && this.uptimeCell) setText(this.uptimeCell, uptimeText(c));
  }

  switchTo(id) {
    this.logRun?.abort.abort();
    this.statsRun?.abort.abort();
    this.logRun = undefined;
    this.statsRun = undefined;
    this.key = undefined;
    this.id = id;
    this.terminal.close();
    this.logs.replaceChildren();
    this.cpu.clear();
    this.mem.clear();
    this.statsNote.hidden = true;
    setText(this.logState, '');
  }

  renderFacts(c) {
    const i = c.inspect ?? {};
    const st = i.State ?? {};
    const hc = i.HostConfig ?? {};
    const rows = [
      ['ID', shortId(c.summary.Id)],
      ['Command', c.summary.Command],
      ['Created', new Date(c.summary.Created * 1000).toLocaleString()],
      ['Started', time(st.StartedAt) ? new Date(time(st.StartedAt)).toLocaleString() : '—'],
      [st.Running ? 'Uptime' : 'Exited', (this.uptimeCell = h('span', { text: uptimeText(c) }))],
      ['PID', st.Pid ? String(st.Pid) : '—'],
      ['Ports', portLinks(c)],
      ['Network', Object.entries(i.NetworkSettings?.Networks ?? {}).map(([n, v]) => `${n}${v.IPAddress ? ` ${v.IPAddress}` : ''}`).join(', ') || hc.NetworkMode || '—'],
      ['Memory limit', hc.Memory ? sizeIEC(hc.Memory) : 'none'],
      ['CPUs', hc.NanoCpus ? String(hc.NanoCpus / 1e9) : 'all'],
    ];
    if (i.VM) {
      rows.push(['Kernel', `${i.VM.KernelVersion ?? ''}`], ['Accelerator', String(i.VM.Accelerator ?? '').toUpperCase()],
        ['vCPUs', String(i.VM.VCPUs ?? '—')], ['VM memory', i.VM.MemoryBytes ? sizeIEC(i.VM.MemoryBytes) : '—']);
    }
    fill(this.meta, rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)]));
    this.raw.textContent = JSON.stringify(i, null, 2);
  }

  /** Opens the log and stats streams for the current run of the container, once each. */
  ensureStreams(c) {
    const st = c.inspect?.State ?? {};
    const run = st.StartedAt ?? '';
    if (!this.logRun || (this.logRun.done && st.Running && this.logRun.startedAt !== run)) this.openLogs(c, run);
    if (!this.logRun.done) setText(this.logState, st.Running ? 'following' : 'ended');
    this.logState.dataset.live = String(!!st.Running && !this.logRun.done);
    this.showStatsNote(this.ctx.state.statsSupported);
    if (this.ctx.state.statsSupported === false) return;
    if (st.Running && (!this.statsRun || (this.statsRun.done && this.statsRun.startedAt !== run))) this.openStats(c, run);
    if (!st.Running && this.statsRun?.done !== false) {
      this.statsNote.hidden = false;
      setText(this.statsNote, 'Not running: the charts resume when it starts.');
    }
  }

  /** Without the stats endpoint the charts make way for a note; Details shows what inspect knows. */
  showStatsNote(supported) {
    this.cpu.el.hidden = supported === false;
    this.mem.el.hidden = supported === false;
    this.statsNote.hidden = supported !== false;
    if (supported === false) {
      setText(this.statsNote, 'This daemon does not serve /containers/{id}/stats yet: the CPU and memory charts appear when it does. Limits and the VM\'s size are under Details.');
    }
  }

  openLogs(c, startedAt) {
    const abort = new AbortController();
    const runState = { startedAt, abort, done: false };
    const fresh = this.logRun !== undefined; // a new run of the same container: mark it in the output
    this.logRun = runState;
    if (fresh) this.logs.append(h('span', { class: 'log-mark', text: `── started ${new Date().toLocaleTimeString()} ──\n` }));
    let pending = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      const atBottom = this.logs.scrollHeight - this.logs.scrollTop - this.logs.clientHeight < 40;
      this.logs.append(...pending);
      pending = [];
      let extra = this.logs.childNodes.length - MAX_LOG_NODES;
      while (extra-- > 0) this.logs.firstChild.remove();
      if (atBottom) this.logs.scrollTop = this.logs.scrollHeight;
    };
    followLogs(c.summary.Id, {
      signal: abort.signal,
      // A later run of the same container: its output from its start on (the earlier runs are already shown).
      since: fresh && time(startedAt) ? time(startedAt) / 1000 : undefined,
      onText: (stream, text) => {
        pending.push(h('span', { class: `log-${stream}`, text: stripAnsi(text) }));
        if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
      },
    }).catch((e) => {
      if (abort.signal.aborted) return;
      pending.push(h('span', { class: 'log-mark log-error', text: `── logs: ${e.message} ──\n` }));
      flush();
    }).finally(() => {
      if (abort.signal.aborted) return;
      runState.done = true;
      setText(this.logState, 'ended');
      this.logState.dataset.live = 'false';
      this.ctx.refreshSoon();
    });
  }

  openStats(c, startedAt) {
    const abort = new AbortController();
    const runState = { startedAt, abort, done: false };
    this.statsRun = runState;
    this.statsNote.hidden = true;
    const id = c.summary.Id;
    (async () => {
      const res = await request('GET', `/containers/${encodeURIComponent(id)}/stats?stream=1`, { signal: abort.signal });
      this.ctx.state.statsSupported = true;
      await readJsonLines(res, (s) => {
        const n = statsNumbers(s);
        if (n.cpuPercent !== undefined) this.cpu.push(n.cpuPercent, n.pids !== undefined ? `${n.pids} processes` : '');
        if (n.memUsed !== undefined) this.mem.push(n.memUsed, n.memLimit && n.memLimit < 2 ** 50 ? `of ${sizeIEC(n.memLimit)}` : '');
      });
    })().catch(async (e) => {
      if (abort.signal.aborted) return;
      if (isMissingRoute(e)) {
        this.ctx.state.statsSupported = false;
        this.showStatsNote(false);
        return;
      }
      // A container that stopped between the list and the request; the next start opens a new stream.
      if (e.status !== 404 && e.status !== 409) this.ctx.toast(`stats: ${e.message}`);
    }).finally(() => { if (!abort.signal.aborted) runState.done = true; });
  }
}

/**
 * A shell in the running container, as `docker exec -it ID sh`: xterm.js over the dashboard's WebSocket.
 * The terminal code loads when first opened.
 */
class TerminalCard {
  constructor(ctx) {
    this.ctx = ctx;
    this.session = undefined;
    this.shell = h('select', { class: 'select select-sm', 'aria-label': 'shell' }, h('option', { value: 'sh', text: 'sh' }), h('option', { value: 'bash', text: 'bash' }));
    this.state = h('span', { class: 'term-state' });
    this.openBtn = h('button', { type: 'button', class: 'btn btn-sm btn-go', dataset: { action: 'terminal' }, onclick: () => void this.open() }, icon('terminal'), 'Open shell');
    this.closeBtn = h('button', { type: 'button', class: 'btn btn-sm btn-ghost', dataset: { action: 'close-terminal' }, hidden: true, onclick: () => this.close() }, icon('close'), 'Close');
    this.screen = h('div', { class: 'term-screen', dataset: { terminal: '' }, hidden: true });
    this.hint = h('p', { class: 'note term-hint', text: 'A shell inside the container, as docker exec -it runs it.' });
    this.el = h('div', { class: 'log-card term-card', dataset: { panel: 'terminal' } },
      h('div', { class: 'log-head' }, h('h3', { text: 'Terminal' }), this.state, h('span', { class: 'spacer' }), this.shell, this.openBtn, this.closeBtn),
      this.hint, this.screen);
  }

  render(c) {
    this.containerId = c.summary.Id;
    const running = !!c.inspect?.State?.Running && !c.inspect?.State?.Paused;
    this.openBtn.disabled = !running;
    this.openBtn.title = running ? 'Open a shell in this container' : 'The container is not running';
    if (!this.session) setText(this.hint, running ? 'A shell inside the container, as docker exec -it runs it.' : 'Start the container to open a shell in it.');
  }

  setState(state, detail) {
    this.el.dataset.state = state;
    this.state.dataset.live = String(state === 'open');
    setText(this.state, { connecting: 'connecting', open: 'connected', exited: `exited (${detail})`, error: 'failed', closed: 'closed' }[state] ?? state);
    if (state === 'error') this.ctx.toast(`terminal: ${detail}`);
    // Ended: the screen stays to read, and a new shell is one click away.
    const ended = state === 'exited' || state === 'error' || state === 'closed';
    this.openBtn.hidden = !ended;
    this.shell.disabled = !ended;
  }

  async open() {
    this.close();
    const id = this.containerId;
    if (!id) return;
    let openTerminal;
    try {
      ({ openTerminal } = await import('./terminal.js'));
    } catch (e) {
      this.ctx.toast(`terminal: ${e.message} (the dashboard runs from unbuilt files: node scripts/build.mjs)`);
      return;
    }
    this.screen.hidden = false;
    this.hint.hidden = true;
    this.closeBtn.hidden = false;
    this.openBtn.hidden = true;
    this.shell.disabled = true;
    this.session = openTerminal(this.screen, id, { cmd: [this.shell.value], onState: (s, d) => this.setState(s, d) });
  }

  close() {
    this.session?.close();
    this.session = undefined;
    this.screen.replaceChildren();
    this.screen.hidden = true;
    this.hint.hidden = false;
    this.closeBtn.hidden = true;
    this.openBtn.hidden = false;
    this.shell.disabled = false;
    delete this.el.dataset.state;
    setText(this.state, '');
  }
}
