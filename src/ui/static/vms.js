// "Containers vs VMs": the same images run two ways, side by side — what each workload runs on, and the VMs' sizes.

import { ComparePanel } from './compare.js';
import { fill, h, icon, setText, sizeIEC } from './dom.js';
import { containerName, runtimeOf, stateOf, statePill, uptimeText } from './widgets.js';

export class VmsView {
  constructor(ctx) {
    this.ctx = ctx;
    this.hostKernel = h('span', { class: 'mono' });
    this.ociCount = h('span', { class: 'count' });
    this.vmCount = h('span', { class: 'count' });
    this.ociList = h('div', { class: 'cards', dataset: { list: 'oci' } });
    this.vmList = h('div', { class: 'cards', dataset: { list: 'vm' } });
    this.diagram = h('div', { class: 'diagram' });
    this.compare = new ComparePanel(ctx);
    this.el = h('section', { class: 'view view-vms', dataset: { view: 'vms' } },
      h('div', { class: 'card explain' },
        h('div', { class: 'explain-text' },
          h('h2', { text: 'Containers vs VMs' }),
          h('p', {}, h('strong', { text: 'Containers' }), ' are processes on the host\'s kernel, fenced off by namespaces and cgroups: they start in milliseconds and cost little more than their own processes.'),
          h('p', {}, h('strong', { text: 'VMs' }), ' (', h('code', { text: '--runtime vm' }), ') boot the same image with a kernel of their own under QEMU: a harder boundary, paid for with a boot and a fixed slice of memory.'),
          h('p', { class: 'muted' }, 'Host kernel: ', this.hostKernel)),
        this.diagram),
      h('div', { class: 'columns' },
        h('div', { class: 'card column column-oci' },
          h('div', { class: 'card-head' }, h('h2', {}, icon('box'), 'Containers'), this.ociCount, h('span', { class: 'muted', text: 'share the host kernel' })),
          this.ociList),
        h('div', { class: 'card column column-vm' },
          h('div', { class: 'card-head' }, h('h2', {}, icon('chip'), 'Micro-VMs'), this.vmCount, h('span', { class: 'muted', text: 'each boots its own kernel' })),
          this.vmList)),
      this.compare.el);
  }

  render() {
    const all = [...this.ctx.state.containers.values()].sort((a, b) => b.summary.Created - a.summary.Created);
    const vms = all.filter((c) => runtimeOf(c) === 'vm');
    const oci = all.filter((c) => runtimeOf(c) !== 'vm');
    const kernel = this.ctx.state.info?.KernelVersion ?? '…';
    setText(this.hostKernel, kernel);
    setText(this.ociCount, String(oci.length));
    setText(this.vmCount, String(vms.length));
    const key = JSON.stringify([kernel, all.map((c) => [c.summary.Id, stateOf(c), runtimeOf(c), c.inspect?.VM])]);
    if (key !== this.key) {
      this.key = key;
      this.renderDiagram(oci, vms, kernel);
      fill(this.ociList, oci.length ? oci.map((c) => this.card(c, [['kernel', `host ${kernel}`]])) : emptyNote('No containers.', 'berth run -d busybox sleep 600'));
      fill(this.vmList, vms.length ? vms.map((c) => {
        const vm = c.inspect?.VM ?? {};
        return this.card(c, [
          ['kernel', vm.KernelVersion ?? '—'],
          ['accelerator', vm.Accelerator ? String(vm.Accelerator).toUpperCase() : '—'],
          ['vCPUs', vm.VCPUs !== undefined ? String(vm.VCPUs) : '—'],
          ['memory', vm.MemoryBytes ? sizeIEC(vm.MemoryBytes) : '—'],
        ], vm.Accelerator === 'tcg' ? 'TCG is QEMU emulating the CPU in software (no KVM here): boots take seconds.' : undefined);
      }) : emptyNote('No VMs running the same images.', 'berth run -d --runtime vm busybox sh -c "uname -r; sleep 600"'));
    }
    this.compare.render();
    this.tick();
  }

  tick() {
    for (const el of this.el.querySelectorAll('[data-uptime-of]')) {
      const c = this.ctx.state.containers.get(el.dataset.uptimeOf);
      if (c) setText(el, uptimeText(c));
    }
  }

  card(c, facts, note) {
    const vm = runtimeOf(c) === 'vm';
    return h('button', { type: 'button', class: `mini-card ${vm ? 'mini-vm' : 'mini-oci'}`, dataset: { id: c.summary.Id, name: containerName(c) },
      onclick: () => this.ctx.select(c.summary.Id, true) },
      h('div', { class: 'mini-head' }, h('span', { class: 'name', text: containerName(c) }), statePill(stateOf(c), c)),
      h('div', { class: 'mini-image mono', text: c.summary.Image }),
      h('dl', { class: 'mini-facts' },
        facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { class: 'mono', text: v })]),
        h('dt', { text: 'uptime' }), h('dd', { dataset: { uptimeOf: c.summary.Id }, text: uptimeText(c) })),
      note ? h('p', { class: 'mini-note', text: note }) : null);
  }

  /** Two stacks: containers straight on the host kernel; each VM on its own kernel on QEMU on the host kernel. */
  renderDiagram(oci, vms, kernel) {
    const apps = (list, cls, max = 4) => {
      const shown = list.slice(0, max).map((c) => h('span', { class: `blk ${cls}`, text: containerName(c) }));
      if (list.length > max) shown.push(h('span', { class: `blk ${cls} more`, text: `+${list.length - max}` }));
      if (!list.length) shown.push(h('span', { class: `blk ${cls} ghost`, text: 'app' }));
      return shown;
    };
    const vmCols = (vms.length ? vms.slice(0, 3) : [undefined]).map((c) => h('div', { class: `vm-col${c ? '' : ' ghost'}` },
      h('span', { class: 'blk app-vm', text: c ? containerName(c) : 'app' }),
      h('span', { class: 'blk guest-kernel', text: c?.inspect?.VM?.KernelVersion ? `kernel ${c.inspect.VM.KernelVersion.split('-')[0]}` : 'guest kernel' })));
    fill(this.diagram,
      h('div', { class: 'stack' },
        h('div', { class: 'stack-title', text: 'container' }),
        h('div', { class: 'row-blocks' }, apps(oci, 'app-oci')),
        h('span', { class: 'blk host-kernel', text: `host kernel ${kernel.split('-')[0]}` }),
        h('span', { class: 'blk hw', text: 'hardware' })),
      h('div', { class: 'stack' },
        h('div', { class: 'stack-title', text: 'micro-VM' }),
        h('div', { class: 'row-blocks' }, vmCols),
        h('span', { class: 'blk qemu', text: `QEMU microvm${vms[0]?.inspect?.VM?.Accelerator ? ` · ${vms[0].inspect.VM.Accelerator.toUpperCase()}` : ''}` }),
        h('span', { class: 'blk host-kernel', text: `host kernel ${kernel.split('-')[0]}` }),
        h('span', { class: 'blk hw', text: 'hardware' })));
  }
}

function emptyNote(text, cmd) {
  return h('div', { class: 'empty small' }, h('p', { text }), h('code', { text: cmd }));
}
