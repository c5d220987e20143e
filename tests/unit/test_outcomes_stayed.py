"""Issue 21 items 1 and 2 without processes: the rule that names a case whose root
outlived its path (liveness.stayed_outcome), the [app] alive and watch keys, the
results' round trip, expectations, and the words every renderer uses."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from shutdown_probe import make_scenario
from shutdown_probe.errors import ScenarioError
from shutdown_probe.expect import evaluate
from shutdown_probe.liveness import alive_check, stayed_outcome
from shutdown_probe.render import format_markdown, format_terminal
from shutdown_probe.render.compat import format_compat
from shutdown_probe.render.html import format_html
from shutdown_probe.render.junit import format_junit
from shutdown_probe.results import (AliveRecord, CaseResult, ProcessRecord, Results, StayRecord, load_results)
from shutdown_probe.scenario import OUTCOMES, AliveCheck, ReadyCheck

PASSED = AliveRecord(kind="http", target="http://127.0.0.1:1/", source="ready", passed=True, detail="HTTP 200",
                     within_s=5.0, at_s=3.0)
FAILED = AliveRecord(kind="log", target=r"results \[", source="alive", passed=False,
                     detail="no output line matched within 8 s", within_s=8.0, at_s=1.0)


@pytest.mark.parametrize("worker, started, ended, alive, expected", [
    # a path that ended a worker the root replaced
    (True, 1, 1, None, "survived"),
    (True, 1, 1, PASSED, "survived"),
    (True, 1, 1, FAILED, "unresponsive"),
    # a path aimed at the root, which stayed
    (False, 2, 2, PASSED, "reloaded"),  # a rolling restart
    (False, 1, 0, PASSED, "reloaded"),  # SIGTTIN: one more worker
    (False, 0, 1, PASSED, "reloaded"),  # SIGTTOU: one fewer, and it answers
    (False, 2, 2, FAILED, "unresponsive"),
    (False, 2, 2, None, "survived"),  # it changed; whether it answers is unknown
    (False, 0, 1, FAILED, None),  # a worker gone and no answer: a stuck shutdown, not a reload
    (False, 0, 1, None, None),
    (False, 0, 0, None, None),  # nothing changed: not a reload
])
def test_the_stayed_rule(worker, started, ended, alive, expected):
    assert stayed_outcome(ended_a_worker=worker, started=started, ended=ended, alive=alive) == expected


def test_alive_falls_back_to_an_http_or_tcp_ready_check_only():
    own = AliveCheck(ReadyCheck("log", "tick"), 2.0)
    assert alive_check(own, ReadyCheck("http", "http://x/")) == (own, "alive")
    assert alive_check(None, ReadyCheck("tcp", "1234")) == (AliveCheck(ReadyCheck("tcp", "1234")), "ready")
    assert alive_check(None, ReadyCheck("log", "ready")) is None
    assert alive_check(None, ReadyCheck("file", "/x")) is None
    assert alive_check(None, None) is None


def test_alive_and_watch_load(tmp_path):
    (tmp_path / "app.py").write_text("")
    s = make_scenario("a", command=["true"], alive={"log": r"tick \d", "within": 3}, watch="app.py",
                      base_dir=tmp_path)
    assert s.app.alive.check.kind == "log" and s.app.alive.within == 3 and s.app.watch == "app.py"
    s = make_scenario("a", command=["true"], alive={"tcp": 8080})
    assert s.app.alive.check == ReadyCheck("tcp", "8080") and s.app.alive.within == 5


@pytest.mark.parametrize("app, key, phrase", [
    ({"alive": {"file": "/x"}}, "app.alive.file", "unknown key"),
    ({"alive": {"http": "http://127.0.0.1:{port}/", "tcp": 1}}, "app.alive", "exactly one"),
    ({"alive": {"log": "("}}, "app.alive.log", ""),
    ({"alive": {"log": "x", "within": -1}}, "app.alive.within", ""),
    ({"alive": {"log": "x", "count": 2}}, "app.alive.count", "unknown key"),
    ({"watch": "/etc/passwd"}, "app.watch", "inside app.cwd"),
    ({"watch": "../x.py"}, "app.watch", "inside app.cwd"),
    ({"watch": "missing.py"}, "app.watch", "does not exist"),
    ({"watch": 3}, "app.watch", "expected a file name"),
])
def test_bad_alive_and_watch_are_one_line_errors(tmp_path, app, key, phrase):
    with pytest.raises(ScenarioError) as info:
        make_scenario("a", command=["true"], base_dir=tmp_path, **app)
    text = str(info.value)
    assert f"{key}:" in text and phrase in text and "\n" not in text


def test_expectations_name_the_new_outcomes():
    assert {"reloaded", "unresponsive"} <= set(OUTCOMES)
    sc = make_scenario("a", command=["true"], paths=["sighup-reload"],
                       expect={"sighup-reload": {"outcome": "unresponsive"}})
    exp = sc.expect["sighup-reload"]
    assert evaluate(exp, _case("unresponsive")).passed
    assert not evaluate(exp, _case("survived")).passed


def _case(outcome: str) -> CaseResult:
    root = ProcessRecord(pid=10, role="root", cmdline="python app.py", returncode=None, signal="SIGKILL",
                         killed_by_harness=True, ended_after_s=4.0)
    new = ProcessRecord(pid=12, role="child-2", cmdline="python app.py", returncode=None, signal="SIGKILL",
                        killed_by_harness=True, started_after_s=0.5)
    return CaseResult(scenario="s", path="sighup-reload", outcome=outcome,  # type: ignore[arg-type]
                      exit={"returncode": None, "signal": "SIGKILL"}, processes=[root, new],
                      trigger={"signal": "SIGHUP", "to": "root", "pid": 10, "delivered": True},
                      stayed=StayRecord(started=[12], ended=[11], alive=PASSED if outcome == "reloaded" else FAILED))


@pytest.mark.parametrize("outcome", ["reloaded", "unresponsive"])
def test_every_renderer_names_the_outcome(outcome):
    res = Results(cases=[_case(outcome)])
    assert outcome in format_terminal(res, width=140)
    md = format_markdown(res, details=True)
    assert outcome in md and "the alive check" in md
    assert outcome in format_html(res)
    ET.fromstring(format_junit(res))  # well-formed; not an error or a failure by itself
    assert "<error" not in format_junit(res)
    assert outcome in format_compat([res])
    # never the harness's SIGKILL as if the path ended it
    assert "killed at" not in format_terminal(res, width=140)


def test_stayed_round_trips_and_old_files_read_none(tmp_path):
    res = Results(cases=[_case("reloaded")])
    f = tmp_path / "r.json"
    f.write_text(res.to_json())
    back = load_results(f).cases[0]
    assert back.stayed == res.cases[0].stayed and back.outcome == "reloaded"
    data = json.loads(res.to_json())
    del data["cases"][0]["stayed"]
    data["cases"][0]["outcome"] = "survived"
    f.write_text(json.dumps(data))
    assert load_results(f).cases[0].stayed is None
