/**
 * What runs inside the `vm` runtime's guest: berth's own init (a busybox sh
 * script in an initramfs) and the per-run configuration it reads, packed as
 * newc cpio archives. The kernel unpacks concatenated archives in order, so a
 * run's initrd is the cached base archive followed by a small config archive.
 *
 * The guest sees:
 *   /dev/vda                      the container's root disk (ext4, made from the merged rootfs)
 *   virtio ports berth.stdout, berth.stderr   the workload's output, to conmon's pipes
 *   virtio port berth.status      "booted", then "exit N", to a file in the bundle
 *   virtio port berth.ctl         signal names from the host, forwarded to the workload
 *   ttyS0                         the kernel console, to a file in the bundle (shown when a boot fails)
 */

import { DEFAULT_PATH } from '../common/default-path.js';

/**
 * The guest's /init. Everything it needs is in the initramfs: /berth/busybox (and /bin/busybox, a link to
 * it), /lib/modules/<version>/*.ko with a modules.dep, the /berth/tick FIFO and the run's /berth/* files.
 * /berth/config sets READONLY, STDIN, TTY, ROWS, COLS, NET, SLOTS and PORTS (sh assignments written by the host).
 *
 * Under TCG every process costs milliseconds (a fork and often an exec of busybox), so the init starts
 * as few as it can: busybox's shell runs its applets by name without the /bin links, modules load in
 * one modprobe, and lookups use the shell's own read and case.
 *
 * The host talks to it on berth.ctl, one line per request, each with a sequence number that the init
 * acknowledges on berth.status (`ack SEQ`), so the host can tell a request that was lost from one that
 * was served, and send it again (a repeated SEQ is acknowledged but not acted on twice):
 *   sig SEQ NAME                     a signal for the workload
 *   winch SEQ N ROWS COLS            the size of /dev/hvcN (0: the workload's TTY, 1..SLOTS: exec slots)
 *   exec SEQ SLOT FLAGS BASE64       run a script (base64) in the container's root on exec slot SLOT;
 *                                    FLAGS has i (stdin), t (TTY), d (detached); its exit is `x SEQ CODE`
 */
