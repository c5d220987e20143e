"""A cleanup that takes a while: the atexit hook an impatient second Ctrl-C cuts short.

Usage: profile_slow_atexit.py WORKDIR

Creates WORKDIR/ready and blocks in signal.pause(). The first SIGINT is caught
("[pid N] first Ctrl-C handled"), so the script ends normally and its atexit hook
runs: "[pid N] cleanup start", one second of work, "[pid N] cleanup end". A second
SIGINT during that second raises KeyboardInterrupt inside the hook, which CPython
reports as "Exception ignored in atexit callback" with a KeyboardInterrupt traceback;
the end line is then never printed.
"""

import atexit
import os
import signal
import sys
import time

workdir = sys.argv[1]
pid = os.getpid()


def slow_cleanup():
    print(f"[pid {pid}] cleanup start", flush=True)
    time.sleep(1.0)
    print(f"[pid {pid}] cleanup end", flush=True)


atexit.register(slow_cleanup)
try:
    # inside the try: the harness sees the file as soon as open() creates it, and a
    # Ctrl-C sent then can land before open() returns
    open(os.path.join(workdir, "ready"), "w").close()
    while True:
        signal.pause()
except KeyboardInterrupt:
    print(f"[pid {pid}] first Ctrl-C handled", flush=True)
