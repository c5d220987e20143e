"""Every SIGKILL the harness sends, and the record of it.

Escalation is data: a process the harness had to kill is never killed silently.

* A process of a case is killed by :meth:`CaseKills.kill`, the one function that
  sends the signal and writes it down, in the same step and under one lock: the
  handle says ``killed_by_harness`` and the case's list of kills holds the same kill,
  which becomes one of the case's escalations (unless the case never ran its path:
  a skipped case's clean-up is not an escalation). Whichever thread kills (the
  case's own, a trigger's, :func:`~shutdown_probe.runner.abort_all`), the two
  records cannot disagree.
* :func:`end_case` is the escalation policy: SIGKILL everything of the case that is
  left, wait (bounded) until it is gone, killing what turns up meanwhile the same
  way, and say which processes outlived it.
* A stray (a process re-parented to the harness that no running case can take in)
  is killed by :func:`kill_and_reap`, with its descendants, and recorded by
  :func:`~shutdown_probe.adoption.settle` as a ``Stray`` on each case that may own it:
  no case tracks it, so it is nobody's escalation.

The stop profile's final SIGKILL (:mod:`~shutdown_probe.stops`) is the simulated
stopper's, not the harness's: it is recorded in the case's stop record instead.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from . import watchdog
from .handles import ProcessHandle
from .procfs import stat
from .procnet import descendant_pids
from .results import Escalation
from .waiting import Backoff, wait_readable

# How long to wait, after the harness's own SIGKILLs, for the processes to be gone.
KILL_GRACE = 5.0


@dataclass(frozen=True)
class Kill:
    """One SIGKILL the harness sent to a process of a case."""

    handle: ProcessHandle
    reason: str
    at: float  # monotonic
    record: bool  # False for a case that never ran its path (skipped): not an escalation


class CaseKills:
    """The SIGKILLs the harness sent to the processes of one case, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kills: list[Kill] = []

    def kill(self, h: ProcessHandle, reason: str, *, record: bool = True) -> bool:
        """SIGKILL one process of the case and write it down; False if it was gone
        (or could not be signalled: the handle's ``exit_note`` says why).

        The one way the harness kills a case's process. A process already killed is
        not killed again: one kill, one record."""
        with self._lock:
            if h.killed_by_harness:
                return False
            if not h.send(signal.SIGKILL):
                return False
            h.killed_by_harness = True
            h.exit_note = reason
            self._kills.append(Kill(h, reason, time.monotonic(), record))
        return True

    def all(self) -> list[Kill]:
        with self._lock:
            return list(self._kills)

    def escalations(self, t0: float | None) -> list[Escalation]:
        """The kills of a case that ran its path, with their time from the trigger
        (``t0``; None for one that came before it)."""
        return [Escalation(k.handle.pid, k.handle.role, "SIGKILL", k.reason,
                           round(k.at - t0, 4) if t0 is not None and k.at >= t0 else None)
                for k in self.all() if k.record]


class Tree(Protocol):
    """The processes of a case, as the policy ends them (a ``CaseProcesses``)."""

    def kill_all(self, reason: str, *, record: bool = True) -> Sequence[ProcessHandle]: ...

    def wait_gone(self, timeout: float = ..., reason: str = ..., *, record: bool = True) -> bool: ...

    def live(self) -> list[ProcessHandle]: ...


def end_case(tree: Tree, reason: str, *, record: bool = True,
             before: Callable[[str], None] | None = None) -> str | None:
    """The escalation policy: SIGKILL what is left of the case and wait until it is
    gone; every kill goes through :meth:`CaseKills.kill`. ``before(reason)`` runs
    first (the traffic learns that what still waits was cut by the harness).
    Returns None, or the words for the processes that survived SIGKILL."""
    if before is not None:
        before(reason)
    tree.kill_all(reason, record=record)
    if tree.wait_gone(KILL_GRACE, reason, record=record):
        return None
    return "processes survived SIGKILL: " + ", ".join(str(h.pid) for h in tree.live())


# ------------------------------------------------------------------ strays


def kill_and_reap(pid: int, start: int, timeout: float = 5.0) -> bool:
    """SIGKILL a child of the harness and every descendant of it, checking its start
    time first so that a reused number is never hit (through pidfds, so the check
    holds until the signal), wait (bounded) for their end and reap those that are
    the harness's children by then. False when it was already gone.

    Killing the stray alone would race its forks, and its children, re-parented to
    the harness after the look that found it, would be seen by nobody: so, as the
    watchdog's sweep does, each is stopped (SIGSTOP) until a look below the stopped
    finds no one new, told to the watchdog, and only then all are killed.

    For strays only: this kill is not one of a case's escalations (no case tracks
    the process); :func:`settle` records it as the ``Stray``'s ``killed_by_harness``."""
    first = _pin(pid, start)
    if first is None:
        return False
    pinned: dict[int, tuple[int | None, int]] = {pid: first}  # pid -> (pidfd or None, start ticks)
    try:
        deadline = time.monotonic() + timeout
        todo = [pid]
        while todo and time.monotonic() < deadline:
            for p in todo:
                watchdog.watch(p)
                _signal(p, *pinned[p], signal.SIGSTOP)
            _wait_stopped(todo, pinned, deadline)
            todo = []
            for p in descendant_pids(list(pinned)):
                if p not in pinned and (st := stat(p)) is not None and (got := _pin(p, st.start)):
                    pinned[p] = got
                    todo.append(p)
        if not _signal(pid, *first, signal.SIGKILL):
            return False
        for p in pinned:
            if p != pid:
                _signal(p, *pinned[p], signal.SIGKILL)
        fds = [fd for fd, _ in pinned.values() if fd is not None]
        backoff = Backoff(first=0.001, cap=0.05)
        left = set(pinned)
        while left:
            for p in list(left):
                try:
                    if os.waitpid(p, os.WNOHANG)[0]:
                        left.discard(p)
                except ChildProcessError:
                    # not ours (yet): its parent, killed too, has not ended; or gone
                    if stat(p) is None:
                        left.discard(p)
            if not left or time.monotonic() >= deadline:
                break
            wait_readable(fds if fds else [], backoff.next())
        return True
    finally:
        for fd, _ in pinned.values():
            if fd is not None:
                os.close(fd)


def _pin(pid: int, start: int) -> tuple[int | None, int] | None:
    """A pidfd on ``pid`` if it is still the process that started at ``start`` (None
    for the pidfd where the machine has none); None when it is gone or reused."""
    try:
        fd: int | None = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    except OSError:
        fd = None  # no pidfds here (or none left): by number, after the start-time check
    now = stat(pid)
    if now is None or now.start != start:
        if fd is not None:
            os.close(fd)
        return None
    return fd, start


def _signal(pid: int, fd: int | None, start: int, sig: int) -> bool:
    try:
        if fd is not None:
            signal.pidfd_send_signal(fd, sig)
        else:
            now = stat(pid)
            if now is None or now.start != start:
                return False
            os.kill(pid, sig)
    except OSError:
        return False
    return True


def _wait_stopped(pids: list[int], pinned: dict[int, tuple[int | None, int]], deadline: float) -> None:
    """Until each of ``pids`` has stopped or ended: a SIGSTOP takes effect when the
    process next leaves the kernel, so a fork it is in the middle of completes first,
    and the look for its children must come after that."""
    pending = list(pids)
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending
                   if (st := stat(p)) is not None and st.start == pinned[p][1] and st.state not in (b"T", b"t", b"Z", b"X")]
        if pending:
            wait_readable([], 0.001)
