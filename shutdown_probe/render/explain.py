"""One case in a sentence: how the path ended the app (a signal, a stop profile's
sequence, an injected exception, a trigger) and what each process ran before it ended."""

from __future__ import annotations

import os

from ..results import NOT_OBSERVED, STAYED, CaseResult, ProcessRecord, StayRecord
from .cells import app_processes
from .text import names as _names


def _who(p: ProcessRecord, multi: bool) -> str:
    label = {"root": "the parent"}.get(p.role, f"the {p.role}") if multi else "the process"
    ids = [p.kind] if p.kind else []
    ids.append(f"pid {p.pid}" + (f", PID {p.ns_pid} inside" if p.ns_pid is not None else ""))
    if p.started_after_s is not None:
        ids.append(f"started {p.started_after_s:.2f} s after the trigger")
    return f"{label} ({', '.join(ids)})"


def _ending(p: ProcessRecord, case: CaseResult) -> str:
    if case.outcome in STAYED and (p.role == "root" or p.killed_by_harness):
        # how the harness's own cleanup ended it says nothing about the path
        return "was still running when the harness ended the case"
    if p.killed_by_stop:
        if case.stop is not None and case.stop.kill_cause == "main-exited":
            return "was killed by SIGKILL once the main process had exited"
        return "was killed by SIGKILL when the grace ran out"
    if p.killed_by_harness:
        return "outlived the stop timeout (the harness killed it)"
    if p.signal:
        return f"died by {p.signal}"
    if p.returncode is not None and p.zombie:
        until = f"until {p.reaped_after_s:.2f} s" if p.reaped_after_s is not None else "while watched"
        return f"exited with status {p.returncode}, then stayed a zombie its parent never reaped {until}"
    if p.returncode is not None:
        return f"exited with status {p.returncode}"
    return "ended (how is unknown" + (f": {p.exit_note})" if p.exit_note else ")")


def _stop_phrase(case: CaseResult) -> str:
    """A stop profile's sequence in words: what was sent to whom, what PID 1 made of
    it, whether the grace ran out."""
    stop = case.stop
    assert stop is not None
    parts = []
    pre = stop.pre_stop
    if pre:
        what = pre.get("http") or " ".join(pre.get("command", []))
        how = pre.get("error") or (f"HTTP {pre['status']}" if "status" in pre else f"rc {pre.get('returncode')}")
        parts.append(f"preStop {what} ({how}, {pre.get('duration_s', 0):.2f} s)")
    for ex in stop.exec_stop:
        how = ex.get("error") or f"rc {ex.get('returncode')}"
        parts.append(f"ExecStop {' '.join(ex.get('command', []))} ({how}, {ex.get('duration_s', 0):.2f} s)")
    to = stop.to
    if stop.init:
        to += f", {stop.init}"
    sent = f"{stop.signal} to {to}"
    if stop.pid1_handles_signal is False and stop.init is None:
        sent += f", which has no {stop.signal} handler (nor blocks it), so the kernel dropped it"
    parts.append(sent)
    second = stop.second_signal
    if second:
        if second.get("at_s") is not None:
            whom = ", ".join(f"{s.get('role')} {s.get('pid')}" for s in second.get("signalled", []))
            parts.append(f"{stop.signal} again at {second['at_s']:.3f} s" + (f" to {whom}" if whom else "")
                         + f" ({second.get('why')})")
        else:
            parts.append(f"no second {stop.signal} ({second.get('why')})")
    if stop.final_kill:
        hit = ", ".join(f"{k['role']} {k['pid']}" for k in stop.killed) or "nothing left"
        why = ("the main process had exited" if stop.kill_cause == "main-exited"
               else f"the {stop.grace_s:g} s grace ran out")
        parts.append(f"{why}: SIGKILL ({hit})")
    elif stop.cleanup_s is not None and stop.grace_s is not None:
        parts.append(f"done in {stop.cleanup_s:.2f} s of the {stop.grace_s:g} s grace")
    if stop.left_running:
        left = ", ".join(f"{k['role']} {k['pid']}" for k in stop.left_running)
        parts.append(f"{stop.stopper} considered it stopped with {left} still running")
    return f"{stop.stopper}: " + ", then ".join(parts)