export const GUEST_INIT = `#!/bin/busybox sh
export PATH=/bin
# Mounts go in batches, one process each (mount -a of a table made with printf, a shell builtin). busybox runs most
# applets again through /proc/self/exe: the first batch, which mounts /proc, names it.
printf '%s\\n' 'proc /proc proc defaults' 'sysfs /sys sysfs defaults' 'devtmpfs /dev devtmpfs defaults' > /berth/fstab
/bin/busybox mount -a -T /berth/fstab
die() { echo "berth-init: $*" > /dev/ttyS0; poweroff -f; sleep 5; }
READONLY=0; STDIN=0; TTY=0; ROWS=0; COLS=0; NET=0; SLOTS=0; PORTS=5
. /berth/config
mods="virtio_ring virtio virtio_mmio virtio_blk virtio_console"
[ "$NET" = 1 ] && mods="$mods failover net_failover virtio_net"
modprobe -a $mods || die "cannot load the modules $mods"
tick() { read -t 0.01 _ <> /berth/tick; }  # a 10 ms pause without starting a process
# The root disk first: the virtio ports keep appearing meanwhile (QEMU's main loop adds them while this runs).
i=0; until [ -b /dev/vda ]; do i=$((i+1)); [ $i -gt 1000 ] && die "the root disk did not appear"; tick; done
mount -t ext4 /dev/vda /newroot || die "cannot mount the root disk"
R=/newroot
[ -d $R/proc ] && [ -d $R/sys ] && [ -d $R/dev ] && [ -d $R/etc ] || mkdir -p $R/proc $R/sys $R/dev $R/etc
printf '%s\\n' "proc $R/proc proc defaults" "sysfs $R/sys sysfs ro,nosuid,nodev,noexec" "tmpfs $R/dev tmpfs nosuid,mode=755,size=65536k" > /berth/fstab
mount -a -T /berth/fstab || die "cannot mount the container's /proc, /sys and /dev"
# docker's /dev nodes and links, and the consoles (hvc0: the workload's TTY, hvc1..: exec slots, so ttyname() finds
# them), from a template in the initramfs: one process, not one per node.
cp -a /devtmpl/. $R/dev/
# busybox and the scripts, seen by the container at /dev/.berth (a bind mount: nothing copied).
printf '%s\\n' "devpts $R/dev/pts devpts nosuid,noexec,newinstance,ptmxmode=0666,mode=0620" \\
  "shm $R/dev/shm tmpfs nosuid,nodev,noexec,mode=1777,size=65536k" "/berth $R/dev/.berth none bind" > /berth/fstab
mount -a -T /berth/fstab || die "cannot mount the container's /dev/pts and /dev/shm"
# The run's /etc files, in a batch of their own that may fail: an image whose /etc/hosts is a dangling link keeps it.
: > /berth/fstab
for f in hostname hosts resolv.conf; do
  [ -f /berth/etc/$f ] || continue
  [ -e $R/etc/$f ] || : > $R/etc/$f
  echo "/berth/etc/$f $R/etc/$f none bind" >> /berth/fstab
done
[ -s /berth/fstab ] && mount -a -T /berth/fstab 2>/dev/null
read -r h < /berth/hostname; echo "$h" > /proc/sys/kernel/hostname
# --read-only: the root disk, once its mount points are there; /dev, /dev/shm and the /etc files stay writable, as with runc.
[ "$READONLY" = 1 ] && { mount -o remount,ro $R || die "cannot make the root read-only"; }
# Each port's /dev node by its name, from a list made with one grep: under TCG every process a loop would start per
# port costs milliseconds. \`ports N PATTERN FILE\` waits until N port names match PATTERN, and lists them all in FILE;
# \`port NAME FILE\` is the node.
ports() {
  want=$1; pat=$2; list=$3; i=0
  while :; do
    set -- /sys/class/virtio-ports/*/name
    if [ $# -ge $want ]; then
      grep -H '' "$@" > $list 2>/dev/null
      n=0; while read -r l; do case $l in *:$pat) n=$((n+1)) ;; esac; done < $list
      [ $n -ge $want ] && return 0
    fi
    i=$((i+1)); [ $i -gt 1000 ] && return 1
    tick
  done
}
port() { while IFS=: read -r f n; do [ "$n" = "$1" ] && { f=\${f%/name}; echo /dev/\${f##*/}; }; done < $2; }
console() { i=0; until [ -c /dev/hvc$1 ]; do i=$((i+1)); [ $i -gt 1000 ] && return 1; tick; done; }
# The workload's PORTS ports and its console hvc0 before it starts. The exec slots' ports (four each) are plugged by
# the host at the first attached exec, in slot order (so slot N's console is hvcN): an exec waits for its slot's.
ports $PORTS 'berth.[!x]*' /berth/ports && console 0 || die "virtio devices did not appear"
slot() { ports 4 "berth.x$1.*" /berth/ports.$1 && console $1; }
while IFS=: read -r f n; do
  f=\${f%/name}; f=/dev/\${f##*/}
  case $n in berth.stdout) OUT=$f ;; berth.stderr) ERR=$f ;; berth.status) STATUS=$f ;; berth.ctl) CTL=$f ;; berth.stdin) IN=$f ;; esac
done < /berth/ports
ip link set lo up 2>/dev/null
[ -f /berth/net.sh ] && { . /berth/net.sh || die "cannot configure the network"; }
# One open of the status port for every writer (a virtio port can be open only once at a time). Closed for every
# process of the container's (7>&-): one that could write here could say its own exit code, or end the VM.
exec 7> $STATUS
echo booted >&7
BB=/dev/.berth/busybox
# An exec slot's console is held open without echo by a sleeping process, so the host's "go SEQ" line is neither
# echoed nor dropped: a console's termios and unread input go with its last close, and with the hangup the kernel
# gives it when a session that had it as its terminal ends (then it is held again). The control loop holds a slot's
# console before it acknowledges the first TTY exec on it, and the host sends "go SEQ" only after that ack. (Not
# at boot: there the holds' processes would compete with the workload for the vCPU.)
hold() {
  exec 6<> $R/dev/hvc$1; stty -echo <&6
  sleep 2147483647 <&6 > /dev/null 2>&1 7>&- &
  old=; read -r old < /berth/h$1 2>/dev/null; echo $! > /berth/h$1; [ -n "$old" ] && kill $old
  exec 6<&-
}
if [ "$TTY" = 1 ]; then
  # The size is set on an open descriptor: a console's size goes with its last close.
  exec 8<> $R/dev/hvc0
  [ "$ROWS" -gt 0 ] && stty rows $ROWS cols $COLS <&8
  chroot $R $BB setsid -c $BB sh /dev/.berth/run.sh <&8 >&8 2>&8 8<&- 7>&- &
  exec 8<&-
elif [ "$STDIN" = 1 ]; then
  chroot $R $BB sh /dev/.berth/run.sh < $IN > $OUT 2> $ERR 7>&- &
else
  chroot $R $BB sh /dev/.berth/run.sh < /dev/null > $OUT 2> $ERR 7>&- &
fi
pid=$!
xrun() {
  q=$1; s=$2; f=$3
  echo "$4" | base64 -d > $R/dev/.berth/x$s.sh || { echo "x $q 126" >&7; return; }
  case $f in
  *d*) chroot $R $BB sh /dev/.berth/x$s.sh < /dev/null > /dev/null 2>&1 7>&- ;;
  *t*)
    exec 6<> $R/dev/hvc$s
    # The host sends "go SEQ" once it is connected: nothing the process prints is dropped, stale input is skipped.
    # A host that gave up never sends it: after a minute the console is held again and the exec answered 126, so
    # this session does not swallow the next one's line.
    n=0
    until read -r -t 5 l <&6 && [ "$l" = "go $q" ]; do
      n=$((n+1)); [ $n -ge 12 ] && { exec 6<&-; hold $s; echo "x $q 126" >&7; return; }
    done
    stty "$SANE" <&6
    [ -n "$5" ] && stty rows $5 cols $6 <&6
    chroot $R $BB setsid -c $BB sh /dev/.berth/x$s.sh <&6 >&6 2>&6 6<&- 7>&-
    rc=$?
    exec 6<&-
    hold $s
    echo "x $q $rc" >&7
    return ;;
  *)
    slot $s || { echo "x $q 126" >&7; return; }
    XO=$(port berth.x$s.out /berth/ports.$s); XE=$(port berth.x$s.err /berth/ports.$s)
    if [ -z "\${f##*i*}" ]; then
      exec 5< $(port berth.x$s.in /berth/ports.$s)
      # read fails while the host's end is not connected yet (EOF): try again until its "go SEQ" line.
      n=0; until read -r l <&5 && [ "$l" = "go $q" ]; do n=$((n+1)); [ $n -gt 3000 ] && break; sleep 0.01; done
      chroot $R $BB sh /dev/.berth/x$s.sh <&5 5<&- > $XO 2> $XE 7>&-
    else
      chroot $R $BB sh /dev/.berth/x$s.sh < /dev/null > $XO 2> $XE 7>&-
    fi ;;
  esac
  echo "x $q $?" >&7
}
(
  SANE=
  seen=" "
  while read -r cmd q a b c d; do
    case "$seen" in *" $q "*) echo "ack $q" >&7; continue ;; esac
    seen="$seen$q "
    case $cmd in
    sig) kill -s "$a" $pid 2>/dev/null ;;
    winch) stty -F /dev/hvc$a rows $b cols $c 2>/dev/null ;;
    exec)
      # A TTY exec's console (a detached one has none: slot 0) is there and held before the request is acknowledged.
      ok=1
      case $b in *d*) ;; *t*)
        if slot $a; then
          [ -n "$SANE" ] || SANE=$(stty -g < $R/dev/hvc$a)
          [ -f /berth/h$a ] || (hold $a)
        else ok=0; fi ;;
      esac
      # Started as a grandchild (the subshell exits at once and is waited for here), so no exec's end ever signals
      # this loop: busybox's read, interrupted by a SIGCHLD in the middle of a line, starts again and drops the part
      # it had read, and with it a request. The init (PID 1) reaps them.
      if [ $ok = 1 ]; then ( xrun $q $a $b $c $d & ); else echo "x $q 126" >&7; fi ;;
    esac
    echo "ack $q" >&7
  done < $CTL
) &
wait $pid
code=$?
# Synced before the exit is reported: the host switches the VM off as soon as it reads it.
sync
echo "exit $code" >&7
poweroff -f
`;

