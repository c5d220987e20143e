"""A parent that starts one worker child (a subprocess) and waits for it.

Usage: parent_child.py WORKDIR

Both processes are this file (the child gets --child). Each prints its cleanup as
"[pid N] parent: ..." or "[pid N] child: ...", with its own pid:

    child:  "child: KeyboardInterrupt" on SIGINT, then "child: finally" on any
            Python-level exit; it blocks in signal.pause() until then.
    parent: "parent: child ended with RC" when its wait returns, then
            "parent: finally".

The child tells the parent through a pipe that it is inside its try block; only then
does the parent create WORKDIR/ready, so a signal after readiness always finds both
processes inside their try blocks.
"""

import os
import signal
import subprocess
import sys

pid = os.getpid()

if sys.argv[1] == "--child":
    ready_fd = int(sys.argv[2])
    try:
        os.write(ready_fd, b"in try\n")
        os.close(ready_fd)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        print(f"[pid {pid}] child: KeyboardInterrupt")
        raise
    finally:
        print(f"[pid {pid}] child: finally")

workdir = sys.argv[1]
r, w = os.pipe()
child = subprocess.Popen([sys.executable, __file__, "--child", str(w)], pass_fds=[w])
os.close(w)
try:
    with os.fdopen(r) as fh:
        fh.readline()
    print(f"[pid {pid}] parent: started child {child.pid}")
    open(os.path.join(workdir, "ready"), "w").close()
    rc = child.wait()
    print(f"[pid {pid}] parent: child ended with {rc}")
finally:
    print(f"[pid {pid}] parent: finally")
