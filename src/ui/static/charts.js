// A small live line chart in SVG: the last N samples, an area under the line, the current value large.

import { h, setText } from './dom.js';

const W = 300;
const H = 100;

/** A "nice" axis top at or above v: 1, 2, 2.5, 5 × 10^n. */
function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * createChart({ title, kind, format, floor }) → { el, push(value, sub?), clear() }.
 * `kind` picks the colour (cpu, mem); `floor` is the smallest axis top (e.g. 1 for 1 %); the axis top is a round
 * number of `scale` units (2^20 for MiB).
 */
export function createChart({ title, kind, format, floor = 1, scale = 1, samples = 60 }) {
  const values = [];
  const value = h('span', { class: 'chart-value', text: '—' });
  const sub = h('span', { class: 'chart-sub' });
  const topLabel = h('span', { class: 'chart-axis' });
  const area = h('svg:path', { class: 'chart-area' });
  const line = h('svg:path', { class: 'chart-line' });
  const dot = h('svg:circle', { class: 'chart-dot', r: '3', cx: '-10', cy: '-10' });
  const grid = [25, 50, 75].map((y) => h('svg:line', { class: 'chart-grid', x1: '0', x2: String(W), y1: String(y), y2: String(y) }));
  const svg = h('svg:svg', { class: 'chart-svg', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title },
    ...grid, area, line);
  const dotSvg = h('svg:svg', { class: 'chart-svg chart-overlay', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none' }, dot);
  const el = h('figure', { class: `chart chart-${kind}`, dataset: { chart: kind } },
    h('figcaption', {}, h('span', { class: 'chart-title', text: title }), value, sub),
    h('div', { class: 'chart-plot' }, svg, dotSvg, topLabel));

  function draw() {
    const top = niceMax(Math.max(floor, ...values) / scale) * scale;
    setText(topLabel, format(top));
    if (!values.length) {
      line.setAttribute('d', '');
      area.setAttribute('d', '');
      return;
    }
    const step = W / (samples - 1);
    const x0 = W - (values.length - 1) * step;
    const pts = values.map((v, i) => [x0 + i * step, H - (Math.min(v, top) / top) * (H - 4) - 2]);
    const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
    line.setAttribute('d', d);
    area.setAttribute('d', `${d}L${W},${H}L${pts[0][0].toFixed(1)},${H}Z`);
    const [lx, ly] = pts[pts.length - 1];
    dot.setAttribute('cx', String(lx));
    dot.setAttribute('cy', String(ly));
  }

  draw();
  return {
    el,
    push(v, subText = '') {
      values.push(v);
      if (values.length > samples) values.shift();
      setText(value, format(v));
      setText(sub, subText);
      el.dataset.samples = String(values.length);
      draw();
    },
    clear() {
      values.length = 0;
      setText(value, '—');
      setText(sub, '');
      el.dataset.samples = '0';
      draw();
    },
  };
}

/** CPU % and memory from two docker stats samples, computed as `docker stats` does. */
export function statsNumbers(s) {
  const cpu = s.cpu_stats ?? {};
  const pre = s.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const sysDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const online = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1;
  const cpuPercent = sysDelta > 0 && cpuDelta >= 0 && pre.system_cpu_usage ? (cpuDelta / sysDelta) * online * 100 : undefined;
  const mem = s.memory_stats ?? {};
  const st = mem.stats ?? {};
  // cgroup v1 counts the page cache in usage; docker subtracts inactive file pages (v2) or total_inactive_file (v1).
  const cache = st.inactive_file ?? st.total_inactive_file ?? 0;
  const memUsed = mem.usage !== undefined ? Math.max(0, mem.usage - (cache < mem.usage ? cache : 0)) : undefined;
  return { cpuPercent, memUsed, memLimit: mem.limit, pids: s.pids_stats?.current };
}
