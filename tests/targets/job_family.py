"""A parent with two background children in its process group: one that ends on
SIGTERM, one that ignores it.

Usage: job_family.py WORKDIR [--root-ignores] [--stubborn-yields] [--root-waits-stubborn]

The root forks a "job" (its SIGTERM handler prints "[pid N] job got SIGTERM" and
exits 0) and a "stubborn" child (its handler prints "[pid N] stubborn got SIGTERM"
and returns: it keeps running). Both stay in the root's process group. Once both are
up (a pipe), the root prints "[pid N] job is J", "[pid N] stubborn is S" (the
children's pids as it sees them), "[pid N] root ready" and creates WORKDIR/ready.

The root's SIGTERM handler prints "[pid N] root got SIGTERM", then waits up to 1 s
for the job to end (a pidfd; it never signals it), prints "[pid N] root: job ended"
or "[pid N] root: job still running", and exits 0 without waiting for anyone else.
With --root-ignores the root ignores SIGTERM instead. With --stubborn-yields the
stubborn child exits 0 on its second SIGTERM (it prints the line for each). With
--root-waits-stubborn the root's handler also waits (up to 1 s, on a pipe) until the
stubborn child has handled a SIGTERM before it exits: a signal sent once the root is
gone cannot merge with the child's first one, still pending.
"""

import os
import select
import signal
import sys

workdir = sys.argv[1]
root_ignores = "--root-ignores" in sys.argv[2:]
stubborn_yields = "--stubborn-yields" in sys.argv[2:]
root_waits = "--root-waits-stubborn" in sys.argv[2:]
r, w = os.pipe()
handled_r, handled_w = os.pipe()  # the stubborn child: "I handled a SIGTERM"


def child(name, stays):
    got = []

    def on_term(signum, frame):
        got.append(signum)
        print(f"[pid {os.getpid()}] {name} got SIGTERM", flush=True)
        if stays:
            os.write(handled_w, b"x")
        if not stays or (stubborn_yields and len(got) == 2):
            os._exit(0)

    pid = os.fork()
    if pid == 0:
        os.close(r)
        signal.signal(signal.SIGTERM, on_term)
        os.write(w, b"up\n")
        os.close(w)
        while True:
            signal.pause()
    return pid


job = child("job", stays=False)
stubborn = child("stubborn", stays=True)
os.close(w)
with os.fdopen(r) as fh:
    if [fh.readline(), fh.readline()] != ["up\n", "up\n"]:
        sys.exit("a child did not start")


def on_term(signum, frame):
    me = os.getpid()
    print(f"[pid {me}] root got SIGTERM", flush=True)
    fd = os.pidfd_open(job)
    ended = bool(select.select([fd], [], [], 1.0)[0])
    print(f"[pid {me}] root: job {'ended' if ended else 'still running'}", flush=True)
    if root_waits:
        select.select([handled_r], [], [], 1.0)
    os._exit(0)


signal.signal(signal.SIGTERM, signal.SIG_IGN if root_ignores else on_term)
me = os.getpid()
print(f"[pid {me}] job is {job}", flush=True)
print(f"[pid {me}] stubborn is {stubborn}", flush=True)
print(f"[pid {me}] root ready", flush=True)
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()
