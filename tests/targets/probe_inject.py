"""Waits to be told to exit by the probe's inject signal.

Usage: probe_inject.py [catch]

Turns core files off, registers hook_a, prints "ready PID", then sleeps in short
steps; if nothing ends it within 30 s it prints "not signalled" and exits 3. With
"catch", it waits in wait_a_little() under an ``except Exception`` that prints
"caught: ..." and waits again, as a server loop that survives its own errors does.
"""

import atexit
import os
import resource
import sys
import time

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def hook_a():
    print("hook_a ran", flush=True)


atexit.register(hook_a)
deadline = time.monotonic() + 30


def wait_a_little():
    """Prints "ready PID", then sleeps until the deadline (the signal comes here)."""
    print("ready", os.getpid(), flush=True)
    while time.monotonic() < deadline:
        time.sleep(0.05)


if "catch" in sys.argv[1:]:
    while time.monotonic() < deadline:  # ready is printed inside the try: nothing escapes
        try:
            wait_a_little()
        except Exception as exc:
            print("caught:", exc, flush=True)
else:
    wait_a_little()
print("not signalled", flush=True)
sys.exit(3)
