"""Runs a command on a real pseudo-terminal, types lines into it, and prints what the screen got.

usage: pty-drive.py ROWS COLS 'line1' 'line2' ... -- CMD ARGS...
Each line is typed (followed by Enter) once the previous output settles; the script prints the raw
output as JSON with the exit code, so a test can assert on both.
"""
import fcntl, json, os, pty, select, struct, sys, termios, time

sep = sys.argv.index('--')
rows, cols = int(sys.argv[1]), int(sys.argv[2])
lines, cmd = sys.argv[3:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
out = b''

def pump(quiet_for, limit):
    """Reads until nothing arrived for `quiet_for` seconds or `limit` passed."""
    global out
    end = time.time() + limit
    last = time.time()
    while time.time() < end and time.time() - last < quiet_for:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            out += chunk
            last = time.time()

pump(0.8, 10)
for line in lines:
    os.write(fd, line.encode().decode('unicode_escape').encode() + b'\r')
    pump(0.8, 10)
pump(0.5, 10)
deadline = time.time() + 15
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.time() > deadline:
        os.kill(pid, 9)
        done, status = os.waitpid(pid, 0)
        break
    pump(0.1, 0.2)
print(json.dumps({'output': out.decode(errors='replace'), 'code': os.waitstatus_to_exitcode(status)}))
