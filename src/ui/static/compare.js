// `berth compare` from the page: one image and command run as a container and then as a VM
// (GET /berth/compare), drawn as paired bars with one line each on why the two differ.

import { fill, h, icon, setText, sizeIEC, sizeSI } from './dom.js';

const SIDE_NAMES = { oci: 'container', vm: 'VM' };

export class ComparePanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.image = h('select', { class: 'input', 'aria-label': 'image', dataset: { field: 'image' } });
    this.command = h('input', { class: 'input mono', type: 'text', value: 'echo hello', 'aria-label': 'command', dataset: { field: 'command' } });
    this.run = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'compare' }, onclick: () => this.start() }, icon('play'), 'Run both');
    this.status = h('span', { class: 'muted compare-status' });
    this.result = h('div', { class: 'compare-result' });
    this.el = h('div', { class: 'card compare-card', dataset: { panel: 'compare' } },
      h('div', { class: 'card-head' }, h('h2', {}, icon('gauge'), 'Measure both'),
        h('span', { class: 'muted', text: 'the same image and command, once as a container and once as a VM' })),
      h('div', { class: 'compare-form' },
        h('label', {}, h('span', { text: 'Image' }), this.image),
        h('label', { class: 'grow' }, h('span', { text: 'Command (sh -c)' }), this.command),
        this.run, this.status),
      this.result);
  }

  render() {
    const tags = this.ctx.state.images.flatMap((i) => (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>')).sort();
    const key = tags.join(' ');
    if (key === this.tagsKey) return;
    this.tagsKey = key;
    const current = this.image.value;
    fill(this.image, tags.map((t) => h('option', { value: t, text: t })));
    this.image.value = tags.includes(current) ? current : tags.find((t) => t.startsWith('busybox')) ?? tags[0] ?? '';
    this.run.disabled = !tags.length || this.running;
  }

  async start() {
    const image = this.image.value;
    if (!image || this.running) return;
    const text = this.command.value.trim();
    const query = new URLSearchParams({ image });
    if (text) query.set('cmd', JSON.stringify(['sh', '-c', text]));
    this.running = true;
    this.run.disabled = true;
    this.run.classList.add('busy');
    const t0 = Date.now();
    const tick = setInterval(() => setText(this.status, `running as a container, then as a VM… ${Math.round((Date.now() - t0) / 1000)}s`), 500);
    setText(this.status, 'running as a container, then as a VM…');
    try {
      const res = await this.ctx.api.getJson(`/berth/compare?${query}`);
      this.show(res);
      setText(this.status, `done in ${Math.round((Date.now() - t0) / 1000)}s`);
    } catch (e) {
      setText(this.status, '');
      this.ctx.toast(`compare: ${e.message}`);
    } finally {
      clearInterval(tick);
      this.running = false;
      this.run.disabled = false;
      this.run.classList.remove('busy');
      void this.ctx.refreshSoon();
    }
  }

  show(r) {
    const sides = r.sides ?? [];
    const name = (s) => SIDE_NAMES[s.runtime] ?? s.runtime;
    const vm = sides.find((s) => s.runtime === 'vm');
    const accel = vm?.details?.accelerator ? String(vm.details.accelerator).toUpperCase() : undefined;
    const total = (s) => Object.entries(s.storage ?? {}).filter(([k]) => k !== 'imageCompressed').reduce((n, [, v]) => n + v, 0);
    const metrics = [
      { key: 'first', title: 'Time to first output', value: (s) => s.firstOutputMs, format: ms,
        why: `The VM boots a kernel before the command runs${accel === 'TCG' ? ', with QEMU emulating the CPU in software (TCG: no KVM here)' : ''}; the container's process starts on the running host kernel.` },
      { key: 'exit', title: 'Time to exit', value: (s) => s.exitMs, format: ms,
        why: 'Exit includes the VM powering off; a container ends when its process does.' },
      { key: 'memory', title: 'Peak host memory', value: (s) => s.peakMemoryBytes, format: (v) => sizeIEC(v),
        why: `The VM holds a guest kernel and its page cache inside QEMU${vm?.details?.memoryBytes ? ` (up to ${sizeIEC(vm.details.memoryBytes)} of guest RAM)` : ''}; the container costs only what its processes touch.` },
      { key: 'storage', title: 'On disk', value: total, format: (v) => sizeSI(v),
        detail: (s) => Object.entries(s.storage ?? {}).filter(([k]) => k !== 'imageCompressed').map(([k, v]) => `${storageName(k)} ${sizeSI(v)}`).join(' + '),
        why: 'Both use the image; the VM adds a kernel, an initramfs and an ext4 root disk made from the image.' },
    ];
    fill(this.result,
      h('div', { class: 'compare-meta' },
        h('span', { class: 'badge badge-plain mono', text: r.image }),
        h('code', { text: (r.command ?? []).join(' ') || '(the image\'s command)' })),
      h('div', { class: 'compare-grid', dataset: { compare: 'result' } },
        metrics.map((m) => {
          const values = sides.map((s) => m.value(s));
          const max = Math.max(1, ...values.filter((v) => Number.isFinite(v)));
          return h('div', { class: 'metric', dataset: { metric: m.key } },
            h('h3', { text: m.title }),
            sides.map((s, i) => {
              const v = values[i];
              const fillEl = h('span', { class: 'bar-fill' });
              fillEl.style.width = Number.isFinite(v) ? `${Math.max(1.5, (v / max) * 100)}%` : '0%';
              return h('div', { class: `bar-row side-${s.runtime}` },
                h('span', { class: 'bar-label', text: name(s) }),
                h('span', { class: 'bar' }, fillEl),
                h('span', { class: 'bar-value', text: Number.isFinite(v) ? m.format(v) : '—', title: m.detail?.(s) ?? '' }));
            }),
            h('p', { class: 'why', text: m.why }));
        }),
        h('div', { class: 'metric kernels', dataset: { metric: 'kernel' } },
          h('h3', { text: 'Kernel each one saw' }),
          h('div', { class: 'kernel-row' }, h('span', { class: 'bar-label', text: 'host' }), h('code', { text: r.hostKernel })),
          sides.map((s) => h('div', { class: `kernel-row side-${s.runtime}` }, h('span', { class: 'bar-label', text: name(s) }),
            h('code', { text: s.kernel || '—' }), s.kernel === r.hostKernel ? h('span', { class: 'same', text: 'same as the host' }) : h('span', { class: 'own', text: 'its own' }))),
          h('p', { class: 'why', text: 'A container\'s processes make their system calls to the host\'s kernel; the VM\'s go to the kernel it booted.' }))));
  }
}

function ms(v) {
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

function storageName(k) {
  return { imageUnpacked: 'image', kernel: 'kernel', initramfs: 'initramfs', rootDisk: 'root disk' }[k] ?? k;
}
