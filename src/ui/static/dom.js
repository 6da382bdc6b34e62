// Building DOM without innerHTML (names, images and logs come from containers: always text, never markup),
// and the page's number and time formats.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** h('div', { class: 'x', onclick: fn, dataset: { id } }, child, …); tags 'svg:path' etc. are SVG. */
export function h(tag, props = {}, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class' && !svg) el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Sets text only when it changed (keeps selections and avoids layout work on every tick). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** An icon from the inline sprite in index.html. */
export function icon(name) {
  return h('svg:svg', { class: 'icon', 'aria-hidden': 'true' }, h('svg:use', { href: `#i-${name}` }));
}

// ---- formats ----

/** docker's sizes for images: decimal units, three significant digits ("4.26MB"). */
export function sizeSI(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toPrecision(3)}${units[i]}`;
}

/** Memory: binary units ("12.4 MiB"), as docker stats prints. */
export function sizeIEC(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? Math.round(n) : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
}

/** A duration in ms as its two largest units: "45s", "3m 12s", "2h 5m", "4d 3h". */
export function shortDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const hr = Math.floor(m / 60);
  if (hr < 24) return `${hr}h ${m % 60}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

export function ago(ms) {
  return `${shortDuration(Date.now() - ms).split(' ')[0]} ago`;
}

/** A timestamp Docker sends, or undefined for its zero time ("0001-01-01T00:00:00Z"). */
export function time(iso) {
  if (!iso || iso.startsWith('0001')) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

export function shortId(id) {
  return (id ?? '').replace(/^sha256:/, '').slice(0, 12);
}

/** Strips terminal escape sequences (colours, cursor moves) from log text. */
export function stripAnsi(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\r(?!\n)/g, '');
}
