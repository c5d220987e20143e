"""expect.grace_kill: compared with the stop profile's StopRecord.final_kill.

Hand-built results only: what the process layer records is tested elsewhere.
"""

from __future__ import annotations

import pytest

from shutdown_probe.expect import evaluate
from shutdown_probe.results import CaseResult, StopRecord
from shutdown_probe.scenario import Expectation


def stop(**kw) -> StopRecord:
    fields = dict(profile="docker-stop", stopper="Docker", signal="SIGTERM", to="PID 1 (the app)", grace_s=10.0)
    fields.update(kw)
    return StopRecord(**fields)


def result(stop_record: StopRecord | None, outcome: str = "exited", path: str = "docker-stop") -> CaseResult:
    return CaseResult(scenario="s", path=path, outcome=outcome, stop=stop_record)


FINISHED = stop(cleanup_s=0.03, final_kill=False)
KILLED = stop(final_kill=True, kill_at_s=10.0, killed=[{"pid": 123, "role": "root", "cmdline": "python app.py"}])


@pytest.mark.parametrize("want, record", [(False, FINISHED), (True, KILLED)], ids=["no-kill", "kill"])
def test_grace_kill_that_holds_passes(want, record):
    got = evaluate(Expectation(grace_kill=want), result(record))
    assert got.passed and got.declared and got.failures == []


def test_expected_kill_that_did_not_happen():
    got = evaluate(Expectation(grace_kill=True), result(FINISHED))
    assert not got.passed
    assert got.failures == ["expected the grace period to run out and SIGKILL to be sent, it was not "
                            "(cleanup took 0.03 s of 10 s)"]


def test_expected_kill_that_did_not_happen_cleanup_time_unknown():
    got = evaluate(Expectation(grace_kill=True), result(stop(grace_s=2.5)))
    assert got.failures == ["expected the grace period to run out and SIGKILL to be sent, it was not "
                            "(grace 2.5 s; cleanup time unknown)"]


def test_unexpected_kill_names_when_and_whom():
    got = evaluate(Expectation(grace_kill=False), result(KILLED))
    assert not got.passed
    assert got.failures == ["expected cleanup to finish within the 10 s grace, SIGKILL was sent at 10.0 s "
                            "to root pid 123"]


def test_unexpected_kill_of_several_processes():
    record = stop(grace_s=30.0, final_kill=True, kill_at_s=30.02,
                  killed=[{"pid": 5, "role": "root", "cmdline": ""}, {"pid": 6, "role": "child", "cmdline": ""}])
    got = evaluate(Expectation(grace_kill=False), result(record))
    assert got.failures == ["expected cleanup to finish within the 30 s grace, SIGKILL was sent at 30.0 s "
                            "to root pid 5, child pid 6"]


def test_unexpected_kill_without_details():
    got = evaluate(Expectation(grace_kill=False), result(stop(grace_s=0.0, final_kill=True)))
    assert got.failures == ["expected cleanup to finish within the 0 s grace, SIGKILL was sent"]


@pytest.mark.parametrize("want", [True, False])
def test_grace_kill_without_a_stop_record_fails(want):
    got = evaluate(Expectation(grace_kill=want), result(None, path="docker-stop"))
    assert not got.passed
    assert got.failures == [f"expected grace_kill = {str(want).lower()}, but the case recorded no stop "
                            "sequence (path 'docker-stop' ran no stop profile)"]


@pytest.mark.parametrize("record", [FINISHED, KILLED, None], ids=["finished", "killed", "no-record"])
def test_no_grace_kill_expectation_ignores_the_stop(record):
    got = evaluate(Expectation(outcome="exited"), result(record))
    assert got.passed and got.failures == []


def test_grace_kill_joins_the_other_failures():
    got = evaluate(Expectation(outcome="hung", grace_kill=False), result(KILLED))
    assert got.failures[0] == "expected outcome hung, got exited"
    assert got.failures[1].startswith("expected cleanup to finish within the 10 s grace")


def test_skipped_case_passes():
    got = evaluate(Expectation(grace_kill=True), result(None, outcome="skipped"))
    assert got.passed


def test_errored_case_reports_the_error_only():
    r = result(None, outcome="error")
    r.error = "boom"
    got = evaluate(Expectation(grace_kill=True), r)
    assert got.failures == ["the case did not run to the end: error: boom"]


def test_saved_results_round_trip_to_the_same_verdict():
    again = CaseResult.from_dict(result(KILLED).to_dict())
    assert isinstance(again.stop, StopRecord)
    assert evaluate(Expectation(grace_kill=False), again).failures == \
        evaluate(Expectation(grace_kill=False), result(KILLED)).failures
