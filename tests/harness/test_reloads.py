"""Reloads and dead apps (issue 21, items 1 and 2), against a real reloading server:

* reloading_server.py: a master with forked HTTP workers; SIGHUP (or a later mtime
  of the WATCH file) is a rolling restart, SIGTTIN adds a worker, SIGTTOU removes
  one; with MUTE_AFTER_RELOAD=1 the new workers never answer nor tick.

What the target printed ("worker started PID", "worker exit PID") is the evidence the
outcome is checked against: the harness never decides which process replaced which.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.support import proc, run_path, target_scenario
from shutdown_probe.results import STAYED

HTTP_READY = {"http": "http://127.0.0.1:{port}/"}
FILE_READY = {"file": "{workdir}/ready"}


def server(paths, *, ready=None, env=None, **app):
    return target_scenario("reloading_server.py", name="reloading", ready=ready or HTTP_READY, paths=paths,
                           env={"PORT": "{port}", **(env or {})}, stop_timeout=app.pop("stop_timeout", 3), **app)


def started(output: str) -> list[int]:
    return [int(p) for p in re.findall(r"worker started (\d+)", output)]


def exited(output: str) -> list[int]:
    return [int(p) for p in re.findall(r"worker exit (\d+)", output)]


def test_sighup_rolling_restart_is_reloaded_and_the_harness_ends_it_as_cleanup():
    r = run_path(server(["sighup-reload"]), "sighup-reload")
    assert r.outcome == "reloaded", r.error
    first, new = started(r.output_tail)
    assert r.stayed is not None and r.stayed.started == [new] and r.stayed.ended == [first]
    assert exited(r.output_tail) == [first]  # the old worker left by itself
    alive = r.stayed.alive
    assert alive is not None and alive.passed and alive.source == "ready" and alive.kind == "http"
    assert "HTTP 200" in alive.detail
    # the root stayed: the harness ended it afterwards, and says so as cleanup
    root = proc(r, "root")
    assert root.killed_by_harness and root.signal == "SIGKILL"
    assert r.escalations and all(e.reason.startswith("cleanup:") for e in r.escalations)
    assert next(p for p in r.processes if p.pid == first).returncode == 0


def test_the_plain_sighup_path_is_reloaded_too_rather_than_hung():
    assert run_path(server(["sighup"]), "sighup").outcome == "reloaded"


def test_a_replacement_that_never_answers_is_unresponsive():
    r = run_path(server(["sighup-reload"], env={"MUTE_AFTER_RELOAD": "1"},
                        alive={"http": "http://127.0.0.1:{port}/", "within": 1.5}), "sighup-reload")
    assert r.outcome == "unresponsive", r.error
    assert r.stayed is not None and r.stayed.alive is not None
    assert not r.stayed.alive.passed and r.stayed.alive.source == "alive"
    assert len(started(r.output_tail)) == 2


@pytest.mark.parametrize("mute, outcome", [(False, "reloaded"), (True, "unresponsive")])
def test_a_log_alive_check_wants_a_new_line(mute, outcome):
    env = {"MUTE_AFTER_RELOAD": "1"} if mute else {}
    r = run_path(server(["sighup-reload"], env=env, alive={"log": r"tick \d+", "within": 2}), "sighup-reload")
    assert r.outcome == outcome, r.error
    alive = r.stayed.alive
    assert alive.kind == "log" and alive.passed is (not mute)
    assert (alive.at_s or 0) > 0


def test_without_any_alive_check_the_harness_does_not_claim_it_answers():
    r = run_path(server(["sighup-reload"], ready=FILE_READY), "sighup-reload")
    assert r.outcome == "survived"
    assert r.stayed is not None and r.stayed.alive is None and len(r.stayed.started) == 1


@pytest.mark.parametrize("signame, workers, change", [("SIGTTIN", 1, "started"), ("SIGTTOU", 2, "ended")])
def test_sigttin_and_sigttou_from_a_user_trigger_end_reloaded(signame, workers, change):
    sc = target_scenario("reloading_server.py", "2" if workers == 2 else "1", name="reloading", ready=HTTP_READY,
                         paths=["resize"], env={"PORT": "{port}"}, stop_timeout=3,
                         triggers={"resize": {"signal": signame, "to": "root"}})
    r = run_path(sc, "resize")
    assert r.trigger["signal"] == signame and r.trigger["delivered"] is True
    assert r.outcome == "reloaded", r.error
    if change == "started":
        assert r.stayed.started == started(r.output_tail)[1:] and not r.stayed.ended
    else:
        assert r.stayed.ended == exited(r.output_tail) and len(r.stayed.ended) == 1 and not r.stayed.started


def test_a_root_that_stays_with_nothing_changed_is_not_a_reload():
    r = run_path(server(["sighup-reload"], env={"IGNORE_HUP": "1"}), "sighup-reload")
    assert r.outcome not in STAYED
    assert r.stayed is None


def test_touch_reload_updates_only_the_mtime_of_the_watched_file(tmp_path):
    src = tmp_path / "app_source.py"
    src.write_text("# the user's source\n")
    os.utime(src, (1_000_000_000, 1_000_000_000))
    before = src.read_bytes()
    sc = target_scenario("reloading_server.py", name="reloading", ready=HTTP_READY, paths=["touch-reload"],
                         env={"PORT": "{port}", "WATCH": str(src)}, cwd=str(tmp_path), watch="app_source.py",
                         stop_timeout=3)
    r = run_path(sc, "touch-reload")
    assert r.trigger == {"touched": "app_source.py", "delivered": True}
    assert r.outcome == "reloaded", r.error
    assert "reloading" in r.output_tail and len(started(r.output_tail)) == 2
    assert src.read_bytes() == before and src.stat().st_mtime > 1_000_000_000


def test_touch_reload_without_a_watched_file_is_skipped():
    r = run_path(server(["touch-reload"]), "touch-reload")
    assert r.outcome == "skipped" and "[app] watch" in (r.skip_reason or "")

