"""``bisect``: the first release of a package where a scenario's verdicts change.

A step runs the scenario's cases in an environment with one version installed, and
its **verdict** is the set of per-path verdicts: for a path whose expectations the
scenario declares, whether they held (and which keys did not); for any other path,
what was observed (the outcome, how the root ended, the hooks that ran). Two steps
agree when every path's verdict is the same. With ``--repeat N`` a path's verdict is
decided only when its N runs agree; otherwise the step is *flaky* and, like a
version that cannot be installed, it is skipped (named, with why) and the search
goes on around it.

The search: the two ends are run first (an end that is skipped moves inwards); when
they agree there is no flip to find. Otherwise the versions between them are halved
until the last version that agrees with the first end and the first that does not
are neighbours, or only skipped versions lie between them. Running is the caller's
(a step function): this module decides what to try next and what a step's verdict is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .results import CaseResult, Results

__all__ = ["BisectOutcome", "Step", "bisect_versions", "case_verdict", "path_verdicts"]

StepState = Literal["decided", "skipped", "flaky"]


@dataclass
class Step:
    """One version tried: its state, the verdict of each path (when decided), why it
    was skipped or flaky, and the results file that holds its cases."""

    version: str
    state: StepState
    verdicts: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    results_file: str | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BisectOutcome:
    """Where the search ended: ``last_same`` (agrees with the first end) and
    ``first_changed`` (the first that does not), ``skipped_between`` (versions between
    them that could not be decided); or ``why`` there is no answer."""

    steps: list[Step] = field(default_factory=list)
    last_same: Step | None = None
    first_changed: Step | None = None
    skipped_between: list[str] = field(default_factory=list)
    why: str = ""

    @property
    def found(self) -> bool:
        return self.first_changed is not None


def case_verdict(case: CaseResult) -> str:
    """One run's verdict: its expectations when the scenario declares some for the
    path, else what was observed."""
    if case.expect.declared:
        if case.expect.passed:
            return "expectations held"
        keys = sorted({f"{k.table}.{k.key}" for k in case.expect.failed_keys})
        return "expectations did not hold" + (f" ({', '.join(keys)})" if keys else "")
    ran = sorted(name for name, hook in case.hooks.items() if hook.ran)
    rc, signal = case.exit.get("returncode"), case.exit.get("signal")
    exit_ = signal or (f"rc {rc}" if rc is not None else "no exit")
    return f"{case.outcome}, {exit_}; ran: {', '.join(ran) or 'nothing'}"


def path_verdicts(results: Results) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The verdict of each path, and the paths whose runs disagree (path -> the
    verdicts seen), which are left out of the first."""
    seen: dict[str, list[str]] = {}
    for case in results.cases:
        seen.setdefault(case.path, []).append(case_verdict(case))
    decided = {path: v[0] for path, v in seen.items() if len(set(v)) == 1}
    split = {path: sorted(set(v)) for path, v in seen.items() if len(set(v)) > 1}
    return dict(sorted(decided.items())), split


def bisect_versions(versions: Sequence[str], run: Callable[[str], Step]) -> BisectOutcome:
    """Search ``versions`` (oldest first, the ends included) for the first version
    whose verdicts differ from the first end's; ``run`` tries one version."""
    out = BisectOutcome()

    def tried(version: str) -> Step:
        step = run(version)
        out.steps.append(step)
        return step

    todo = list(versions)
    low = _first_decided(todo, tried)
    high = _first_decided(todo[todo.index(low.version) + 1:][::-1], tried) if low is not None else None
    if low is None or high is None or low.version == high.version:
        out.why = "no two versions between the ends could be decided (installed and run with agreeing repeats)"
        return out
    if high.verdicts == low.verdicts:
        out.last_same = high
        out.why = f"no flip: {low.version} and {high.version} have the same verdicts"
        return out
    between = todo[todo.index(low.version) + 1: todo.index(high.version)]
    skipped: list[str] = []
    while between:
        middle = between[len(between) // 2]
        step = tried(middle)
        if step.state != "decided":
            skipped.append(middle)
            between.remove(middle)
            continue
        if step.verdicts == low.verdicts:
            low, between = step, between[between.index(middle) + 1:]
        else:
            high, between = step, between[:between.index(middle)]
    out.last_same, out.first_changed = low, high
    order = {v: i for i, v in enumerate(versions)}
    out.skipped_between = [v for v in skipped if order[low.version] < order[v] < order[high.version]]
    return out


def _first_decided(versions: list[str], tried: Callable[[str], Step]) -> Step | None:
    """The first of ``versions`` whose step is decided (the others are skipped)."""
    for version in versions:
        step = tried(version)
        if step.state == "decided":
            return step
    return None
