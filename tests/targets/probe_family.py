"""A parent with a spawned child (the same interpreter, started again) and, with
``fork``, a forked child; each process registers its own atexit hook.

Usage: probe_family.py WORKDIR [fork]

    parent:   parent_hook; on SIGTERM it passes SIGTERM on to its children, waits for
              them, and ends normally (its hook runs)
    spawned:  spawned_hook (``sys.executable this-file --child FD``); SIGTERM -> sys.exit(0)
    forked:   forked_hook, registered after the fork (so it holds only its own, not
              the parent's: the parent registers after forking); SIGTERM -> sys.exit(0)

Each prints "ROLE PID" when it is up. WORKDIR/ready appears once every child is in its
wait. Runs on any CPython 3.8+ (no newer syntax or APIs).
"""

import atexit
import os
import select
import signal
import subprocess
import sys


def say(*words):
    """One write per line: print() writes its words and its newline apart, which
    interleaves the lines of processes sharing the pipe."""
    os.write(1, (" ".join(map(str, words)) + "\n").encode())


def parent_hook():
    say("parent_hook ran in", os.getpid())


def spawned_hook():
    say("spawned_hook ran in", os.getpid())


def forked_hook():
    say("forked_hook ran in", os.getpid())


def serve_until_sigterm(hook, name, ready_fd):
    atexit.register(hook)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    say(name, os.getpid())
    os.write(ready_fd, b"up\n")
    os.close(ready_fd)
    wait_for_signals()


def wait_for_signals():
    """Block for ever, running the Python signal handlers as signals come. Not
    signal.pause(): a signal whose handler is Python code (SIGTERM's here, the probe's
    injected exit) that lands after the interpreter last looked for pending signals and
    before pause() starts is handled only at the next signal, so the process would wait
    for ever (a CI run saw it once). With a wakeup fd the C-level handler writes to a
    pipe, and select() returns at once even for a signal that came before it."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w)
    while True:
        select.select([r], [], [])
        os.read(r, 512)


if sys.argv[1] == "--child":
    serve_until_sigterm(spawned_hook, "spawned", int(sys.argv[2]))

workdir = sys.argv[1]
r, w = os.pipe()
children = []
if sys.argv[2:] == ["fork"]:
    pid = os.fork()
    if pid == 0:
        os.close(r)
        serve_until_sigterm(forked_hook, "forked", w)
    children.append(pid)
atexit.register(parent_hook)
say("parent", os.getpid())
spawned = subprocess.Popen([sys.executable, __file__, "--child", str(w)], pass_fds=[w])
os.close(w)
signal.signal(signal.SIGTERM, lambda *_: [os.kill(p, signal.SIGTERM) for p in children + [spawned.pid]])
with os.fdopen(r) as fh:
    for _ in range(len(children) + 1):
        fh.readline()
open(os.path.join(workdir, "ready"), "w").close()
spawned.wait()
for pid in children:
    os.waitpid(pid, 0)
