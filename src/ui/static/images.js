// The images view: a pull form with per-layer progress, then the images (tags, size, age, which containers
// use each, removal), each with its layers: the build step that made each one and what it added.

import { readJsonLines } from './api.js';
import { ago, fill, h, icon, setText, shortId, sizeSI } from './dom.js';
import { actionButton, containerName } from './widgets.js';

export class ImagesView {
  constructor(ctx) {
    this.ctx = ctx;
    this.tbody = h('tbody');
    this.total = h('span', { class: 'muted' });
    /** Image IDs whose layers are shown, and what was fetched for them: id → { history, layers } | { error } | 'loading'. */
    this.expanded = new Set();
    this.layerData = new Map();
    this.pull = new PullPanel(ctx);
    this.empty = h('div', { class: 'empty' }, icon('layers'), h('p', { text: 'No images yet.' }),
      h('code', { text: 'berth bootstrap busybox' }), h('span', { class: 'muted', text: ' or pull one above' }));
    this.el = h('section', { class: 'view view-images', dataset: { view: 'images' } },
      this.pull.el,
      h('div', { class: 'card' },
        h('div', { class: 'card-head' }, h('h2', { text: 'Images' }), this.total),
        h('div', { class: 'table-wrap' },
          h('table', { class: 'table images-table' },
            h('thead', {}, h('tr', {}, ['Tags', 'ID', 'Size', '', 'Created', 'Used by', ''].map((t) => h('th', { text: t })))),
            this.tbody),
          this.empty)));
  }