def injection_caught(case: CaseResult, frames: int = 6) -> str:
    """For an injected exception the app caught (it never reached ``sys.excepthook``):
    that, and where the main thread was when it was raised, innermost frame first."""
    for injected in case.probe.get("injected", []):
        if injected.get("caught"):
            stack = [os.path.basename(frame) for frame in injected.get("stack", [])[:frames]]
            where = f" (raised in {' ← '.join(stack)})" if stack else ""
            return f"which the app caught{where}"
    return ""


def stayed_phrase(stayed: StayRecord) -> str:
    """The root outlived the path: what changed, and what the alive check saw."""
    changed = (f"{len(stayed.started)} process{'es' if len(stayed.started) != 1 else ''} started and "
               f"{len(stayed.ended)} ended after the trigger")
    alive = stayed.alive
    if alive is None:
        return f"{changed}; whether the app still answers is unknown (no alive check: set [app] alive)"
    src = " (the ready check)" if alive.source == "ready" else ""
    verdict = "passed" if alive.passed else "failed"
    return f"{changed}; the alive check, {alive.kind} {alive.target}{src}, {verdict}: {alive.detail}"


def _trigger_phrase(case: CaseResult) -> str:
    if case.stop is not None:
        return _stop_phrase(case)
    t = case.trigger
    to = "parent" if t.get("to") == "root" else t.get("to")
    if t.get("inject"):
        caught = injection_caught(case)
        return f"the probe's injected {t['inject']} in the {to}" + (f", {caught}" if caught else "")
    if to == "process group":
        return f"{t.get('signal')} to the whole process group"
    if t.get("signal"):
        return f"{t['signal']} to the {to}"
    if t.get("touched"):
        return f"the mtime of {t['touched']} set to now"
    if t.get("trigger"):
        how = f" ({t.get('method', 'GET')} {t['http']})" if t.get("http") else ""
        return f"the {t['trigger']} trigger{how}"
    return ""


def explain(case: CaseResult) -> str:
    """One sentence: what the path did, and what each process ran before it ended."""
    if case.outcome in NOT_OBSERVED:
        error = case.error or ""
        return error if error.startswith(case.outcome) else f"{case.outcome}: {error}"
    procs = app_processes(case)
    multi = len(procs) > 1
    clauses = []
    for p in procs:
        ran = [n for n, h in case.hooks.items() if p.pid in h.pids]
        cut = [n for n, h in case.hooks.items() if p.pid in h.interrupted_pids]
        registered = [n for n, h in case.hooks.items() if p.pid in h.registered_pids]
        raised = [f"{n} raised {e.split(': ', 1)[-1]}" for n, h in case.hooks.items()
                  for e in h.errors if e.startswith(f"pid {p.pid}:")]
        parts = []
        if ran:
            parts.append(f"ran {_names(ran)}" + (f" ({_names(raised)})" if raised else ""))
        if cut:
            parts.append(f"was inside {_names(cut)} when it died")
        missed = [n for n in registered if n not in ran and n not in cut]
        if missed:
            parts.append(f"never ran {_names(missed)}" if ran or cut else
                         f"ran none of its {len(missed)} atexit hook{'s' if len(missed) > 1 else ''}")
        parts.append(_ending(p, case))
        joined = ", ".join(parts[:-1]) + (", then " if len(parts) > 1 else "") + parts[-1]
        clauses.append(f"{_who(p, multi)} {joined}")
    known = {p.pid for p in procs}
    unattributed = [n for n, h in case.hooks.items() if h.ran and not set(h.pids) & known]
    if unattributed:
        clauses.append(f"{_names(unattributed)} ran" + (" (which process is not known)" if multi else ""))
    if not clauses:
        clauses.append("no hook ran")
    if case.stayed is not None:
        clauses.append(stayed_phrase(case.stayed))
    trigger = _trigger_phrase(case)
    text = "; ".join(clauses)
    return (f"{trigger}: {text}" if trigger else text) + "."
