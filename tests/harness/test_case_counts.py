"""How many cases a run has (issue 18, item 8): made as they are needed, and bounded.

``run --repeat 1000000000`` built a list of seven billion cases before the first one
started, and ended in MemoryError with a traceback. The cases are now a CaseList that
makes each one when it is needed; a run has at most MAX_CASES of them (every result
is kept for the reports), and asking for more is one line, exit 2.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import pytest

from tests.support import write_scenario
from shutdown_probe import make_scenario
from shutdown_probe.runner import MAX_CASES, TooManyCases, expand_cases, run_cases
from shutdown_probe.waiting import Flag

# The harness under 2 GB of address space: a list of a billion cases cannot hide in it.
LIMITED = ["/bin/sh", "-c", 'ulimit -v 2000000 && exec "$0" "$@"', sys.executable, "-m", "shutdown_probe"]


def _run_limited(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*LIMITED, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args", [
    ["--repeat", "1000000000"],
    ["--repeat", str(MAX_CASES)],  # allowed alone, but 2 paths x 100000 is too many
    ["--repeat", "9" * 5000],
    ["--jobs", "1000000000"],
], ids=["repeat-a-billion", "repeat-x-paths", "repeat-5000-digits", "jobs-a-billion"])
def test_an_absurd_count_is_one_line_and_exit_2(tmp_path, args):
    path = write_scenario(tmp_path, 'paths = ["sigterm", "sigkill"]\n[app]\ncommand = "true"\n')
    done = _run_limited("run", str(path), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.splitlines()
    assert args[0] in line and "Traceback" not in line, line
    assert str(MAX_CASES) in line or "1024" in line, line  # says what the bound is
    assert done.stdout == ""


def test_cases_are_made_when_needed_and_keep_the_order_of_a_list():
    one = make_scenario("one", command=["true"], paths=["sigterm", "sigkill"])
    two = make_scenario("two", command=["true"], paths=["sigint"])
    cases = expand_cases([one, two], repeat=3)
    expected = [(s, p, n) for s, paths in (("one", ["sigterm", "sigkill"]), ("two", ["sigint"]))
                for p in paths for n in (1, 2, 3)]
    assert [(c.scenario.name, c.path.name, c.attempt) for c in cases] == expected
    assert len(cases) == 9
    assert [cases.index(c) for c in cases] == list(range(9))
    assert (cases[-1].id, cases[4].id) == ("two::sigint #3", "one::sigkill #2")
    assert [c.id for c in cases[1:3]] == ["one::sigterm #2", "one::sigterm #3"]
    with pytest.raises(IndexError):
        cases[9]
    # without --repeat, no attempt number
    assert [c.id for c in expand_cases([two])] == ["two::sigint"]


def test_the_largest_run_allowed_costs_no_memory_until_it_runs():
    sc = make_scenario("big", command=["true"], paths=["sigterm", "sigkill"])
    tracemalloc.start()
    try:
        cases = expand_cases([sc], repeat=MAX_CASES // 2)
        assert len(cases) == MAX_CASES
        assert cases[MAX_CASES - 1].attempt == MAX_CASES // 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000, peak  # a list of 100,000 cases alone is several MB
    with pytest.raises(TooManyCases) as info:
        expand_cases([sc], repeat=MAX_CASES // 2 + 1)
    assert "\n" not in str(info.value) and str(MAX_CASES) in str(info.value)


def test_a_long_run_is_scheduled_a_case_at_a_time(tmp_path):
    """--jobs workers take the next case when free: a run of 100,000 cases cancelled
    after its first few never queued the rest (one task per case used to be queued
    up front)."""
    sc = make_scenario("long", command=["true"], paths=["sigkill"])
    cases = expand_cases([sc], repeat=MAX_CASES)
    cancel = Flag()
    started = []

    def on_done(case, result):
        if len(started) >= 3:
            cancel.set()

    tracemalloc.start()
    try:
        results = run_cases(cases, jobs=2, cancel=cancel, on_start=started.append, on_done=on_done)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        cancel.close()
    assert 3 <= len(results.cases) <= 4
    assert [c.attempt for c in results.cases] == sorted(c.attempt for c in results.cases)
    assert len(started) == len(results.cases)
    assert peak < 20_000_000, peak
