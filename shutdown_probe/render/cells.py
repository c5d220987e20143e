"""The words and symbols of a case's row in the matrix: hook, exit, time and orphan
cells, shared by the terminal, Markdown, HTML and JUnit reports so all say the same.

(The traffic cells are in :mod:`.traffic`; a repeated path's row in :mod:`.rows`.)
"""

from __future__ import annotations

import re

from ..results import (NOT_OBSERVED, ORPHAN_EXITED, ORPHAN_RUNNING, STAYED, STDERR_MARK, UNFINISHED, CaseResult,
                       HookResult, Orphan, ProcessRecord, VerifyRecord)
from ..roles import FORK_CHILD, RELOADER_CHILD, RELOADER_PARENT


RAN = "✓"
NOT_RAN = "✗"
UNKNOWN = "?"  # the hook could not be watched to the end: whether it ran is not known
CUT = "◐"  # started, never finished: killed mid-hook
RAISED = "raised"  # finished by an exception (a second Ctrl-C's KeyboardInterrupt...)


def app_processes(case: CaseResult) -> list[ProcessRecord]:
    """The case's processes without the harness's own PID-1 launcher."""
    return [p for p in case.processes if p.role != "launcher"]


def _multi_process(case: CaseResult) -> bool:
    """Whether the case had processes to tell apart (else a bare ✓ says it all)."""
    if sum(1 for p in app_processes(case) if p.role != "init") > 1:
        return True
    return any(r != "root" for h in case.hooks.values() for r in (*h.roles, *h.interrupted_roles))


# Framework roles (the probe's, :mod:`..roles`) a cell shows in the harness's words: a
# reloader's two processes are what "parent" and "child" have always meant, and a
# process merely forked says less than where it sits in the tree.
_SAME_AS_HARNESS = {RELOADER_PARENT: "parent", RELOADER_CHILD: "child"}


def _name(pid: int | None, role: str, kinds: dict[int, str]) -> str:
    """One process in a cell: its framework role when the probe knows it, else the
    harness's role ("parent" for the root)."""
    kind = kinds.get(pid) if pid is not None else None
    if kind and kind != FORK_CHILD:
        return _SAME_AS_HARNESS.get(kind, kind)
    return "parent" if role == "root" else role


def where(roles: list[str], case: CaseResult, pids: list[int] | None = None) -> str:
    """Which processes, in words: 'parent', 'child', 'both', 'parent+child-2', 'worker',
    'master+worker×2'. With ``pids`` (in the order of ``roles``), a process whose
    framework role the probe knows is named by it."""
    distinct = list(dict.fromkeys(roles))
    if not distinct or not _multi_process(case):
        return ""
    if set(distinct) == {"root", "child"} and sum(1 for p in app_processes(case) if p.role != "root") <= 1:
        return "both"
    kinds = {p.pid: p.kind for p in case.processes if p.kind}
    if pids is None or len(pids) != len(roles) or not kinds:
        return "+".join("parent" if r == "root" else r for r in distinct)
    names: dict[str, int] = {}
    for pid, role in dict.fromkeys(zip(pids, roles)):
        name = _name(pid, role, kinds)
        names[name] = names.get(name, 0) + 1
    return "+".join(name if n == 1 else f"{name}×{n}" for name, n in names.items())


def hook_mark(hook: HookResult) -> str:
    """✓ ran, ✗ did not run, ? could not be watched to the end."""
    if hook.ran:
        return RAN
    return NOT_RAN if hook.observed else UNKNOWN


def unnumbered(roles: list[str]) -> list[str]:
    """The harness's roles without the number the order of discovery gave them
    (``child-2`` is a ``child``): what runs of one path can share."""
    return [_NUMBER.sub("", r) for r in roles]


_NUMBER = re.compile(r"-\d+$")


