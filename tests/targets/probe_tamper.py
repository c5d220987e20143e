"""Breaks the Python probe's events file, then ends cleanly on SIGTERM.

Usage: probe_tamper.py WORKDIR MODE

The probe's events file is named by SHUTDOWN_PROBE_EVENTS (the harness sets it). At
start-up, once the probe has written its first events, MODE does one thing to it:

fifo        replaces it with a FIFO (a reader that opens it blocks until a writer comes)
zero        replaces it with a symbolic link to /dev/zero (it never ends)
line KIND   appends one line that is not an event of the probe's shape: pid-list
            ({"ev":"start","pid":[1]}), no-t (a register event without "t"), argv-ints
            ("argv": [1, 2]), nested (arrays nested 100,000 deep), nan ("t": NaN);
            or three (register, hook-start, hook-end of a hook "forged") with a value
            past the results reader's bounds: huge-pid (pid 10**18), huge-t (t 1e300)
big         appends valid-looking events until the file holds 9 MiB (over the bound)
pad-in-hook registers a second atexit callable, ``padder``, that appends 9 MiB of
            valid-looking events when it runs: the probe's hook-start for it is read,
            its hook-end lands past the bound (the process then exits normally)

It registers an atexit callable, ``bye``, that prints "[pid N] bye", and a SIGTERM
handler that calls sys.exit(0), so on SIGTERM ``atexit:bye`` runs; the probe goes on
writing to the descriptor it opened at start-up. Readiness: WORKDIR/ready.
"""

import atexit
import json
import os
import signal
import sys

workdir, mode = sys.argv[1], sys.argv[2]
events = os.environ["SHUTDOWN_PROBE_EVENTS"]
pid = os.getpid()

LINES = {
    "pid-list": '{"ev":"start","pid":[1]}',
    "no-t": json.dumps({"ev": "register", "pid": pid, "id": 99, "name": "x", "where": None, "stdlib": False}),
    "argv-ints": json.dumps({"ev": "start", "pid": pid + 1, "t": 1.0, "ppid": pid, "argv": [1, 2], "how": "exec",
                             "werkzeug_run_main": None, "run_main": None, "executable": "x"}),
    "nested": "[" * 100_000 + "]" * 100_000,
    "nan": '{"ev":"finalize","pid":%d,"t":NaN,"caller":null}' % pid,
}


def forged(p, t):
    return "\n".join(json.dumps(e) for e in (
        {"ev": "register", "pid": p, "t": t, "id": 7, "name": "forged", "where": None, "stdlib": False},
        {"ev": "hook-start", "pid": p, "t": t, "id": 7, "name": "forged"},
        {"ev": "hook-end", "pid": p, "t": t, "id": 7, "name": "forged", "error": None, "dur": 0.0}))


LINES["huge-pid"] = forged(10**18, 1.0)
LINES["huge-t"] = forged(pid, 1e300)


def bye():
    print(f"[pid {pid}] bye", flush=True)


atexit.register(bye)
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

if mode == "fifo":
    os.unlink(events)
    os.mkfifo(events)
elif mode == "zero":
    os.unlink(events)
    os.symlink("/dev/zero", events)
elif mode == "line":
    with open(events, "a") as fh:
        fh.write(LINES[sys.argv[3]] + "\n")
elif mode in ("big", "pad-in-hook"):
    def pad():
        line = json.dumps({"ev": "finalize", "pid": pid, "t": 1.0, "caller": "x" * 900}) + "\n"
        with open(events, "a") as fh:
            fh.write(line * (9 * 1024 * 1024 // len(line) + 1))

    if mode == "big":
        pad()
    else:
        def padder():
            pad()

        atexit.register(padder)  # after bye: atexit runs it first
else:
    sys.exit(f"unknown mode {mode!r}")

open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()