/** Quotes one word for sh: safe for any bytes but NUL, which an argv cannot hold anyway. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface GuestProcess {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
}

/** The script the init runs inside the container's root: user, working directory, environment, then the workload. */

export function runScript(p: GuestProcess): string {
  const bb = '/dev/.berth/busybox';
  const lines = ['set -e', `cd ${shQuote(p.cwd)}`, 'set +e'];
  const env = ['env', '-i', ...p.env].map(shQuote).join(' ');
  const [file = '', ...rest] = p.args;
  const path = p.env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  // The workload's PATH finds the command, as runc finds it, here rather than by busybox's env, which would run
  // its own applet of that name (ls, sh, cat…) instead of the image's program.
  lines.push(`c=${shQuote(file)}`, 'case $c in */*) ;; *)',
    `  f=; P=${shQuote(path)}; IFS=:; for d in $P; do [ -n "$d" ] && [ -f "$d/$c" ] && [ -x "$d/$c" ] && { f=$d/$c; break; }; done; unset IFS`,
    '  [ -n "$f" ] || { echo "exec: \\"$c\\": executable file not found in \\$PATH" >&2; exit 127; }',
    '  c=$f ;;', 'esac');
  const argv = ['"$c"', ...rest.map(shQuote)].join(' ');
  // env execs with the new environment.
  let cmd = `exec ${bb} ${env} ${argv}`;
  if (p.uid !== 0 || p.gid !== 0) {
    // busybox's start-stop-daemon is the one applet here that changes uid, gid and groups (initgroups) and then execs.
    cmd = `exec ${bb} start-stop-daemon -S -n berth-no-such-process -c ${p.uid}:${p.gid} -a ${bb} -- ${env} ${argv}`;
  }
  lines.push(cmd, '');
  return lines.join('\n');
}

