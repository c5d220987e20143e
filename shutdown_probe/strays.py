"""Strays: processes re-parented to the harness that no case tracks.

:func:`find_strays` looks at the harness's untracked children outside its session
during a case's discovery: one :mod:`~shutdown_probe.adoption` ties to the looking
case is handed to it, one another running case owns is left to that case, and one
whose case is over or cannot be known is killed (:func:`~shutdown_probe.kills.kill_and_reap`)
and recorded as a ``Stray`` on each case that may own it. :func:`sweep_strays` does
the same after a case, for a process re-parented after that case's last look.
"""

from __future__ import annotations

import os

from . import adoption, watchdog
from .capabilities import capabilities
from .handles import cmdline_of, live_processes, tag_of_pid
from .kills import kill_and_reap
from .procnet import child_pids, listening_ports


def find_strays(now: adoption.Look, seen: set[int], window: adoption.Window | None) -> dict[int, str]:
    """The harness's children no case tracks, outside its session: those the case of
    ``window`` can be known to own (pid -> what ties them to it). Those whose case cannot be
    known, or whose case is over, are killed and recorded here; those another
    running case owns are left to it; those no case can own are left alone."""
    mine: dict[int, str] = {}
    unknown = [pid for pid in now.children if pid not in seen and pid not in now.own]
    if not unknown:
        return mine
    harness_session = os.getsid(0)
    # Every process another running case knows, ended or not: one it saw end is its
    # own to reap (its exit status is its record), and must not be reaped here.
    tracked: set[int] = set().union(*(w.known() for w in now.windows if w.ended is None and w is not window))
    for pid in unknown:
        if pid in tracked:
            continue
        st = adoption.stat(pid)
        if st is None or st.sid == harness_session:
            continue  # gone, or someone else's (no case process is in our session)
        if st.state not in (b"Z", b"X") and watchdog.is_watchdog(pid):
            continue  # ours, or the watchdog of a harness we started, which ended before it
        zombie = st.state in (b"Z", b"X")
        tag = None if zombie else tag_of_pid(pid)
        verdict = adoption.attribute(pid, st, tag, now.windows)
        if verdict is None:
            continue
        if zombie and verdict.owner is not None and verdict.owner is not window and verdict.owner.ended is None:
            continue  # another running case's: it reaps it when it takes it in
        if zombie:
            # Ended before anyone saw it: nothing to kill, but the harness adopted it
            # as an init would, and must reap it as an init would (a zombie still
            # answers kill(pid, 0)). Its tag cannot be read, its session can.
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            continue
        owner = verdict.owner
        if owner is not None and owner is window:
            mine[pid] = verdict.how
        elif owner is None or owner.ended is not None:
            proc = live_processes([pid]).get(pid)
            ports = listening_ports([pid]).get(pid, [])
            adoption.settle(pid, st, verdict, cmdline_of(proc) if proc else "", ports,
                            lambda: kill_and_reap(pid, st.start))
        # else: a running case owns it and takes it in on its own next look
    return mine


def sweep_strays() -> None:
    """After a case: kill and record a process of a finished case (or of no case that
    can be known) that was re-parented to the harness after that case's last look."""
    if capabilities().subreaper is None:
        # Again while a pass settles someone: a stray's children that escaped its kill
        # (re-parented to the harness) are found by the next pass. Bounded: a pass
        # that still finds one after that many is left to the next case's look.
        for _ in range(_SWEEPS):
            before = adoption.settled_total()
            find_strays(adoption.look(lambda: child_pids(os.getpid())), set(), None)
            if adoption.settled_total() == before:
                break


_SWEEPS = 10
