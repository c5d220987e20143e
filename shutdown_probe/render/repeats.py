"""For a repeated path (``--repeat``): whether its runs agreed, on what, and how they split.

Each line is typed (:class:`RepeatLine`): a renderer colours a split differently from an
agreement by its ``kind``, and a program reads what differed from its ``comparison``
(:class:`~shutdown_probe.behaviour.Comparison`), never from the sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..behaviour import Aspect, Comparison, Difference, compare
from ..results import CaseResult

# what an agreement is on, in words, aspect by aspect
COMPARED_WORDS: dict[Aspect, str] = {
    "outcome": "the outcome",
    "process": "each process's end and hooks (by role)",
    "hook": "the hooks",
    "in-flight": "the requests in flight",
    "order": "the hook order",
    "atexit-order": "the atexit order",
    "check": "the checks after the case",
}


@dataclass(frozen=True)
class RepeatLine:
    """One repeated path's line: ``agree`` (every run saw the same) or ``differ``."""

    kind: Literal["agree", "differ"]
    text: str  # "sigterm: the 3 runs agree on ...", "sigterm: the 3 runs differ in ..."
    comparison: Comparison | None = field(default=None, compare=False)


def _runs(runs: tuple[int, ...]) -> str:
    return "#" + ", #".join(map(str, runs))


def difference_text(diff: Difference) -> str:
    """'worker: rc 0 (#1, #3) / SIGKILL (#2)'."""
    return f"{diff.label}: " + " / ".join(f"{v.text} ({_runs(v.runs)})" for v in diff.variants)


def agreement_text(comparison: Comparison, outcome: str) -> str:
    """What the runs agree on, naming only what was compared, and what was not seen."""
    if comparison.compared == ("outcome",):
        text = f"the outcome ({outcome})"
    else:
        words = [COMPARED_WORDS[a] for a in comparison.compared]
        text = ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]
    if comparison.unknown:
        text += f"; not compared (not known in every run): {', '.join(comparison.unknown)}"
    return text


def repeat_lines(cases: list[CaseResult]) -> list[RepeatLine]:
    """For each repeated path (``--repeat``): whether its runs agreed, and how they split.

    Runs are compared by behaviour (:func:`~shutdown_probe.behaviour.compare`): the
    outcome, each process by its role with how it ended and the hooks that ran in it,
    each hook's mark, what became of the requests in flight and the known hook orders.
    """
    runs: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.attempt is not None:
            runs.setdefault(case.path, []).append(case)
    lines: list[RepeatLine] = []
    for path, group in runs.items():
        comparison = compare(group)
        n = len(group)
        if comparison.agree:
            lines.append(RepeatLine("agree", f"{path}: the {n} runs agree on "
                                    + agreement_text(comparison, group[0].outcome), comparison))
            continue
        lines.append(RepeatLine("differ", f"{path}: the {n} runs differ in "
                                + "; ".join(difference_text(d) for d in comparison.differences), comparison))
    return lines
