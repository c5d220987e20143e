"""multiprocessing's helper processes, told apart by their command lines.

Besides the processes a program asks for, CPython's ``multiprocessing`` starts helpers
of its own, each a fresh interpreter whose code is on its command line
(``python [interpreter flags] -c CODE``, built by ``util._args_from_interpreter_flags``
and started by ``util.spawnv_passfds``):

* the resource tracker (``resource_tracker.py``, ``ensure_running``):
  ``-c 'from multiprocessing.resource_tracker import main;main(FD)'``; the spawn and
  forkserver start methods start it before their first child (``popen_spawn_posix.py``
  asks it for its fd), and shared memory or semaphores start it under any method.
  Python 3.7 named it ``semaphore_tracker``; billiard (Celery's fork) keeps copies;
* the forkserver (``forkserver.py``, ``ensure_running``):
  ``-c 'from multiprocessing.forkserver import main; main(...)'``.

Neither serves the app, so the harness never picks one as "the worker". The processes
the program asked for are not helpers: under spawn their command line is
``-c 'from multiprocessing.spawn import spawn_main; spawn_main(...)' --multiprocessing-fork``
(``spawn.get_command_line``); under forkserver they are forks of the forkserver and
keep its command line, so a process with the forkserver's command line whose parent
has it too is one of the program's children, not the server.

Works with the probe off: the command line is all it reads.
"""

from __future__ import annotations

import re

RESOURCE_TRACKER = "mp-resource-tracker"
FORKSERVER = "mp-forkserver"

_PACKAGE = r"(?:multiprocessing|billiard)"
_RUN = r"(?:^|\s)-c\s+from\s+" + _PACKAGE + r"\.{module}\s+import\s+main\s*;\s*main\("
_TRACKER = re.compile(_RUN.format(module=r"(?:resource|semaphore)_tracker"))
_FORKSERVER = re.compile(_RUN.format(module="forkserver"))


def mp_helper(cmdline: str, parent_cmdline: str = "") -> str | None:
    """:data:`RESOURCE_TRACKER` or :data:`FORKSERVER` when ``cmdline`` (an argv joined
    by spaces) is one of multiprocessing's helpers, else None. ``parent_cmdline``, the
    parent's, tells the forkserver from the children it forks (which keep its argv)."""
    if _TRACKER.search(cmdline):
        return RESOURCE_TRACKER
    if _FORKSERVER.search(cmdline) and not _FORKSERVER.search(parent_cmdline):
        return FORKSERVER
    return None
