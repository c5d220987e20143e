"""Why a case did not end (the results' ``hang``, the outcome ``ignored``) and what
became of its orphans (``Orphan.fate``), against tiny targets that each fail to end
in one way (tests/targets/hang_kinds.py, orphan_fates.py).

The expected values come from the kernel's and CPython's documented behaviour and
from the targets themselves (the pids they print, the status they exit with):

* signal(7): a signal whose disposition is SIG_IGN is discarded; a blocked one stays
  pending until unblocked; a stopped process is not "blocking" anything;
* CPython: SIGINT raises KeyboardInterrupt in the main thread; at exit the
  interpreter first joins non-daemon threads (threading._shutdown), then calls the
  atexit callables;
* listen(2): the kernel completes connections into the accept queue by itself;
  only accept() takes them off;
* prctl(2) PR_SET_CHILD_SUBREAPER: an orphan is re-parented to the harness, which can
  then wait for it and read its status.
"""

from __future__ import annotations

import re
import signal
import time

import pytest

from tests.support import exit_of, run_path, target_toml, write_scenario
from shutdown_probe import load_scenario
from shutdown_probe.results import CaseResult


def run(tmp_path, target: str, *args: str, path: str, stop_timeout: float = 1, app_extra: str = "") -> CaseResult:
    text = target_toml(target, *args, paths=[path], stop_timeout=stop_timeout, app_extra=app_extra)
    return run_path(load_scenario(write_scenario(tmp_path, text)), path)


def pids_of(result: CaseResult) -> dict[str, int]:
    """The pids the target printed itself, "root=PID child=PID", by its own names."""
    m = re.search(r"^root=\d+(?: \w+=\d+)*$", result.output_tail, re.M)
    assert m, result.output_tail
    return {k: int(v) for k, v in (pair.split("=") for pair in m.group(0).split())}


# ----------------------------------------------------------------------- ignored


@pytest.mark.timeout(60)
def test_a_blocked_signal_is_ignored_and_says_blocked(tmp_path):
    result = run(tmp_path, "hang_kinds.py", "block", path="sigterm")
    root = pids_of(result)["root"]

    assert result.outcome == "ignored", (result.outcome, result.error)
    assert result.hang is not None
    assert [(i.pid, i.role, i.signal, i.how) for i in result.hang.ignored] == [(root, "root", "SIGTERM", "blocked")]
    assert result.exit == exit_of(signal.SIGKILL)


@pytest.mark.timeout(60)
def test_a_child_that_inherited_sigint_ignored_makes_ctrl_c_ignored(tmp_path):
    """The root takes its KeyboardInterrupt and waits for its child; the child, which
    got SIGINT from the terminal's group signal too, ignores it."""
    result = run(tmp_path, "hang_kinds.py", "child-ignores", path="ctrl-c")
    pids = pids_of(result)

    assert result.outcome == "ignored", (result.outcome, result.error)
    assert result.hang is not None
    assert [(i.pid, i.signal, i.how) for i in result.hang.ignored] == [(pids["child"], "SIGINT", "ignored")]


# ----------------------------------------------------------------------- hung: where


@pytest.mark.timeout(60)
def test_a_hang_in_an_atexit_callable_is_placed_there(tmp_path):
    result = run(tmp_path, "hang_kinds.py", "atexit", path="sigint")
    root = pids_of(result)["root"]

    assert result.outcome == "hung", (result.outcome, result.error)
    assert result.hang is not None and result.hang.ignored == [] and result.hang.unserved == []
    [stuck] = result.hang.stuck
    assert (stuck.pid, stuck.role, stuck.stage, stuck.hook) == (root, "root", "atexit", "atexit:wait_forever")
    assert stuck.where is not None and stuck.where.endswith("hang_kinds.py:44"), stuck.where
    assert stuck.since_s is not None and 0 <= stuck.since_s < 1


