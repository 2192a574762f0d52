#!/usr/bin/python3
"""Runs a command on a pseudo-terminal, as a user at a terminal would, for
the specs: ontty.py COLS [--send PROMPT TEXT]... -- COMMAND [ARG]...

The terminal is COLS columns wide (set before the command starts). What the
command draws (standard output and standard error both go to the terminal)
is copied, raw, to our standard output. Each --send types TEXT once the
output so far ends with PROMPT (in order). Exits with the command's status
(128 + N when a signal N ended it); a command silent for QUIET seconds is
killed (exit 124), so that a spec never hangs on a prompt that never came."""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios

QUIET = 120


def main(argv):
    cols = int(argv[1])
    sends, i = [], 2
    while argv[i] == "--send":
        sends.append((argv[i + 1].encode(), argv[i + 2].encode()))
        i += 3
    if argv[i] != "--":
        sys.exit("usage: ontty.py COLS [--send PROMPT TEXT]... -- COMMAND [ARG]...")
    cmd = argv[i + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
        os.execvp(cmd[0], cmd)
    seen = b""
    while True:
        if not select.select([fd], [], [], QUIET)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.stdout.buffer.write(b"\n[ontty.py: nothing for %d seconds: killed]\n" % QUIET)
            return 124
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the command closed the terminal
            break
        if not data:
            break
        sys.stdout.buffer.write(data)
        seen += data
        if sends and seen.endswith(sends[0][0]):
            os.write(fd, sends.pop(0)[1])
            seen = b""
    sys.stdout.buffer.flush()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
