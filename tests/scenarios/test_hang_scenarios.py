"""The bundled scenarios for issue 21's split of "hung" and its orphans followed to
their end, against what was measured by hand (reports/measured-by-hand.md: "Orphaned
pool workers" and "A job that ignores SIGTERM").

* process_pool_executor.toml: after kill -9 (or an unhandled SIGTERM) on the main
  process, the Pool worker finishes its task and exits with status 1 about 3 s later
  (a 3 s task by hand, 4 s here); the ProcessPoolExecutor worker finishes its task
  and never exits.
* stubborn_job.toml: SIGTERM is SIG_IGN (SigIgn bit 15 by hand); SIGINT ends the work
  loop, then the atexit callable waits for ever.
"""

from __future__ import annotations

import re
import sys

import pytest

from tests.support import SCENARIOS
from shutdown_probe import expand_cases, load_scenario, run_cases

TASK_SECONDS = 4  # process_pool_executor.toml's env


def run(name: str) -> dict:
    results = run_cases(expand_cases([load_scenario(SCENARIOS / name)]), jobs=2)
    return {c.path: c for c in results.cases}


@pytest.fixture(scope="module")
def pools():
    return run("process_pool_executor.toml")


@pytest.fixture(scope="module")
def job():
    return run("stubborn_job.toml")


def test_every_declared_expectation_held(pools, job):
    for cases in (pools, job):
        for case in cases.values():
            assert case.expect.declared and case.expect.passed, (case.scenario, case.path, case.expect.failures)
    assert (len(pools), len(job)) == (3, 4)


def printed_pid(case, text: str) -> int:
    """The pid the app printed with ``text`` (its own line, not the harness's)."""
    m = re.search(rf"^{text} \(pid (\d+)\)$", case.output_tail, re.M)
    assert m, case.output_tail
    return int(m.group(1))


@pytest.mark.parametrize("path", ["sigkill", "sigterm"])
def test_the_pool_worker_exits_after_its_task_the_executor_worker_never(pools, path):
    case = pools[path]
    orphans = {o.pid: o for o in case.orphans}
    pool, executor = printed_pid(case, "pool task started"), printed_pid(case, "executor task started")
    assert set(orphans) == {pool, executor}

    ended = orphans[pool]
    assert (ended.fate, ended.killed_by_harness) == ("exited", False)
    assert ended.exit_known and (ended.returncode, ended.signal) == (1, None)  # BrokenPipeError, by hand
    # its task started before the trigger and lasts TASK_SECONDS: it ends within them
    assert ended.ended_after_s is not None and 2 < ended.ended_after_s < TASK_SECONDS + 1

    stays = orphans[executor]
    assert (stays.fate, stays.killed_by_harness, stays.ended_after_s) == ("running", True, None)
    assert "executor task done" in case.output_tail  # it did finish its task first
    assert [e.pid for e in case.escalations] == [executor]


def test_sigterm_ignored_names_the_process_and_the_signal(job):
    case = job["sigterm"]
    root = next(p for p in case.processes if p.role == "root")
    assert case.outcome == "ignored"
    assert case.hang is not None
    assert [(i.pid, i.signal, i.how) for i in case.hang.ignored] == [(root.pid, "SIGTERM", "ignored")]
    assert printed_pid(case, "job running") == root.pid


def test_sigint_hangs_in_the_atexit_flush_and_says_where(job):
    case = job["sigint"]
    root = next(p for p in case.processes if p.role == "root")
    assert case.outcome == "hung" and case.hang is not None and case.hang.ignored == []
    [stuck] = case.hang.stuck
    assert (stuck.pid, stuck.stage, stuck.hook) == (root.pid, "atexit", "atexit:flush_results")
    # the hook's place is where atexit.register was called: as a decorator, CPython 3.11
    # and later give the decorator's line, 3.10 the def line below it
    source = (SCENARIOS / "apps" / "stubborn_job.py").read_text().splitlines()
    decorator = source.index("@atexit.register") + 1
    line = decorator if sys.version_info >= (3, 11) else decorator + 1
    assert stuck.where is not None and stuck.where.endswith(f"stubborn_job.py:{line}")
