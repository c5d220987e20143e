"""Lines under a matrix and in a case's details that are not cells: failed
expectations, incomplete probe evidence, respawned processes, the summary line."""

from __future__ import annotations

from ..results import INCOMPLETE, UNFINISHED, CaseResult, StuckAt


def probe_note_lines(cases: list[CaseResult]) -> list[str]:
    """For each case whose probe evidence is incomplete, one line that says why."""
    return [f"{case.label}: {INCOMPLETE}: " + "; ".join(n.detail for n in case.probe_notes)
            for case in cases if case.probe_notes]


def hang_lines(cases: list[CaseResult]) -> list[str]:
    """For each case with processes still running at the deadline, why, one line a
    finding: the signal a process ignored, a port nothing accepted on, where the
    probe saw a process when the harness killed it."""
    lines = []
    for case in cases:
        hang = case.hang
        if hang is None:
            continue
        for i in hang.ignored:
            what = "SIG_IGN" if i.how == "ignored" else "blocked, still pending"
            lines.append(f"{case.label}: {i.role} pid {i.pid} {i.how} {i.signal} ({what})")
        for u in hang.unserved:
            holders = ", ".join(f"{r} pid {p}" for r, p in zip(u.roles, u.pids))
            lines.append(f"{case.label}: port {u.port} still listening ({holders}) with nothing accepting: "
                         f"a connection waited {u.waited_s:g} s unaccepted ({u.accept_queue} in the accept queue)")
        for s in hang.stuck:
            lines.append(f"{case.label}: {s.role} pid {s.pid} {_stuck_words(s)} when the harness killed it")
    return lines


def _stuck_words(s: StuckAt) -> str:
    since = f" since {s.since_s:.2f} s" if s.since_s is not None else ""
    if s.stage == "atexit":
        return f"was in {s.hook}" + (f" ({s.where})" if s.where else "") + since
    if s.stage == "threads":
        return f"was joining non-daemon threads (threading shutdown){since}"
    if s.stage == "finalizing":
        return f"was finalizing, its atexit callables done{since}"
    return "was in its own code (the probe saw no interpreter shutdown begin)"


def failure_lines(cases: list[CaseResult]) -> list[str]:
    lines = []
    for case in cases:
        if case.outcome in UNFINISHED and not case.expect.failures:
            lines.append(f"{case.label}: {case.outcome}: {case.error}")
        for failure in case.failure_lines:
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
