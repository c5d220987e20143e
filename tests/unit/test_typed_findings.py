"""Findings are typed fields, not sentences (issue 19, item 3): whether a hook was
observed, why a case was skipped, whether repeated runs differ. Renderers read the
fields; a results file written before the fields existed loads with them derived from
the words it used, and renders as it did.
"""

from __future__ import annotations

import ast
import copy
import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

from tests.support import ROOT
from shutdown_probe.render import format_html, format_junit, format_markdown, format_terminal
from shutdown_probe.render.cells import UNKNOWN, hook_cell, hook_mark
from shutdown_probe.render.repeats import RepeatLine, repeat_lines
from shutdown_probe.results import CaseResult, HookResult, RequestRecord, Results, TrafficRecord

OLD_FILE = ROOT / "tests" / "data" / "results.json"


def _old_case(**fields: object) -> dict[str, object]:
    """A case as results version 1 wrote it before ``observed`` and ``skip_reason``."""
    case = CaseResult("s", "sigterm", "exited").to_dict()
    del case["skip_reason"]
    case.update(fields)
    return case


def _results(*cases: dict[str, object]) -> Results:
    data = {"version": 1, "tool": "shutdown-probe 0.1.0", "environment": {}, "scenarios": {},
            "cases": list(cases)}
    return Results.from_dict(data, file="old.json")


def test_an_old_hook_whose_evidence_says_unobserved_loads_as_not_observed():
    hooks = {"bye": {"ran": False, "evidence": "unobserved: hooks.bye.log: the regex took too long"},
             "flushed": {"ran": False, "evidence": "no output line matched 'flushed'"}}
    case = _results(_old_case(hooks=hooks)).cases[0]
    assert (case.hooks["bye"].observed, case.hooks["flushed"].observed) == (False, True)
    assert (hook_cell(case, "bye"), hook_cell(case, "flushed")) == ("?", "✗")


def test_the_renderers_read_observed_not_the_evidence_words():
    """A hook not observed is "?" whatever its evidence says, and one observed is ✗
    even when its evidence happens to start with the word."""
    case = CaseResult("s", "sigterm", "exited", hooks={
        "lost": HookResult(False, "the probe's events file was cut short", observed=False),
        "seen": HookResult(False, "unobserved-looking text the app printed")})
    assert (hook_cell(case, "lost"), hook_mark(case.hooks["lost"])) == (UNKNOWN, UNKNOWN)
    assert (hook_cell(case, "seen"), hook_mark(case.hooks["seen"])) == ("✗", "✗")


def test_a_field_written_by_this_version_wins_over_the_words():
    hooks = {"bye": {"ran": False, "evidence": "unobserved: but said observed", "observed": True}}
    skipped = _old_case(outcome="skipped", error="skipped: the words", skip_reason="the field")
    res = _results(_old_case(hooks=hooks), skipped)
    assert res.cases[0].hooks["bye"].observed is True
    assert res.cases[1].skip_reason == "the field"


def test_an_old_skipped_case_gets_its_reason_from_the_error():
    res = _results(_old_case(path="sigkill-child", outcome="skipped",
                             error="skipped: the root has no child process to signal"),
                   _old_case(path="os-exit", outcome="skipped", error=None))
    assert [c.skip_reason for c in res.cases] == ["the root has no child process to signal", None]
    messages = [el.get("message") for el in ET.fromstring(format_junit(res)).iter("skipped")]
    assert messages == ["the root has no child process to signal", "skipped"]


def test_skip_sets_the_reason_and_the_version_1_error_beside_it():
    case = CaseResult("s", "sigkill-child", "exited")
    case.skip("the root has no child process to signal")
    assert (case.outcome, case.skip_reason, case.error) == (
        "skipped", "the root has no child process to signal", "skipped: the root has no child process to signal")
    again = CaseResult.from_dict(json.loads(json.dumps(case.to_dict())))
    assert again == case


def test_the_committed_old_results_file_renders_as_before_once_saved_again():
    """tests/data/results.json predates the new fields: loading derives them, and the
    same results written by this version and read back render to the same text."""
    old = json.loads(OLD_FILE.read_text(encoding="utf-8"))
    assert all("skip_reason" not in case for case in old["cases"])
    first = Results.from_dict(copy.deepcopy(old))
    again = Results.from_dict(json.loads(first.to_json()))
    for render in (format_terminal, format_markdown, format_junit, format_html):
        assert render(again) == render(first), render.__name__


def test_repeat_lines_are_typed():
    def run(n: int, ran: bool) -> CaseResult:
        return CaseResult("s", "sigterm", "exited", attempt=n, hooks={"bye": HookResult(ran, "x")})

    # no process was recorded: the agreement names only what was compared
    (same,) = repeat_lines([run(1, True), run(2, True)])
    assert same == RepeatLine("agree", "sigterm: the 2 runs agree on the outcome and the hooks")
    assert same.comparison is not None and same.comparison.compared == ("outcome", "hook")
    (split,) = repeat_lines([run(1, True), run(2, False), run(3, True)])
    assert split.kind == "differ" and split.text.startswith("sigterm: the 3 runs differ in ")
    assert split.comparison is not None
    (diff,) = split.comparison.differences
    assert (diff.aspect, diff.name) == ("hook", "bye")
    assert [(v.text, v.runs) for v in diff.variants] == [("ran", (1, 3)), ("not ran", (2,))]


def test_runs_whose_request_in_flight_ended_otherwise_do_not_agree():
    """Same hooks, outcome and exit, but one run's request was cut and the other's
    completed: a split, not "the runs agree" (seen with --repeat on sigkill-child)."""
    def run(n: int, fate: str) -> CaseResult:
        request = RequestRecord(1, "in-flight", fate)  # type: ignore[arg-type]
        traffic = TrafficRecord("http://x/", None, 1, requests=[request], drained=fate == "completed")
        return CaseResult("s", "sigkill-child", "survived", attempt=n, traffic=traffic)

    (same,) = repeat_lines([run(1, "cut"), run(2, "cut")])
    assert same.kind == "agree"
    (split,) = repeat_lines([run(1, "cut"), run(2, "completed"), run(3, "cut")])
    assert split.kind == "differ"
    assert split.text == "sigkill-child: the 3 runs differ in requests in flight: 1 cut (#1, #3) / 1 completed (#2)"


def test_the_style_sheet_is_package_data_and_on_the_page():
    sheet = resources.files("shutdown_probe.render").joinpath("report.css")
    assert sheet.is_file()
    assert f"<style>\n{sheet.read_text(encoding='utf-8')}</style>" in format_html(Results())
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"shutdown_probe.render" = ["*.css"]' in pyproject


def _imports(path: Path) -> set[str]:
    """The modules a file imports, relative ones as written (``..scenario``), at any depth."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            out.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


def test_the_failure_text_and_the_results_model_import_nothing_above_them():
    package = ROOT / "shutdown_probe"
    assert not {"..scenario", "shutdown_probe.scenario"} & _imports(package / "render" / "failure.py")
    # the version comes from _version.py, not from the package's face
    assert "." not in _imports(package / "results.py")
    assert "._version" in _imports(package / "results.py")
