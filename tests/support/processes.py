"""Looking at processes from outside the harness: straight from /proc, so a test's
verdict never rests on the code under test."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from shutdown_probe.waiting import wait_readable

if TYPE_CHECKING:
    from shutdown_probe.results import ProcessRecord


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not); straight from /proc, for a
    process no tag can find (an untagged daemon whose PID a target wrote down)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def tie_of(rec: ProcessRecord) -> str | None:
    """What tied a process to its case: ``attributed_by`` for one re-parented to the
    harness (role "adopted"), "parent" for one first seen below a process of the case;
    None when the record claims no tie."""
    if rec.role == "adopted":
        ties = ("tag", "output pipe", "session", "process group")
        ok = rec.attributed_by in ties or (rec.attributed_by or "").startswith("start time")
        return rec.attributed_by if ok else None
    return "parent" if rec.role in ("grandchild", "descendant") and rec.attributed_by is None else None


def wait_gone(pids: list[int], limit: float) -> list[int]:
    """Wait on pidfds up to ``limit`` seconds; the pids still running then."""
    fds = []
    for pid in pids:
        try:
            fds.append(os.pidfd_open(pid))
        except ProcessLookupError:
            pass
    try:
        deadline = time.monotonic() + limit
        left = list(fds)
        while left and time.monotonic() < deadline:
            woke = wait_readable(left, deadline - time.monotonic())
            left = [fd for fd in left if fd not in woke]
    finally:
        for fd in fds:
            os.close(fd)
    return [pid for pid in pids if running(pid)]
