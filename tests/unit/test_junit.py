"""JUnit XML (render/junit.py, ``run --junit``, ``report --junit``): the common shape CI
servers read (testsuites > testsuite > testcase with name, classname and time; a
failure or an error with a message), checked from results built by hand (against the JSON of a real
run: tests/faces/test_cli_reports.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from shutdown_probe.render import format_junit
from shutdown_probe.results import CaseResult, ExpectResult, HookResult, Results

SUITE_ATTRS = {"name", "tests", "failures", "errors", "skipped", "time"}
CASE_ATTRS = {"name", "classname", "time"}


def by_hand() -> Results:
    ran = HookResult(True, "stdout line 2: bye", pids=[10], roles=["root"])
    not_ran = HookResult(False, "no output line matched 'bye'")
    return Results(cases=[
        CaseResult("web", "sigint", "exited", exit={"returncode": 0, "signal": None}, duration_s=0.1, wall_s=0.75,
                   hooks={"bye": ran}, expect=ExpectResult(True, [], declared=True)),
        CaseResult("web", "sigkill", "exited", exit={"returncode": None, "signal": "SIGKILL"}, wall_s=0.5,
                   hooks={"bye": not_ran},
                   expect=ExpectResult(False, ["expected hook 'bye' to run, it did not", "expected exit 0"],
                                       declared=True), output_tail="ready\n"),
        CaseResult("web", "sigterm", "not-ready", error="not-ready: no file after 15 s", wall_s=15.25),
        CaseResult("web", "sigkill-child", "skipped", error="skipped: the root has no child process to signal",
                   skip_reason="the root has no child process to signal"),
        CaseResult("worker", "sigterm", "exited", attempt=1, wall_s=0.2, duration_s=0.1),
        CaseResult("worker", "sigterm", "exited", attempt=2, wall_s=0.3, duration_s=0.1),
    ], scenarios={"web": "a web app"}, environment={"python": "3.11.7", "packages": {"flask": "3.0.3"}})


def test_one_suite_per_scenario_one_testcase_per_case_with_the_totals():
    root = ET.fromstring(format_junit(by_hand()))
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == \
        {"tests": "6", "failures": "1", "errors": "1", "skipped": "1", "time": f"{0.75 + 0.5 + 15.25 + 0.2 + 0.3:.3f}"}
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["web", "worker"]
    for suite in suites:
        assert SUITE_ATTRS <= set(suite.attrib)
        for case in suite.findall("testcase"):
            assert CASE_ATTRS <= set(case.attrib)
            assert case.get("classname") == suite.get("name")
    web, worker = suites
    assert [(c.get("name"), c.get("time")) for c in web.findall("testcase")] == \
        [("sigint", "0.750"), ("sigkill", "0.500"), ("sigterm", "15.250"), ("sigkill-child", "0.000")]
    assert [c.get("name") for c in worker.findall("testcase")] == ["sigterm #1", "sigterm #2"]
    web_props = {p.get("name"): p.get("value") for p in web.find("properties")}
    assert web_props["shutdown_probe.description"] == "a web app"
    assert web_props["shutdown_probe.packages.flask"] == "3.0.3"


def test_failure_error_and_skipped_say_why():
    cases = {c.get("name"): c for c in ET.fromstring(format_junit(by_hand())).iter("testcase")}
    passed, failed, errored, skipped = (cases[n] for n in ("sigint", "sigkill", "sigterm", "sigkill-child"))
    assert [child.tag for child in passed] == ["properties"]

    (failure,) = failed.findall("failure")
    assert failure.get("type") == "expectation"
    assert failure.get("message") == "expected hook 'bye' to run, it did not (and 1 more)"
    # the text is the explanation the pytest plugin gives a failed item
    assert failure.text.splitlines()[:3] == ["web::sigkill: expectations do not hold",
                                             "  ✗ expected hook 'bye' to run, it did not", "  ✗ expected exit 0"]
    assert failed.find("system-out").text == "ready\n"
    props = {p.get("name"): p.get("value") for p in failed.find("properties")}
    assert props["shutdown_probe.outcome"] == "exited" and props["shutdown_probe.hook.bye"] == "✗"
    assert props["shutdown_probe.expect"] == "expected hook 'bye' to run, it did not; expected exit 0"

    (error,) = errored.findall("error")
    assert error.get("type") == "not-ready" and error.get("message") == "not-ready: no file after 15 s"
    assert "reason: not-ready: no file after 15 s" in error.text
    assert not errored.findall("failure")

    (skip,) = skipped.findall("skipped")
    assert skip.get("message") == "the root has no child process to signal"


def test_no_case_is_still_a_document():
    root = ET.fromstring(format_junit(Results()))
    assert root.tag == "testsuites" and root.get("tests") == "0" and list(root) == []
