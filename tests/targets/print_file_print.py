"""Prints a line, writes a sentinel, prints another line: three hooks in a known order.

Usage: print_file_print.py WORKDIR SENTINEL

On SIGTERM, in this order (the order is this file's, not anything measured):

1. the handler prints "[pid N] flushed" (flushed at once) and calls sys.exit(0);
2. the ``finally`` around the main loop writes SENTINEL;
3. the atexit callable prints "[pid N] atexit ran".

A line's place in stdout and a file's modification time are two clocks: the harness
can order 1 before 3, and must not claim where 2 falls. Readiness: WORKDIR/ready.
"""

import atexit
import os
import signal
import sys

workdir, sentinel = sys.argv[1], sys.argv[2]
pid = os.getpid()

SOURCE_ORDER = ("flushed", "finally", "atexit")  # the hooks, in the order this program runs them


def on_term(signum, frame):
    print(f"[pid {pid}] flushed", flush=True)
    sys.exit(0)


atexit.register(lambda: print(f"[pid {pid}] atexit ran", flush=True))
signal.signal(signal.SIGTERM, on_term)
try:
    open(os.path.join(workdir, "ready"), "w").close()
    while True:
        signal.pause()
finally:
    with open(sentinel, "w") as fh:
        fh.write(f"finally in pid {pid}\n")
