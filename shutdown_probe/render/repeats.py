"""For a repeated path (``--repeat``): whether its runs agreed, and how they split.

Each line is typed (:class:`RepeatLine`): a renderer colours a split differently
from an agreement by its ``kind``, never by reading the sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..results import CaseResult
from .cells import exit_cell, hook_cell
from .order import order_text
from .rows import hook_names
from .traffic import drained_cell


@dataclass(frozen=True)
class RepeatLine:
    """One repeated path's line: ``agree`` (every run saw the same) or ``differ``."""

    kind: Literal["agree", "differ"]
    text: str  # "sigterm: the 3 runs agree", "sigterm: the 3 runs differ: 2× ..."



def repeat_lines(cases: list[CaseResult]) -> list[RepeatLine]:
    """For each repeated path (``--repeat``): whether its runs agreed, and how they split.

    Runs agree when their hook cells, outcome, exit, what became of the requests in
    flight (completed, cut...), the known order of the declared hooks and the order
    the probe saw atexit hooks start are the same; timing, pids and how many new
    requests were sent always differ and are left out.
    """
    runs: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.attempt is not None:
            runs.setdefault(case.path, []).append(case)
    hooks = hook_names(cases)
    lines: list[RepeatLine] = []
    for path, group in runs.items():
        kinds: dict[tuple[str, ...], list[int]] = {}
        for case in group:
            row = (case.outcome, exit_cell(case), *(f"{h} {hook_cell(case, h)}" for h in hooks))
            if case.traffic is not None:  # one run's request cut, another's drained: they differ
                row += (f"in flight {drained_cell(case)}",)
            # what is known of the order: runs that saw opposite orders differ
            row += (f"order {order_text(case.order)}" if order_text(case.order) else "no order",)
            # the probe's atexit order (one exact clock): runs that called them in
            # other orders differ too
            row += ("atexit order " + " → ".join(case.probe_order) if case.probe_order else "no atexit order",)
            # an orphan that exited within the watch in one run and was killed in another
            row += ("orphans " + ", ".join(sorted(o.fate or "left" for o in case.orphans)) if case.orphans
                    else "no orphans",)
            kinds.setdefault(row, []).append(case.attempt or 0)
        if len(kinds) == 1:
            # they agree on what was seen; where no clock saw an order, not on that
            partial = any(case.order is not None and case.order.unknown for case in group)
            lines.append(RepeatLine("agree", f"{path}: the {len(group)} runs agree"
                                    + (" (the order of some hooks is unknown in each)" if partial else "")))
            continue
        # what differs between the kinds of run, not what they share
        differing = [i for i in range(len(next(iter(kinds)))) if len({row[i] for row in kinds}) > 1]
        parts = [f"{len(attempts)}× {', '.join(row[i] for i in differing)} (#{', #'.join(map(str, attempts))})"
                 for row, attempts in sorted(kinds.items(), key=lambda kv: -len(kv[1]))]
        lines.append(RepeatLine("differ", f"{path}: the {len(group)} runs differ: " + "; ".join(parts)))
    return lines
