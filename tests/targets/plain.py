"""A single Python process with no signal handlers of its own.

Usage: plain.py WORKDIR

Prints "[pid N] ready", creates WORKDIR/ready, then blocks in signal.pause(). Its
cleanup leaves one line per step, so a test can see which steps a path ran:
"[pid N] KeyboardInterrupt", "[pid N] finally ran", "[pid N] atexit ran".
"""

import atexit
import os
import resource
import signal
import sys

workdir = sys.argv[1]
pid = os.getpid()
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGQUIT must not leave a core file
atexit.register(lambda: print(f"[pid {pid}] atexit ran"))

try:
    print(f"[pid {pid}] ready")
    open(os.path.join(workdir, "ready"), "w").close()
    while True:
        signal.pause()
except KeyboardInterrupt:
    print(f"[pid {pid}] KeyboardInterrupt")
    raise
finally:
    print(f"[pid {pid}] finally ran")
