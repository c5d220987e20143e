"""Reading files the harness does not control.

A scenario file, a results file, the probe's events file and a sentinel can each be
replaced by anything the user, the app or another process chooses: a FIFO (a plain
``open`` for reading blocks until a writer comes, which may be never), a character
device (``/dev/zero`` never ends), a symlink to somewhere else, a file of gigabytes.
Every such read goes through :func:`read_regular`: it never blocks, never reads more
than a bound, refuses anything that is not a regular file and, where asked, refuses to
follow a symlink in the last component of the path.
"""

from __future__ import annotations

import errno
import os
import stat


class Unreadable(OSError):
    """The file is not one the harness will read; ``str`` is a short reason, e.g.
    "is a FIFO, not a regular file" or "is larger than 1 MiB". An OSError, so code
    that already handles a missing file handles this too."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def describe_kind(mode: int) -> str:
    """What kind of file ``mode`` (an ``st_mode``) is, in words."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "not a regular file"


def size_words(n: int) -> str:
    """``n`` bytes in the largest binary unit that divides it, e.g. "1 MiB"."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def read_regular(path: str | os.PathLike[str], limit: int, *, follow_links: bool = True,
                 truncate: bool = False) -> tuple[bytes, bool]:
    """The bytes of the regular file at ``path`` and whether they were cut at ``limit``.

    Never blocks: the file is opened with ``O_NONBLOCK`` and checked with ``fstat``
    (no race between the check and the read) before a byte is read. Raises
    :class:`Unreadable` for anything that is not a regular file, for a symlink when
    ``follow_links`` is false, and for a file over ``limit`` bytes unless ``truncate``
    is true (then the first ``limit`` bytes come back with ``True``). Other
    ``OSError``\\ s (missing file, no permission) pass through unchanged.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    if not follow_links:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise Unreadable(errno.ELOOP, "is a symbolic link (not followed)") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable(errno.EINVAL, f"is {describe_kind(st.st_mode)}, not a regular file")
        chunks: list[bytes] = []
        left = limit + 1  # one byte more tells a file of exactly ``limit`` from a larger one
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        if not truncate:
            raise Unreadable(errno.EFBIG, f"is larger than {size_words(limit)}")
        return data[:limit], True
    return data, False
