"""Article 2, after the fix: the same service loop, wrapped in ``with handle_exit(...)``.

The loop, its ``finally:`` (sentinel ``<workdir>/released`` and the line
``[pid N] finally: resources released``), the atexit hook and the ready file are
exactly those of ``sigterm_finally.py`` (imported from it). The only change is the
article's fix: the loop runs inside ``handle_exit(callback)``, whose callback prints
``[pid N] callback: handle_exit callback ran``.

What the fix changes (CPython semantics): SIGTERM now has a Python handler that
raises ``SystemExit(0)``, so the loop's ``finally`` runs, ``handle_exit`` swallows the
zero exit and calls the callback, ``main`` returns, and the interpreter finalizes
normally: atexit runs and the exit status is 0. SIGINT's ``KeyboardInterrupt`` is
swallowed too, so Ctrl-C also ends with status 0 (instead of dying by SIGINT).
SIGHUP, SIGQUIT and SIGKILL are untouched: the kernel still ends the process and
nothing runs.

Usage: ``python sigterm_handle_exit.py WORKDIR``.
"""

import sys

from handle_exit import handle_exit
from sigterm_finally import say, serve, setup


def callback():
    say("callback: handle_exit callback ran")


def main(argv):
    workdir = setup(argv)
    if workdir is None:
        return 2
    with handle_exit(callback):
        serve(workdir)
    say("service: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
