"""Deployment stop profiles, performed: the signal, the grace period, the final kill.

A profile (:class:`~shutdown_probe.paths.StopProfile`) is data; :class:`StopSequence`
plays it against the live processes of one case and writes down what it did in a
:class:`~shutdown_probe.results.StopRecord`:

    [preStop action]  ->  stop signal to PID 1 / the root / the group / every process
      ->  wait until the stopper's processes are gone, or the grace runs out
      ->  SIGKILL to whom the stopper kills  ->  what was left running

The case ends the moment the processes are gone: a 90 s grace costs 90 s only when
the app really ignores the signal. :meth:`StopSequence.run` returns how the path
fired and what went wrong (:class:`StopDone`); the case pipeline puts them in the
case's result.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, cast

from .actions import perform
from .deadline import StopDeadline
from .handles import ProcessHandle, action_of
from .paths import Path, StopProfile, signal_name
from .probe import _short, read_events
from .processes import CaseProcesses
from .procfs import process_group, signal_accepted, signal_is_fatal
from .readiness import Interrupted
from .results import ActionInfo, SignalledInfo, StopRecord, TriggerInfo
from .scenario import ProfileSettings, TriggerSpec
from .waiting import Flag

# Kubernetes grants a preStop hook that outlives the grace period "a small, one-off
# grace period extension of 2 seconds" (Pod Lifecycle, Termination of Pods).
PRESTOP_EXTENSION = 2.0
# double-ctrl-c without `after` or `when` and nothing to watch: the operator's pause.
DEFAULT_SECOND_AFTER = 0.5
# How often a pending "second Ctrl-C when cleanup starts" looks at the evidence.
WATCH_EVERY = 0.01
# After a SIGKILL, how long its processes may take to be gone.
KILL_WAIT = 5.0


@dataclass
class StopContext:
    """What a stop sequence needs from its case."""

    path: Path
    settings: ProfileSettings
    tree: CaseProcesses
    deadline: StopDeadline  # its t0: the stop starts (detectors are armed at this instant)
    cancel: Flag | None
    pre_stop: TriggerSpec | None
    cwd: str
    env: dict[str, str]
    # "has cleanup started?" for double-ctrl-c: returns the reason, or None
    cleanup_started: Callable[[], str | None] | None = None


@dataclass(frozen=True)
class StopDone:
    """How the path fired (the case's ``trigger``), and what went wrong, if anything."""

    trigger: TriggerInfo
    error: str | None = None


def fired_by(path: Path, record: StopRecord) -> TriggerInfo:
    """How a stop profile fires, as the case's ``trigger`` says (known before it runs)."""
    return {"profile": path.name, "signal": record.signal, "to": record.to}


def new_record(path: Path, settings: ProfileSettings) -> StopRecord:
    profile = path.profile
    assert profile is not None and path.signal is not None
    sig = settings.signal or path.signal
    return StopRecord(
        profile=path.name, stopper=profile.stopper, signal=signal_name(sig) or str(sig),
        to=_to_words(profile), grace_s=settings.grace if profile.kill != "none" else None,
        grace_from=settings.grace_from, source=profile.source,
    )


def _to_words(profile: StopProfile) -> str:
    return {
        "pid1": "PID 1 (the init)" if profile.pid1 == "init" else "PID 1 (the app)",
        "root": "the main process only",
        "group": "the process group",
        "all": "every process",
    }[profile.to]


class StopSequence:
    def __init__(self, ctx: StopContext, record: StopRecord) -> None:
        self.ctx = ctx
        self.rec = record
        assert ctx.path.profile is not None and ctx.path.signal is not None  # a profile path
        self.profile: StopProfile = ctx.path.profile
        self.sig: int = ctx.settings.signal or ctx.path.signal
        self.tree = ctx.tree
        self.t0 = ctx.deadline.t0
        self._error: str | None = None
        self._doomed: list[ProcessHandle] = []  # the group signal's default action ends these

    # ------------------------------------------------------------ helpers

    def _since(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    def _members(self) -> list[ProcessHandle]:
        """The stopper's processes: the app's, not the harness's launcher nor what the
        preStop action started (those are the case's, ended with it)."""
        return [h for h in self.tree.live() if h.role != "launcher" and not action_of(h.role)]

    def _scope_done(self) -> bool:
        if self.profile.waits_for == "root":
            return not self.tree.root.alive
        return not self._members()

    def _wait(self, done: Callable[[], bool], deadline: float, every: float = 0.2) -> bool:
        cancel = self.ctx.cancel
        ok = self.tree.wait_until(done, deadline, [cancel.fileno()] if cancel is not None else [],
                                  every=every)
        if cancel is not None and cancel.is_set():
            raise Interrupted()
        return ok

    def _note(self, h: ProcessHandle, delivered: bool) -> None:
        self.rec.signalled.append({"pid": h.pid, "role": h.role, "delivered": delivered})

    def _deliver(self, sig: int) -> None:
        """The stop signal, to whom the profile says."""
        to = self.profile.to
        if to == "pid1":
            target = self.tree.pid1 or self.tree.root
            # Read now, not at ready: a handler installed late counts. A blocked signal
            # counts too: the kernel queues it for a PID 1 that takes it with sigwait.
            self.rec.pid1_handles_signal = signal_accepted(target.pid, sig)
            self._note(target, target.send(sig))
        elif to == "root":
            # an exited root may still be an unreaped zombie, which takes a signal: not a delivery
            delivered = self.tree.root.alive and self.tree.root.send(sig)
            if self.profile.sigcont and delivered:
                self.tree.root.send(signal.SIGCONT)
            self._note(self.tree.root, delivered)
        elif to == "group":
            pgid = self.tree.started.pid
            self._doomed = [h for h in self._members()
                            if process_group(h.pid) == pgid and signal_is_fatal(h.pid, sig)]
            delivered = self.tree.signal_group(sig)
            self.rec.signalled.append({"pgid": pgid, "role": "process group", "delivered": delivered})
        else:  # every process, as a cgroup walk does
            walked = self._walk(sig)
            self.rec.signalled += walked
            self.rec.to = f"every process ({len(walked)})"

    def _walk(self, sig: int) -> list[SignalledInfo]:
        """``sig`` (and SIGCONT, when the profile sends it) to every process of the
        stopper, as a cgroup walk does: until a pass finds no one new."""
        done: set[int] = set()
        out: list[SignalledInfo] = []
        while True:
            self.tree.discover()
            fresh = [h for h in self._members() if h.pid not in done]
            if not fresh:
                return out
            fresh.sort(key=lambda h: (h is not self.tree.root, h.pid))
            for h in fresh:
                done.add(h.pid)
                delivered = h.send(sig)
                if self.profile.sigcont and delivered:
                    h.send(signal.SIGCONT)
                out.append({"pid": h.pid, "role": h.role, "delivered": delivered})

    def _final_kill(self, cause: str = "grace") -> None:
        self.rec.final_kill = True
        self.rec.kill_at_s = self._since()
        self.rec.kill_cause = cause
        self.tree.discover(full_scan=True)
        kill = self.profile.kill
        if kill == "root":
            hit = [self.tree.root] if self.tree.root.alive else []
        elif kill == "group":  # not those that left the group (setsid daemons)
            hit = [h for h in self._members() if process_group(h.pid) == self.tree.started.pid]
        else:
            hit = self._members()
        self.rec.killed = [{"pid": h.pid, "role": h.role, "cmdline": h.cmdline[:200]} for h in hit]
        note = (f"SIGKILL from {self.ctx.path.name}: the {self.rec.grace_s:g} s grace ran out" if cause == "grace"
                else f"SIGKILL from {self.ctx.path.name}: the main process had exited")
        for h in hit:
            h.exit_note = note
            h.killed_by_stop = True
        if kill == "group":
            self.tree.signal_group(signal.SIGKILL)
        elif self.tree.pid1 is not None and kill == "all":
            # As the container runtime does: PID 1 dies, the kernel kills the rest.
            self.tree.pid1.send(signal.SIGKILL)
        else:
            for h in hit:
                h.send(signal.SIGKILL)
        gone = self._wait(lambda: not any(h.alive for h in hit), time.monotonic() + KILL_WAIT)
        if not gone:
            left = ", ".join(str(h.pid) for h in hit if h.alive)
            self._error = f"processes survived the final SIGKILL: {left}"

    # ------------------------------------------------------------ the sequence

    def run(self) -> StopDone:
        rec = self.rec
        fired = fired_by(self.ctx.path, rec)
        kill_deadline = self.t0 + rec.grace_s if rec.grace_s is not None else None
        if self.profile.pre_stop and self.ctx.pre_stop is not None:
            kill_deadline = self._pre_stop(self.ctx.pre_stop)
        if self.profile.exec_stop and self.ctx.settings.exec_stop:
            kill_deadline = self._exec_stop(self.ctx.settings.exec_stop)
        self._deliver(self.sig)
        if self.profile.repeat:
            self._second_signal()
        if kill_deadline is not None:  # else it never kills: the case's stop_timeout decides (hung)
            self._grace(kill_deadline)
        return StopDone(fired, self._error)

    def _pre_stop(self, action: TriggerSpec) -> float:
        """The preStop action, within the grace; returns when the final kill is due."""
        rec, ctx = self.rec, self.ctx
        assert rec.grace_s is not None
        done = perform(action, ctx.cwd, ctx.env, timeout=rec.grace_s + PRESTOP_EXTENSION,
                       tree=self.tree, action="pre-stop")
        # "action" and "started" are kept as written: ActionInfo types what reports read
        took = self._since()
        info: dict[str, object] = {"action": "preStop", **done, "duration_s": took}
        kill_deadline = self.t0 + rec.grace_s
        if took > rec.grace_s:
            info["overran"] = True
            kill_deadline = self.t0 + rec.grace_s + PRESTOP_EXTENSION
        rec.pre_stop = cast(ActionInfo, info)
        rec.signal_at_s = self._since()
        return kill_deadline

    def _exec_stop(self, commands: tuple[TriggerSpec, ...]) -> float:
        """systemd's ExecStop=: each command in turn, each given the whole grace
        (TimeoutStopSec); one that fails or times out ends the list (systemd.service(5)).
        The stop signal follows, and the grace starts again from it: returns when the
        final kill is due."""
        rec, ctx = self.rec, self.ctx
        assert rec.grace_s is not None
        env = {**ctx.env, "MAINPID": str(self.tree.root.pid)}
        for command in commands:
            began = self._since()
            done = perform(command, ctx.cwd, env, timeout=rec.grace_s, tree=self.tree, action="exec-stop")
            info: dict[str, object] = {**done, "duration_s": round(self._since() - began, 4)}
            rec.exec_stop.append(cast(ActionInfo, info))
            if done.get("returncode") != 0:
                break
        rec.signal_at_s = self._since()
        return time.monotonic() + rec.grace_s

    def _grace(self, kill_deadline: float) -> None:
        """Wait for the stopper's processes until the grace runs out, then kill."""
        rec = self.rec
        if self.profile.after_main == "kill":
            self._main_then_rest(kill_deadline)
        elif self.profile.after_main == "final-sigterm":
            self._main_then_final_signal(kill_deadline)
        elif self._wait(self._scope_done, kill_deadline):
            if not self.rec.final_kill:
                rec.cleanup_s = self._since()
            if rec.pid1_handles_signal is False:
                # /proc showed no handler and no block, yet PID 1 reacted: it waits for
                # the signal with sigwait/signalfd (the kernel then unblocks it for the
                # wait, out of /proc's sight). The signal was not dropped.
                rec.pid1_handles_signal = None
        else:
            self._final_kill()
        if self.profile.waits_for == "root":
            # The root's exit can be seen a moment before the kernel has finished
            # ending the others the same group signal kills: they are not left running.
            if self._doomed:
                self._wait(lambda: not any(h.alive for h in self._doomed), time.monotonic() + KILL_WAIT)
            rec.left_running = [{"pid": h.pid, "role": h.role, "cmdline": h.cmdline[:200]}
                                for h in self._members()]

    def _main_then_rest(self, kill_deadline: float) -> None:
        """systemd KillMode=mixed: wait for the main process; once it has exited, what
        is left gets SIGKILL at once (the final SIGTERM goes to the main process only,
        which is gone); if the grace runs out first, everything gets it."""
        rec = self.rec
        if not self._wait(lambda: not self.tree.root.alive or not self._members(), kill_deadline):
            self._final_kill()
        elif self._members():
            self._final_kill("main-exited")
        else:
            rec.cleanup_s = self._since()

    def _main_then_final_signal(self, kill_deadline: float) -> None:
        """systemd KillMode=control-group: wait for the main process; once it has
        exited with others left, the stop signal again to every process left (the
        "final SIGTERM", after ExecStopPost=) and TimeoutStopSec again before the
        SIGKILL to all; if the grace runs out first, everything gets the SIGKILL."""
        rec = self.rec
        if not self._wait(lambda: not self.tree.root.alive or not self._members(), kill_deadline):
            self._final_kill()
            return
        if not self._members():
            rec.cleanup_s = self._since()
            return
        at = self._since()
        walked = self._walk(self.sig)
        rec.second_signal = {"sent": any(s.get("delivered") for s in walked), "at_s": at,
                             "why": f"systemd's final {signal_name(self.sig)}: the main process had exited, "
                                    f"{len(walked)} process{'es' if len(walked) != 1 else ''} left in the "
                                    "control group",
                             "signalled": walked}
        if self._wait(lambda: not self._members(), time.monotonic() + (rec.grace_s or 0.0)):
            rec.cleanup_s = self._since()
        else:
            self._final_kill()

    def _second_signal(self) -> None:
        """double-ctrl-c: the same signal again, once cleanup is seen to run."""
        ctx = self.ctx
        s = ctx.settings
        deadline = ctx.deadline.at
        if s.after is not None or ctx.cleanup_started is None:
            after = s.after if s.after is not None else DEFAULT_SECOND_AFTER
            why = f"{after:g} s after the first"
            ready = self._wait(lambda: not self._members(), min(deadline, self.t0 + after))
            fire = not ready and time.monotonic() < deadline
        else:
            found: list[str] = []
            started = ctx.cleanup_started

            def seen() -> bool:
                reason = started()
                if reason:
                    found.append(reason)
                return bool(reason) or not self._members()

            self._wait(seen, deadline, every=WATCH_EVERY)
            fire = bool(found) and bool(self._members())
            why = found[0] if found else (s.when and f"{s.when} never started") or "no cleanup was seen"
        if not fire:
            gone = not self._members()
            self.rec.second_signal = {"sent": False,
                                       "why": "every process had ended" if gone else f"not sent: {why}"}
            return
        at = self._since()
        delivered = self.tree.signal_group(self.sig)
        self.rec.second_signal = {"sent": delivered, "at_s": at, "why": why}


class Detector(Protocol):
    """A hook detector, as the second Ctrl-C watches it."""

    def first_seen(self) -> object: ...


def cleanup_watch(settings: ProfileSettings, detectors: Mapping[str, Detector],
                  events: str | None) -> Callable[[], str | None] | None:
    """For double-ctrl-c: a check that says (in words) when cleanup has begun, or None
    when there is nothing to watch (then the second Ctrl-C goes after a delay)."""
    want = settings.when
    if want is not None and want in detectors:  # a declared hook (even one named "atexit")
        det = detectors[want]
        return lambda: f"{want} was seen" if det.first_seen() else None
    log = events if want is None or want.startswith("atexit") else None  # the probe's events to watch
    name = want[len("atexit:"):] if want and want.startswith("atexit:") else None
    if want is None and not detectors and log is None:
        return None

    def check() -> str | None:
        if want is None:
            for n, det in detectors.items():
                if det.first_seen():
                    return f"{n} was seen"
        if log is not None:
            stdlib: set[tuple[int, object]] = set()
            for e in read_events(log):
                if e["ev"] == "register" and e.get("stdlib"):
                    stdlib.add((e["pid"], e.get("id")))
                if e["ev"] != "hook-start":
                    continue
                hook = _short(e.get("name", "?"))
                # "any atexit hook" means the app's own: multiprocessing's and
                # logging's run at every exit and say nothing about cleanup
                if hook == name or (name is None and (e["pid"], e.get("id")) not in stdlib):
                    return f"atexit:{hook} started"
        return None

    return check
