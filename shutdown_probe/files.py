"""Report files written whole or not at all.

A report is written to a temporary file beside its target, flushed to disk and then
renamed over the target: a reader, or a harness killed half-way, sees the old file or
the new one, never half a JSON document.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Union

Content = Union[str, Callable[[IO[str]], None]]


def _umask() -> int:
    """This process's umask, read without changing it (os.umask can only set it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_atomically(name: str | os.PathLike[str], content: Content) -> None:
    """Write ``content`` (a string, or a function that writes to a text file) to
    ``name`` atomically. The file gets the mode a plain ``open(name, "w")`` would give
    it: the old file's, or 0666 less the umask. Raises OSError."""
    target = Path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            if callable(content):
                content(out)
            else:
                out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
