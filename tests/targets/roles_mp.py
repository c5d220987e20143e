"""Two multiprocessing children started with the given method, and what multiprocessing
itself knows of its helper processes.

Usage: roles_mp.py METHOD   (spawn or forkserver)

Prints "parent PID", "child PID" for each child (from the child itself), and
"tracker PID" / "forkserver PID" from multiprocessing's own bookkeeping.
"""

import multiprocessing
import os
import sys
from multiprocessing import forkserver, resource_tracker


def work(queue):
    queue.put(os.getpid())


if __name__ == "__main__":
    print("parent", os.getpid(), flush=True)
    ctx = multiprocessing.get_context(sys.argv[1])
    queue = ctx.Queue()  # a semaphore: the resource tracker is started for it
    procs = [ctx.Process(target=work, args=(queue,)) for _ in range(2)]
    for p in procs:
        p.start()
    for _ in procs:
        print("child", queue.get(timeout=30), flush=True)
    for p in procs:
        p.join(30)
    print("tracker", resource_tracker._resource_tracker._pid, flush=True)
    if sys.argv[1] == "forkserver":
        print("forkserver", forkserver._forkserver._forkserver_pid, flush=True)
