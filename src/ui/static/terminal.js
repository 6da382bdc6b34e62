// The container's terminal: xterm.js on a WebSocket to an exec with a TTY (the server's terminal.ts). Binary
// frames carry the terminal's bytes both ways; text frames are JSON: resize from here, ready/exit/error back.

import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { styleNonce, terminalProtocols } from './api.js';

// The page's style policy allows <style> elements only with its nonce; xterm.js makes a few for its grid and
// colours, through document.createElement, so those get the nonce as they are made.
if (styleNonce && !document.createElement.berthNonced) {
  const create = document.createElement.bind(document);
  const stamped = (tag, opts) => {
    const el = create(tag, opts);
    if (String(tag).toLowerCase() === 'style') el.nonce = styleNonce;
    return el;
  };
  stamped.berthNonced = true;
  document.createElement = stamped;
}

const THEME = {
  background: '#0d1321', foreground: '#d6deeb', cursor: '#7fdbca', selectionBackground: '#1d3b53',
  black: '#011627', red: '#ef5350', green: '#22da6e', yellow: '#c5e478', blue: '#82aaff', magenta: '#c792ea', cyan: '#21c7a8', white: '#ffffff',
  brightBlack: '#575656', brightRed: '#ef5350', brightGreen: '#22da6e', brightYellow: '#ffeb95', brightBlue: '#82aaff', brightMagenta: '#c792ea', brightCyan: '#7fdbca', brightWhite: '#ffffff',
};

/**
 * Opens a shell (`cmd`, argv) in container `id`, drawn into `host`. `onState(state, detail)` hears
 * 'connecting', 'open', 'exited' (detail: the exit code), 'error' (detail: the message) and 'closed'.
 * Returns { close(), focus() }.
 */
export function openTerminal(host, id, { cmd = ['sh'], onState = () => {} } = {}) {
  const term = new Terminal({
    cursorBlink: true, fontSize: 13, scrollback: 5000, theme: THEME,
    fontFamily: 'ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace',
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(host);
  try { fit.fit(); } catch { /* not laid out yet: the observer fits it */ }

  const q = new URLSearchParams({ container: id, cols: String(term.cols), rows: String(term.rows) });
  for (const a of cmd) q.append('cmd', a);
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/exec?${q}`, terminalProtocols());
  ws.binaryType = 'arraybuffer';
  let state = 'connecting';
  const setState = (s, detail) => { state = s; onState(s, detail); };
  setState('connecting');

  const encoder = new TextEncoder();
  const sendBytes = (bytes) => { if (ws.readyState === WebSocket.OPEN) ws.send(bytes); };
  term.onData((d) => sendBytes(encoder.encode(d)));
  term.onBinary((d) => sendBytes(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
  term.onResize(({ cols, rows }) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows })); });

  ws.onmessage = (e) => {
    if (typeof e.data !== 'string') { term.write(new Uint8Array(e.data)); return; }
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    if (msg.type === 'ready') {
      setState('open');
      // The size may have changed while the exec started.
      ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
      term.focus();
    } else if (msg.type === 'exit') {
      term.write(`\r\n\x1b[2m[process exited with code ${msg.code}]\x1b[0m\r\n`);
      setState('exited', msg.code);
    } else if (msg.type === 'error') {
      term.write(`\x1b[31m${msg.message}\x1b[0m\r\n`);
      setState('error', msg.message);
    }
  };
  ws.onclose = () => {
    if (state === 'connecting') setState('error', 'the dashboard refused the terminal (reload the page?)');
    else if (state === 'open') setState('closed');
  };

  const resize = new ResizeObserver(() => { try { fit.fit(); } catch { /* hidden */ } });
  resize.observe(host);
  return {
    term,
    focus: () => term.focus(),
    close() {
      resize.disconnect();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      term.dispose();
    },
  };
}
