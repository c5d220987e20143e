"""The run's private cache of the probe's compiled code (read by ``_probe_site/loader``).

A target started with ``PYTHONDONTWRITEBYTECODE=1`` (common in CI and containers) would
compile the probe's 650 lines at every Python start. Instead, the first case of a run
makes a folder of its own (mode 0700, removed when the harness exits, or by the watchdog
if it dies first), puts in it a copy of the probe's source named by its hash and the
code compiled for the harness's own interpreter; a target of another CPython compiles
the copy once and stores its code beside it. :func:`code_prefix` is what the loader
finds in ``SHUTDOWN_PROBE_CODE``. Nothing is done per fork.
"""

from __future__ import annotations

import atexit
import hashlib
import marshal
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from . import watchdog

CODE_ENV = "SHUTDOWN_PROBE_CODE"
SOURCE = Path(__file__).resolve().parent / "_probe_site" / "sitecustomize.py"
MAGIC = b"shutdown-probe code 1\n"  # the loader's _MAGIC

_lock = threading.Lock()
_prefix: str | None = None
_failed = False


def code_prefix() -> str | None:
    """``DIR/KEY`` of this run's cache, made on first use; None when it cannot be made
    (the loader then compiles the source, as without a cache)."""
    global _prefix, _failed
    with _lock:
        if _prefix is None and not _failed:
            try:
                _prefix = _make()
            except OSError:
                _failed = True
        return _prefix


def _make() -> str:
    source = SOURCE.read_bytes()
    folder = tempfile.mkdtemp(prefix="shutdown-probe-code-")  # 0700, this user's
    atexit.register(_remove, folder)
    watchdog.watch_dir(folder)
    prefix = os.path.join(folder, hashlib.sha256(source).hexdigest()[:20])
    _store(prefix + ".py", source)
    tag = sys.implementation.cache_tag
    if tag:
        code = compile(source, str(SOURCE), "exec", dont_inherit=True)
        _store(f"{prefix}.{tag}", MAGIC + marshal.dumps(code))
    return prefix


def _store(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _remove(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    watchdog.forget_dir(folder)
