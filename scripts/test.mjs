// Runs every *.test.ts under src/ and test/ with Node's own runner (tsx strips the types).
// Node 20's --test takes no globs, so the files are collected here.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length ? only : [...find('src'), ...find('test')].sort();
// Not --test-force-exit: it ends a file once the tests registered so far are done, so a file that awaits at its top
// level between tests loses the later ones without a word (src/containers/logs.test.ts lost four that way).
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', detached: true });
// The whole suite takes about 8 minutes on 2 cores; a run still going after 45 has hung, and is stopped with a
// message rather than left to CI's limit, which would keep nothing of what it printed.
const limitMin = Number(process.env.BERTH_TEST_LIMIT_MIN) || 45;
const watchdog = setTimeout(() => {
  console.error(`\nscripts/test.mjs: the run is still going after ${limitMin} minutes: stopped (a test or hook hung; the last files started are above)`);
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  process.exit(1);
}, limitMin * 60_000);
// The run has its own process group (so the watchdog can stop all of it): a Ctrl-C or a kill reaches it from here.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { try { process.kill(-child.pid, sig); } catch { /* gone */ } });
child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  process.exit(code ?? (signal ? 1 : 0));
});
