"""Bytecode for the suite's own Python processes, even where it may not be written.

With PYTHONDONTWRITEBYTECODE=1 (common in CI images and containers, and set on the
machines this suite was measured on) every Python process compiles every module it
imports from source: each of the hundreds of ``python -m shutdown_probe`` runs the
suite starts, each target, each xdist worker's assertion rewriting. Measured: a
``check`` takes 0.31-0.34 s of CPU so, 0.15 s with its bytecode cached.

So the session (the controller under xdist) writes bytecode into a private folder
of its own (``PYTHONPYCACHEPREFIX``, mode 0700, removed at the end), shared by every
process it starts: the checkout gets no ``__pycache__`` and no other user can plant
bytecode there. Nothing a test asserts depends on it: a test that needs the
no-bytecode case sets the variable itself.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

_ENV = "PYTHONPYCACHEPREFIX"
_OWNER = "SHUTDOWN_PROBE_TESTS_PYCACHE_OWNER"


def share_bytecode() -> None:
    """In the process that starts the session: a private bytecode folder for it and
    every process it starts (workers inherit the variables)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get(_OWNER):
        return
    folder = tempfile.mkdtemp(prefix="shutdown-probe-tests-pycache-")
    os.environ[_ENV] = folder
    os.environ[_OWNER] = str(os.getpid())
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.pycache_prefix = folder
    sys.dont_write_bytecode = False


def drop_bytecode() -> None:
    """At the end of the session that made the folder: remove it."""
    if os.environ.get(_OWNER) == str(os.getpid()):
        shutil.rmtree(os.environ[_ENV], ignore_errors=True)
