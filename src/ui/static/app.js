// berth's dashboard: one page over the Docker Engine API (/api on this origin). The container list stays
// live from the engine's /events stream, with a slow poll behind it in case the stream drops.

import * as api from './api.js';
import { ContainersView } from './containers.js';
import { fill, h, icon, setText, sizeIEC, sizeSI } from './dom.js';
import { ImagesView } from './images.js';
import { VmsView } from './vms.js';
import { runtimeOf } from './widgets.js';

const POLL_MS = 5000;
const IMAGES_POLL_MS = 15000;

const state = {
  info: undefined,
  /** id → { summary (/containers/json), inspect (/containers/{id}/json), dirty } */
  containers: new Map(),
  images: [],
  selected: undefined,
  view: 'containers',
  /** 'connecting' | 'live' (events stream open) | 'polling' | 'offline' */
  link: 'connecting',
  /** Whether the daemon serves /containers/{id}/stats; unknown until first asked. */
  statsSupported: undefined,
};

const toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });

function toast(message, kind = 'error') {
  const t = h('div', { class: `toast toast-${kind}` }, icon(kind === 'error' ? 'alert' : 'check'), h('span', { text: message }));
  toasts.append(t);
  setTimeout(() => { t.classList.add('leaving'); setTimeout(() => t.remove(), 300); }, kind === 'error' ? 7000 : 3000);
}

const ctx = {
  state,
  api,
  toast,
  /** Runs an action of a button; errors become toasts; the lists refresh afterwards either way. */
  async act(label, fn) {
    try {
      await fn();
    } catch (e) {
      toast(`${label}: ${e.message}`);
    } finally {
      await refreshAll();
    }
  },
  select(id, show = false) {
    state.selected = id;
    if (show) location.hash = `#/containers/${id}`;
    else history.replaceState(null, '', `#/containers/${id}`);
    if (show) route();
    render();
  },
  refreshSoon: () => scheduleRefresh(150),
};

// ---- the frame: top bar, tabs, views ----

const views = {
  containers: new ContainersView(ctx),
  images: new ImagesView(ctx),
  vms: new VmsView(ctx),
};

const linkPill = h('span', { class: 'link-pill', dataset: { link: 'connecting' } }, h('span', { class: 'pill-dot' }), h('span', { class: 'link-text', text: 'connecting' }));
const engineLine = h('div', { class: 'engine-line' });
const tabCounts = { containers: h('span', { class: 'tab-count' }), images: h('span', { class: 'tab-count' }), vms: h('span', { class: 'tab-count' }) };
const tabs = Object.entries({ containers: 'Containers', images: 'Images', vms: 'Containers vs VMs' }).map(([key, label]) =>
  h('a', { class: 'tab', href: `#/${key}`, dataset: { tab: key } }, icon({ containers: 'box', images: 'layers', vms: 'chip' }[key]), label, tabCounts[key]));

const tiles = {
  running: tile('running', 'Running', 'play'),
  stopped: tile('stopped', 'Stopped', 'stop'),
  vms: tile('vms', 'Micro-VMs', 'chip'),
  images: tile('images', 'Images', 'layers'),
};

function tile(key, label, iconName) {
  const value = h('span', { class: 'tile-value', text: '–' });
  const sub = h('span', { class: 'tile-sub' });
  const el = h('div', { class: `tile tile-${key}`, dataset: { tile: key } }, h('span', { class: 'tile-icon' }, icon(iconName)), h('div', {}, h('span', { class: 'tile-label', text: label }), value, sub));
  return { el, value, sub };
}

const banner = h('div', { class: 'banner', hidden: true });

document.body.append(
  h('header', { class: 'topbar' },
    h('div', { class: 'topbar-inner' },
      h('a', { class: 'brand', href: '#/containers' }, icon('anchor'), h('span', { text: 'berth' })),
      h('nav', { class: 'tabs', 'aria-label': 'sections' }, tabs),
      h('span', { class: 'spacer' }),
      linkPill),
    h('div', { class: 'topbar-inner sub' }, engineLine)),
  banner,
  h('main', { class: 'main' },
    h('div', { class: 'tiles' }, Object.values(tiles).map((t) => t.el)),
    Object.values(views).map((v) => v.el)),
  toasts);

api.whenTokenStale(() => {
  banner.hidden = false;
  fill(banner, icon('alert'), 'The daemon restarted, so this page\'s key is stale. ',
    h('button', { type: 'button', class: 'btn btn-sm', onclick: () => location.reload() }, 'Reload'));
});

function setLink(link) {
  state.link = link;
  linkPill.dataset.link = link;
  setText(linkPill.querySelector('.link-text'), { live: 'live', polling: 'polling', offline: 'offline', connecting: 'connecting' }[link]);
  linkPill.title = { live: 'following the engine\'s event stream', polling: 'the event stream dropped: polling every few seconds', offline: 'the daemon does not answer', connecting: '' }[link];
}

