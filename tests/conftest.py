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

# pytester drives real inner pytest sessions for the plugin's tests.
pytest_plugins = ["pytester"]

UNIT = Path(__file__).resolve().parent / "unit"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "unit: starts no process, runs in seconds (every test in tests/unit/, given by its folder)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(UNIT):
            item.add_marker(pytest.mark.unit)


def _leftovers() -> list[psutil.Process]:
    me = os.getpid()
    return [p for p in tagged_processes(f"{SESSION}/") if p.pid != me]


def _describe(procs: list[psutil.Process]) -> str:
    out = []
    for p in procs:
        try:
            out.append(f"pid {p.pid}: {' '.join(p.cmdline())}")
        except psutil.Error:
            out.append(f"pid {p.pid}")
    return "; ".join(out)


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
    left = _leftovers()
    if left:
        session.config.stash[_leak_key] = _describe(left)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_leak_key = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = config.stash.get(_leak_key, None)
    if text:
        terminalreporter.write_line(f"LEAK: harness processes alive at the end of the session: {text}", red=True)
