"""``--fail-on`` (policy.py): each finding read from the typed results, as the module
and docs/design.md define it; the failures it adds ride in the results and show in
every report. Results are built by hand: no process runs here."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from shutdown_probe.errors import UsageError
from shutdown_probe.policy import FINDINGS, apply_policy, findings, parse_fail_on
from shutdown_probe.render import format_junit, format_markdown, format_terminal
from shutdown_probe.render.failure import format_case_failure
from shutdown_probe.results import (CaseResult, Escalation, ExpectResult, Hang, IgnoredSignal, Orphan, PolicyFailure,
                                    ProcessRecord, Results, StopRecord)


def test_names_come_comma_separated_or_repeated_in_any_case():
    assert parse_fail_on(["hung,orphans", "KILLED", " ignored , hung"]) == ("hung", "orphans", "killed", "ignored")
    assert parse_fail_on([]) == () and parse_fail_on([","]) == ()
    assert set(parse_fail_on([",".join(FINDINGS)])) == {"hung", "orphans", "ignored", "unresponsive", "killed",
                                                         "refuted"}


def test_an_unknown_name_is_a_usage_error_with_a_hint():
    with pytest.raises(UsageError) as info:
        parse_fail_on(["hung,orphan"])
    message = str(info.value)
    assert message.startswith("--fail-on: unknown finding 'orphan'; did you mean 'orphans'?")
    assert "\n" not in message
    with pytest.raises(UsageError, match="^--shutdown-probe-fail-on: "):
        parse_fail_on(["x" * 10_000], "--shutdown-probe-fail-on")


def killed_root() -> list[ProcessRecord]:
    return [ProcessRecord(10, "root", signal="SIGKILL", exit_known=True, killed_by_harness=True)]


def names(case: CaseResult) -> list[str]:
    return [f.finding for f in findings(case)]


def test_each_finding_from_its_record():
    assert names(CaseResult("s", "sigterm", "exited")) == []
    assert names(CaseResult("s", "sigint", "hung", processes=killed_root())) == ["hung", "killed"]
    ignored = CaseResult("s", "sigterm", "ignored", processes=killed_root(),
                         hang=Hang(ignored=[IgnoredSignal(10, "root", "SIGTERM", "ignored")]))
    assert names(ignored) == ["hung", "ignored", "killed"]  # an ignored root is hung, with its cause known
    orphan = CaseResult("s", "sigkill", "exited", orphans=[Orphan(11, "x", "child", [], True, fate="running")],
                        escalations=[Escalation(11, "child", "SIGKILL", "orphan: still running")])
    assert names(orphan) == ["orphans", "killed"]
    gone = CaseResult("s", "sigkill", "exited", orphans=[Orphan(11, "x", "child", [], False, fate="exited")])
    assert names(gone) == ["orphans"]  # left running past the stop timeout, then ended by itself
    assert names(CaseResult("s", "sigkill-child", "unresponsive", processes=killed_root())) == ["unresponsive"]
    refuted = CaseResult("s", "sigterm", "exited", expect=ExpectResult(False, ["x"], declared=True,
                                                                        claim="it ends", verdict="refuted"))
    assert names(refuted) == ["refuted"]


def test_the_harness_ending_a_root_that_stayed_on_purpose_is_not_a_kill():
    reloaded = CaseResult("s", "sighup-reload", "reloaded", processes=killed_root(),
                          escalations=[Escalation(10, "root", "SIGKILL", "reloaded: ...")])
    assert names(reloaded) == []


def test_the_stoppers_final_kill_is_a_kill():
    stop = StopRecord("docker-stop", "Docker", "SIGTERM", "PID 1", 10.0, final_kill=True, kill_cause="grace",
                      killed=[{"pid": 10, "role": "root"}])
    got = findings(CaseResult("s", "docker-stop", "exited", stop=stop))
    assert [f.finding for f in got] == ["killed"]
    assert "Docker's final SIGKILL (its grace ran out) to root pid 10" in got[0].detail


@pytest.mark.parametrize("outcome", ["skipped", "not-ready", "error", "interrupted"])
def test_a_case_that_observed_nothing_has_no_findings(outcome):
    assert findings(CaseResult("s", "sigterm", outcome, processes=killed_root())) == []


def case_set() -> Results:
    hung = CaseResult("s", "sigint", "hung", processes=killed_root(), scenario_file="/x/s.toml")
    fine = CaseResult("s", "sigterm", "exited", root_exit_s=0.1)
    return Results(cases=[hung, fine], scenarios={"s": ""})


def test_apply_fails_only_the_named_findings_and_replaces_what_was_there():
    results = case_set()
    apply_policy(results.cases, ("orphans",))
    assert not results.failed
    apply_policy(results.cases, ("hung",))
    hung = results.cases[0]
    assert hung.fail_on == [PolicyFailure("hung", "the root was still running at the stop timeout (outcome hung)")]
    assert hung.failed and results.failed and not results.cases[1].failed
    apply_policy(results.cases, ())
    assert not results.failed


def test_the_failures_ride_in_the_json_and_show_in_the_reports():
    results = case_set()
    apply_policy(results.cases, ("hung", "killed"))
    again = Results.from_dict(json.loads(results.to_json()))
    assert again.cases[0].fail_on == results.cases[0].fail_on and again.failed
    line = "--fail-on hung: the root was still running at the stop timeout (outcome hung)"
    assert format_case_failure(again.cases[0]).startswith("s::sigint: --fail-on: hung, killed\n")
    assert line in format_case_failure(again.cases[0])
    assert line in format_markdown(again)
    assert line in format_terminal(again, width=300)
    suite = ET.fromstring(format_junit(again))
    failure = suite.find(".//testcase[@name='sigint']/failure")
    assert failure is not None and failure.get("type") == "fail-on" and failure.get("message", "").startswith(line)
    assert suite.find(".//testcase[@name='sigterm']/failure") is None


def test_a_file_without_fail_on_loads_with_none():
    data = json.loads(case_set().to_json())
    for c in data["cases"]:
        del c["fail_on"]
        del c["expect"]["failed_keys"]
    assert not Results.from_dict(data).failed
