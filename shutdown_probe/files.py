"""Report files written whole or not at all.

A report is written to a temporary file beside its target, flushed to disk and then
renamed over the target: a reader, or a harness killed half-way, sees the old file or
the new one, never half a JSON document. A target that exists and is no regular file
(``/dev/stdout``, a pipe, a terminal) is written into in place: renaming over it would
replace the device's name with a file.
"""

from __future__ import annotations

import os
import stat
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
        found = target.stat()
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    else:
        if not stat.S_ISREG(found.st_mode):
            _write_in_place(target, content)
            return
        mode = found.st_mode & 0o7777
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


def _write_in_place(target: Path, content: Content) -> None:
    """Write into ``target``, which is no regular file: a device or a pipe is opened
    as it is; a FIFO nobody reads fails at once (ENXIO) instead of blocking; a
    folder fails as opening one does."""
    fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    os.set_blocking(fd, True)  # only the open must not wait for a reader; the writes may
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        if callable(content):
            content(out)
        else:
            out.write(content)
