"""Waits to be told to exit by the probe's inject signal.

Usage: probe_inject.py

Turns core files off, registers hook_a, prints "ready PID", then sleeps in short
steps; if nothing ends it within 30 s it prints "not signalled" and exits 3.
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
print("ready", os.getpid(), flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    time.sleep(0.05)
print("not signalled", flush=True)
sys.exit(3)
