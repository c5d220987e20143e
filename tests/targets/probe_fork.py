"""A plain os.fork: the child exits normally, so it runs the atexit callable it inherited.

Usage: probe_fork.py

Prints "parent PID" and "child PID" (the child's own line comes from the child).
"""

import atexit
import os
import sys


def inherited_hook():
    print("inherited_hook ran in", os.getpid(), flush=True)


atexit.register(inherited_hook)
print("parent", os.getpid(), flush=True)
pid = os.fork()
if pid == 0:
    print("child", os.getpid(), flush=True)
    sys.exit(0)
os.waitpid(pid, 0)
