"""[verify] checks: commands run after a case, against the state the app left.

A check runs once every process of the case is gone (nothing of the app can still
change the state it looks at) and before the case's services are stopped (it may read
a key from the case's redis), while the case's folder still holds what the app
wrote there (``{workdir}``). Checks run one after the other, in file order.

Each is a process the harness started, and it is handled as a service is
(:func:`~shutdown_probe.services.start_service`): a session of its own, a tag of its
own under this harness's (``SESSION/RUN/verify-NAME-ID``, never a case's: no case takes
it or its children for one of the app's processes), told to the watchdog the moment it
exists, held by a pidfd, its output drained by a reader that keeps only a bounded
tail. When it has ended, or its timeout has run out, whatever it started and left
behind is killed: its process group, and every process carrying its tag.

The answer is typed (:class:`~shutdown_probe.results.VerifyRecord`): exit 0 passed,
another exit code failed, anything else (it could not start, it overran, a signal
ended it) is an error, which is neither.
"""

from __future__ import annotations

import shlex
import uuid

from .handles import describe_status
from .results import VerifyRecord
from .scenario import ResolvedService, ResolvedVerify
from .services import Service, start_service
from .waiting import Flag

# How many of a check's last output lines each stream keeps (the evidence).
VERIFY_TAIL = 20


def verify_tag(prefix: str, name: str) -> str:
    """The environment tag of one run of check ``name``, under this harness's
    ``prefix`` (``SESSION/RUN/``): the watchdog and the leak checks find it, no case
    claims it."""
    return f"{prefix}verify-{name}-{uuid.uuid4().hex[:8]}"


def run_checks(checks: list[ResolvedVerify], prefix: str, cancel: Flag | None = None) -> list[VerifyRecord]:
    """Run every check (templates filled) in order; one record each. A harness asked
    to stop runs no further check: those are recorded as errors that say so."""
    out = []
    for check in checks:
        if cancel is not None and cancel.is_set():
            out.append(VerifyRecord(check.name, False, command=shlex.join(check.argv),
                                    error="not run: the harness was asked to stop"))
            continue
        out.append(run_check(check, prefix))
    return out


def run_check(check: ResolvedVerify, prefix: str) -> VerifyRecord:
    """Run one check to its end or its timeout; never leaves a process behind."""
    record = VerifyRecord(check.name, False, command=shlex.join(check.argv))
    plan = ResolvedService(check.name, check.argv, check.cwd, check.env, None)
    started = start_service(plan, "case", 0, verify_tag(prefix, check.name), check.cwd)
    if isinstance(started, str):
        record.error = f"could not start: {started}"
        return record
    ended = started.reaped(check.timeout)
    _end(started, ended)
    record.output = started.capture.tail(VERIFY_TAIL)
    if started.ended_at is not None:
        record.duration_s = round(max(0.0, started.ended_at - started.started_at), 4)
    if started.status is not None:
        record.returncode, record.signal = describe_status(started.status)
    if not ended:
        record.error = (f"still running after {check.timeout:g} s: killed, with every process it started "
                        "(no answer)")
    elif started.status is None:  # pragma: no cover - reaped() said it ended
        record.error = "its exit status could not be read (no answer)"
    elif record.signal is not None:
        record.error = f"killed by {record.signal} (no answer)"
    record.passed = record.error is None and record.returncode == 0
    return record


def _end(check: Service, ended: bool) -> None:
    """Kill what is left of a check (all of it when it overran; whatever it started
    and left running when it ended), reap it and read its output to the end."""
    if not ended:
        check.kill()  # SIGKILL to its process group, at once: its time is up
    check.stop(0.0)  # then its group and every process with its tag; reaped, output read