function route() {
  const [, view = 'containers', id] = location.hash.split('/');
  state.view = views[view] ? view : 'containers';
  if (state.view === 'containers' && id) state.selected = decodeURIComponent(id);
  for (const t of tabs) t.classList.toggle('active', t.dataset.tab === state.view);
  for (const [k, v] of Object.entries(views)) v.el.hidden = k !== state.view;
  render();
}

function render() {
  const all = [...state.containers.values()];
  const running = all.filter((c) => c.summary.State === 'running' || c.summary.State === 'paused').length;
  const vms = all.filter((c) => runtimeOf(c) === 'vm');
  setText(tiles.running.value, String(running));
  setText(tiles.running.sub, `of ${all.length} container${all.length === 1 ? '' : 's'}`);
  setText(tiles.stopped.value, String(all.length - running));
  setText(tiles.stopped.sub, 'exited or created');
  setText(tiles.vms.value, String(vms.length));
  setText(tiles.vms.sub, `${vms.filter((c) => c.summary.State === 'running').length} running`);
  setText(tiles.images.value, String(state.images.length));
  setText(tiles.images.sub, sizeSI(state.images.reduce((n, i) => n + i.Size, 0)));
  setText(tabCounts.containers, String(all.length));
  setText(tabCounts.images, String(state.images.length));
  setText(tabCounts.vms, String(vms.length));
  const i = state.info;
  if (i) {
    setText(engineLine, `berth ${i.ServerVersion} · ${i.OperatingSystem} · kernel ${i.KernelVersion} · ${i.NCPU} CPU${i.NCPU === 1 ? '' : 's'} · ${sizeIEC(i.MemTotal)} · runtimes ${Object.keys(i.Runtimes ?? {}).join(', ')}`);
  }
  views[state.view].render();
}

// ---- keeping the state fresh ----

let refreshing;
let again = false;

/** Lists containers and inspects those that are new or changed (inspect carries the runtime, StartedAt and the VM). */
async function refreshContainers() {
  const list = await api.getJson('/containers/json?all=1');
  const seen = new Set();
  await Promise.all(list.map(async (s) => {
    seen.add(s.Id);
    const prev = state.containers.get(s.Id);
    let inspect = prev?.inspect;
    if (!prev || prev.dirty || !inspect || prev.summary.State !== s.State) {
      try {
        inspect = await api.getJson(`/containers/${encodeURIComponent(s.Id)}/json`);
      } catch (e) {
        if (e.status === 404) return; // removed in between
        throw e;
      }
    }
    state.containers.set(s.Id, { summary: s, inspect, dirty: false });
  }));
  for (const id of [...state.containers.keys()]) if (!seen.has(id)) state.containers.delete(id);
}

async function refreshImages() {
  state.images = await api.getJson('/images/json');
}

async function refreshAll({ images = true } = {}) {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    try {
      await Promise.all([refreshContainers(), images ? refreshImages() : undefined, state.info ? undefined : api.getJson('/info').then((i) => { state.info = i; })]);
      if (state.link === 'offline') setLink('polling');
    } catch (e) {
      if (e instanceof TypeError) setLink('offline'); // fetch's network error: the daemon is gone
      else toast(e.message);
    } finally {
      refreshing = undefined;
      render();
    }
  })();
  await refreshing;
  if (again) { again = false; await refreshAll({ images }); }
}

let timer;
function scheduleRefresh(ms) {
  clearTimeout(timer);
  timer = setTimeout(() => { void refreshAll(); }, ms);
}

/** The engine's event stream: each container event marks that container for a fresh inspect. */
async function followEvents() {
  for (;;) {
    try {
      const res = await api.request('GET', '/events');
      setLink('live');
      await api.readJsonLines(res, (ev) => {
        if (ev.Type === 'container') {
          const c = state.containers.get(ev.Actor?.ID ?? ev.id);
          if (c) c.dirty = true;
          scheduleRefresh(ev.Action === 'destroy' || ev.Action === 'create' ? 50 : 120);
        } else {
          scheduleRefresh(300);
        }
      });
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 403) return;
    }
    setLink(state.link === 'offline' ? 'offline' : 'polling');
    await new Promise((r) => setTimeout(r, 3000));
    void refreshAll();
  }
}

window.addEventListener('hashchange', route);
route();
void refreshAll();
void followEvents();
setInterval(() => { void refreshAll({ images: false }); }, POLL_MS);
setInterval(() => { void refreshImages().then(render, () => {}); }, IMAGES_POLL_MS);
setInterval(() => { views[state.view].tick?.(); }, 1000);
