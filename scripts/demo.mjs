// `npm run demo`: starts a daemon on the default socket if none answers, makes busybox:latest if it is
// missing, runs a container in it and shows its output and how long the run took.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, openSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BERTH = resolve(ROOT, 'bin/berth');
const host = process.env.BERTH_HOST ?? 'unix:///run/berth/berth.sock';
const socket = host.replace(/^unix:\/\//, '');
const env = { ...process.env, BERTH_HOST: host };

const ping = () => new Promise((res) => {
  const req = request({ socketPath: socket, path: '/_ping' }, (r) => { r.resume(); res(r.statusCode === 200); });
  req.on('error', () => res(false));
  req.end();
});

function berth(args, opts = {}) {
  return spawnSync(BERTH, [...args], { env, encoding: 'utf8', ...opts });
}

function step(text) { process.stdout.write(`\n\x1b[1m▸ ${text}\x1b[0m\n`); }

if (!(await ping())) {
  const log = '/var/log/berth.log';
  step(`starting berth daemon on ${host} (log: ${log})`);
  const out = openSync(log, 'a');
  const child = spawn(BERTH, ['daemon', '-H', host], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  const until = Date.now() + 20_000;
  while (!(await ping())) {
    if (Date.now() > until) { console.error(`the daemon did not answer; see ${log}`); process.exit(1); }
    await new Promise((r) => setTimeout(r, 100));
  }
} else {
  step(`using the berth daemon already running on ${host}`);
}

if (berth(['inspect', '--type', 'image', 'busybox']).status !== 0) {
  step('creating busybox:latest from Debian\'s busybox-static');
  const b = berth(['bootstrap', 'busybox'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

step('berth run --rm busybox echo "Hello from a berth container"');
const t0 = process.hrtime.bigint();
const r = berth(['run', '--rm', 'busybox', 'echo', 'Hello from a berth container'], { stdio: 'inherit' });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(`(exit ${r.status}, ${ms.toFixed(0)} ms end to end: CLI start, create, overlay mount, runc under conmon, output, removal)`);

step('what the container sees');
berth(['run', '--rm', 'busybox', 'sh', '-c',
  'echo "PID of the shell: $$ (its own PID namespace)"; echo "hostname: $(hostname)"; echo "kernel: $(uname -r) (the host\'s: containers share it)"; echo "processes:"; ps -o pid,user,args'],
{ stdio: 'inherit' });

step('the same image as a micro-VM with its own kernel: berth compare busybox uname -r');
const cmp = berth(['compare', 'busybox', 'uname', '-r'], { stdio: ['ignore', 'inherit', 'inherit'] });
if (cmp.status !== 0) console.log('(the vm runtime could not run here; see the message above)');

step('berth images');
berth(['images'], { stdio: 'inherit' });

if (!existsSync('/usr/local/bin/berth') && !lstatSync('/usr/local/bin/berth', { throwIfNoEntry: false })) {
  symlinkSync(BERTH, '/usr/local/bin/berth');
  console.log('\n(linked /usr/local/bin/berth to this checkout)');
}
console.log(`\nThe daemon keeps running. Try:\n  berth run -it --rm busybox sh\n  DOCKER_HOST=${host} docker run --rm busybox uname -a\n  berth ps -a; berth logs -f NAME; berth stop NAME\nStop it with: kill $(cat /var/lib/berth/berth.pid)`);
