"""The reports grow linearly with the cases.

Checked by counting the Python calls each renderer makes (cProfile's count, which
does not depend on the machine's load) for N and 4N cases: a renderer that looked
every case up in a list of all of them, or compared each case with every other,
would make about 16 times the calls, not 4.
"""

from __future__ import annotations

import cProfile
import json
import pstats
from pathlib import Path

import pytest

from shutdown_probe.render import format_html, format_markdown, format_terminal
from shutdown_probe.results import load_results

DATA = Path(__file__).resolve().parent.parent / "data"


def cases_file(tmp_path: Path, n: int) -> Path:
    """``n`` cases: the saved test results' cases over and over, each copy its own scenarios."""
    docs = [json.loads((DATA / name).read_text()) for name in ("results.json", "wide.json")]
    pool = [(case, doc["scenarios"]) for doc in docs for case in doc["cases"]]
    out = dict(docs[0], cases=[], scenarios={})
    for i in range(n):
        case, scenarios = pool[i % len(pool)]
        name = f"{case['scenario']}-{i // len(pool)}"
        out["cases"].append(dict(case, scenario=name))
        out["scenarios"][name] = scenarios[case["scenario"]]
    target = tmp_path / f"cases-{n}.json"
    target.write_text(json.dumps(out))
    return target


def calls(render, results) -> int:
    profile = cProfile.Profile()
    profile.enable()
    render(results)
    profile.disable()
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


@pytest.mark.parametrize("render", [format_html, format_markdown, lambda r: format_terminal(r, width=120)],
                         ids=["html", "markdown", "terminal"])
def test_reports_grow_linearly_with_the_cases(tmp_path, render):
    small, large = (load_results(str(cases_file(tmp_path, n))) for n in (30, 120))
    assert len(large.cases) == 4 * len(small.cases)
    ratio = calls(render, large) / calls(render, small)
    assert 3.5 < ratio < 4.6, ratio  # linear: 4 (plus the page's own fixed part); quadratic: about 16
