"""The last phase of a case: every process gone, build its ``CaseResult``.

The one place a case's result is made. It reads what the earlier phases returned
(:mod:`~shutdown_probe.phases`), the case's processes and the kills the harness sent
(:mod:`~shutdown_probe.kills`: a process record says ``killed_by_harness`` exactly
when the case's kills hold one for it), the output, the hook detectors and the
Python probe's events, and evaluates the path's expectations on the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

from .case import Case
from .evidence import FileHookDetector, LogHookDetector, observed_order
from .expect import evaluate
from .handles import describe_status
from .launch import Launched, NotLaunched
from .phases import Ending, join_error
from .probe import ProbeReport, unprobed_pythons
from .processes import CaseProcesses
from .hangs import stuck_at
from .results import (ORPHAN_EXITED, STAYED, CaseResult, HookResult, Orphan, ProbeInfo, ProcessRecord, TrafficRecord,
                      TriggerInfo)


@dataclass(frozen=True)
class Cleanup:
    """What the end of a live case returned: the last look's escalation (what
    survived SIGKILL), a background action's record, the traffic's record."""

    note: str | None = None
    trigger: TriggerInfo | None = None
    traffic: TrafficRecord | None = None


def not_launched(case: Case, why: NotLaunched) -> CaseResult:
    """The result of a case whose app never started (skipped, or it could not)."""
    return CaseResult(scenario=case.scenario.name, path=case.path.name, outcome=why.outcome, error=why.error,
                      skip_reason=why.skip_reason,
                      scenario_file=str(case.scenario.file), attempt=case.attempt, probe=why.probe,
                      stop=why.stop)


def collect(case: Case, lc: Launched, ready_s: float | None, t0: float | None, ending: Ending,
            cleanup: Cleanup) -> CaseResult:
    """The case's result; called once every process of the case is gone."""
    tree = lc.tree
    killed = {k.handle.pid for k in tree.kills.all()}
    processes = _records(tree, t0, killed)
    stop = lc.stop
    if stop is not None and ending.duration_s is not None and stop.cleanup_s is None:
        stop.cleanup_s = ending.duration_s  # a stopper that never kills
    root = next(p for p in processes if p.pid == tree.root.pid)
    result = CaseResult(
        scenario=case.scenario.name, path=case.path.name, outcome=ending.outcome, skip_reason=ending.skip_reason,
        exit={"returncode": root.returncode, "signal": root.signal},
        duration_s=ending.duration_s, root_exit_s=ending.root_exit_s, ready_s=ready_s, processes=processes,
        orphans=[_orphan(o, processes, killed) for o in ending.orphans], hang=ending.hang,
        escalations=tree.kills.escalations(t0), strays=lc.strays, trigger=cleanup.trigger or {},
        error=join_error(ending.error, cleanup.note), output_tail=lc.capture.tail(),
        scenario_file=str(case.scenario.file), probe=lc.probe, stop=stop, traffic=cleanup.traffic,
        attempt=case.attempt, trigger_clock=t0, stayed=ending.stayed,
    )
    _evidence(case, lc, result, t0)
    result.expect = evaluate(case.scenario.expect.get(case.path.name), result)
    return result


