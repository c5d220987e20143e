"""One case, phase by phase, from taking a port to the last process gone.

:func:`run_case` is the whole life of one case:

    lease a port  ->  the scenario's services (the run's, started by its first case;
      the case's own)  ->  launch (own session, tagged env, pipes drained)
      ->  ready  ->  choose the target  ->  prime the traffic, arm the detectors
      ->  fire the path  ->  await the end (hung / survived / orphans: the harness
      ends what is left)  ->  clean up  ->  collect: the CaseResult
      ->  the [verify] checks (every process gone, the services still up, the
      case's folder still there)  ->  the case's services stopped

Each phase is a function returning a small value (:mod:`~shutdown_probe.launch`,
:mod:`~shutdown_probe.phases`, :mod:`~shutdown_probe.collect`); only the last one
builds the result. A problem of the case's own (no port to lease, a command that
cannot start, an app never ready) is that case's result, never the run's error.

Every live case is registered, so that an interrupted harness can kill everything
it started (:func:`abort_all`).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from . import adoption, services, watchdog
from .capabilities import capabilities
from .case import RUN_ID, Case, new_tag, tag_prefix
from .collect import Cleanup, collect, not_launched
from .errors import HarnessError
from .expect import evaluate
from .kills import KILL_GRACE, end_case
from .launch import Launched, NotLaunched, launch
from .phases import (
    Ending,
    Failure,
    Fired,
    aim_target,
    arm,
    await_end,
    await_ready,
    choose_target,
    fire,
    join_error,
    prime,
    start_traffic,
)
from .ports import lease_port
from .processes import CaseProcesses
from .readiness import Interrupted
from .results import NOT_OBSERVED, CaseResult, TriggerInfo
from .service_pool import Provision, ServicePool
from .stops import fired_by
from .strays import sweep_strays
from .verify import run_checks
from .waiting import Flag

if TYPE_CHECKING:  # imported when a scenario has [traffic]: it brings in requests
    from .traffic import Traffic

# How long to wait for the output pipes to reach EOF once every process is gone.
OUTPUT_GRACE = 3.0
# How long the end of a case waits for a trigger still running in the background.
ACTION_JOIN = 10.0

_active: set[CaseProcesses] = set()
_active_lock = threading.Lock()


def abort_all() -> int:
    """SIGKILL every process of every running case, and every service; return how
    many were signalled.

    For an interrupted harness: the cases' own threads also clean up when they see the
    cancel flag, this is the backstop that does not depend on them. Its kills are the
    cases' own (:class:`~shutdown_probe.kills.CaseKills`): each shows up in its case's
    escalations and records, whichever thread sent it.
    """
    with _active_lock:
        trees = list(_active)
    n = 0
    reason = "the harness was interrupted"
    for tree in trees:
        n += len(tree.kill_all(reason))
    for tree in trees:
        tree.wait_gone(KILL_GRACE, reason)
    return n + services.kill_all()


def run_case(case: Case, *, cancel: Flag | None = None, keep_workdir: bool = False,
             services: ServicePool | None = None) -> CaseResult:
    """Run one case and return what was observed. Never leaves a process behind.

    ``services`` is the run's pool of scenario services (:mod:`~shutdown_probe.service_pool`):
    a service of scope "run" started there is shared with the run's other cases and
    stopped when the pool is closed. Without one, the case has a pool of its own,
    closed after it."""
    if services is None:
        pool = ServicePool()
        try:
            return run_case(case, cancel=cancel, keep_workdir=keep_workdir, services=pool)
        finally:
            pool.close()
    began = time.monotonic()
    capabilities()  # become a subreaper before the first child exists
    watchdog.ensure(RUN_ID)  # and have someone who outlives a SIGKILLed harness
    workdir = tempfile.mkdtemp(prefix=f"shutdown-probe-{case.path.name}-")
    if not keep_workdir:  # a harness killed by SIGKILL leaves it to the watchdog
        watchdog.watch_dir(workdir)
    try:
        result = _leased(case, workdir, cancel, services)
    finally:
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
            watchdog.forget_dir(workdir)
    return replace(result, workdir=workdir if keep_workdir else None, wall_s=round(time.monotonic() - began, 4))


def _leased(case: Case, workdir: str, cancel: Flag | None, pool: ServicePool) -> CaseResult:
    try:
        lease = lease_port()
    except HarnessError as exc:  # this case's problem: the others still run
        return not_launched(case, NotLaunched("error", str(exc), {}, None))
    try:
        provision = pool.provide(case, cancel)
        result: CaseResult | None = None
        try:
            ran = _launched(case, workdir, cancel, lease.port, provision)
            result = _checked(case, ran, workdir, lease.port, provision, cancel)
        finally:
            if result is None:  # the harness failed: its services still stop
                provision.finish(not_launched(case, NotLaunched("error", "", {}, None)))
        return provision.finish(result)
    finally:
        lease.release()


def _launched(case: Case, workdir: str, cancel: Flag | None, port: int, provision: Provision) -> CaseResult:
    if provision.failure is not None:
        return not_launched(case, NotLaunched(provision.outcome, provision.failure, {}, None))
    launched = launch(case, workdir, port, new_tag(), provision.ports)
    if isinstance(launched, NotLaunched):
        return not_launched(case, launched)
    with _active_lock:
        _active.add(launched.tree)
    return _CaseRun(case, launched, port, cancel).run()


def _checked(case: Case, result: CaseResult, workdir: str, port: int, provision: Provision,
             cancel: Flag | None) -> CaseResult:
    """The scenario's [verify] checks, for a case that ran its path to the end: every
    process of it is gone by now, its services still run, its folder is still there.
    The path's expectations are judged again with them."""
    if not case.scenario.verify or result.outcome in NOT_OBSERVED:
        return result
    checks = case.scenario.resolve_verify(port=port, workdir=workdir, services=provision.ports)
    result.verify = run_checks(checks, tag_prefix(), cancel)
    result.expect = evaluate(case.scenario.expect.get(case.path.name), result)
    return result


