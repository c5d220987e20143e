"""``[expect.all]``: what holds on every path unless the path's own table says
otherwise, merged key by key as docs/design.md states; and ``within_grace``, judged
on results built by hand (no process runs here)."""

from __future__ import annotations

import textwrap

import pytest

from shutdown_probe.errors import ScenarioError
from shutdown_probe.expect import evaluate
from shutdown_probe.results import (CaseResult, Escalation, FailedKey, Orphan, ProcessRecord, StopRecord)
from shutdown_probe.scenario import EXPECT_KEYS, load_scenario, make_scenario
from shutdown_probe.scenario.specs import EXPECT_ALL_KEYS
from tests.support import load_text, load_text_error

HEAD = """\
paths = ["sigterm", "sigint", "sigkill", "k8s-delete"]
[app]
command = ["true"]
[hooks.atexit]
log = "atexit ran"
[hooks.flushed]
file = "{workdir}/flushed"
[verify.saved]
command = ["true"]
"""


def load(tmp_path, text: str):
    return load_text(tmp_path, HEAD + textwrap.dedent(text))


def load_error(tmp_path, text: str) -> ScenarioError:
    return load_text_error(tmp_path, HEAD + textwrap.dedent(text))


def test_all_reaches_every_path_and_a_path_key_replaces_it(tmp_path):
    s = load(tmp_path, """
        [expect.all]
        outcome = "exited"
        orphans = false
        within_grace = true
        [expect.sigkill]
        exit = "SIGKILL"
        within_grace = false
    """)
    assert set(s.expect) == {"sigterm", "sigint", "sigkill", "k8s-delete"}
    assert s.expect["sigterm"].outcome == "exited" and s.expect["sigterm"].within_grace is True
    assert s.expect["sigterm"].from_all == ("outcome", "orphans", "within_grace")
    kill = s.expect["sigkill"]
    assert (kill.outcome, kill.orphans, kill.exit, kill.within_grace) == ("exited", False, "SIGKILL", False)
    assert kill.from_all == ("outcome", "orphans")
    assert kill.table_of("outcome", "sigkill") == "all" and kill.table_of("exit", "sigkill") == "sigkill"


def test_a_hook_or_check_the_path_names_leaves_alls_lists(tmp_path):
    s = load(tmp_path, """
        [expect.all]
        ran = ["atexit", "flushed"]
        verified = ["saved"]
        [expect.sigkill]
        not_ran = ["atexit"]
        not_verified = ["saved"]
        [expect.sigint]
        ran = ["flushed"]
    """)
    kill = s.expect["sigkill"]
    # no contradiction: sigkill's not_ran takes atexit out of all's ran, not_verified the check
    assert (kill.ran, kill.not_ran, kill.verified, kill.not_verified) == (("flushed",), ("atexit",), (), ("saved",))
    assert s.expect["sigint"].ran == ("flushed",)  # the path's list replaces all's whole
    assert s.expect["sigterm"].ran == ("atexit", "flushed")


def test_a_claim_may_rest_on_checks_from_all(tmp_path):
    s = load(tmp_path, """
        [expect.all]
        outcome = "exited"
        [expect.sigterm]
        claim = "the app ends on SIGTERM"
    """)
    assert s.expect["sigterm"].claim == "the app ends on SIGTERM"
    assert s.expect["sigterm"].outcome == "exited"


@pytest.mark.parametrize("key, text", [
    ("claim", 'claim = "x"'),
    ("grace_kill", "grace_kill = true"),
    ("drained", "drained = true"),
    ("ran_in", 'ran_in = { atexit = "root" }'),
    ("order", 'order = ["atexit", "flushed"]'),
])
def test_a_key_that_is_a_paths_own_is_refused_in_all(tmp_path, key, text):
    err = load_error(tmp_path, f"[expect.all]\n{text}\n")
    assert f"expect.all.{key}" in str(err)
    assert "[expect.PATH]" in str(err)


