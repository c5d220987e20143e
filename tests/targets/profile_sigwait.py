"""Takes SIGTERM without a handler: blocks it and waits for it with sigwait(), as a
program using signalfd or sigwait does (no SigCgt bit in /proc/PID/status).

Usage: profile_sigwait.py WORKDIR

Blocks SIGTERM, creates WORKDIR/ready, then waits in signal.sigwait(); when SIGTERM
arrives it prints "[pid N] got SIGTERM by sigwait" and writes WORKDIR/released, and
exits 0.
"""

import os
import signal
import sys

workdir = sys.argv[1]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
open(os.path.join(workdir, "ready"), "w").close()
got = signal.sigwait({signal.SIGTERM})
print(f"[pid {os.getpid()}] got {signal.Signals(got).name} by sigwait", flush=True)
with open(os.path.join(workdir, "released"), "w") as fh:
    fh.write("released\n")
