"""Ignores every catchable signal, so only SIGKILL (or SIGSTOP) can end it.

Usage: ignore_all.py WORKDIR

Prints "ignoring N signals", creates WORKDIR/ready, then blocks forever (an ignored
signal does not even wake signal.pause()).
"""

import os
import signal
import sys

workdir = sys.argv[1]
# SIGCHLD is left alone: ignoring it changes how children are reaped, not how we end.
keep = {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}
ignored = 0
for sig in signal.valid_signals():
    if sig in keep:
        continue
    try:
        signal.signal(sig, signal.SIG_IGN)
        ignored += 1
    except (OSError, ValueError):  # numbers the C library reserves for itself
        pass
print(f"ignoring {ignored} signals")
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()
