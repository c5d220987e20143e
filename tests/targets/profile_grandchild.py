"""A root that handles SIGTERM and a double-forked grandchild that ignores it.

Usage: profile_grandchild.py WORKDIR

The root registers an atexit hook ("[pid N] atexit ran") and a SIGTERM handler that
exits 0. It forks; the intermediate forks again and exits at once; the grandchild
calls setsid(), ignores SIGTERM, prints "[pid N] grandchild ignoring SIGTERM" and
blocks forever. The root reaps the intermediate, waits until the grandchild is up
(a pipe), prints "[pid N] root ready", creates WORKDIR/ready and blocks.

Outside a PID namespace the grandchild outlives the root; as PID 1 of a namespace,
the root's exit makes the kernel SIGKILL it.
"""

import atexit
import os
import signal
import sys

workdir = sys.argv[1]
r, w = os.pipe()

intermediate = os.fork()
if intermediate == 0:
    if os.fork() == 0:
        os.close(r)
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f"[pid {os.getpid()}] grandchild ignoring SIGTERM", flush=True)
        os.write(w, b"up\n")
        os.close(w)
        while True:
            signal.pause()
    os._exit(0)

os.close(w)
os.waitpid(intermediate, 0)
with os.fdopen(r) as fh:
    if fh.readline() != "up\n":
        sys.exit("the grandchild did not start")

pid = os.getpid()
atexit.register(lambda: print(f"[pid {pid}] atexit ran", flush=True))


def on_term(signum, frame):
    raise SystemExit(0)


signal.signal(signal.SIGTERM, on_term)
print(f"[pid {pid}] root ready", flush=True)
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()
