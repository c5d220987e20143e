"""A scenario's claims ("atexit does not run on SIGKILL"): each one's verdict over
every run of its path, and the evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass

from ..results import CaseResult, ClaimVerdict
from .cells import NOT_RAN, RAN


CLAIM_MARKS = {"confirmed": RAN, "refuted": NOT_RAN, "untested": "–"}


@dataclass
class ClaimRow:
    """A scenario's claim about one path, over every run of that path."""

    path: str
    claim: str
    verdict: str  # refuted if any run refuted it; confirmed if every tested run did
    runs: int
    refuted: int
    untested: int
    # what the first refuting run saw (its failed checks, then what held), else the
    # first confirming run's evidence; or why it could not be tested
    failures: list[str]
    evidence: list[str]

    @property
    def mark(self) -> str:
        return CLAIM_MARKS[self.verdict]

    @property
    def tally(self) -> str:
        """``confirmed``, ``refuted in 1 of 3 runs``, ``confirmed in 3 runs``..."""
        if self.runs == 1:
            return self.verdict
        tested = self.runs - self.untested
        if self.verdict == "refuted":
            text = f"refuted in {self.refuted} of {tested} runs"
        elif self.verdict == "confirmed":
            text = f"confirmed in {tested} runs"
        else:
            return f"untested in {self.runs} runs"
        return text + (f" ({self.untested} untested)" if self.untested else "")


def claims(cases: list[CaseResult]) -> list[ClaimRow]:
    """Each claim the cases carry, once per path (repeated runs are tallied)."""
    groups: dict[tuple[str, str], list[CaseResult]] = {}
    for case in cases:
        if case.expect.claim:
            groups.setdefault((case.path, case.expect.claim), []).append(case)
    out = []
    for (path, claim), group in groups.items():
        verdicts = [c.expect.verdict or "untested" for c in group]
        refuted = verdicts.count("refuted")
        untested = verdicts.count("untested")
        if refuted:
            verdict = "refuted"
        elif untested == len(group):
            verdict = "untested"
        else:
            verdict = "confirmed"
        shown = next(c for c, v in zip(group, verdicts) if v == verdict)
        out.append(ClaimRow(path, claim, verdict, len(group), refuted, untested,
                            list(shown.expect.failures), list(shown.expect.evidence)))
    return out


def claim_line(row: ClaimRow) -> str:
    """``✓ sigkill: atexit does not run on SIGKILL — confirmed``"""
    return f"{row.mark} {row.path}: {row.claim} — {row.tally}"
