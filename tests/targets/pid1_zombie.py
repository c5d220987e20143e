"""A PID 1 that never reaps: its child exits on the stop and stays a zombie.

Usage: pid1_zombie.py WORKDIR

The root forks a child that waits for SIGUSR1 and then exits 0. The root never
calls wait(). Its SIGTERM handler prints "[pid N] root got SIGTERM", sends the child
SIGUSR1 and returns: the root itself keeps running. The child prints
"[pid N] child exiting" before it exits. Once the child is up (a pipe), the root
prints "[pid N] root ready", creates WORKDIR/ready and blocks.

Run as PID 1 of a PID namespace (docker-stop), nobody reaps the child: it is a
zombie from its exit until PID 1 dies (the stopper's SIGKILL when the grace runs
out), when the kernel reaps it with the rest of the namespace.
"""

import os
import signal
import sys

workdir = sys.argv[1]
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    os.write(w, b"up\n")
    os.close(w)
    signal.sigwait([signal.SIGUSR1])
    print(f"[pid {os.getpid()}] child exiting", flush=True)
    os._exit(0)

os.close(w)
with os.fdopen(r) as fh:
    if fh.readline() != "up\n":
        sys.exit("the child did not start")


def on_term(signum, frame):
    print(f"[pid {os.getpid()}] root got SIGTERM", flush=True)
    os.kill(child, signal.SIGUSR1)


signal.signal(signal.SIGTERM, on_term)
print(f"[pid {os.getpid()}] root ready", flush=True)
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()