  render() {
    const images = [...this.ctx.state.images].sort((a, b) => b.Created - a.Created);
    const biggest = Math.max(1, ...images.map((i) => i.Size));
    const users = new Map();
    for (const c of this.ctx.state.containers.values()) {
      const list = users.get(c.summary.ImageID) ?? [];
      list.push(containerName(c));
      users.set(c.summary.ImageID, list);
    }
    this.empty.hidden = images.length > 0;
    fill(this.total, images.length ? `${images.length} image${images.length === 1 ? '' : 's'} · ${sizeSI(images.reduce((n, i) => n + i.Size, 0))}` : '');
    // Rebuilt only when the set of images, their users or the open layer lists changed, so a pending "Confirm?" survives polls.
    for (const id of this.expanded) if (!images.some((i) => i.Id === id)) this.expanded.delete(id);
    const key = JSON.stringify([images.map((i) => [i.Id, i.RepoTags, i.Size]), [...users], [...this.expanded],
      [...this.expanded].map((id) => (typeof this.layerData.get(id) === 'object' ? 1 : 0))]);
    if (key === this.key) return;
    this.key = key;
    fill(this.tbody, images.flatMap((img) => {
      const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
      const usedBy = users.get(img.Id) ?? [];
      const bar = h('span', { class: 'bar-fill' });
      bar.style.width = `${Math.max(2, (img.Size / biggest) * 100)}%`;
      const open = this.expanded.has(img.Id);
      const row = h('tr', { class: `image-row${open ? ' open' : ''}`, dataset: { id: img.Id, tags: tags.join(' ') } },
        h('td', {}, h('div', { class: 'tag-cell' }, h('button', { type: 'button', class: 'disclose', dataset: { action: 'layers' }, 'aria-expanded': String(open), title: 'Show its layers',
          onclick: () => this.toggle(img.Id) }, icon('chevron')),
        tags.length ? h('span', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag mono', text: t }))) : h('span', { class: 'muted', text: '<none>' }))),
        h('td', { class: 'mono', text: shortId(img.Id) }),
        h('td', { class: 'size', text: sizeSI(img.Size) }),
        h('td', { class: 'bar-cell' }, h('span', { class: 'bar' }, bar)),
        h('td', { text: ago(img.Created * 1000) }),
        h('td', {}, usedBy.length ? h('span', { class: 'users', title: usedBy.join(', ') }, `${usedBy.length} container${usedBy.length === 1 ? '' : 's'}`) : h('span', { class: 'muted', text: '—' })),
        h('td', { class: 'actions-cell' }, h('div', { class: 'actions' }, actionButton({
          action: 'remove-image', label: 'Remove', iconName: 'trash', kind: 'btn-danger', confirm: true,
          run: () => this.ctx.act(`remove ${tags[0] ?? shortId(img.Id)}`, async () => {
            // Each name as `docker rmi NAME` would (the last one deletes the image); the ID for an untagged one.
            for (const ref of tags.length ? tags : [img.Id]) await this.ctx.api.del(`/images/${encodeURIComponent(ref)}`);
          }),
        }))));
      return open ? [row, this.layersRow(img)] : [row];
    }));
  }

  toggle(id) {
    if (this.expanded.has(id)) this.expanded.delete(id);
    else {
      this.expanded.add(id);
      if (typeof this.layerData.get(id) !== 'object') void this.loadLayers(id);
    }
    this.render();
  }

  /** `docker history` and the image's RootFS, joined: each build step with the layer it made (if any). */
  async loadLayers(id) {
    this.layerData.set(id, 'loading');
    try {
      const ref = encodeURIComponent(id);
      const [history, inspect] = await Promise.all([this.ctx.api.getJson(`/images/${ref}/history`), this.ctx.api.getJson(`/images/${ref}/json`)]);
      this.layerData.set(id, { steps: buildSteps(history, inspect?.RootFS?.Layers ?? []) });
    } catch (e) {
      this.layerData.set(id, { error: e.message });
    }
    this.render();
  }

  layersRow(img) {
    const data = this.layerData.get(img.Id);
    let body;
    if (typeof data !== 'object') body = h('p', { class: 'muted', text: 'Reading the image\'s history…' });
    else if (data.error) body = h('p', { class: 'note', text: `Its layers could not be read: ${data.error}` });
    else {
      const biggest = Math.max(1, ...data.steps.map((s) => s.size));
      const made = data.steps.filter((s) => !s.empty).length;
      body = [
        h('p', { class: 'layers-sum muted', text: `${data.steps.length} build step${data.steps.length === 1 ? '' : 's'}, ${made} of them made a layer · oldest first, as the Dockerfile reads` }),
        h('table', { class: 'layers-table' },
          h('thead', {}, h('tr', {}, ['#', 'Step', 'Layer', 'Size', ''].map((t) => h('th', { text: t })))),
          h('tbody', {}, data.steps.map((s, i) => {
            const fillBar = h('span', { class: 'bar-fill' });
            fillBar.style.width = s.size ? `${Math.max(2, (s.size / biggest) * 100)}%` : '0';
            return h('tr', { dataset: { layer: String(i), empty: String(s.empty) }, class: s.empty ? 'layer-empty' : '' },
              h('td', { class: 'layer-n muted', text: String(i + 1) }),
              h('td', { class: 'layer-step mono', title: s.createdBy, text: s.step || '(no step recorded)' }),
              h('td', { class: 'layer-digest mono' }, s.empty ? h('span', { class: 'muted', text: 'no layer' }) : h('span', { title: s.diffId ?? '', text: s.diffId ? shortId(s.diffId) : 'layer' })),
              h('td', { class: 'layer-size', text: layerSize(s.size) }),
              h('td', { class: 'bar-cell' }, h('span', { class: 'bar' }, fillBar)));
          }))),
      ];
    }
    return h('tr', { class: 'layers-row', dataset: { layersFor: img.Id } }, h('td', { colspan: '7' }, h('div', { class: 'layers' }, body)));
  }
}

/**
 * History entries (newest first, as the API gives them) in build order, each with whether it made a layer and,
 * for those that did, the layer's diff ID (RootFS.Layers, bottom up). The API does not say which entries made a
 * layer; a step that made an empty one has size 0 like a metadata step, so sizes decide when their count matches
 * the layers, the kind of step otherwise, and when neither does the digests are left out.
 */
export function buildSteps(history, diffIds) {
  const steps = [...history].reverse().map((e) => ({
    createdBy: e.CreatedBy ?? '', step: stepText(e.CreatedBy ?? '') || (e.Comment ?? ''), size: e.Size ?? 0, created: e.Created, comment: e.Comment ?? '',
  }));
  // Metadata-only steps (ENV, CMD, LABEL… written as `#(nop)`) make no layer; COPY, ADD and RUN do, even an empty one.
  const metadataOnly = (s) => /#\(nop\)/.test(s.createdBy) && !/#\(nop\)\s*(COPY|ADD)\b/.test(s.createdBy);
  const rules = [(s) => s.size > 0, (s) => s.size > 0 || !metadataOnly(s)];
  const rule = rules.find((r) => steps.filter(r).length === diffIds.length);
  let next = 0;
  for (const s of steps) {
    s.empty = !(rule ?? rules[0])(s);
    if (!s.empty && rule) s.diffId = diffIds[next++];
  }
  return steps;
}

/** A history line as a Dockerfile step: `/bin/sh -c #(nop)  CMD ["sh"]` → `CMD ["sh"]`, `/bin/sh -c echo` → `RUN echo`. */
export function stepText(createdBy) {
  const t = createdBy.trim();
  const nop = /^\/bin\/sh -c #\(nop\)\s*(.*)$/s.exec(t);
  if (nop) return nop[1].trim();
  const run = /^\/bin\/sh -c (.*)$/s.exec(t);
  if (run) return `RUN ${run[1].trim()}`;
  return t;
}

/** A layer's size, "0 B" for a step that added nothing. */
export function layerSize(n) {
  return sizeSI(n).replace(/^([\d.]+)/, '$1 ');
}

/**
 * Pull with progress: `POST /images/create?fromImage=REF`, read as docker's JSON progress stream. Each layer
 * gets a row and a bar (download, then extraction); the bar on top sums them, weighted by layer size.
 */
class PullPanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.input = h('input', { class: 'input mono', name: 'pull-ref', placeholder: 'registry:5000/name:tag', 'aria-label': 'Image to pull', autocomplete: 'off', spellcheck: 'false' });
    this.button = h('button', { type: 'submit', class: 'btn btn-go', dataset: { action: 'pull' } }, icon('download'), 'Pull');
    this.form = h('form', { class: 'pull-form', onsubmit: (e) => { e.preventDefault(); void this.start(); } }, this.input, this.button);
    this.barFill = h('span', { class: 'bar-fill' });
    this.bar = h('span', { class: 'bar pull-bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0', 'aria-label': 'pull progress' }, this.barFill);
    this.percent = h('span', { class: 'pull-percent' });
    this.status = h('p', { class: 'pull-status mono' });
    this.layers = h('div', { class: 'pull-layers' });
    this.progress = h('div', { class: 'pull-progress', hidden: true }, h('div', { class: 'pull-overall' }, this.bar, this.percent), this.status, this.layers);
    this.el = h('div', { class: 'card pull-card', dataset: { panel: 'pull' } },
      h('div', { class: 'card-head' }, h('h2', {}, icon('download'), 'Pull an image'), h('span', { class: 'muted', text: 'from a registry, as docker pull does' })),
      this.form, this.progress);
  }

  setOverall(fraction) {
    const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    this.barFill.style.width = `${pct}%`;
    this.bar.setAttribute('aria-valuenow', String(pct));
    setText(this.percent, `${pct}%`);
  }

  async start() {
    const ref = this.input.value.trim();
    if (!ref || this.el.dataset.state === 'pulling') return;
    this.el.dataset.state = 'pulling';
    this.button.disabled = true;
    this.progress.hidden = false;
    this.layerRows = new Map();
    this.layers.replaceChildren();
    this.setOverall(0);
    setText(this.status, `Pulling ${ref}…`);
    let failure;
    try {
      // A name alone would be every tag of the repository (docker pull -a); the field means :latest, as docker pull does.
      const tag = /@|:[^/]*$/.test(ref) ? '' : '&tag=latest';
      const res = await this.ctx.api.request('POST', `/images/create?fromImage=${encodeURIComponent(ref)}${tag}`);
      await readJsonLines(res, (msg) => {
        if (msg.error || msg.errorDetail) { failure = msg.errorDetail?.message ?? msg.error; return; }
        this.onMessage(msg);
      });
    } catch (e) {
      failure = e.message;
    }
    this.button.disabled = false;
    if (failure) {
      this.el.dataset.state = 'error';
      setText(this.status, failure);
      this.ctx.toast(`pull ${ref}: ${failure}`);
    } else {
      for (const row of this.layerRows.values()) if (row.fraction < 1) this.setLayer(row, row.status, 1);
      this.setOverall(1);
      this.el.dataset.state = 'done';
      this.ctx.toast(`Pulled ${ref}`, 'info');
    }
    await this.ctx.act('list images', async () => {});
  }

  onMessage(msg) {
    if (!msg.id || /^Pulling from /.test(msg.status ?? '')) {
      // Whole-pull lines: "Pulling from …", "Digest: …", "Status: Downloaded newer image for …".
      if (msg.status) setText(this.status, msg.id && !/^Pulling from /.test(msg.status) ? `${msg.id}: ${msg.status}` : msg.status);
      return;
    }
    let row = this.layerRows.get(msg.id);
    if (!row) {
      row = { id: msg.id, total: 0, fraction: 0, status: '' };
      row.fill = h('span', { class: 'bar-fill' });
      row.statusEl = h('span', { class: 'pull-layer-status' });
      row.bytes = h('span', { class: 'pull-layer-bytes muted' });
      row.el = h('div', { class: 'pull-layer', dataset: { layerId: msg.id } },
        h('span', { class: 'mono pull-layer-id', text: msg.id }), row.statusEl, h('span', { class: 'bar' }, row.fill), row.bytes);
      this.layerRows.set(msg.id, row);
      this.layers.append(row.el);
    }
    const d = msg.progressDetail ?? {};
    if (d.total) row.total = d.total;
    const share = (cur) => (row.total ? Math.min(1, cur / row.total) : 0);
    // Downloading is four fifths of a layer's bar, extracting the rest.
    const fraction = {
      'Pulling fs layer': 0, Waiting: 0, Downloading: 0.8 * share(d.current ?? 0), 'Verifying Checksum': 0.8, 'Download complete': 0.8,
      Extracting: 0.8 + 0.2 * share(d.current ?? 0), 'Pull complete': 1, 'Already exists': 1,
    }[msg.status];
    this.setLayer(row, msg.status, fraction ?? row.fraction);
    if (d.current !== undefined && row.total) setText(row.bytes, `${sizeSI(d.current)} / ${sizeSI(row.total)}`);
    else if (msg.status === 'Already exists') setText(row.bytes, '');
    const rows = [...this.layerRows.values()];
    const weight = (r) => r.total || 1;
    this.setOverall(rows.reduce((n, r) => n + r.fraction * weight(r), 0) / Math.max(1, rows.reduce((n, r) => n + weight(r), 0)));
  }

  setLayer(row, status, fraction) {
    row.status = status;
    row.fraction = Math.max(row.fraction, fraction);
    row.fill.style.width = `${Math.round(row.fraction * 100)}%`;
    row.el.dataset.status = status;
    row.el.dataset.done = String(row.fraction >= 1);
    setText(row.statusEl, status);
  }
}