def test_an_unknown_key_in_all_is_an_error_with_a_hint(tmp_path):
    err = load_error(tmp_path, "[expect.all]\noutcom = 'exited'\n")
    assert "expect.all.outcom" in str(err) and "did you mean 'outcome'" in str(err)


def test_a_bad_value_in_all_is_an_error_on_its_key(tmp_path):
    err = load_error(tmp_path, "[expect.all]\nwithin_grace = 'yes'\n")
    assert "expect.all.within_grace" in str(err)
    err = load_error(tmp_path, "[expect.all]\nran = ['nope']\n")
    assert "expect.all.ran" in str(err)


def test_a_trigger_named_all_cannot_stand_beside_expect_all(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent("""\
        paths = ["all"]
        [app]
        command = ["true"]
        [triggers.all]
        command = ["true"]
        [expect.all]
        outcome = "exited"
    """), encoding="utf-8")
    with pytest.raises(ScenarioError, match="path named 'all'"):
        load_scenario(str(path))


def test_make_scenario_takes_all_too(tmp_path):
    s = make_scenario("x", command=["true"], paths=["sigterm", "sigint"],
                      expect={"all": {"outcome": "exited"}}, base_dir=tmp_path)
    assert {n: e.outcome for n, e in s.expect.items()} == {"sigterm": "exited", "sigint": "exited"}


def test_the_keys_are_the_documented_ones():
    assert "within_grace" in EXPECT_KEYS
    assert set(EXPECT_ALL_KEYS) < set(EXPECT_KEYS) and "claim" not in EXPECT_ALL_KEYS


# ------------------------------------------------------------------ judged


def case(outcome: str = "exited", **fields) -> CaseResult:
    return CaseResult(scenario="s", path="sigterm", outcome=outcome, root_exit_s=0.05, **fields)


def test_a_failure_names_the_table_and_key_that_stated_it(tmp_path):
    s = load(tmp_path, """
        [expect.all]
        outcome = "exited"
        [expect.sigterm]
        orphans = false
    """)
    got = evaluate(s.expect["sigterm"], case("hung", orphans=[Orphan(7, "x", "child", [], True)]))
    assert not got.passed
    assert got.failed_keys == [FailedKey("all", "outcome"), FailedKey("sigterm", "orphans")]
    assert len(got.failures) == 2


def test_within_grace_holds_only_when_the_root_ended_and_nothing_was_killed(tmp_path):
    exp = load(tmp_path, "[expect.all]\nwithin_grace = true\n").expect["sigterm"]
    assert evaluate(exp, case()).passed
    for bad in (case("hung"), case("ignored"), case("survived"),
                case(processes=[ProcessRecord(9, "child", killed_by_harness=True)]),
                case(orphans=[Orphan(9, "x", "child", [], killed_by_harness=True, fate="running")]),
                case(escalations=[Escalation(9, "child", "SIGKILL", "orphan")])):
        got = evaluate(exp, bad)
        assert not got.passed, bad
        assert got.failed_keys == [FailedKey("all", "within_grace")]
    # the stopper's final SIGKILL when the grace ran out is a kill too
    stop = StopRecord("k8s-delete", "Kubernetes", "SIGTERM", "PID 1", 2.0, final_kill=True, kill_cause="grace",
                      killed=[{"pid": 9, "role": "root", "cmdline": "x"}])
    got = evaluate(exp, case(stop=stop))
    assert not got.passed and "final SIGKILL" in got.failures[0] and "grace ran out" in got.failures[0]
    # an orphan that ended by itself in the watch was not killed (orphans = false is the key for it)
    assert evaluate(exp, case(orphans=[Orphan(9, "x", "child", [], False, fate="exited")])).passed


def test_within_grace_false_holds_on_a_hang(tmp_path):
    exp = load(tmp_path, "[expect.sigterm]\nwithin_grace = false\n").expect["sigterm"]
    assert evaluate(exp, case("hung")).passed
    assert not evaluate(exp, case()).passed
