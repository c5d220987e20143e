"""Signal triggers aim at the process that matters (issue 20, item 1), against real
processes:

* aim_family.py: a parent with N members, each a fresh Python whose argv and output
  name it ("member K pid P"), started one after another: the N-th by start time is
  member N, whatever the harness thinks;
* prefork_server.py: a master with pre-forked workers, one of which the traffic
  makes busy; the client's own view says whether the killed process held the
  request (its request is cut) or not (it completes);
* mp_spawn_workers.py: multiprocessing's spawn start method, whose oldest child is
  the resource tracker: the built-in ``-child`` paths and ``every-worker`` must take
  the workers the target itself names, with the probe on and off.

A target that matches nothing skips the case and signals nothing.
"""

from __future__ import annotations

import re
import signal

import pytest

from tests.support import TARGETS, proc, run_path, target_scenario
from shutdown_probe import make_scenario
from shutdown_probe.mphelpers import RESOURCE_TRACKER, mp_helper

READY = {"file": "{workdir}/ready"}
PREFORK_SERVER = str(TARGETS / "prefork_server.py")


def family(triggers: dict, paths: list[str], members: int = 3, *more: str, **app):
    return target_scenario("aim_family.py", str(members), *more, name="aim-family", ready=READY, paths=paths,
                           triggers=triggers, stop_timeout=5, **app)


def member_pids(output: str) -> dict[int, int]:
    """member number -> pid, as the target printed them."""
    return {int(k): int(p) for k, p in re.findall(r"member (\d+) pid (\d+)", output)}


def signalled(result) -> list[int]:
    return [s["pid"] for s in result.trigger["signalled"]]


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_nth_is_the_nth_worker_by_start_time(nth):
    r = run_path(family({"pick": {"signal": "SIGTERM", "nth": nth}}, ["pick"]), "pick")
    members = member_pids(r.output_tail)
    assert len(members) == 3
    assert signalled(r) == [members[nth]]
    assert r.trigger["pid"] == members[nth] and r.trigger["delivered"] is True
    assert r.trigger["aim"] == f"nth={nth}" and f"worker {nth} of 3" in r.trigger["chosen"]
    # the target saw that member end by SIGTERM, and only that one
    assert f"member ended {members[nth]} {signal.SIGTERM}" in r.output_tail
    assert r.outcome == "exited" and proc(r, "root").returncode == 0


def test_cmdline_picks_the_process_whose_command_line_matches():
    r = run_path(family({"pick": {"signal": "SIGKILL", "cmdline": r"aim_family\.py member 2 "}}, ["pick"]), "pick")
    members = member_pids(r.output_tail)
    assert signalled(r) == [members[2]]
    assert f"member ended {members[2]} {signal.SIGKILL}" in r.output_tail


def test_role_picks_by_the_harness_role_and_nth_counts_among_the_matches():
    r = run_path(family({"pick": {"signal": "SIGTERM", "cmdline": "member", "nth": 3}}, ["pick"]), "pick")
    members = member_pids(r.output_tail)
    assert signalled(r) == [members[3]]
    r = run_path(family({"pick": {"signal": "SIGTERM", "role": "root"}}, ["pick"]), "pick")
    root = proc(r, "root")
    assert signalled(r) == [root.pid] and root.signal == "SIGTERM"


def test_every_worker_signals_each_child_at_once():
    # wait-all: the parent signals nobody, so a member can only be gone before the
    # harness's own signal reaches it if the harness signalled it already
    r = run_path(family({"all": {"signal": "SIGTERM", "to": "every-worker"}}, ["all"], 3, "wait-all"), "all")
    members = member_pids(r.output_tail)
    assert sorted(signalled(r)) == sorted(members.values())
    assert all(s["delivered"] for s in r.trigger["signalled"])
    assert r.outcome == "exited"
    for pid in members.values():
        assert next(p for p in r.processes if p.pid == pid).signal == "SIGTERM"


