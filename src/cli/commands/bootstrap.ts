/**
 * `berth bootstrap busybox|debian`: base images from Debian's own packages,
 * since there is no Docker Hub here. The root filesystem is built on the
 * client side and imported through the same API call as `berth import`.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { DEFAULT_PATH } from '../../common/default-path.js';
import { childProcess } from '../builtins.js';
import { clientOf, ExitError } from '../context.js';
import { importTarball } from './images.js';

const PATH_ENV = `PATH=${DEFAULT_PATH}`;

function packageVersion(pkg: string): string {
  const r = childProcess().spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

/** A busybox root: the static binary, a link per applet, and the few files programs expect. */
export function busyboxRootfs(dir: string, busybox = '/bin/busybox'): void {
  if (!existsSync(busybox)) throw new ExitError(1, `${busybox} not found: install Debian's busybox-static (apt-get install busybox-static)`);
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'dev', 'proc', 'sys', 'root', 'home', 'var/spool/mail', 'var/www', 'tmp']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = childProcess().execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    const p = join(dir, a);
    if (a === 'bin/busybox' || existsSync(p)) continue;
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync('/bin/busybox', p);
  }
  writeFileSync(join(dir, 'etc/passwd'), [
    'root:x:0:0:root:/root:/bin/sh', 'daemon:x:1:1:daemon:/usr/sbin:/bin/false', 'bin:x:2:2:bin:/bin:/bin/false',
    'sys:x:3:3:sys:/dev:/bin/false', 'www-data:x:33:33:www-data:/var/www:/bin/false', 'nobody:x:65534:65534:nobody:/home:/bin/false', '',
  ].join('\n'));
  writeFileSync(join(dir, 'etc/group'), [
    'root:x:0:', 'daemon:x:1:', 'bin:x:2:', 'sys:x:3:', 'adm:x:4:', 'tty:x:5:', 'disk:x:6:', 'wheel:x:10:root', 'staff:x:50:',
    'www-data:x:33:', 'nogroup:x:65534:', '',
  ].join('\n'));
  writeFileSync(join(dir, 'etc/shadow'), 'root:*:10933:0:99999:7:::\n', { mode: 0o640 });
}

function aptMirror(): string {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`) : [])];
  for (const f of files) {
    const text = existsSync(f) ? readFileSync(f, 'utf8') : '';
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+\S+\s+main/m.exec(text) ?? /^URIs:\s*(https?:\/\/\S+)/m.exec(text);
    if (m && !/security/.test(m[1]!)) return m[1]!;
  }
  throw new ExitError(1, 'no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d: debootstrap needs one');
}

function debianRootfs(dir: string, suite: string): void {
  if (!existsSync('/usr/sbin/debootstrap')) throw new ExitError(1, 'debootstrap not found: apt-get install debootstrap');
  const mirror = aptMirror();
  process.stderr.write(`Running debootstrap --variant=minbase ${suite} from ${mirror} (this takes a few minutes)\n`);
  // Progress goes to stderr: stdout carries only the image ID, as with import.
  const r = childProcess().spawnSync('debootstrap', ['--variant=minbase', suite, dir, mirror], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new ExitError(1, `debootstrap failed with exit code ${r.status}`);
  // As Debian's own images: no device nodes (the runtime makes /dev), no package caches.
  for (const d of ['dev', 'var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const e of existsSync(join(dir, d)) ? readdirSync(join(dir, d)) : []) {
      if (e === 'partial' || e === 'lock') continue;
      rmSync(join(dir, d, e), { recursive: true, force: true });
    }
  }
}

/** Owners and modes as they are on disk (node-tar's `portable` would clear group/other write bits, so /tmp lost 1777). */
async function tarOf(dir: string, fixedTimes: boolean): Promise<Readable> {
  // Loaded here, not at the top: every other command starts faster without it.
  const tar = await import('tar');
  const createTar = tar.c as unknown as (opts: Record<string, unknown>, files: string[]) => Readable;
  return createTar({ cwd: dir, mtime: fixedTimes ? new Date(0) : undefined }, readdirSync(dir).sort());
}

export function registerBootstrap(program: Command): void {
  program.command('bootstrap').description('Create a base image from Debian packages: busybox (busybox:latest) or debian (debian:bookworm)')
    .argument('<flavour>', 'busybox or debian')
    .option('--tag <ref>', 'Tag for the image (default busybox:latest or debian:bookworm)')
    .option('--suite <suite>', 'Debian suite for the debian flavour', 'bookworm')
    .action(async (flavour: string, o: { tag?: string; suite: string }, cmd: Command) => {
      const client = clientOf(cmd);
      const work = mkdtempSync(join(tmpdir(), 'berth-bootstrap-'));
      try {
        let ref: string; let changes: string[]; let message: string; let stream: Readable;
        if (flavour === 'busybox') {
          ref = o.tag ?? 'busybox:latest';
          const version = packageVersion('busybox-static');
          process.stderr.write(`Building ${ref} from Debian busybox-static ${version}\n`);
          busyboxRootfs(work);
          changes = [`ENV ${PATH_ENV}`, 'CMD ["sh"]'];
          message = `berth bootstrap busybox (Debian busybox-static ${version})`;
          stream = await tarOf(work, true);
        } else if (flavour === 'debian') {
          ref = o.tag ?? `debian:${o.suite}`;
          debianRootfs(work, o.suite);
          changes = [`ENV ${PATH_ENV}`, 'CMD ["bash"]'];
          message = `berth bootstrap debian (debootstrap --variant=minbase ${o.suite})`;
          stream = await tarOf(work, false);
        } else {
          throw new ExitError(1, `unknown flavour "${flavour}": choose busybox or debian`);
        }
        process.stderr.write(`Importing root filesystem as ${ref}\n`);
        const id = await importTarball(client, stream, ref, changes, message);
        process.stdout.write(`${id}\n`);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
}
