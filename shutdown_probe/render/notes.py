"""Lines under a matrix and in a case's details that are not cells: failed
expectations, incomplete probe evidence, respawned processes, the summary line."""

from __future__ import annotations

from ..results import INCOMPLETE, UNFINISHED, CaseResult


def probe_note_lines(cases: list[CaseResult]) -> list[str]:
    """For each case whose probe evidence is incomplete, one line that says why."""
    return [f"{case.label}: {INCOMPLETE}: " + "; ".join(n.detail for n in case.probe_notes)
            for case in cases if case.probe_notes]


def failure_lines(cases: list[CaseResult]) -> list[str]:
    lines = []
    for case in cases:
        if case.outcome in UNFINISHED and not case.expect.failures:
            lines.append(f"{case.label}: {case.outcome}: {case.error}")
        for failure in case.expect.failures:
            lines.append(f"{case.label}: {failure}")
    return lines


def summary_line(cases: list[CaseResult]) -> str:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    outcomes = ", ".join(f"{n} {o}" for o, n in counts.items())
    declared = [c for c in cases if c.expect.declared and c.outcome != "skipped"]
    held = sum(1 for c in declared if c.expect.passed)
    text = f"{len(cases)} {'case' if len(cases) == 1 else 'cases'}: {outcomes}"
    if declared:
        text += f"; expectations held in {held} of {len(declared)}"
    return text


def started_after_lines(case: CaseResult) -> list[str]:
    """Processes started after the path fired (a master respawning a worker)."""
    return [f"respawned: {p.role} pid {p.pid} started {p.started_after_s:.2f} s after the trigger"
            for p in case.processes if p.started_after_s is not None]
