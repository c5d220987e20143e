"""A multiprocessing child started with the given start method.

Usage: probe_mp.py METHOD   (spawn, fork or forkserver)

The child registers child_hook; the parent registers main_hook. Prints "parent PID"
and, after the child ended, "child PID EXITCODE".
"""

import atexit
import multiprocessing
import os
import sys


def child_hook():
    print("child_hook ran in", os.getpid(), flush=True)


def main_hook():
    print("main_hook ran in", os.getpid(), flush=True)


def work():
    atexit.register(child_hook)
    print("work ran in", os.getpid(), flush=True)


if __name__ == "__main__":
    atexit.register(main_hook)
    print("parent", os.getpid(), flush=True)
    ctx = multiprocessing.get_context(sys.argv[1])
    proc = ctx.Process(target=work)
    proc.start()
    proc.join(30)
    print("child", proc.pid, proc.exitcode, flush=True)
