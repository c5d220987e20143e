"""A parent and forked children whose shutdown changes from one run to the next, for
comparing repeated runs.

    run_by_run.py WORKDIR MODE COUNTER_FILE

COUNTER_FILE holds how many runs started before this one (missing: none); each run
adds one and calls its own number N (1, 2, 3...). Every line says which process
printed it, and the run's N. The parent creates WORKDIR/ready once every child has
installed its handler. On SIGTERM the parent:

* ``swap``: has two children; sends SIGTERM to both and waits. The child that cleans
  up is the first one forked in odd runs and the second in even runs: it prints
  "cleanup (pid P)" and exits 0; the other one has no handler and dies by SIGTERM.
  So every run does the same thing, by a different child.
* ``kill``: has one child. In odd runs it SIGKILLs the child; in even runs it sends
  SIGTERM, and the child prints "cleanup (pid P)" and exits 0. The parent exits 0
  either way: only the child's end differs.
"""

import os
import signal
import sys

workdir, mode, counter = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    with open(counter) as fh:
        n = int(fh.read() or 0) + 1
except FileNotFoundError:
    n = 1
with open(counter, "w") as fh:
    fh.write(str(n))


def cleanup(signum, frame):
    print(f"run {n}: cleanup (pid {os.getpid()})", flush=True)
    os._exit(0)


def child(index, ready_fd):
    if mode == "kill" or index == (0 if n % 2 else 1):
        signal.signal(signal.SIGTERM, cleanup)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.write(ready_fd, b"x")
    while True:
        signal.pause()


children = []
r, w = os.pipe()
for index in range(2 if mode == "swap" else 1):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        child(index, w)
    children.append(pid)
os.close(w)
got = b""
while len(got) < len(children):
    got += os.read(r, 16)


def stop(signum, frame):
    how = signal.SIGKILL if mode == "kill" and n % 2 else signal.SIGTERM
    print(f"run {n}: parent sends {how.name} to its children", flush=True)
    for pid in children:
        os.kill(pid, how)
    for pid in children:
        os.waitpid(pid, 0)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()
