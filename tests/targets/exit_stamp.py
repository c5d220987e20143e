"""Prints its clock reading as the last thing it does before it exits on SIGTERM.

Usage: exit_stamp.py WORKDIR

Creates WORKDIR/ready, then waits. On SIGTERM it prints "exiting at T", T being
time.monotonic() (CLOCK_MONOTONIC, the same clock in every process), and ends with
os._exit(0): nothing runs between the stamp and the exit.
"""

import os
import signal
import sys
import time


def stop(signum, frame):
    os.write(1, f"exiting at {time.monotonic()!r}\n".encode())
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
open(os.path.join(sys.argv[1], "ready"), "w").close()
while True:
    signal.pause()
