"""On SIGTERM, puts something other than a regular file where its sentinel goes.

Usage: sentinel_swap.py WORKDIR SENTINEL MODE

MODE: "link" makes SENTINEL a symbolic link to /etc/passwd (a file that existed
anyway), "fifo" a FIFO, "file" a regular file (the control). Then it exits 0.
Readiness: WORKDIR/ready.
"""

import os
import signal
import sys

workdir, sentinel, mode = sys.argv[1], sys.argv[2], sys.argv[3]


def on_term(signum, frame):
    if mode == "link":
        os.symlink("/etc/passwd", sentinel)
    elif mode == "fifo":
        os.mkfifo(sentinel)
    else:
        with open(sentinel, "w") as fh:
            fh.write("released\n")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()