export interface CpioEntry {
  name: string;
  /** File content; a directory when absent and `mode` says so. */
  data?: Buffer;
  mode: number;
  /** For device nodes. */
  rdev?: [number, number];
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** A newc ("070701") cpio archive, as the kernel's initramfs unpacker reads it. */
export function cpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  let size = 0;
  const push = (b: Buffer) => { parts.push(b); size += b.length; };
  const pad = () => { const p = (4 - (size % 4)) % 4; if (p) push(Buffer.alloc(p)); };
  const one = (name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]) => {
    const nameBuf = Buffer.from(`${name}\0`);
    push(Buffer.from(`070701${[ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0].map(hex8).join('')}`));
    push(nameBuf);
    pad();
    push(data);
    pad();
  };
  for (const e of entries) one(e.name, e.mode, e.data ?? Buffer.alloc(0), e.rdev);
  one('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFCHR = 0o020000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;

/** The container's /dev as runc makes it (docker's nodes and links), plus the VM's consoles hvc0..hvc`slots`: copied by /init. */
export function devTemplate(slots: number): CpioEntry[] {
  const dir = (name: string): CpioEntry => ({ name: `devtmpl/${name}`, mode: S_IFDIR | 0o755 });
  const chr = (name: string, major: number, minor: number, perm = 0o666): CpioEntry => ({ name: `devtmpl/${name}`, mode: S_IFCHR | perm, rdev: [major, minor] });
  const lnk = (name: string, target: string): CpioEntry => ({ name: `devtmpl/${name}`, mode: S_IFLNK | 0o777, data: Buffer.from(target) });
  const out: CpioEntry[] = [{ name: 'devtmpl', mode: S_IFDIR | 0o755 }, dir('pts'), dir('shm'), dir('mqueue'), dir('.berth'),
    chr('null', 1, 3), chr('zero', 1, 5), chr('full', 1, 7), chr('random', 1, 8), chr('urandom', 1, 9), chr('tty', 5, 0),
    lnk('fd', '/proc/self/fd'), lnk('stdin', '/proc/self/fd/0'), lnk('stdout', '/proc/self/fd/1'), lnk('stderr', '/proc/self/fd/2'), lnk('ptmx', 'pts/ptmx')];
  for (let i = 0; i <= slots; i++) out.push(chr(`hvc${i}`, 229, i, 0o620));
  return out;
}
