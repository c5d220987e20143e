"""Prints a line and SIGKILLs itself when it gets SIGTERM, without flushing stdout.

Usage: last_words.py WORKDIR

Whether "last words" reach the harness depends only on stdout's buffering: line
unbuffered (PYTHONUNBUFFERED=1) it is written at once; block-buffered on a pipe it is
still in the buffer when SIGKILL ends the process. Readiness: WORKDIR/ready.
"""

import os
import signal
import sys

workdir = sys.argv[1]


def on_term(signum, frame):
    print(f"[pid {os.getpid()}] last words")
    os.kill(os.getpid(), signal.SIGKILL)


signal.signal(signal.SIGTERM, on_term)
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()
