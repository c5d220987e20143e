"""The legend under a matrix: what the words and symbols its cells use mean."""

from __future__ import annotations

from ..results import OUTCOME_MEANINGS, CaseResult
from .cells import CUT, NOT_RAN, ORPHANS_UNTIL, RAISED, RAN, UNKNOWN, VERIFY_COLUMN, hook_cell, time_cell
from .traffic import has_traffic


def legend(cases: list[CaseResult]) -> str | None:
    """What the words and symbols in the cells mean, for those these cases use."""
    cells = {hook_cell(c, n) for c in cases for n in c.hooks}
    notes = []
    if any("parent" in t or "both" in t for t in cells):
        notes.append("parent = the launched process, child = its working child, both = the two")
    if any(RAISED in t for t in cells):
        notes.append(f"{RAISED} = the hook ended by raising an exception (cut short, see the details)")
    if any(CUT in t for t in cells):
        notes.append(f"{CUT} = started but never finished (the process died inside the hook)")
    if any(t.startswith(UNKNOWN) for t in cells):
        notes.append(f"{UNKNOWN} = not known whether it ran (see the details)")
    if any(c.verify for c in cases):
        notes.append(f"{VERIFY_COLUMN}NAME = a check run after the case against the state the app left: "
                     f"{RAN} it exited 0, {NOT_RAN} it exited with another code, {UNKNOWN} it gave no answer "
                     "(timed out, could not start, killed); then its last output line")
    if any(ORPHANS_UNTIL in time_cell(c) for c in cases):
        notes.append(f"time A s {ORPHANS_UNTIL}B s) = the root ended after A s; processes it left ran on "
                     "until the harness killed them at B s")
    outcomes = {c.outcome for c in cases}
    for outcome in ("reloaded", "unresponsive"):  # the words a matrix's outcome column may not explain
        if outcome in outcomes:
            notes.append(f"{outcome} = {OUTCOME_MEANINGS[outcome]}")
    return "; ".join(notes) or None


def traffic_legend(cases: list[CaseResult]) -> str | None:
    """What the traffic columns' words mean, when the table has them."""
    if not has_traffic(cases):
        return None
    return ("drained = every request in flight when the path fired got a whole response below 500; "
            "dropped = connected, then cut without a whole response; "
            "refused = connection refused (nothing listening)")
