"""The trivial target: print ``ready``, wait, exit at once on SIGTERM.

SIGTERM is blocked before ``ready`` is printed and taken with ``sigwait``: a SIGTERM
that arrives at any moment after the ready line stays pending until the wait takes it,
so the target cannot miss it. (A handler with ``signal.pause()`` can: a signal caught
between the interpreter's check for pending signals and the ``pause`` system call
leaves it waiting for another that never comes.)

Just before it exits it writes its own ``time.monotonic()`` (CLOCK_MONOTONIC, the
same clock in every process of the machine) to ``$STAMP_DIR/<pid>``. The stamp is
the last thing it does, so "when the harness noticed the exit" minus the stamp is
the harness's exit-detection latency, give or take the microseconds of ``_exit``.
"""

import os
import signal
import sys
import time

STAMP_DIR = os.environ.get("STAMP_DIR")


def stamp_and_exit() -> None:
    if STAMP_DIR:
        # Open the file before taking the stamp: only one small write and a close
        # (microseconds) lie between the stamp and the exit.
        fd = os.open(os.path.join(STAMP_DIR, str(os.getpid())), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        stamp = time.monotonic()
        os.write(fd, repr(stamp).encode())
        os.close(fd)
    os._exit(0)


def main() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    signal.sigwait({signal.SIGTERM})
    stamp_and_exit()


if __name__ == "__main__":
    main()
