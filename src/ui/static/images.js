// The images view: tags, size, age, which containers use each image, and removal.

import { ago, fill, h, icon, shortId, sizeSI } from './dom.js';
import { actionButton, containerName } from './widgets.js';

export class ImagesView {
  constructor(ctx) {
    this.ctx = ctx;
    this.tbody = h('tbody');
    this.total = h('span', { class: 'muted' });
    this.empty = h('div', { class: 'empty' }, icon('layers'), h('p', { text: 'No images yet.' }),
      h('code', { text: 'berth bootstrap busybox' }), h('span', { class: 'muted', text: ' or ' }), h('code', { text: 'berth pull REGISTRY/NAME:TAG' }));
    this.el = h('section', { class: 'view view-images', dataset: { view: 'images' } },
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
    // Rebuilt only when the set of images or their users changed, so a pending "Confirm?" survives polls.
    const key = JSON.stringify([images.map((i) => [i.Id, i.RepoTags, i.Size]), [...users]]);
    if (key === this.key) return;
    this.key = key;
    fill(this.tbody, images.map((img) => {
      const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
      const usedBy = users.get(img.Id) ?? [];
      const bar = h('span', { class: 'bar-fill' });
      bar.style.width = `${Math.max(2, (img.Size / biggest) * 100)}%`;
      return h('tr', { dataset: { id: img.Id, tags: tags.join(' ') } },
        h('td', {}, tags.length ? h('span', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag mono', text: t }))) : h('span', { class: 'muted', text: '<none>' })),
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
    }));
  }
}
