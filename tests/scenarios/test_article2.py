"""Article 2 end to end: the two bundled scenarios, every path, real processes.

First every case must meet the expectations its TOML declares. Then, independently
of those declarations, the facts the article is about are checked on the results
themselves: before the fix SIGTERM skips ``finally`` and kills the process while
SIGINT runs it; after the fix SIGTERM runs ``finally`` and the callback and exits 0.
Each case runs once; the tests share the results.
"""

from __future__ import annotations

import pytest

import shutdown_probe
from tests.support import SCENARIOS

BEFORE = "sigterm-finally"
AFTER = "sigterm-handle-exit"

# The stop profiles keep their results with a short grace (the kill comes when the
# grace runs out, whatever it is), so the files' 10 s are cut to GRACE here.
GRACE = 1.5
_scenarios = [shutdown_probe.load_scenario(SCENARIOS / f).with_grace(GRACE, "test")
              for f in ("sigterm_finally.toml", "sigterm_handle_exit.toml")]
CASES = {case.id: case for case in shutdown_probe.expand_cases(_scenarios)}
_results: dict[str, shutdown_probe.CaseResult] = {}


def result_of(scenario: str, path: str) -> shutdown_probe.CaseResult:
    """Run the case the first time it is asked for; later tests reuse the result."""
    case_id = f"{scenario}::{path}"
    if case_id not in _results:
        _results[case_id] = shutdown_probe.run_case(CASES[case_id])
    return _results[case_id]


def _ran(result: shutdown_probe.CaseResult) -> dict[str, bool]:
    """The scenario's declared hooks (the probe's atexit:* ones are checked apart)."""
    return {name: hook.ran for name, hook in result.hooks.items() if hook.source != "probe"}


def test_scenarios_cover_the_single_process_paths():
    want = ["sigint", "sigterm", "sighup", "sigquit", "sigkill", "ctrl-c", "sigterm-group",
            "docker-stop", "docker-stop-init", "k8s-delete", "systemd-stop", "supervisor-stop",
            "supervisor-stop-group", "heroku-stop"]
    for sc in _scenarios:
        assert [p.name for p in sc.paths] == want
        assert set(sc.expect) == set(want), f"{sc.name}: every path states its expectation"


@pytest.mark.parametrize("case_id", list(CASES))
def test_case_meets_its_declared_expectations(case_id):
    scenario, path = case_id.split("::")
    result = result_of(scenario, path)
    assert result.outcome == "exited", (result.error, result.output_tail)
    assert result.expect.declared
    assert result.expect.passed, "\n".join(result.expect.failures) + "\n--- output:\n" + result.output_tail
    assert not result.orphans and not result.escalations


# ---------------------------------------------------------------- the article's facts


@pytest.mark.parametrize("path", ["sigterm", "sigterm-group"])
def test_before_fix_sigterm_skips_finally(path):
    """`docker stop`: no handler, the kernel ends the process; the resources stay held."""
    result = result_of(BEFORE, path)
    assert result.exit == {"returncode": None, "signal": "SIGTERM"}
    assert _ran(result) == {"released": False, "finally": False, "atexit": False}


@pytest.mark.parametrize("path", ["sigint", "ctrl-c"])
def test_before_fix_sigint_runs_finally(path):
    """Ctrl-C: KeyboardInterrupt unwinds through finally, then atexit; still dies by SIGINT."""
    result = result_of(BEFORE, path)
    assert _ran(result) == {"released": True, "finally": True, "atexit": True}
    assert result.exit == {"returncode": None, "signal": "SIGINT"}
    assert [h for h in result.hook_order if h != "released"] == ["finally", "atexit"]


@pytest.mark.parametrize("path", ["sigterm", "sigterm-group", "sigint", "ctrl-c"])
def test_after_fix_stop_signals_run_cleanup_and_exit_0(path):
    result = result_of(AFTER, path)
    assert _ran(result) == {"released": True, "finally": True, "callback": True, "atexit": True}
    assert result.exit == {"returncode": 0, "signal": None}
    # The file's mtime is too coarse to order it against log lines; the lines are exact.
    assert [h for h in result.hook_order if h != "released"] == ["finally", "callback", "atexit"]
    root = result.processes[0]
    assert root.role == "root" and root.pid in result.hooks["callback"].pids


@pytest.mark.parametrize("scenario", [BEFORE, AFTER], ids=["before-fix", "after-fix"])
@pytest.mark.parametrize("path,signal", [("sighup", "SIGHUP"), ("sigquit", "SIGQUIT"),
                                         ("sigkill", "SIGKILL")])
def test_unhandled_signals_run_nothing_either_way(scenario, path, signal):
    """handle_exit handles SIGTERM only: the other stop signals still end it cold."""
    result = result_of(scenario, path)
    assert result.exit == {"returncode": None, "signal": signal}
    assert not any(_ran(result).values())


# ---------------------------------------------------------------- under docker stop


def test_before_fix_docker_stop_drops_sigterm_and_kills_after_the_grace():
    """The article's Docker symptom, with its real cause: as PID 1 without a handler,
    the app never even sees SIGTERM; it sits out the grace and dies by SIGKILL."""
    result = result_of(BEFORE, "docker-stop")
    stop = result.stop
    assert stop is not None and stop.pid1_handles_signal is False
    assert stop.final_kill and stop.cleanup_s is None
    assert GRACE <= stop.kill_at_s < GRACE + 1.0
    root = next(p for p in result.processes if p.role == "root")
    assert root.ns_pid == 1 and root.signal == "SIGKILL" and root.killed_by_stop
    assert [k["pid"] for k in stop.killed] == [root.pid]
    assert not any(_ran(result).values())


def test_before_fix_an_init_stops_it_at_once_but_cleanup_still_does_not_run():
    result = result_of(BEFORE, "docker-stop-init")
    stop = result.stop
    assert stop is not None and not stop.final_kill and stop.init
    assert stop.cleanup_s is not None and stop.cleanup_s < GRACE
    assert result.exit == {"returncode": None, "signal": "SIGTERM"}
    init = next(p for p in result.processes if p.role == "init")
    assert init.ns_pid == 1 and init.returncode == 128 + 15  # tini and ours report 128+N
    assert not any(_ran(result).values())


@pytest.mark.parametrize("path", ["docker-stop", "docker-stop-init", "k8s-delete", "systemd-stop",
                                  "supervisor-stop", "supervisor-stop-group", "heroku-stop"])
def test_after_fix_every_deployment_stop_runs_cleanup_within_the_grace(path):
    result = result_of(AFTER, path)
    assert _ran(result) == {"released": True, "finally": True, "callback": True, "atexit": True}
    assert result.exit == {"returncode": 0, "signal": None}
    assert result.stop is not None and not result.stop.final_kill
    assert result.stop.cleanup_s is not None and result.stop.cleanup_s < GRACE
    if path in ("docker-stop", "k8s-delete"):
        # PID 1 now has a handler, so the kernel lets SIGTERM through
        assert result.stop.pid1_handles_signal is True
