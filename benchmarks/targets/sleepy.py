"""The sleepy target: a case that mostly waits, as most real cases do.

It prints ``ready``, waits for SIGTERM (blocked first and taken with ``sigwait``, so
one arriving before the wait is not missed), then sleeps ``SLEEP_S`` seconds (1 by
default: a shutdown hook that flushes, a grace period) in an atexit hook, as the
Flask app's hooks do, and exits 0. Its cases use almost no CPU: what ``--jobs auto``
overlaps.
"""

import atexit
import os
import signal
import sys
import time

SLEEP_S = float(os.environ.get("SLEEP_S", "1"))


def flush() -> None:
    time.sleep(SLEEP_S)
    print("flushed", flush=True)


def main() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    atexit.register(flush)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    signal.sigwait({signal.SIGTERM})
    sys.exit(0)


if __name__ == "__main__":
    main()
