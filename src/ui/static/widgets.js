// Small pieces shared by the views: badges, action buttons, ports as links, uptime.

import { h, icon, shortDuration, time } from './dom.js';

export function runtimeOf(c) {
  return c.inspect?.HostConfig?.Runtime || 'oci';
}

export function runtimeBadge(runtime) {
  const vm = runtime === 'vm';
  return h('span', { class: `badge badge-${vm ? 'vm' : 'oci'}`, title: vm ? 'a micro-VM with its own kernel (QEMU)' : 'a container on the host kernel (runc)' },
    icon(vm ? 'chip' : 'box'), vm ? 'vm' : runtime);
}

/** The state as docker names it, with the paused flag. */
export function stateOf(c) {
  return c.inspect?.State?.Status ?? c.summary.State;
}

/** The state, with the exit code for an exited container ("exited (0)", as docker ps puts it). */
export function statePill(state, c) {
  const code = state === 'exited' ? c?.inspect?.State?.ExitCode : undefined;
  return h('span', { class: `pill pill-${state}${code ? ' pill-failed' : ''}`, dataset: { state } }, h('span', { class: 'pill-dot' }), code === undefined ? state : `${state} (${code})`);
}

/** "3m 12s" while running; "5m ago" (when it exited) after; "never started" before the first start. */
export function uptimeText(c, now = Date.now()) {
  const st = c.inspect?.State;
  if (!st) return c.summary.Status;
  if (st.Running) {
    const started = time(st.StartedAt);
    return started ? shortDuration(now - started) : 'running';
  }
  const finished = time(st.FinishedAt);
  if (st.Status === 'created' || !finished) return 'never started';
  return `${shortDuration(now - finished).split(' ')[0]} ago`;
}

/** Published ports, one per host port (docker lists 0.0.0.0 and :: apart). */
export function publishedPorts(c) {
  const out = new Map();
  for (const p of c.summary.Ports ?? []) {
    const key = p.PublicPort ? `${p.PublicPort}/${p.Type}` : `-${p.PrivatePort}/${p.Type}`;
    if (!out.has(key)) out.set(key, p);
  }
  return [...out.values()];
}

export function portLinks(c) {
  const ports = publishedPorts(c);
  if (!ports.length) return h('span', { class: 'muted', text: '—' });
  return h('span', { class: 'ports' }, ports.map((p) => {
    if (!p.PublicPort) return h('span', { class: 'port port-exposed', title: 'exposed, not published', text: `${p.PrivatePort}/${p.Type}` });
    const label = `${p.PublicPort}→${p.PrivatePort}${p.Type === 'tcp' ? '' : `/${p.Type}`}`;
    if (p.Type !== 'tcp') return h('span', { class: 'port', text: label });
    const ip = p.IP && p.IP !== '0.0.0.0' && p.IP !== '::' ? p.IP : location.hostname.replace(/^\[|\]$/g, '');
    const host = ip.includes(':') ? `[${ip}]` : ip;
    return h('a', { class: 'port', href: `http://${host}:${p.PublicPort}/`, target: '_blank', rel: 'noopener noreferrer', onclick: (e) => e.stopPropagation() },
      label, icon('external'));
  }));
}

/**
 * A button that does `run()`; destructive ones ask once more in place ("Confirm?") for four seconds.
 * While `run()` is pending the button is busy and disabled.
 */
export function actionButton({ action, label, iconName, kind = '', confirm = false, compact = false, run }) {
  const text = h('span', { class: 'btn-label', text: label });
  const btn = h('button', { type: 'button', class: `btn btn-sm ${kind}${compact ? ' btn-icon' : ''}`, dataset: { action }, title: label, 'aria-label': label }, icon(iconName), text);
  let timer;
  btn.addEventListener('click', async (e) => {
    e.stopPropagation();
    if (confirm && btn.dataset.confirming !== '1') {
      btn.dataset.confirming = '1';
      text.textContent = 'Confirm?';
      timer = setTimeout(() => { delete btn.dataset.confirming; text.textContent = label; }, 4000);
      return;
    }
    clearTimeout(timer);
    delete btn.dataset.confirming;
    text.textContent = label;
    btn.disabled = true;
    btn.classList.add('busy');
    try { await run(); } finally { btn.disabled = false; btn.classList.remove('busy'); }
  });
  return btn;
}

/** The lifecycle buttons of a container for its current state; `compact` ones show only their icons (the list's rows). */
export function lifecycleButtons(c, ctx, { compact = false } = {}) {
  const id = c.summary.Id;
  const running = c.inspect?.State?.Running ?? c.summary.State === 'running';
  const paused = c.inspect?.State?.Paused;
  const name = c.summary.Names?.[0]?.replace(/^\//, '') ?? id.slice(0, 12);
  const path = `/containers/${encodeURIComponent(id)}`;
  const buttons = [];
  if (!running) buttons.push(actionButton({ compact, action: 'start', label: 'Start', iconName: 'play', kind: 'btn-go', run: () => ctx.act(`start ${name}`, () => ctx.api.post(`${path}/start`)) }));
  else if (paused) buttons.push(actionButton({ compact, action: 'unpause', label: 'Resume', iconName: 'play', kind: 'btn-go', run: () => ctx.act(`unpause ${name}`, () => ctx.api.post(`${path}/unpause`)) }));
  else buttons.push(actionButton({ compact, action: 'stop', label: 'Stop', iconName: 'stop', run: () => ctx.act(`stop ${name}`, () => ctx.api.post(`${path}/stop`)) }));
  buttons.push(actionButton({ compact, action: 'restart', label: 'Restart', iconName: 'restart', run: () => ctx.act(`restart ${name}`, () => ctx.api.post(`${path}/restart`)) }));
  buttons.push(actionButton({ compact, action: 'remove', label: 'Remove', iconName: 'trash', kind: 'btn-danger', confirm: true,
    run: () => ctx.act(`remove ${name}`, () => ctx.api.del(`${path}?force=${running ? 1 : 0}`)) }));
  return h('div', { class: 'actions' }, buttons);
}

export function containerName(c) {
  return c.summary.Names?.[0]?.replace(/^\//, '') ?? c.summary.Id.slice(0, 12);
}
