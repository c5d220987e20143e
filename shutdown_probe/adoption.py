"""Processes re-parented to the harness: which case, if any, each one belongs to.

The harness is a child subreaper, so a process of a case whose parent dies becomes
the harness's child. Most still carry their case's tag; one that called ``setsid()``
and then ``execve`` with an empty environment carries nothing that names its case.
This module decides, from what can be known, whose such a process is.

What the decision rests on:

* every child the harness starts itself (a case's root, a trigger's command, the
  watchdog) is started inside :func:`spawning`, which registers it before any other
  thread can list the harness's children: so a child that is not registered was
  re-parented to the harness (or started by code outside the harness that shares
  its process: see the next point);
* no process of a case is in the harness's session: the root starts a session of
  its own, and no process can join another session; a child in the harness's
  session is someone else's (a test's subprocess, the namespaces check);
* a process is created by a live process, and a case's processes live only while
  the case does: its **window**, from just before its launch to the moment its last
  process was gone. A case whose window does not contain a process's start time did
  not make it.

So, for an untracked child of the harness outside its session, in this order:

1. it carries the tag of a case of this harness -> that case ("tag");
2. it holds the case's stdout/stderr pipe, or its session or process group was
   made by a process the case knows (and the case's window contains its start) ->
   that case ("output pipe", "session", "process group");
3. exactly one case's window contains its start time -> that case ("start time");
4. no window contains it (of those remembered: every running case and the last
   few to end) -> not a case's: left alone;
5. several do -> nobody can know which. It is killed at once (waiting for the end of
   every case that may own it would let it act on the others meanwhile, and still
   could not say whose it was) and recorded, with the cases that may own it, on each
   of them: never on one alone.

A process tied to one running case is left for that case's own look to take in
(whichever case's thread saw it first). A process whose case is known but already
over is killed and recorded on that case.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .procfs import Stat, boottime, fd_inodes, stat
from .results import Stray

__all__ = [  # stat and Stat are read here first; they live in procfs
    "Look", "Stat", "Verdict", "Window", "attribute", "boottime", "close_window", "disown", "look",
    "open_window", "own", "running", "settle", "settled_total", "spawning", "stat",
]

# How many finished cases are remembered, for a process of one of them that is
# found late: re-parented just as its case ended, after the case's last look (and
# the sweep right after it). A process of a case cannot stay out of the harness's
# sight longer than that: whatever it descends from is a child of the harness.
_REMEMBERED = 16

_lock = threading.RLock()
_own: set[int] = set()  # children the harness started itself
_open: list["Window"] = []
_closed: deque["Window"] = deque(maxlen=_REMEMBERED)
# (pid, start ticks) of every stray settled, kept for the whole run (the last few
# thousand): a second thread that finds the same process, even after the first one
# killed and reaped it, must not record it again. The start time makes the key unique
# to one process even once its number is reused.
_SETTLED_KEPT = 4096
_settled: set[tuple[int, int]] = set()
_settled_order: deque[tuple[int, int]] = deque()
_settled_total = 0  # how many settle() took on: a sweep repeats while it grows

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(eq=False)
class Window:
    """One case, seen from here: when it ran and what ties a process to it."""

    case: str  # the case's id, as reports name it
    tag: str  # its processes' environment tag
    launched: float  # CLOCK_BOOTTIME, taken before its root was started
    pipes: frozenset[int]  # inodes of its output pipes
    strays: list[Stray]  # its CaseResult's strays: where a stray it may own is recorded
    ended: float | None = None
    # the pids the case knows, alive or not, while it runs (none once it ended: a
    # late stray is then tied to it by its pipes or its start time only)
    known: Callable[[], set[int]] = field(default=lambda: set())
    # the pids of its processes still alive as far as it knows (while it runs)
    tracks: Callable[[], set[int]] = field(default=lambda: set())

    def contains(self, ticks: int) -> bool:
        """Whether a process that started at ``ticks`` (a /proc start time, in clock
        ticks since boot, truncated) may have been made while this case ran."""
        earliest, latest = ticks / _TICK, (ticks + 1) / _TICK
        return self.launched <= latest and (self.ended is None or self.ended >= earliest)


def stop_signal_reset() -> Callable[[], None] | None:
    """For a child the harness starts to be watched (an app, a service): the stop
    signals the harness itself ignores, put back to their default between fork and
    exec; None when it ignores none.

    exec passes SIG_IGN on: ``cmd &`` in a non-interactive shell ignores SIGINT and
    SIGQUIT, and a target that inherited that would never see KeyboardInterrupt, so
    the matrix would lie.
    """
    ignored = [s for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP)
               if signal.getsignal(s) == signal.SIG_IGN]
    if not ignored:
        return None

    def reset() -> None:  # runs in the child
        for s in ignored:
            signal.signal(s, signal.SIG_DFL)

    return reset


@contextmanager
def spawning() -> Iterator[None]:
    """Hold while starting a child of the harness and until it is registered with
    :func:`own`: no look at the harness's children happens in between."""
    with _lock:
        yield


