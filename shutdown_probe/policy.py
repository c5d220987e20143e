"""``--fail-on``: findings that fail a case even where the scenario expects nothing.

The one policy the CLI (``run`` and ``report``) and the pytest plugin share. Each
finding is read from the typed results, never from their sentences, so a saved
results file can be judged again (``report --fail-on``):

``hung``
    the root was still running at stop_timeout: outcome ``hung``, or ``ignored`` (a
    hang whose cause is known: the path's signal was ignored or blocked)
``ignored``
    a process the path's signal reached ignored or blocked it (``hang.ignored``): an
    ``ignored`` root, or an orphan that did
``unresponsive``
    the root stayed, a replacement was started, and the app no longer answers
``orphans``
    a process was left running after the root ended and the stop timeout passed
``killed``
    the harness or the stop profile's final SIGKILL had to kill a process of the
    case (a root that outlived a path meant to be outlived, survived or reloaded,
    is ended by the harness as clean-up: that is not this finding)
``refuted``
    the path's claim was refuted (the failed expectation already fails the case;
    this names it among the reasons)

A case that did not run its path to the end (skipped, not ready, an error) has no
findings: it says nothing about the app's shutdown.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import UsageError
from .results import NOT_OBSERVED, STAYED, CaseResult, PolicyFailure
from .scenario import did_you_mean

FINDINGS = ("hung", "orphans", "ignored", "unresponsive", "killed", "refuted")


def parse_fail_on(values: Iterable[str], flag: str = "--fail-on") -> tuple[str, ...]:
    """The findings named by ``values``, each comma-separated or given on its own;
    an unknown name is a :class:`UsageError` naming ``flag`` and what is allowed."""
    chosen: list[str] = []
    for value in values:
        for word in value.split(","):
            word = word.strip().lower()
            if not word:
                continue
            if word not in FINDINGS:
                shown = word if len(word) <= 40 else word[:40] + "..."
                raise UsageError(f"{flag}: unknown finding {shown!r}{did_you_mean(word, FINDINGS)} "
                                 f"(expected one or more of: {', '.join(FINDINGS)}, comma-separated)")
            chosen.append(word)
    return tuple(dict.fromkeys(chosen))


def apply_policy(cases: Iterable[CaseResult], fail_on: Iterable[str]) -> None:
    """Set each case's ``fail_on`` to its findings that ``fail_on`` names."""
    wanted = set(fail_on)
    for case in cases:
        case.fail_on = [f for f in findings(case) if f.finding in wanted]


def findings(case: CaseResult) -> list[PolicyFailure]:
    """Every finding of ``case``, in :data:`FINDINGS` order, each with what was seen."""
    if case.outcome in NOT_OBSERVED:
        return []
    out = []
    if case.outcome in ("hung", "ignored"):
        out.append(PolicyFailure("hung", f"the root was still running at the stop timeout (outcome {case.outcome})"))
    if case.orphans:
        left = ", ".join(f"{o.role} pid {o.pid}" + (f" ({o.fate})" if o.fate else "") for o in case.orphans)
        out.append(PolicyFailure("orphans", f"left running after the root ended: {left}"))
    if case.hang is not None and case.hang.ignored:
        which = ", ".join(f"{i.role} pid {i.pid} {i.how} {i.signal}" for i in case.hang.ignored)
        out.append(PolicyFailure("ignored", which))
    if case.outcome == "unresponsive":
        out.append(PolicyFailure("unresponsive", "the root stayed, and the app no longer answers"))
    killed = kills(case)
    if killed:
        out.append(PolicyFailure("killed", "; ".join(killed)))
    if case.expect.verdict == "refuted":
        out.append(PolicyFailure("refuted", f"claim refuted: {case.expect.claim}"))
    return out


def kills(case: CaseResult) -> list[str]:
    """What the harness or the stopper had to kill, one phrase each ([] for none).

    The path's own signal (sigkill, a SIGKILL trigger) is the experiment, not a kill
    of this kind; a root that outlived the path on purpose (STAYED) is ended by the
    harness as clean-up, which is not counted either."""
    out = []
    stop = case.stop
    if stop is not None and stop.final_kill:
        to = ", ".join(f"{k.get('role', 'process')} pid {k.get('pid')}" for k in stop.killed) or "what was left"
        why = "its grace ran out" if stop.kill_cause in (None, "grace") else f"cause {stop.kill_cause}"
        out.append(f"the {stop.stopper or 'stopper'}'s final SIGKILL ({why}) to {to}")
    if case.outcome in STAYED:
        return out
    by_harness = {p.pid: p.role for p in case.processes if p.killed_by_harness}
    by_harness.update({o.pid: o.role for o in case.orphans if o.killed_by_harness})
    by_harness.update({e.pid: e.role for e in case.escalations})
    if by_harness:
        out.append("the harness killed " + ", ".join(f"{role} pid {pid}" for pid, role in sorted(by_harness.items())))
    return out


def within_grace(case: CaseResult) -> tuple[bool, str]:
    """``within_grace``: the root ended by itself before the stop timeout (a stop
    profile: before its grace ran out) and nothing had to be killed; and in words."""
    killed = kills(case)
    if case.outcome in ("hung", "ignored"):
        return False, f"the root was still running at the stop timeout (outcome {case.outcome})"
    if case.outcome != "exited":
        return False, f"the root outlived the path (outcome {case.outcome})"
    if killed:
        return False, "the root ended, but " + "; ".join(killed)
    grace = f" within the {case.stop.grace_s:g} s grace" if case.stop is not None and case.stop.grace_s else ""
    at = f" after {case.root_exit_s:.2f} s" if case.root_exit_s is not None else ""
    return True, f"the root ended by itself{at}{grace} and nothing was killed"
