"""Two children left behind when the root dies: one ends a moment later, one never.

Usage: orphan_fates.py WORKDIR [MODE]

The root forks ``late`` and, unless MODE is ``late-only``, ``stays``; it writes
"root=PID late=PID stays=PID" on stdout, then creates WORKDIR/ready and
waits for ever. ``late`` reads a pipe whose only writer is the root: end-of-file
when the root has died; then it sleeps LATE_SECONDS (default 1) and ends with
``os._exit(7)``. ``stays`` waits for ever.
"""

import os
import sys
import threading
import time

workdir = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "both"
late_seconds = float(os.environ.get("LATE_SECONDS", "1"))

r, w = os.pipe()
late = os.fork()
if late == 0:
    os.close(w)
    while os.read(r, 1):
        pass
    time.sleep(late_seconds)
    os._exit(7)
os.close(r)
pids = {"root": os.getpid(), "late": late}
if mode != "late-only":
    stays = os.fork()
    if stays == 0:
        os.close(w)
        threading.Event().wait()
        os._exit(0)
    pids["stays"] = stays
print(" ".join(f"{role}={pid}" for role, pid in pids.items()), flush=True)
open(os.path.join(workdir, "ready"), "w").close()
threading.Event().wait()