def own(pid: int) -> None:
    """``pid`` is a child the harness started itself (call inside :func:`spawning`)."""
    with _lock:
        _own.add(pid)


def disown(pid: int) -> None:
    """``pid`` was reaped: the number may now go to a re-parented process."""
    with _lock:
        _own.discard(pid)


def open_window(case: str, tag: str, pipes: frozenset[int], strays: list[Stray]) -> Window:
    """A case is about to launch (call inside :func:`spawning`, before the launch);
    ``strays`` is the list its result records strays it may own in."""
    with _lock:
        window = Window(case, tag, boottime(), pipes, strays)
        _open.append(window)
        return window


def close_window(window: Window) -> None:
    """Every process of the case is gone."""
    with _lock:
        if window in _open:
            _open.remove(window)
            # nothing that holds the case's processes (or their count) stays
            window.known = window.tracks = set
            window.ended = boottime()
            _closed.append(window)


def running() -> tuple[int, float | None]:
    """How many cases run, and since when (the earliest launch, CLOCK_BOOTTIME)."""
    with _lock:
        return len(_open), min((w.launched for w in _open), default=None)


@dataclass
class Look:
    """The harness's children at one instant, and the cases that could own them."""

    children: list[int]
    own: set[int]
    windows: list[Window]  # open ones first


def look(children: Callable[[], list[int]]) -> Look:
    """List the harness's children (``children()``) with nothing being spawned."""
    with _lock:
        return Look(children(), set(_own), [*_open, *_closed])


@dataclass
class Verdict:
    owner: Window | None  # None: the cases in ``candidates`` may own it, nobody knows which
    candidates: list[Window]
    how: str  # what ties it to ``owner`` ("session", "start time"...), or why unknown


def attribute(pid: int, stat: Stat, tag: str | None, windows: list[Window]) -> Verdict | None:
    """Whose is ``pid``, an untracked child of the harness outside its session?
    None when it cannot be a case's."""
    if tag is not None:
        for w in windows:
            if tag == w.tag or tag.startswith(w.tag + "/"):
                return Verdict(w, [w], "tag")
        return None  # another harness's case (one this harness started and lost)
    candidates = [w for w in windows if w.contains(stat.start)]
    if not candidates:
        return None
    pipes = fd_inodes(pid, "pipe")
    for how, tied in (("output pipe", [w for w in candidates if w.pipes & pipes]),
                      ("session", [w for w in candidates if stat.sid in w.known()]),
                      ("process group", [w for w in candidates if stat.pgid in w.known()])):
        if len(tied) == 1:
            return Verdict(tied[0], tied, how)
    if len(candidates) == 1:
        return Verdict(candidates[0], candidates, "start time: the only case running when it started")
    return Verdict(None, candidates, f"{len(candidates)} cases were running when it started")


def settle(pid: int, st: Stat, verdict: Verdict, cmdline: str, listening: list[int],
           kill: Callable[[], bool]) -> None:
    """A stray no running case can take as its own: kill it (``kill()``, which says
    whether the SIGKILL was delivered) and record it on every case that may own it.
    Once per process, whichever thread finds it first."""
    key = (pid, st.start)
    with _lock:
        if key in _settled:
            return
        global _settled_total
        _settled_total += 1
        _settled.add(key)
        _settled_order.append(key)
        if len(_settled_order) > _SETTLED_KEPT:
            _settled.discard(_settled_order.popleft())
    killed = kill()
    if verdict.owner is not None:
        why = f"its case had ended ({verdict.how})"
    else:
        why = verdict.how
    stray = Stray(pid=pid, cmdline=cmdline, cases=[w.case for w in verdict.candidates], why=why,
                  listening=listening, killed_by_harness=killed)
    for w in verdict.candidates:
        w.strays.append(stray)


def settled_total() -> int:
    with _lock:
        return _settled_total
