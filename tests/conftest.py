"""Fixtures and hooks for the whole suite. The autouse leak check makes every test
prove it left nothing behind; the ``unit`` marker is given here, by folder.

Helpers that are not fixtures live in tests/support/ (import them from
``tests.support``); nothing imports from a conftest.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from shutdown_probe.processes import tagged_processes
from tests.support import SESSION
from tests.support.bytecode import drop_bytecode, share_bytecode

# pytester drives real inner pytest sessions for the plugin's tests.
pytest_plugins = ["pytester"]

share_bytecode()

UNIT = Path(__file__).resolve().parent / "unit"
# Tests that take 10 s or more alone (measured with --durations), besides the soak
# (marked slow): they start first, so that none is left running alone at the end of a
# parallel run. Only the order changes: a test missing here still runs.
LONG = (
    "tests/scenarios/",  # each module runs whole bundled scenarios
    "tests/faces/test_articles.py::test_the_committed_reports_are_what_the_command_makes_now",
    "tests/faces/test_benchmark.py",
    "tests/faces/test_cli_command.py::test_init_lists_the_child_paths_for_an_app_with_a_child",
    "tests/faces/test_fail_on.py::test_fail_on_fails_a_run_that_expects_nothing",
    "tests/faces/test_typing.py",
    "tests/faces/test_wheel.py",
    "tests/faces/test_pytest_plugin.py::test_the_session_sweeps_what_a_case_left_behind_and_fails",
    "tests/faces/test_pytest_plugin.py::test_xdist_workers_report_one_matrix_in_collection_order",
    "tests/faces/test_tutorial.py",
    "tests/harness/test_fuzz_scenarios.py",
    "tests/harness/test_ports.py::test_a_lease_folder_another_user_filled_with_links_makes_no_file",
    "tests/harness/test_hostile.py::test_floods_of_both_streams_end_cleanly_in_bounded_memory",
    "tests/harness/test_repeats.py::test_runs_that_did_the_same_by_other_children_agree",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "unit: starts no process, runs in seconds (every test in tests/unit/, given by its folder)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(UNIT):
            item.add_marker(pytest.mark.unit)
    # The longest first: xdist hands files out in this order (loadfile), so a long one
    # that came last would run alone at the end while the other workers sit idle. The
    # soak, then the long ones.
    items.sort(key=_start_order)


def _start_order(item: pytest.Item) -> int:
    if item.get_closest_marker("slow"):
        return 0
    if item.nodeid.startswith(LONG):
        return 1
    return 2


def _leftovers(prefix: str = f"{SESSION}/") -> list[psutil.Process]:
    me = os.getpid()
    return [p for p in tagged_processes(prefix) if p.pid != me]


def _describe(procs: list[psutil.Process]) -> str:
    out = []
    for p in procs:
        try:
            out.append(f"pid {p.pid}: {' '.join(p.cmdline())}")
        except psutil.Error:
            out.append(f"pid {p.pid}")
    return "; ".join(out)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester's, for an inner session that is no xdist worker even when this one is:
    it would inherit PYTEST_XDIST_WORKER, and a plugin installed beside pytest that reads
    it (pytest-benchmark: "automatically disabled because xdist plugin is active", a
    warning this session's filters make an error) would act as if it ran in one."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID", raising=False)
    return pytester


@pytest.fixture(autouse=True)
def no_leaked_processes():
    """Fail the test if any process started by the harness is still alive after it."""
    yield
    left = _leftovers()
    if left:
        text = _describe(left)
        for p in left:  # do not let one leak poison the next tests
            try:
                p.kill()
            except psutil.Error:
                pass
        pytest.fail(f"processes started by the harness were left alive: {text}", pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    # Under xdist this runs in the controller once every worker is done (a worker's
    # exit status does not reach the run's), so it checks every worker's tag too.
    # (its tag is the start of theirs: tests/support/session.py).
    left = _leftovers(f"{SESSION}/" if os.environ.get("PYTEST_XDIST_WORKER") else SESSION)
    if left:
        session.config.stash[_leak_key] = _describe(left)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_leak_key = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    drop_bytecode()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = config.stash.get(_leak_key, None)
    if text:
        terminalreporter.write_line(f"LEAK: harness processes alive at the end of the session: {text}", red=True)
