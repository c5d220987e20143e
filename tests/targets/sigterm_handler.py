"""Handles SIGTERM: the handler writes a sentinel file and exits 0.

Usage: sigterm_handler.py WORKDIR SENTINEL

The sentinel's content is "released by pid N". Readiness: WORKDIR/ready.
"""

import os
import signal
import sys

workdir, sentinel = sys.argv[1], sys.argv[2]


def on_term(signum, frame):
    with open(sentinel, "w") as fh:
        fh.write(f"released by pid {os.getpid()}\n")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
try:
    open(os.path.join(workdir, "ready"), "w").close()
    while True:
        signal.pause()
finally:
    print(f"[pid {os.getpid()}] finally ran")
