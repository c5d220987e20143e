"""A parent whose child is stopped (SIGSTOP) when the stop comes: only SIGCONT lets
the child's SIGTERM handler run.

Usage: profile_stopped_child.py WORKDIR

The child installs a SIGTERM handler (it writes WORKDIR/child-released, then exits 0)
and stops itself with SIGSTOP. The parent waits until the kernel reports the child
stopped (waitpid WUNTRACED), then creates WORKDIR/ready. On SIGTERM the parent waits
for its child and exits 0.

A stopped process keeps a caught SIGTERM pending until it is continued, so a stopper
that sends SIGTERM without SIGCONT waits out its whole grace period here.
"""

import os
import signal
import sys

workdir = sys.argv[1]

child = os.fork()
if child == 0:
    def on_term(signum, frame):
        with open(os.path.join(workdir, "child-released"), "w") as fh:
            fh.write(f"released by pid {os.getpid()}\n")
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    os.kill(os.getpid(), signal.SIGSTOP)
    while True:  # continued without a SIGTERM: keep waiting for one
        signal.pause()


def on_term(signum, frame):
    raise SystemExit(0)


signal.signal(signal.SIGTERM, on_term)
_, status = os.waitpid(child, os.WUNTRACED)
if not os.WIFSTOPPED(status):
    sys.exit(f"the child did not stop: status {status}")
try:
    open(os.path.join(workdir, "ready"), "w").close()
    while True:
        signal.pause()
finally:
    os.waitpid(child, 0)