@pytest.mark.parametrize("trigger, words", [
    ({"signal": "SIGKILL", "role": "nobody"}, "no process of the app matches role='nobody'"),
    ({"signal": "SIGKILL", "cmdline": "no such argv"}, "nothing matched"),
    ({"signal": "SIGKILL", "nth": 4}, "nth = 4, and the app has 3 workers"),
    ({"signal": "SIGKILL", "to": "busy"}, "neither requests in flight nor a line naming the busy process"),
    ({"signal": "SIGKILL", "to": "idle"}, "neither requests in flight nor a line naming the busy process"),
])
def test_a_target_that_matches_nothing_skips_and_signals_nothing(trigger, words):
    r = run_path(family({"miss": trigger}, ["miss"]), "miss")
    assert r.outcome == "skipped" and words in (r.skip_reason or "")
    assert r.trigger == {}
    # the harness ended the case itself: with SIGKILL, never the trigger's signal
    assert "member ended" not in r.output_tail
    assert all(p.killed_by_harness for p in r.processes)


def test_the_group_target_reaches_every_process_in_one_call():
    r = run_path(family({"grp": {"signal": "SIGTERM", "to": "group"}}, ["grp"]), "grp")
    assert r.trigger["to"] == "process group" and r.trigger["aim"] == "group"
    assert r.trigger["pgid"] == proc(r, "root").pid
    # the parent has no SIGTERM handler: it dies with its members
    assert all(p.signal == "SIGTERM" for p in r.processes)


# ---------------------------------------------------------------- busy and idle, from the app's line


def named_busy(trigger: dict, busy_log: str):
    return family({"pick": trigger}, ["pick"], busy={"log": busy_log})


def test_busy_is_the_process_the_apps_latest_matching_line_names():
    """Without traffic, ``[app] busy`` decides: members 1 and 2 both match, and the
    latest line (member 2's) is the one that counts; the target itself says which
    pid is member 2, and that member saw its own SIGKILL."""
    r = run_path(named_busy({"signal": "SIGKILL", "to": "busy"}, r"member [12] pid (?P<pid>\d+)"), "pick")
    members = member_pids(r.output_tail)
    assert signalled(r) == [members[2]]
    assert f"member ended {members[2]} {signal.SIGKILL}" in r.output_tail
    assert "named by the app's latest line matching [app] busy.log" in r.trigger["chosen"]
    assert f"'member 2 pid {members[2]}'" in r.trigger["chosen"]


def test_idle_is_the_oldest_worker_other_than_the_one_the_line_names():
    r = run_path(named_busy({"signal": "SIGTERM", "to": "idle"}, r"member 1 pid (?P<pid>\d+)"), "pick")
    members = member_pids(r.output_tail)
    assert signalled(r) == [members[2]]
    assert f"member ended {members[2]} {signal.SIGTERM}" in r.output_tail
    assert "other than the busy one" in r.trigger["chosen"]


@pytest.mark.parametrize("busy_log, words", [
    # captures the member number: pid 1 (this machine's init) is no process of the case
    (r"member (?P<pid>1) pid", "pid 1, named by the app's latest line matching [app] busy.log"),
    (r"nobody says (?P<pid>\d+)", "no line of the app's output has matched [app] busy.log"),
])
@pytest.mark.parametrize("to", ["busy", "idle"])
def test_a_line_that_names_no_process_of_the_case_skips_and_signals_nothing(busy_log, words, to):
    r = run_path(named_busy({"signal": "SIGKILL", "to": to}, busy_log), "pick")
    assert r.outcome == "skipped" and words in (r.skip_reason or ""), r.skip_reason
    assert r.trigger == {}
    assert "member ended" not in r.output_tail
    assert all(p.killed_by_harness for p in r.processes)


# ---------------------------------------------------------------- busy and idle, from the traffic