def hook_cell(case: CaseResult, name: str, *, numbered: bool = True) -> str:
    """✓ where the hook ran, ◐ where it was cut short, ✗ when it ran nowhere.
    ``numbered=False``: ``child-2`` is named ``child`` (the runs of a repeated path)."""
    if case.outcome in NOT_OBSERVED:
        return "-"
    hook: HookResult | None = case.hooks.get(name)
    if hook is None:
        return "?"
    if not hook.ran and not hook.interrupted_pids and not hook.observed:
        return UNKNOWN  # not seen is not "did not run"
    parts = []
    roles, cut = (hook.roles, hook.interrupted_roles) if numbered else (unnumbered(hook.roles),
                                                                      unnumbered(hook.interrupted_roles))
    if hook.ran:
        parts.append(f"{RAN} {where(roles, case, hook.pids)}".rstrip())
        if hook.errors:
            parts[-1] += f" {RAISED}"
    if hook.interrupted_pids:
        parts.append(f"{CUT} {where(cut, case, hook.interrupted_pids) or 'cut short'}")
    return " ".join(parts) if parts else NOT_RAN


# A [verify] check's column is named after it, with this before the name.
VERIFY_COLUMN = "verify:"
# How much of a check's last output line its cell shows (the details have it all).
VERIFY_WORDS = 40


def verify_column(name: str) -> str:
    """The header of check ``name``'s column: ``verify:rows``."""
    return VERIFY_COLUMN + name


def verify_words(rec: VerifyRecord) -> str:
    """What a check said or why it gave no answer, short: its last output line, else
    its exit; for an error, the error's first words."""
    if rec.error is not None:
        if rec.error.startswith("still running"):
            return "timed out"
        if rec.error.startswith("killed by "):
            return rec.error.split(" (")[0]
        return rec.error.split(":")[0]
    last = rec.last_line().removeprefix(STDERR_MARK).strip()
    if not last:
        return f"exit {rec.returncode}" if not rec.passed else ""
    return last if len(last) <= VERIFY_WORDS else last[:VERIFY_WORDS - 1] + "…"


def verify_mark(rec: VerifyRecord) -> str:
    """✓ it exited 0, ✗ it exited with another code, ? it gave no answer."""
    return {"passed": RAN, "failed": NOT_RAN}.get(rec.verdict, UNKNOWN)


def verify_cell(case: CaseResult, name: str) -> str:
    """A check's cell: its mark and its own last words ("✗ 0 of 20000 rows"); "-"
    when it did not run (the case did not run its path to the end)."""
    rec = next((r for r in case.verify if r.name == name), None)
    if rec is None:
        return "-"
    return f"{verify_mark(rec)} {verify_words(rec)}".rstrip()


def exit_cell(case: CaseResult) -> str:
    if case.outcome == "skipped":
        return "skipped"
    if case.outcome in UNFINISHED:
        return case.outcome
    if case.outcome in STAYED:
        # the root was still running; the harness ended it, so its exit says nothing
        return case.outcome
    ex = case.exit
    end = ex.get("signal") or (f"rc {ex.get('returncode')}" if ex.get("returncode") is not None else "?")
    if case.outcome == "ignored":
        return f"{ignored_words(case)} → {end}"
    return f"hung → {end}" if case.outcome == "hung" else end


def ignored_words(case: CaseResult) -> str:
    """'ignored SIGTERM', naming the process when it is not the root: 'ignored SIGINT
    (child)'; 'blocked' for a signal left pending."""
    found = case.hang.ignored if case.hang is not None else []
    if not found:
        return "ignored"
    first = found[0]
    who = "" if first.role == "root" and len(found) == 1 else f" ({'+'.join(dict.fromkeys(i.role for i in found))})"
    return f"{first.how} {first.signal}{who}"


