/** `berth compare IMAGE [CMD…]`: the same workload as a container and as a VM, side by side. */
import type { Command } from 'commander';
import type { Comparison } from '../../containers/index.js';
import { clientOf } from '../context.js';
import { humanSize, table } from '../format.js';

const ms = (v: number | null) => (v === null ? '-' : v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(2)} s`);
const size = (v: number | null | undefined) => (v === null || v === undefined ? '-' : humanSize(v));

export function render(c: Comparison): string {
  const head = ['', ...c.sides.map((s) => (s.runtime === 'oci' ? 'container (runc)' : `VM (${String(s.details?.accelerator ?? '')}, ${String(s.details?.vcpus ?? '')} vCPU)`))];
  const rows: string[][] = [head];
  const row = (label: string, f: (s: Comparison['sides'][number]) => string) => rows.push([label, ...c.sides.map(f)]);
  row('kernel seen', (s) => `${s.kernel || '?'}${s.kernel === c.hostKernel ? " (the host's)" : ''}`);
  row('first output', (s) => ms(s.firstOutputMs));
  row('exit', (s) => `${ms(s.exitMs)} (code ${s.exitCode})`);
  row('peak host memory', (s) => size(s.peakMemoryBytes));
  row('image, compressed', (s) => size(s.storage.imageCompressed));
  row('image, unpacked', (s) => size(s.storage.imageUnpacked));
  row('kernel', (s) => size(s.storage.kernel));
  row('initramfs', (s) => size(s.storage.initramfs));
  row('root disk image', (s) => size(s.storage.rootDisk));
  const out = table(rows);
  return `${c.image} ${JSON.stringify(c.command)} — host kernel ${c.hostKernel}\n\n${out}`;
}

export function registerCompare(program: Command): void {
  program.command('compare').description('Run the same image and command as a container and as a micro-VM, and compare them')
    .argument('<image>').argument('[command...]')
    .option('--json', 'Print the measurements as JSON')
    .passThroughOptions()
    .action(async (image: string, cmd: string[], o: { json?: boolean }, command: Command) => {
      if (!o.json) process.stderr.write('Running as a container, then as a VM (a VM boots its own kernel: seconds under TCG)…\n');
      const c = await clientOf(command).json<Comparison>('GET', '/berth/compare', { query: { image, cmd: cmd.length ? JSON.stringify(cmd) : undefined } });
      process.stdout.write(o.json ? `${JSON.stringify(c, null, 2)}\n` : render(c));
    });
}