@pytest.mark.timeout(60)
def test_a_hang_joining_a_non_daemon_thread_is_placed_there(tmp_path):
    result = run(tmp_path, "hang_kinds.py", "threads", path="sigint")
    root = pids_of(result)["root"]

    assert result.outcome == "hung", (result.outcome, result.error)
    assert result.hang is not None
    assert [(s.pid, s.stage, s.hook) for s in result.hang.stuck] == [(root, "threads", None)]


@pytest.mark.timeout(60)
def test_a_process_that_never_began_to_shut_down_is_running(tmp_path):
    """The listen target catches SIGTERM and does nothing."""
    result = run(tmp_path, "hang_kinds.py", "listen", path="sigterm",
                 app_extra='env = { PORT = "{port}" }')
    assert result.outcome == "hung"
    assert result.hang is not None
    assert [s.stage for s in result.hang.stuck] == ["running"]


# ----------------------------------------------------------------------- hung: the port


@pytest.mark.timeout(60)
def test_a_port_nothing_accepts_on_is_reported_with_its_holder(tmp_path):
    result = run(tmp_path, "hang_kinds.py", "listen", path="sigterm", app_extra='env = { PORT = "{port}" }')
    root = pids_of(result)["root"]
    [record] = [p for p in result.processes if p.pid == root]

    assert result.outcome == "hung"
    assert result.hang is not None
    [unserved] = result.hang.unserved
    assert record.listening == [unserved.port]
    assert (unserved.pids, unserved.roles) == ([root], ["root"])
    assert unserved.accept_queue >= 1  # the harness's own connection, at least


@pytest.mark.timeout(60)
def test_a_port_still_accepting_is_not_reported(tmp_path):
    result = run(tmp_path, "hang_kinds.py", "listen-accept", path="sigterm", app_extra='env = { PORT = "{port}" }')

    assert result.outcome == "hung"
    assert result.hang is not None and result.hang.unserved == []


# ----------------------------------------------------------------------- orphans followed


@pytest.mark.timeout(60)
def test_an_orphan_is_followed_to_its_exit_and_one_still_running_is_killed(tmp_path):
    result = run(tmp_path, "orphan_fates.py", path="sigkill", stop_timeout=0.5, app_extra="orphan_watch = 4")
    pids = pids_of(result)
    orphans = {o.pid: o for o in result.orphans}

    assert result.outcome == "exited" and result.exit == exit_of(signal.SIGKILL)
    assert set(orphans) == {pids["late"], pids["stays"]}
    late, stays = orphans[pids["late"]], orphans[pids["stays"]]
    # late sleeps 1 s after the root's death, then os._exit(7); the harness, a
    # subreaper, is its parent by then and reads the status
    assert (late.fate, late.killed_by_harness, late.watched_s) == ("exited", False, 4)
    assert late.exit_known and (late.returncode, late.signal) == (7, None)
    assert late.ended_after_s is not None and 1.0 <= late.ended_after_s < 4.5
    assert (stays.fate, stays.killed_by_harness, stays.ended_after_s) == ("running", True, None)
    assert [e.pid for e in result.escalations] == [pids["stays"]]


@pytest.mark.timeout(60)
def test_the_watch_ends_as_soon_as_the_last_orphan_exits(tmp_path):
    start = time.monotonic()
    result = run(tmp_path, "orphan_fates.py", "late-only", path="sigkill", stop_timeout=0.5,
                 app_extra="orphan_watch = 30")
    took = time.monotonic() - start

    [late] = result.orphans
    assert (late.fate, late.returncode, late.killed_by_harness) == ("exited", 7, False)
    assert result.escalations == []
    assert result.duration_s is not None and result.duration_s >= 1.0  # every process ended by itself
    assert took < 20  # not the 30 s watch: the exit woke it


@pytest.mark.timeout(60)
def test_no_watch_kills_the_orphans_at_the_stop_timeout(tmp_path):
    result = run(tmp_path, "orphan_fates.py", path="sigkill", stop_timeout=0.5, app_extra="orphan_watch = 0")

    assert sorted(o.fate or "" for o in result.orphans) == ["running", "running"]
    assert all(o.killed_by_harness and o.watched_s == 0 for o in result.orphans)