class _CaseRun:
    """The phases of a launched case, in order; holds what each returned."""

    def __init__(self, case: Case, lc: Launched, port: int, cancel: Flag | None) -> None:
        self.case, self.lc, self.port, self.cancel = case, lc, port, cancel
        self.traffic: Traffic | None = None
        self.ready_s: float | None = None
        self.t0: float | None = None
        self.trigger: TriggerInfo = {}  # how the path fired, as far as it got
        self.fired: Fired | None = None

    def escalate(self, reason: str, *, record: bool = True) -> str | None:
        """The escalation policy, with the traffic told first: requests still
        waiting were cut by the harness."""
        return end_case(self.lc.tree, reason, record=record,
                        before=self.traffic.harness_kill if self.traffic is not None else None)

    def run(self) -> CaseResult:
        try:
            ending = self._phases()
        except Interrupted:
            note = self.escalate("the harness was interrupted")
            ending = Ending("interrupted", join_error("interrupted: the harness was asked to stop", note))
        except BaseException:
            self.escalate("the harness failed while running the case")
            raise
        finally:
            cleanup = self._cleanup()
        return collect(self.case, self.lc, self.ready_s, self.t0, ending, cleanup)

    def _phases(self) -> Ending:
        case, lc, cancel = self.case, self.lc, self.cancel
        ready = await_ready(case, lc, cancel)
        self.ready_s = ready.ready_s
        if ready.failure is not None:
            return self._fail(ready.failure)
        target = choose_target(case, lc)
        if target.skip is not None:
            return self._skipped(target.skip)
        self.traffic = start_traffic(case, lc, self.port)
        if self.traffic is not None:
            failure = prime(self.traffic, lc, cancel)
            if failure is not None:
                return self._fail(failure)
        if target.pending:  # a signal trigger aims once the requests are in flight
            target = aim_target(case, lc, self.traffic)
            if target.skip is not None:
                return self._skipped(target.skip)
        self.t0 = arm(lc, self.traffic)
        if lc.stop is not None:  # a stop profile says how it fires before it runs
            self.trigger = fired_by(case.path, lc.stop)
        self.fired = fire(case, lc, target, self.t0, cancel)
        self.trigger = self.fired.trigger
        return await_end(case, lc, target, self.t0, self.fired, self.traffic, self.escalate, cancel)

    def _skipped(self, reason: str) -> Ending:
        return self._fail(Failure("skipped", f"skipped: {reason}", "ending a skipped case", record=False,
                                  skip_reason=reason))

    def _fail(self, failure: Failure) -> Ending:
        note = self.escalate(failure.reason, record=failure.record)
        return Ending(failure.outcome, join_error(failure.error, note), skip_reason=failure.skip_reason)

    def _cleanup(self) -> Cleanup:
        """Whatever happened: nothing of the case outlives it, and every resource it
        held is given back."""
        lc, tree = self.lc, self.lc.tree
        tree.close()  # no trigger starts from now on: the last look below sees them all
        note: str | None = None
        traffic = None
        trigger = self.trigger

        def last_look() -> None:
            nonlocal note
            tree.discover()  # a process re-parented to the harness just now is the case's too
            if tree.live():  # belt and braces: nothing of a case outlives it
                note = self.escalate("cleanup at the end of the case")

        def forget() -> None:
            with _active_lock:
                _active.discard(tree)

        def close_traffic() -> None:
            nonlocal traffic
            if self.traffic is not None:
                traffic = self.traffic.close()

        def close_capture() -> None:
            lc.capture.finish(OUTPUT_GRACE)
            if lc.ready_watch is not None:  # the capture has stopped calling it
                lc.ready_watch.close()

        def join_action() -> None:
            nonlocal trigger
            if self.fired is not None and self.fired.action is not None:
                done = self.fired.action.join(ACTION_JOIN)
                if done is not None:
                    trigger = {**trigger, **done}

        # Each step runs even if one before it failed: a window left open, or pidfds
        # left unclosed, would outlast the case (for every later case of the run).
        # sweep_strays: one of this case's re-parented too late for its last look;
        # then watchdog.cases(): after the last sweep, so a "cases 0" look comes last.
        _each(last_look, forget, close_traffic, close_capture, join_action, tree.finish,
              lambda: adoption.close_window(lc.window), sweep_strays, watchdog.cases)
        return Cleanup(note, trigger, traffic)


def _each(*steps: Callable[[], object]) -> None:
    """Run every step, whatever the ones before it raised; then raise the first error."""
    first: BaseException | None = None
    for step in steps:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - raised again below
            if first is None:
                first = exc
    if first is not None:
        raise first