def time_cell(case: CaseResult) -> str:
    """Trigger to the end: of every process, or of the root when orphans outlived it
    (then said: "0.00 s (orphans: 3.0 s)", when the harness killed them).

    For a stop profile, the grace accounting: "0.21 s of 10 s", "killed at 10 s".
    For a case the root survived, when the path's target ended."""
    if case.outcome in STAYED:
        target = target_process(case)
        if target is None or target.ended_after_s is None or target.killed_by_harness:
            return "-"  # the target was still running: the harness's cleanup ended it
        return f"{target.ended_after_s:.2f} s"
    stop = case.stop
    if stop is not None and stop.grace_s is not None and case.outcome == "exited":
        if stop.final_kill:
            return f"killed at {stop.kill_at_s:.1f} s" if stop.kill_at_s is not None else "killed"
        if stop.cleanup_s is not None:
            return f"{stop.cleanup_s:.2f} s of {stop.grace_s:g} s"
    if case.duration_s is not None:
        return f"{case.duration_s:.2f} s"
    if case.outcome in ("hung", "ignored"):
        return "killed"
    if case.root_exit_s is not None:
        return f"{case.root_exit_s:.2f} s" + _orphans_killed(case)
    return "-"


# a time cell whose root ended first, its orphans later: "0.00 s (orphans: 10.0 s)"
ORPHANS_UNTIL = "(orphans: "


def _orphans_killed(case: CaseResult) -> str:
    """After the root's time, when processes outlived it until the harness killed
    them: ' (orphans: 10.0 s)', when it killed them; the time alone is not every
    process's."""
    if not case.orphans and not case.strays:
        return ""
    pids = {o.pid for o in case.orphans if o.killed_by_harness}
    times = [e.at_s for e in case.escalations if e.pid in pids and e.at_s is not None]
    return f" {ORPHANS_UNTIL}{max(times):.1f} s)" if times else f" {ORPHANS_UNTIL}killed)"


def target_process(case: CaseResult) -> ProcessRecord | None:
    """The process the path signalled, once it ended; None when unknown. For a
    signal trigger that signalled several, the last of them to end."""
    signalled = [s.get("pid") for s in case.trigger.get("signalled") or []]
    pids = {pid for pid in signalled if pid is not None}
    if pids:
        ended = [p for p in case.processes if p.pid in pids and p.ended_after_s is not None]
        if len(ended) < len(pids):
            return None  # one of them never ended: no time to give
        return max(ended, key=lambda p: p.ended_after_s or 0.0)
    to = case.trigger.get("to")
    for p in case.processes:
        if p.role == to and p.started_after_s is None and p.ended_after_s is not None:
            return p
    return None


def trigger_text(case: CaseResult) -> str:
    """How the path fired, as ``key=value`` pairs; the processes a signal trigger
    signalled as "role pid N", with "(not delivered)" where the kill failed."""
    parts = []
    for key, value in case.trigger.items():
        if key == "signalled" and isinstance(value, list):
            value = "; ".join(_signalled_words(s) for s in value)
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _signalled_words(s: object) -> str:
    if not isinstance(s, dict):
        return str(s)
    who = s.get("role") or "process"
    if s.get("kind"):
        who += f" ({s['kind']})"
    where = f"pid {s['pid']}" if s.get("pid") is not None else f"group {s.get('pgid')}"
    return f"{who} {where}" + (" (not delivered)" if s.get("delivered") is False else "")


def orphan_fate(o: Orphan) -> str:
    """' (exited after 3.01 s, rc 1)', ' (still running, killed)'; for results from
    before the orphan watch, ' (killed)' as they said."""
    if o.fate == ORPHAN_EXITED:
        end = o.signal or (f"rc {o.returncode}" if o.returncode is not None else "status unknown")
        after = f" after {o.ended_after_s:.2f} s" if o.ended_after_s is not None else ""
        return f" (exited{after}, {end})"
    if o.fate == ORPHAN_RUNNING:
        return " (still running, killed)" if o.killed_by_harness else " (still running)"
    return " (killed)" if o.killed_by_harness else ""


def orphans_cell(case: CaseResult) -> str:
    """The orphans, then the strays: processes that may be this case's or another's."""
    parts = []
    for o in case.orphans:
        ports = ",".join(f":{p}" for p in o.listening)
        text = f"{o.role} {o.pid}" + (f" {ports}" if ports else "")
        parts.append(text + orphan_fate(o))
    for s in case.strays:
        parts.append(f"stray {s.pid}?" + (" (killed)" if s.killed_by_harness else ""))
    return "; ".join(parts) or "-"
