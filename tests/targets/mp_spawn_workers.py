"""N multiprocessing workers started with the spawn start method.

Usage: mp_spawn_workers.py WORKDIR N

The spawn start method starts multiprocessing's resource tracker before the first
worker (popen_spawn_posix asks it for its fd), so the root's oldest child is the
tracker, not a worker. Each worker prints "worker ready PID" and blocks until a
signal ends it. Once all are ready the parent prints "workers P1 P2..." and creates
WORKDIR/ready; when the first worker ends it prints "worker ended PID EXITCODE",
terminates the others, joins them and exits 0 (the tracker then sees its pipe close
and exits by itself). With N = 0 it starts the tracker alone (as shared memory or a
semaphore would), prints "tracker only", creates WORKDIR/ready and waits for a signal.
"""

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys


def work(ready):
    print(f"worker ready {os.getpid()}", flush=True)
    ready.release()
    while True:
        signal.pause()


if __name__ == "__main__":
    workdir, count = sys.argv[1], int(sys.argv[2])
    if count == 0:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        print("tracker only", flush=True)
        open(os.path.join(workdir, "ready"), "w").close()
        signal.pause()
        sys.exit(0)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Semaphore(0)
    procs = [ctx.Process(target=work, args=(ready,)) for _ in range(count)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    print("workers " + " ".join(str(p.pid) for p in procs), flush=True)
    open(os.path.join(workdir, "ready"), "w").close()
    ended = multiprocessing.connection.wait([p.sentinel for p in procs])
    first = next(p for p in procs if p.sentinel in ended)
    first.join()
    print(f"worker ended {first.pid} {first.exitcode}", flush=True)
    for p in procs:
        if p is not first:
            p.terminate()
            p.join()
    print("parent exit", flush=True)
