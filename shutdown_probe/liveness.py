"""After a path the root outlived: is the app still alive, and what does that make
the case?

The alive check is the scenario's ``[app] alive`` (http: any HTTP answer; tcp: a
connect; log: a *new* line matching the regex, printed after the check starts), else
the ready check when it is http or tcp (for ``listening``, the phases pass a tcp check
on where the app was found serving); with neither, nothing is checked and the
harness says it does not know. :func:`stayed_outcome` is the one rule that turns what
changed and what the check saw into an outcome.
"""

from __future__ import annotations

import os
import time
from typing import Callable

from .output import OutputCapture
from .readiness import LogWatcher, wait_ready
from .results import AliveKind, AliveRecord, CaseOutcome, TriggerInfo
from .scenario import AliveCheck, ReadyCheck
from .waiting import Flag


def alive_check(alive: AliveCheck | None, ready: ReadyCheck | None) -> tuple[AliveCheck, str] | None:
    """The check to run and where it comes from ("alive" or "ready"), or None."""
    if alive is not None:
        return alive, "alive"
    if ready is not None and ready.kind in ("http", "tcp"):
        return AliveCheck(ready), "ready"
    return None


def check_alive(alive: AliveCheck | None, ready: ReadyCheck | None, *, capture: OutputCapture,
                root_fd: int | None, root_alive: Callable[[], bool], t0: float,
                cancel: Flag | None) -> AliveRecord | None:
    """Run the alive check once (up to its ``within`` seconds); None when there is none."""
    chosen = alive_check(alive, ready)
    if chosen is None:
        return None
    check, source = chosen
    spec = check.check
    watch = None
    if spec.kind == "log":
        # subscribed now: only lines read from now on count as progress
        watch = LogWatcher(spec.regex, 1)
        capture.subscribe(watch, spec.regex)
    started = time.monotonic()
    try:
        seen = wait_ready(spec, timeout=check.within, root_fd=root_fd, root_alive=root_alive, capture=capture,
                          log_watch=watch, cancel=cancel, who="the app")
    finally:
        if watch is not None:
            watch.close()
    detail = seen.detail.replace("before it was ready", "during the alive check")
    kind: AliveKind = "log" if spec.kind == "log" else ("http" if spec.kind == "http" else "tcp")
    return AliveRecord(kind=kind, target=str(spec.value), source="alive" if source == "alive" else "ready",
                       passed=seen.ready, detail=detail, within_s=check.within, at_s=round(started - t0, 4))


def stayed_outcome(*, ended_a_worker: bool, started: int, ended: int, alive: AliveRecord | None) -> CaseOutcome | None:
    """The outcome of a case whose root was still running when the path's wait ended.

    ``ended_a_worker``: the path ended a child and the root replaced it. Otherwise the
    path aimed at the root, and ``started``/``ended`` count the processes that
    started and ended since the trigger. None: the rule does not apply (the root did
    not stay for a reason it can tell; the caller's own outcome, such as "hung",
    stands).

    * the app no longer answers or progresses: ``unresponsive``;
    * a replaced worker, answering or not checked: ``survived``;
    * the root's processes changed (one started; or one ended and the app answers):
      ``reloaded`` when the app answers, ``survived`` when nothing could check it.
    """
    if alive is not None and not alive.passed and (ended_a_worker or started):
        return "unresponsive"
    if ended_a_worker:
        return "survived"
    if started and alive is None:
        return "survived"
    if (started or ended) and alive is not None and alive.passed:
        return "reloaded"
    return None


def touch_watched(cwd: str, watch: str | None) -> TriggerInfo:
    """touch-reload: set the watched file's modification time to now (later than it
    was, if it lay in the future), as an edit would; its content is never touched.
    Werkzeug's stat reloader, Django's StatReloader and uvicorn's StatReload each
    compare ``st_mtime > the previous one``."""
    assert watch is not None
    path = os.path.join(cwd, watch)
    info: TriggerInfo = {"touched": watch}
    try:
        before = os.stat(path).st_mtime_ns
        when = max(time.time_ns(), before + 1_000_000)
        os.utime(path, ns=(when, when))
        info["delivered"] = True
    except OSError as exc:
        info["delivered"] = False
        info["error"] = f"cannot touch {watch}: {exc.strerror or exc}"
    return info
