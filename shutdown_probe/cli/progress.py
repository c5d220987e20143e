"""The progress lines of a run, on stderr, and the results gathered so far."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .console import inert_text, make_console

if TYPE_CHECKING:  # pragma: no cover
    from ..results import CaseResult
    from ..runner import Case, CaseList


class Progress:
    """The cases as they finish: one line each on stderr, with how many are done,
    running and left, so a long run shows it is alive and how far it got; and their
    results, kept for the reports of a run that is interrupted."""

    def __init__(self, cases: CaseList, quiet: bool, fail_on: tuple[str, ...] = ()) -> None:
        self.cases = cases
        self.fail_on = fail_on
        self.total = len(cases)
        self.quiet = quiet
        self.n = 0
        self.running = 0
        self.lock = threading.Lock()
        self.console = make_console(stderr=True)
        self._finished: dict[int, CaseResult] = {}  # case index -> its result

    def start(self, case: Case) -> None:
        with self.lock:
            self.running += 1

    def done(self, case: Case, result: CaseResult) -> None:
        from ..policy import apply_policy
        from ..render.cells import exit_cell, time_cell

        apply_policy([result], self.fail_on)  # before its mark, and before any report
        index = self.cases.index(case)
        with self.lock:
            self._finished[index] = result
            self.n += 1
            self.running -= 1
            if self.quiet:
                return
            mark = "✗" if result.failed else "✓"
            kept = f" (kept {result.workdir})" if result.workdir else ""
            exit_text = exit_cell(result)
            parts = [result.outcome] + ([exit_text] if exit_text != result.outcome else []) + [time_cell(result)]
            counts = f"{self.n}/{self.total} done, {self.running} running, {self.total - self.n - self.running} left"
            self.console.print(inert_text(f"[{counts}] {mark} {case.id}: {', '.join(parts)}{kept}"), soft_wrap=True)

    def finished(self) -> list[CaseResult]:
        """The results so far, in case order (a case hurried past may still be ending)."""
        with self.lock:
            return [self._finished[i] for i in sorted(self._finished)]
