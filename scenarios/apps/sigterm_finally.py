"""Article 2, before the fix: a service that releases its resources in ``finally:``.

The article's service held resources in a loop and released them in a ``finally:``
block. Ctrl-C in a terminal released them; ``docker stop`` did not. This app is that
service, with the evidence made visible:

* ``finally:`` writes the sentinel ``<workdir>/released`` and prints
  ``[pid N] finally: resources released``;
* an ``atexit`` hook prints ``[pid N] atexit: hook ran`` (the article notes that
  atexit does not help on SIGTERM either);
* once the loop runs, ``<workdir>/ready`` exists.

Why SIGINT and SIGTERM differ (CPython semantics): Python turns SIGINT into
``KeyboardInterrupt``, an exception, so the ``finally`` clause and then the atexit
hooks run on the way out. Python installs no handler for SIGTERM, SIGHUP or SIGQUIT,
so the kernel's default action ends the process between two instructions, and no
Python code runs at all.

Usage: ``python sigterm_finally.py WORKDIR``. :func:`serve` is also imported by
``sigterm_handle_exit.py``, so the "after the fix" app runs exactly this loop.
"""

import atexit
import os
import resource
import sys
import time
from pathlib import Path

# "Work" done by one round of the loop. The process spends its life in time.sleep,
# which a signal interrupts at once (PEP 475: the handler runs, and an exception
# it raises ends the sleep).
TICK = 0.5


def say(text):
    print(f"[pid {os.getpid()}] {text}", flush=True)


def on_exit():
    say("atexit: hook ran")


def serve(workdir):
    """The service loop; its resources are released in ``finally``, as in the article."""
    say("service: acquiring resources")
    try:
        # Ready only once we are inside the try: from here on, "finally" is armed.
        (workdir / "ready").touch()
        say("service: running")
        while True:
            time.sleep(TICK)
    finally:
        (workdir / "released").write_text(f"{os.getpid()}\n")
        say("finally: resources released")


def setup(argv):
    """Parse ``WORKDIR``, forbid core files, register the atexit hook; None on bad usage.

    Shared with sigterm_handle_exit.py, so the two apps differ only by the fix.
    """
    if len(argv) != 2:
        print(f"usage: {argv[0]} WORKDIR", file=sys.stderr)
        return None
    # SIGQUIT's default action dumps core; keep the case from leaving a core file in
    # the scenario folder. The process still ends with SIGQUIT.
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    atexit.register(on_exit)
    return Path(argv[1])


def main(argv):
    workdir = setup(argv)
    if workdir is None:
        return 2
    serve(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
