"""JUnit XML for CI: every case a testcase, in the shape CI servers read.

``run --junit FILE`` and ``report --junit FILE`` write it. The shape is the common
one (Ant's, as pytest, Jenkins and GitLab read it): a ``<testsuites>`` root with the
totals; a ``<testsuite>`` per scenario (its table in the matrix); a ``<testcase>`` per
case, named by its path (``sigterm``, ``sigterm #2`` for a repeated run), with the
scenario as its classname and the case's time in the harness as its time. A case whose
expectations did not hold has a ``<failure>``, one that did not run to the end an
``<error>``, a skipped one ``<skipped>``, each with a one-line message and, as its
text, the explanation the pytest plugin gives for a failed item. The matrix row rides
along as ``<properties>``, named as the plugin names them, and the output tail as
``<system-out>``.

Hook names, evidence and output are the target's: XML 1.0 cannot hold most control
characters or a lone surrogate at all, so every string goes through
:func:`.text.clean` (control pictures) before it reaches the tree, and the tree does
the XML escaping. The text is a pure function of the results: no timestamp, no host.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from ..results import CaseResult, Results
from .failure import format_case_failure, row_properties
from .rows import by_scenario
from .text import clean, clean_line


def _el(parent: ET.Element | None, tag: str, attrs: dict[str, Any] | None = None, text: str | None = None) -> ET.Element:
    """An element whose attribute values and text are made legal in XML first."""
    values = {name: clean_line(value) for name, value in (attrs or {}).items()}  # one line each
    el = ET.Element(tag, values) if parent is None else ET.SubElement(parent, tag, values)
    if text is not None:
        el.text = clean(text)
    return el


def _seconds(value: float | None) -> str:
    return f"{value or 0.0:.3f}"


def _case_time(case: CaseResult) -> float:
    """The case's whole life in the harness (what the test cost); results from before
    ``wall_s`` existed fall back to trigger-to-end."""
    return case.wall_s if case.wall_s is not None else (case.duration_s or 0.0)


def _counts(cases: list[CaseResult]) -> dict[str, str]:
    return {
        "tests": str(len(cases)),
        "failures": str(sum(1 for c in cases if not c.errored and not c.expect.passed)),
        "errors": str(sum(1 for c in cases if c.errored)),
        "skipped": str(sum(1 for c in cases if c.outcome == "skipped")),
        "time": _seconds(sum(_case_time(c) for c in cases)),
    }


def _flat(facts: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """The environment as name/value pairs: ``python``, ``packages.flask``..."""
    out: list[tuple[str, str]] = []
    for name, value in facts.items():
        if isinstance(value, dict):
            out += _flat(value, f"{prefix}{name}.")
        elif value is not None:
            out.append((f"{prefix}{name}", str(value)))
    return out


def _message(case: CaseResult) -> str:
    """The first line a CI page shows for a failed case."""
    if case.errored:
        return case.error or case.outcome
    failures = case.failure_lines
    if not failures:
        return "expectations do not hold"
    return failures[0] + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else "")


def _testcase(suite: ET.Element, case: CaseResult, classname: str) -> None:
    el = _el(suite, "testcase", {"name": case.label, "classname": classname, "time": _seconds(_case_time(case))})
    props = row_properties(case)
    if props:
        holder = _el(el, "properties")
        for name, value in props:
            _el(holder, "property", {"name": name, "value": value})
    if case.outcome == "skipped":
        _el(el, "skipped", {"message": case.skip_reason or "skipped"})
    elif case.errored:
        _el(el, "error", {"message": _message(case), "type": case.outcome}, format_case_failure(case))
    elif case.failed:
        kind = "expectation" if not case.expect.passed else "fail-on"
        _el(el, "failure", {"message": _message(case), "type": kind}, format_case_failure(case))
    if case.output_tail:
        _el(el, "system-out", text=case.output_tail)


def format_junit(results: Results) -> str:
    """The results as a JUnit XML document (UTF-8, with its XML declaration)."""
    root = _el(None, "testsuites", {"name": "shutdown-probe", **_counts(results.cases)})
    for title, cases in by_scenario(results).items():
        suite = _el(root, "testsuite", {"name": title, **_counts(cases)})
        facts = [("tool", results.tool)]
        description = results.scenarios.get(cases[0].scenario, "")
        if description:
            facts.append(("description", description))
        facts += _flat(results.environment)
        holder = _el(suite, "properties")
        for name, value in facts:
            _el(holder, "property", {"name": f"shutdown_probe.{name}", "value": value})
        for case in cases:
            _testcase(suite, case, classname=title)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
