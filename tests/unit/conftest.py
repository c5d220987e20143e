"""A unit test starts no process. An audit hook (PEP 578) sees every way Python starts
one (fork, exec, posix_spawn, subprocess, os.system); while a test of this folder runs,
it stops the attempt and the test fails, even if the code under test swallowed the
error. A test that needs a real process belongs in tests/harness/ or tests/faces/."""

from __future__ import annotations

import sys

import pytest

_SPAWNS = frozenset({"os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
                     "subprocess.Popen"})
# Set by _guarded below for one phase of a test; the hook stays installed for
# the life of the process (audit hooks cannot be removed) and does nothing otherwise.
_attempts: list[str] | None = None


class ProcessStarted(BaseException):
    """Not an Exception, so the code under test cannot catch it by accident."""


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _attempts is not None and event in _SPAWNS:
        _attempts.append(f"{event}{args!r:.200}")
        raise ProcessStarted(f"a unit test started a process: {event}")


sys.addaudithook(_audit)


def _guarded():
    """Run one phase of a test (setup, call, teardown) with the hook armed. A phase the
    hook stopped fails with ProcessStarted; one that swallowed it fails here."""
    global _attempts
    _attempts = attempts = []
    try:
        result = yield
    finally:
        _attempts = None
    if attempts:
        pytest.fail(f"a unit test must start no process; it tried: {attempts}", pytrace=False)
    return result


# Hooks of a folder's conftest run for the tests of that folder only.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _guarded())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _guarded())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _guarded())