def _evidence(case: Case, lc: Launched, result: CaseResult, t0: float | None) -> None:
    """The probe's report and, for a case that ran its path to the end, the hooks."""
    tree = lc.tree
    roles = {h.pid: h.role for h in tree.handles.values()}
    # inside a PID namespace the app sees its own numbers: map them to ours
    pid_map = {h.ns_pid: h.pid for h in tree.handles.values() if h.ns_pid is not None}
    report = ProbeReport.load(lc.events, pid_map) if lc.events is not None else None
    if report is not None:
        # the summary is the probe's free-form table; ProbeInfo types the keys reports read
        result.probe = cast(ProbeInfo, {**result.probe, **report.summary()})
        result.probe_notes = report.notes
        unloaded = unprobed_pythons(result.processes, report)
        if unloaded is not None:
            result.probe_notes.append(unloaded)
        kinds = report.kinds
        for rec in result.processes:
            rec.kind = kinds.get(rec.pid)
    if result.outcome not in ("exited", "hung", "ignored", *STAYED):
        return
    log_hooks, file_hooks = lc.log_hooks, lc.file_hooks
    hooks: dict[str, HookResult] = {n: d.result(roles, pid_map) for n, d in log_hooks.items()}
    hooks.update({n: d.result(roles) for n, d in file_hooks.items()})
    for n in hooks:
        hooks[n].source = "log" if n in log_hooks else "file"
    scenario = case.scenario
    result.hooks = {n: hooks[n] for n in scenario.hooks}
    detectors: dict[str, LogHookDetector | FileHookDetector] = {**log_hooks, **file_hooks}
    result.order = observed_order({n: detectors[n] for n in scenario.hooks if n in detectors})
    result.hook_order = result.order.hooks
    # a hook regex that took too long on a line was turned off: say so on the case
    notes = [d.note for d in log_hooks.values() if d.note]
    if notes:
        result.error = join_error(result.error, *notes)
    if report is not None:
        result.hooks.update(report.hook_results(t0, roles, result.processes))
        result.probe_order = report.probe_order()
    if report is not None and result.hang is not None:
        # where each process the harness killed at the deadline was in its shutdown
        result.hang.stuck = stuck_at(report, roles, [p.pid for p in result.processes if p.killed_by_harness], t0)


def _orphan(orphan: Orphan, processes: list[ProcessRecord], killed: set[int]) -> Orphan:
    """An orphan as the case ended: killed by the harness, or its own exit (as far as
    it is known: see ProcessRecord.exit_known) when it ended within the watch."""
    orphan = replace(orphan, killed_by_harness=orphan.pid in killed)
    rec = next((p for p in processes if p.pid == orphan.pid), None)
    if orphan.fate != ORPHAN_EXITED or rec is None:
        return orphan
    return replace(orphan, ended_after_s=rec.ended_after_s, returncode=rec.returncode, signal=rec.signal,
                   exit_known=rec.exit_known, exit_note=rec.exit_note)


# A process is reported a zombie when it was still unreaped this long after its exit,
# by a parent that was not itself exiting: a parent that ends a moment after its
# child (a group signal, an exit right after a pidfd wait) leaves a zombie of a few
# milliseconds, which says nothing about reaping.
ZOMBIE_MIN_S = 0.1


def _records(tree: CaseProcesses, t0: float | None, killed: set[int]) -> list[ProcessRecord]:
    """One record per process of the case, in the order the case found them."""
    launcher_only = tree.init is None and tree.root is not tree.started
    out = []
    for h in tree.handles.values():
        by_harness = h.pid in killed
        rec = ProcessRecord(pid=h.pid, role=h.role, cmdline=h.cmdline, listening=list(h.listening),
                            signals_ignored=h.signals_ignored, signals_caught=h.signals_caught,
                            killed_by_harness=by_harness, killed_by_stop=h.killed_by_stop,
                            ns_pid=h.ns_pid, attributed_by=h.attributed_by)
        status = h.status
        if h.popen is not None and h.popen.returncode is not None:
            status = _wait_status(h.popen.returncode)
        elif h is tree.root and status is None and launcher_only and tree.popen.returncode is not None:
            # The PID-1 launcher ends exactly as PID 1 did (same code, same signal).
            status = _wait_status(tree.popen.returncode)
            h.exit_note = "as passed on by the PID-1 launcher"
        if status is not None:
            rec.returncode, rec.signal = describe_status(status)
            rec.exit_known = True
        if not rec.exit_known or by_harness or h.killed_by_stop or h.exit_note:
            rec.exit_note = h.exit_note
        if h.ended_at is not None and t0 is not None:
            rec.ended_after_s = round(h.ended_at - t0, 4)
        if h.zombie_seen is not None and h.ended_at is not None and h.zombie_seen - h.ended_at >= ZOMBIE_MIN_S:
            rec.zombie = True
            if h.reaped_at is not None and t0 is not None:
                rec.reaped_after_s = round(h.reaped_at - t0, 4)
        if t0 is not None and h.found_at is not None and h.found_at > t0 and h.started_at is not None:
            rec.started_after_s = round(max(0.0, h.started_at - t0), 2)
        out.append(rec)
    return out


def _wait_status(returncode: int) -> int:
    """A Popen return code (negative for a signal) as a wait status."""
    return -returncode & 0x7F if returncode < 0 else (returncode & 0xFF) << 8
