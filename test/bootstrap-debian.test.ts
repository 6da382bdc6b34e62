/** `berth bootstrap debian`: debootstrap --variant=minbase into a real image that keeps Debian's owners and modes. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDaemon, teardown, type TestDaemon } from './harness.js';

let d: TestDaemon;
before(async () => { d = await startDaemon(); });
after(() => teardown(d, [], { expectNone: true }));

test('bootstrap debian makes debian:bookworm, which runs with setuid bits and /tmp intact', { timeout: 600_000 }, async () => {
  const b = await d.berth(['bootstrap', 'debian'], { timeoutMs: 600_000 });
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /^sha256:[a-f0-9]{64}\n$/);
  const r = await d.berth(['run', '--rm', 'debian:bookworm', 'sh', '-c',
    'cut -d. -f1 /etc/debian_version; stat -c "%a %U" /usr/bin/passwd /tmp; getent group mail | cut -d: -f3; ls /dev | wc -l']);
  assert.equal(r.code, 0, r.stderr);
  const [major, passwd, tmp, mailGid] = r.stdout.trim().split('\n');
  assert.equal(major, '12');
  assert.equal(passwd, '4755 root', 'setuid survives unpacking');
  assert.equal(tmp, '1777 root');
  assert.equal(mailGid, '8');
  const [img] = JSON.parse((await d.berth(['inspect', 'debian:bookworm'])).stdout) as { Config: { Cmd: string[] } }[];
  assert.deepEqual(img!.Config.Cmd, ['bash']);
});