def prefork(path: str, trigger: dict, workers: int = 3):
    return make_scenario(
        "prefork-aim", command=["{python}", PREFORK_SERVER, str(workers)],
        env={"PORT": "{port}", "SLOW_SECONDS": "2"}, ready={"http": "http://127.0.0.1:{port}/"},
        paths=[path], triggers={path: trigger}, stop_timeout=8, survive_after=0.5,
        traffic={"url": "http://127.0.0.1:{port}/slow", "in_flight": 1, "new_url": ""})


def test_busy_is_the_worker_holding_the_request_in_flight():
    """SIGKILL to it: the client's request is cut (the kernel resets a killed
    process's connections); the master respawns the worker and serves on."""
    r = run_path(prefork("kill-busy", {"signal": "SIGKILL", "to": "busy"}), "kill-busy")
    (victim,) = signalled(r)
    (request,) = r.traffic.requests
    assert request.kind == "in-flight" and request.outcome == "cut"
    assert r.traffic.drained is False
    assert victim != proc(r, "root").pid and next(p for p in r.processes if p.pid == victim).signal == "SIGKILL"
    assert "holds in-flight request #1" in r.trigger["chosen"]
    assert r.outcome == "survived" and re.search(r"respawned \d+", r.output_tail)


def test_idle_is_a_worker_not_holding_it():
    r = run_path(prefork("kill-idle", {"signal": "SIGKILL", "to": "idle"}), "kill-idle")
    (victim,) = signalled(r)
    (request,) = r.traffic.requests
    assert request.outcome == "completed" and r.traffic.drained is True
    assert victim != proc(r, "root").pid and next(p for p in r.processes if p.pid == victim).signal == "SIGKILL"
    assert r.outcome == "survived"


# ---------------------------------------------------------------- multiprocessing's helpers


def spawn_workers(paths: list[str], probe: bool, triggers: dict | None = None, workers: int = 2):
    return target_scenario("mp_spawn_workers.py", str(workers), name="mp-spawn", ready=READY, paths=paths,
                           triggers=triggers, probe=probe, stop_timeout=5)


def worker_pids(output: str) -> list[int]:
    m = re.search(r"^workers ([\d ]+)$", output, re.M)
    assert m, output
    return [int(p) for p in m.group(1).split()]


def tracker_of(result):
    found = [p for p in result.processes if mp_helper(p.cmdline) == RESOURCE_TRACKER]
    assert len(found) == 1, result.processes
    return found[0]


@pytest.mark.parametrize("probe", [True, False], ids=["probe", "no-probe"])
def test_sigkill_child_kills_a_spawn_worker_not_the_resource_tracker(probe):
    r = run_path(spawn_workers(["sigkill-child"], probe), "sigkill-child")
    workers = worker_pids(r.output_tail)
    tracker = tracker_of(r)
    # the tracker started first: without the helper rule it would be "the oldest child"
    assert tracker.pid < min(workers)
    assert r.trigger["pid"] in workers and r.trigger["signal"] == "SIGKILL"
    assert f"worker ended {r.trigger['pid']} -{signal.SIGKILL}" in r.output_tail
    assert tracker.signal is None and tracker.returncode == 0  # it left by itself after the parent
    assert r.outcome == "exited" and proc(r, "root").returncode == 0


@pytest.mark.parametrize("probe", [True, False], ids=["probe", "no-probe"])
def test_every_worker_leaves_the_helpers_alone(probe):
    r = run_path(spawn_workers(["all"], probe, {"all": {"signal": "SIGTERM", "to": "every-worker"}}), "all")
    assert sorted(signalled(r)) == sorted(worker_pids(r.output_tail))
    assert tracker_of(r).signal is None
    assert ("mp-child" in r.trigger["chosen"]) is probe


def test_a_root_whose_only_child_is_the_tracker_has_no_child_to_signal():
    r = run_path(spawn_workers(["sigkill-child"], False, workers=0), "sigkill-child")
    tracker = tracker_of(r)
    assert r.outcome == "skipped" and r.trigger == {}
    assert r.skip_reason == ("the root has no child process to signal other than multiprocessing's helpers "
                             f"(mp-resource-tracker pid {tracker.pid})")
