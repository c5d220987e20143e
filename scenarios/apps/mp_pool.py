"""A multiprocessing pool of two workers, each busy with a long task.

``START_METHOD=fork|spawn|forkserver python mp_pool.py`` (default fork): the main
process maps two tasks over ``Pool(2)``; each task prints ``task N started (pid P)``,
sleeps TASK_SECONDS (default 2) and prints ``task N done (pid P)``. Then the main
process prints ``results [...]``. With ``ROUNDS=N`` it maps them N times (0: for
ever), printing ``results [...]`` after each round: the progress line an alive check
(``[app] alive = { log = ... }``) watches for.

* the main process wraps the pool in ``try/finally``: ``main finally (pid P)``;
* an atexit hook registered at import prints ``atexit: flushed (pid P)``. Under
  spawn and forkserver each worker imports this file again (as ``__mp_main__``) and
  registers its own; fork workers inherit the parent's, but end with ``os._exit``.
"""

import atexit
import multiprocessing
import os
import sys
import time

START_METHOD = os.environ.get("START_METHOD", "fork")
TASK_SECONDS = float(os.environ.get("TASK_SECONDS", "2"))
ROUNDS = int(os.environ.get("ROUNDS", "1"))


def say(text):
    # One write per line, flushed: every process shares the pipe.
    sys.stdout.write(f"{text} (pid {os.getpid()})\n")
    sys.stdout.flush()


@atexit.register
def flush_on_exit():
    say("atexit: flushed")


def work(n):
    say(f"task {n} started")
    time.sleep(TASK_SECONDS)
    say(f"task {n} done")
    return n


def main():
    ctx = multiprocessing.get_context(START_METHOD)
    try:
        with ctx.Pool(2) as pool:
            done = 0
            while ROUNDS == 0 or done < ROUNDS:
                # chunksize 1: one task per worker, so both are busy at once
                results = pool.map(work, range(2), chunksize=1)
                say(f"results {results}")
                done += 1
    finally:
        say("main finally")


if __name__ == "__main__":
    main()
