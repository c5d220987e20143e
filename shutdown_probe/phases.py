"""The middle phases of a case, each a function returning a small value:

    ready  ->  choose the target  ->  prime the traffic, arm the detectors  ->  fire
      ->  await the end

They act on a :class:`~shutdown_probe.launch.Launched` case and write nothing into a
result: :mod:`~shutdown_probe.collect` builds the ``CaseResult`` from what they
return. A phase that needs processes ended asks the case's escalation policy
(``escalate``, :func:`~shutdown_probe.kills.end_case` with the traffic told first),
and returns what it said.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .actions import Background
from .case import Case
from .deadline import StopDeadline
from .handles import TAG_ENV, ProcessHandle, action_of
from .launch import Launched
from .liveness import check_alive, stayed_outcome, touch_watched
from .aim import choose
from .paths import signal_name
from .probe import ProbeReport, loaded_in, read_events, without_probe
from .processes import CaseProcesses
from .procfs import process_group, signal_dispositions, signal_masks
from .procnet import descendant_pids, listening_ports
from .readiness import Interrupted, wait_ready
from .scenario import ReadyCheck
from .hangs import ignored_by, unserved_ports
from .results import (ORPHAN_EXITED, ORPHAN_RUNNING, CaseOutcome, Hang, Orphan, SignalledInfo, StayRecord,
                      TriggerInfo)
from .stops import StopContext, StopSequence, cleanup_watch
from .waiting import Backoff, Flag, wait_readable

if TYPE_CHECKING:  # imported when a scenario has [traffic]: it brings in requests
    from .traffic import Traffic

# The escalation policy as a phase sees it: end what is left of the case for a
# reason (recorded as escalations unless the flag says no); returns the words for
# what survived SIGKILL, or None.
Escalate = Callable[..., "str | None"]


def _check(cancel: Flag | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Interrupted()


def join_error(*parts: str | None) -> str | None:
    """Errors of one case, in the order they happened, in one line."""
    text = "; ".join(p for p in parts if p)
    return text or None


@dataclass(frozen=True)
class Failure:
    """A phase that ends the case early: its outcome and error, and why the harness
    ends what is left (``record``: whether those kills are escalations)."""

    outcome: CaseOutcome
    error: str | None
    reason: str
    record: bool = True
    skip_reason: str | None = None  # outcome "skipped": why the path does not apply


# ------------------------------------------------------------------ ready


@dataclass(frozen=True)
class Ready:
    ready_s: float
    failure: Failure | None = None


def await_ready(case: Case, lc: Launched, cancel: Flag | None) -> Ready:
    """Until the app is ready; then its processes found, named and their signal
    dispositions read."""
    app, tree = case.scenario.app, lc.tree
    ready = wait_ready(lc.resolved.ready, timeout=app.ready_timeout, root_fd=tree.root.pidfd,
                       root_alive=lambda: tree.root.alive, capture=lc.capture,
                       log_watch=lc.ready_watch, cancel=cancel, tree_pids=lambda: _tree_pids(tree),
                       quiet_watch=lc.quiet_watch)
    ready_s = round(ready.elapsed, 4)
    if not ready.ready:
        return Ready(ready_s, Failure("not-ready", ready.detail, "the app never got ready"))
    lc.served = ready.served
    missing = _find_root(tree, app.ready_timeout, cancel)
    if missing is not None:
        return Ready(ready_s, Failure("error", f"the app's PID 1 could not be found: {missing}",
                                      "the app's PID 1 could not be found"))
    tree.discover()
    tree.settle_roles()
    for h in tree.handles.values():
        h.signals_ignored, h.signals_caught = signal_dispositions(h.pid)
        h.ignored_mask = (signal_masks(h.pid) or {}).get("SigIgn")
    return Ready(ready_s)


def _tree_pids(tree: CaseProcesses) -> list[int]:
    """The launched process, its descendants and the processes the case knows of
    (``listening`` ready checks). Read, not discovered: a launcher's short-lived
    helpers (a version manager's shim) must not become processes of the case."""
    known = [h.pid for h in tree.handles.copy().values() if h.ended_at is None]
    return list(dict.fromkeys(known + descendant_pids(known)))


def _find_root(tree: CaseProcesses, timeout: float, cancel: Flag | None) -> str | None:
    """Behind a launcher, the app's root appears a moment after the launcher starts."""
    deadline = time.monotonic() + timeout
    backoff = Backoff(first=0.002, cap=0.05)
    while True:
        missing = tree.find_root()
        if missing is None or not tree.started.alive or time.monotonic() >= deadline:
            return missing
        if cancel is not None and cancel.wait(backoff.next()):
            raise Interrupted()
        elif cancel is None:
            wait_readable([], backoff.next())


# ------------------------------------------------------------------ the target


@dataclass(frozen=True)
class Target:
    """Who the path's signal goes to (None for a group, a trigger or a profile), or
    why the path does not apply to this app."""

    handle: ProcessHandle | None
    skip: str | None = None  # the reason, without the v1 error's "skipped: " prefix
    # a signal trigger (path target "aim"): chosen by aim_target once the traffic is
    # in flight; then the further processes signalled at once, how they were chosen,
    # whether it is the process group, and the probe's roles of those chosen
    pending: bool = False
    also: tuple[ProcessHandle, ...] = ()
    how: str | None = None
    group: bool = False
    kinds: dict[int, str] = field(default_factory=dict)

    @property
    def handles(self) -> tuple[ProcessHandle, ...]:
        return ((self.handle,) if self.handle is not None else ()) + self.also


def choose_target(case: Case, lc: Launched) -> Target:
    path, tree = case.path, lc.tree
    target: ProcessHandle | None = None
    if path.target == "aim":
        return Target(None, pending=True)
    if path.target == "touch":
        return Target(None, None if case.scenario.app.watch is not None else
                      "the scenario names no source file to touch ([app] watch)")
    if path.target == "child":
        if tree.worker is None:
            helpers = ", ".join(f"{tree.helper_kind(h) or 'helper'} pid {h.pid}" for h in tree.helpers if h.alive)
            return Target(None, f"the root has no child process to signal other than multiprocessing's helpers "
                                f"({helpers})" if helpers else "the root has no child process to signal")
        target = tree.worker
    elif path.target == "worker":
        target = tree.worker or tree.root
    elif path.target == "root":
        target = tree.root
    if path.inject:
        assert target is not None
        if lc.events is None:
            return Target(target, f"{path.name} is performed by the Python probe, which is "
                                  f"{lc.probe['why']}")
        if not loaded_in(lc.events, target.pid):
            return Target(target, f"the Python probe is not loaded in the serving process ({target.role}, "
                                  f"pid {target.pid}: {target.cmdline[:80]}); is it a Python process?")
    return Target(target)


def aim_target(case: Case, lc: Launched, traffic: Traffic | None) -> Target:
    """A signal trigger's processes, chosen now that the requests are in flight (a
    skip when its selector matches nothing)."""
    aim = case.scenario.triggers[case.path.name].aim
    assert aim is not None
    lc.tree.discover()
    kinds = ProbeReport(read_events(lc.events)).kinds if lc.events is not None else {}
    aimed = choose(aim, lc.tree, kinds, traffic.holders() if traffic is not None else None, lc.busy_watch)
    first = aimed.handles[0] if aimed.handles else None
    return Target(first, aimed.skip, also=aimed.handles[1:], how=aimed.how, group=aimed.group,
                  kinds={pid: k for pid, k in aimed.kinds.items() if any(h.pid == pid for h in aimed.handles)})


# ------------------------------------------------------------------ arm


def start_traffic(case: Case, lc: Launched, port: int) -> Traffic | None:
    """The scenario's [traffic] for this path, if it has one (not yet primed)."""
    plan, spec = lc.resolved.traffic, case.scenario.traffic
    if plan is None or spec is None or not spec.covers(case.path.name):
        return None
    from .traffic import Traffic

    tree = lc.tree
    return Traffic(plan, port, lambda: {h.pid: h.role for h in tree.live()})


def prime(traffic: Traffic, lc: Launched, cancel: Flag | None) -> Failure | None:
    """Have the requests in flight before the path fires."""
    tree = lc.tree
    problem = traffic.prime(lambda: tree.root.alive, cancel)
    _check(cancel)
    if problem is None:
        return None
    return Failure("error", f"traffic: {problem}", "the traffic could not be set up")


def arm(lc: Launched, traffic: Traffic | None) -> float:
    """Arm the hook detectors and start the new requests; returns the trigger's
    instant (monotonic), from which every time of the case is counted."""
    # What the app wrote up to now may still sit unread in the pipes: the byte
    # position, not the reading time, says which lines came before the trigger.
    t0, mark = time.monotonic(), lc.capture.position()
    for log in lc.log_hooks.values():
        log.arm(t0, mark)
    for sentinel in lc.file_hooks.values():
        sentinel.arm(t0, mark)
    if traffic is not None:
        traffic.fire(t0)
    return t0


# ------------------------------------------------------------------ fire


@dataclass
class Fired:
    """How the path fired: the trigger's record (or the action still running that
    will say), a stop sequence's error, and the deadline for the end."""

    deadline: float
    trigger: TriggerInfo = field(default_factory=lambda: TriggerInfo())
    action: Background | None = None
    error: str | None = None


def fire(case: Case, lc: Launched, target: Target, t0: float, cancel: Flag | None) -> Fired:
    path, tree = case.path, lc.tree
    clock = StopDeadline(t0, case.scenario.app.stop_timeout)
    # the app's environment without the probe (a Python trigger would load it and
    # write its own atexit callables into the app's events) and without the case's
    # tag: spawn_action tags it as the action's
    action_env = {k: v for k, v in without_probe(lc.env).items() if k != TAG_ENV}
    if path.profile is not None:
        assert lc.settings is not None and lc.stop is not None
        ctx = StopContext(path, lc.settings, tree, clock, cancel, lc.resolved.pre_stop.get(path.name),
                          lc.resolved.cwd, action_env,
                          cleanup_watch(lc.settings, {**lc.log_hooks, **lc.file_hooks}, lc.events)
                          if path.profile.repeat else None)
        done = StopSequence(ctx, lc.stop).run()
        return Fired(clock.after_sequence(), done.trigger, error=done.error)
    if path.needs_trigger:
        # in the background, so the stop wait starts at once; its command is a process
        # of the case (role "trigger"), not counted in the app's shutdown time
        spec = lc.resolved.triggers[path.name]
        action = Background(spec, lc.resolved.cwd, action_env, tree=tree, action="trigger")
        return Fired(clock.at, {"trigger": spec.name}, action)
    if path.target == "touch":
        return Fired(clock.at, touch_watched(lc.resolved.cwd, case.scenario.app.watch))
    if path.target == "group" or target.group:
        assert path.signal is not None
        delivered = tree.signal_group(path.signal)
        info: TriggerInfo = {"signal": signal_name(path.signal), "to": "process group",
                             "pgid": tree.started.pid, "delivered": delivered}
        if target.group:
            info.update({"trigger": path.name, "aim": "group", "chosen": target.how})
        return Fired(clock.at, info)
    if path.target == "aim":
        return Fired(clock.at, _fire_aimed(case, target))
    assert target.handle is not None and path.signal is not None
    delivered = target.handle.send(path.signal)
    trigger: TriggerInfo = {"signal": signal_name(path.signal), "to": target.handle.role,
                            "pid": target.handle.pid, "delivered": delivered}
    if path.inject:
        trigger["inject"] = path.inject
    return Fired(clock.at, trigger)


def _fire_aimed(case: Case, target: Target) -> TriggerInfo:
    """A signal trigger: the signal to each chosen process, one right after another."""
    path, aim = case.path, case.scenario.triggers[case.path.name].aim
    assert path.signal is not None and aim is not None and target.handles
    signalled: list[SignalledInfo] = []
    for h in target.handles:
        one: SignalledInfo = {"pid": h.pid, "role": h.role, "delivered": h.send(path.signal)}
        if target.kinds.get(h.pid):
            one["kind"] = target.kinds[h.pid]
        signalled.append(one)
    info: TriggerInfo = {"trigger": path.name, "signal": signal_name(path.signal),
                         "to": ", ".join(h.role for h in target.handles),
                         "delivered": all(s.get("delivered") for s in signalled),
                         "aim": aim.describe(), "chosen": target.how, "signalled": signalled}
    if len(signalled) == 1:
        info["pid"] = signalled[0]["pid"]
    return info


# ------------------------------------------------------------------ await the end


@dataclass(frozen=True)
class Ending:
    """How the case ended, as the phases saw it."""

    outcome: CaseOutcome
    error: str | None = None
    root_exit_s: float | None = None  # trigger -> the root ended
    duration_s: float | None = None  # trigger -> every app process gone by itself
    orphans: list[Orphan] = field(default_factory=list)  # killed_by_harness is filled in by collect
    skip_reason: str | None = None  # outcome "skipped": why the path does not apply
    hang: Hang | None = None  # what was still running at the deadline, and why (collect adds "stuck")
    stayed: StayRecord | None = None  # the root outlived the path: what changed, the alive check


def await_end(case: Case, lc: Launched, target: Target, t0: float, fired: Fired, traffic: Traffic | None,
              escalate: Escalate, cancel: Flag | None) -> Ending:
    """Wait for the root (or, for a path that ends a child, for the root to end too
    or to have replaced the child), then for every other process; what is left at
    the deadline is ended by the harness."""
    app, tree = case.scenario.app, lc.tree
    wake = [cancel.fileno()] if cancel is not None else []
    # a path that ends a child (not the root) waits for a replacement or the root's end
    sides = list(target.handles) if target.handles and tree.root not in target.handles else []
    if sides:
        root_done = tree.wait_until(_survival_check(tree, sides, t0, app.survive_after, traffic),
                                    fired.deadline, wake)
    else:
        root_done = tree.wait_root(fired.deadline, wake)
    _check(cancel)
    replaced = tree.started_since(t0) if sides else []
    if sides and replaced and tree.root.alive and not any(h.alive for h in sides):
        last = max(h.ended_at or 0.0 for h in sides)
        new = ", ".join(f"{h.role} pid {h.pid}" for h in replaced)
        whom = ", ".join(h.role for h in sides)
        stayed = _stayed(lc, t0, cancel)
        kept = stayed_outcome(ended_a_worker=True, started=len(stayed.started), ended=len(stayed.ended),
                              alive=stayed.alive) or "survived"
        note = escalate(f"{kept}: the root replaced its {whom} (the path's target{'s' if len(sides) > 1 else ''}) "
                        f"with {new} and was still running {time.monotonic() - last:.1f} s later; the harness "
                        "ended the case")
        return Ending(kept, join_error(fired.error, note), duration_s=_duration(tree, t0), stayed=stayed)
    if not root_done:
        stayed = _stayed(lc, t0, cancel, check=bool(tree.started_since(t0) or _ended_since(tree, t0)))
        stays = stayed_outcome(ended_a_worker=False, started=len(stayed.started), ended=len(stayed.ended),
                               alive=stayed.alive)
        if stays is not None:  # the root stayed on purpose (a reload), or the app stopped answering
            note = escalate(f"cleanup: the root was still running after the path ({stays}); the harness "
                            "ended the case")
            return Ending(stays, join_error(fired.error, note), duration_s=_duration(tree, t0), stayed=stayed)
        hang = Hang(ignored_by(*_reached(case, tree, target, t0)), unserved_ports(tree.live()))
        outcome: CaseOutcome = "ignored" if hang.ignored else "hung"  # the one place "ignored" is decided
        error = f"the root did not exit within stop_timeout ({app.stop_timeout:g} s)"
        note = escalate(f"{outcome}: the root was still running {app.stop_timeout:g} s after the trigger")
        return Ending(outcome, join_error(error, note), duration_s=_duration(tree, t0), hang=hang)
    assert tree.root.ended_at is not None
    root_exit_s = round(tree.root.ended_at - t0, 4)
    all_done = tree.wait_all(fired.deadline, wake)
    _check(cancel)
    orphans: list[Orphan] = []
    note = None
    still: Hang | None = None
    if not all_done:
        still = Hang(ignored_by(*_reached(case, tree, target, t0)))
        orphans = _follow_orphans(tree, app.orphan_watch, wake)
        _check(cancel)
    if tree.live():
        note = escalate(f"orphan: alive after the root ended, stop_timeout and the orphan watch "
                        f"({app.orphan_watch:g} s) passed")
    elif traffic is not None:
        traffic.case_over()
    return Ending("exited", join_error(fired.error, note), root_exit_s, _duration(tree, t0), orphans, hang=still)


def _follow_orphans(tree: CaseProcesses, watch: float, wake: list[int]) -> list[Orphan]:
    """The processes still running after the root ended and stop_timeout passed,
    watched ``watch`` more seconds (their pidfds: each exit wakes the wait): whether
    each ended by itself meanwhile or was still running."""
    left = tree.live()
    ports = listening_ports([h.pid for h in left])
    tree.wait_until(lambda: not any(h.alive for h in left), time.monotonic() + watch, wake)
    return [Orphan(h.pid, h.cmdline, h.role, ports[h.pid], killed_by_harness=False,
                   fate=ORPHAN_RUNNING if h.alive else ORPHAN_EXITED, watched_s=watch) for h in left]


def _reached(case: Case, tree: CaseProcesses, target: Target, t0: float) -> tuple[list[ProcessHandle], int]:
    """The processes the path's own signal was sent to, and the signal: none for a
    trigger's action, a stop profile (its record says whom it signalled) or the
    probe's injected exits."""
    path = case.path
    if path.signal is None or path.profile is not None or path.inject or path.needs_trigger:
        return [], 0
    if path.target == "group" or target.group:
        pgid = tree.started.pid
        return [h for h in tree.live() if (h.started_at or h.found_at or 0.0) <= t0
                and process_group(h.pid) == pgid], path.signal
    return list(target.handles), path.signal


def _ended_since(tree: CaseProcesses, t0: float) -> list[ProcessHandle]:
    """The app's processes (not a trigger's) that ended since the trigger by themselves."""
    return [h for h in tree.handles.values() if h.ended_at is not None and h.ended_at > t0
            and not action_of(h.role) and not h.killed_by_harness and h is not tree.root]


def _stayed(lc: Launched, t0: float, cancel: Flag | None, *, check: bool = True) -> StayRecord:
    """The root outlived the path: what changed since the trigger, and (``check``)
    whether the app still answers (:mod:`~shutdown_probe.liveness`)."""
    tree = lc.tree
    started = [h.pid for h in tree.started_since(t0)]
    ended = [h.pid for h in _ended_since(tree, t0)]
    alive = None
    if check:
        ready = lc.resolved.ready
        if ready is not None and ready.kind == "listening" and lc.served is not None:
            ready = ReadyCheck("tcp", lc.served)  # where it was found serving
        alive = check_alive(lc.resolved.alive, ready, capture=lc.capture, root_fd=tree.root.pidfd,
                            root_alive=lambda: tree.root.alive, t0=t0, cancel=cancel)
        _check(cancel)
    return StayRecord(started, ended, alive)


def _duration(tree: CaseProcesses, t0: float) -> float | None:
    """Trigger -> the last of the app's processes ended, when all ended by themselves.
    A trigger's command is the harness acting: what it left running is reported (an
    orphan), not counted in the app's shutdown."""
    app_procs = [h for h in tree.handles.values() if not action_of(h.role)]
    ended = [h.ended_at for h in app_procs if h.ended_at is not None]
    if ended and not any(h.killed_by_harness or h.killed_by_stop for h in app_procs):
        return round(max(ended) - t0, 4)
    return None


def _survival_check(tree: CaseProcesses, targets: list[ProcessHandle], t0: float, survive_after: float,
                    traffic: Traffic | None) -> Callable[[], bool]:
    """For a path that ends children: done when the root ends too, or when the root
    has started a replacement, outlived the last of them by ``survive_after``
    seconds, and the traffic has settled. A root that is merely slow to exit is not
    done early."""

    def done() -> bool:
        if not tree.root.alive:
            return True
        if any(h.alive or h.ended_at is None for h in targets) or not tree.started_since(t0):
            return False
        if time.monotonic() < max(h.ended_at or 0.0 for h in targets) + survive_after:
            return False
        return traffic is None or traffic.settled()

    return done
