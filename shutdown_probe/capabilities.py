"""What this machine lets the harness do: pidfds, the subreaper bit, PIDFD_INFO_EXIT.

Detected once per harness (:func:`capabilities`), which also makes the harness a
child subreaper: it must be one before its first case's first child exists, so that
orphans come back to it. Each missing piece says why, in the words the results'
environment block shows.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from . import watchdog

_PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Capabilities:
    """What this machine lets the harness do; each missing piece says why."""

    pidfd: str | None = None  # None when available, else the reason it is not
    subreaper: str | None = None
    pidfd_exit_info: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {
            "pidfd": self.pidfd or "yes",
            "subreaper": self.subreaper or "yes",
            "pidfd_exit_info": self.pidfd_exit_info or "yes",
            "watchdog": watchdog.state(),
        }


_caps: Capabilities | None = None


def capabilities() -> Capabilities:
    """Detect (once) pidfds, the subreaper bit and PIDFD_INFO_EXIT, and enable the subreaper."""
    global _caps
    if _caps is None:
        caps = Capabilities()
        try:
            fd = os.pidfd_open(os.getpid())
            os.close(fd)
        except (AttributeError, OSError) as exc:
            caps.pidfd = f"pidfd_open unavailable ({exc}); signals go by PID, checked by start time"
        caps.subreaper = _become_subreaper()
        caps.pidfd_exit_info = None if caps.pidfd is None and _probe_exit_info() else (
            "the kernel has no PIDFD_INFO_EXIT (Linux 6.15+): exit status is known only "
            "for processes the harness reaps itself"
        )
        _caps = caps
    return _caps


def _become_subreaper() -> str | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            return f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(err)}"
    except (OSError, AttributeError) as exc:
        return f"prctl unavailable: {exc}"
    return None


# struct pidfd_info from <linux/pidfd.h> (72 bytes with exit_code, Linux 6.15+).
_PIDFD_INFO_SIZE = 72
_PIDFD_INFO_EXIT = 1 << 3
_PIDFD_GET_INFO = (3 << 30) | (_PIDFD_INFO_SIZE << 16) | (0xFF << 8) | 11
_EXIT_CODE_OFFSET = 60


def pidfd_exit_status(fd: int) -> int | None:
    """The wait status of an exited (and reaped) process, from the kernel, or None."""
    buf = bytearray(_PIDFD_INFO_SIZE)
    struct.pack_into("Q", buf, 0, _PIDFD_INFO_EXIT)
    try:
        fcntl.ioctl(fd, _PIDFD_GET_INFO, buf, True)
    except OSError:
        return None
    (mask,) = struct.unpack_from("Q", buf, 0)
    if not mask & _PIDFD_INFO_EXIT:
        return None
    status: int = struct.unpack_from("i", buf, _EXIT_CODE_OFFSET)[0]
    return status


def _probe_exit_info() -> bool:
    """Does PIDFD_INFO_EXIT work here? Tried on a throwaway child: this Python, by its
    absolute path (a ``true`` looked up on $PATH may be missing, and its absence is no
    fact about the kernel)."""
    try:
        proc = subprocess.Popen([sys.executable, "-S", "-c", ""])
    except OSError:
        return False
    fd = os.pidfd_open(proc.pid)
    try:
        proc.wait()
        return pidfd_exit_status(fd) is not None
    finally:
        os.close(fd)


# namespaces.environment()'s entries describe what is there (which namespace, which
# tini) rather than saying "yes": each is missing only when it says so.
_DESCRIBED_MISSING = {"pid_namespace": "no:", "tini": "not installed", "dumb_init": "not installed"}


def lacking(info: Mapping[str, str]) -> dict[str, str]:
    """The entries of a results' capabilities that the machine lacks, as a run notes them."""
    return {what: how for what, how in info.items()
            if (how.startswith(_DESCRIBED_MISSING[what]) if what in _DESCRIBED_MISSING else how != "yes")}
