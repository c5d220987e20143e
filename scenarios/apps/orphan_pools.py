"""Two process pools, one busy task each, to show what their workers do when the
main process dies under them.

``python orphan_pools.py`` (fork start method, the default on Linux before 3.14):
a ``concurrent.futures.ProcessPoolExecutor(1)`` gets one task, then a
``multiprocessing.Pool(1)`` gets one. Each task prints ``executor task started
(pid P)`` or ``pool task started (pid P)``, sleeps TASK_SECONDS (default 3) and
prints ``... task done (pid P)``. The main process waits for both results and prints
``results [...]``, inside ``try/finally`` (``main finally (pid P)``).

The executor is created (and its worker forked) before the pool, so the pool's pipes
are held only by the main process and the pool's worker: when the main process dies,
the pool worker's next read of its task pipe sees end-of-file. The executor's worker
holds both ends of its own call queue, so no read of it ever ends.
"""

import concurrent.futures
import multiprocessing
import os
import sys
import time

TASK_SECONDS = float(os.environ.get("TASK_SECONDS", "3"))


def say(text):
    # One write per line, flushed: every process shares the pipe.
    sys.stdout.write(f"{text} (pid {os.getpid()})\n")
    sys.stdout.flush()


def work(kind):
    say(f"{kind} task started")
    time.sleep(TASK_SECONDS)
    say(f"{kind} task done")
    return kind


def main():
    ctx = multiprocessing.get_context("fork")
    try:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as executor:
            future = executor.submit(work, "executor")
            with ctx.Pool(1) as pool:
                pending = pool.apply_async(work, ("pool",))
                results = [future.result(), pending.get()]
        say(f"results {results}")
    finally:
        say("main finally")


if __name__ == "__main__":
    main()
