"""The one interrupt policy (shutdown_probe.interrupts), as each face configures it.

The pytest face's settings are pinned in test_pytest_plugin.py (a third signal gives
up, a first one between cases is a KeyboardInterrupt); these pin the CLI's, whose main
thread only waits on a thread running the cases, and what both share: handlers given
back as they were, signals only counted while the reports are written.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from shutdown_probe.interrupts import Interruption


@pytest.fixture
def cli_policy():
    """The CLI's settings, installed in this process and taken back after."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stop = Interruption(give_up_after=None, take_ignored=True)
    stop.install()
    try:
        yield stop
    finally:
        stop.running = 0
        stop.uninstall()
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_a_run_on_a_thread_returns_its_value_or_raises_its_error(cli_policy):
    assert cli_policy.wait_on_thread(lambda cancel: "done") == "done"
    with pytest.raises(ZeroDivisionError):
        cli_policy.wait_on_thread(lambda cancel: 1 // 0)
    assert cli_policy.signum is None and cli_policy.running == 0


def test_a_first_signal_cancels_the_run_and_waits_for_its_cases_to_report(cli_policy):
    reported = threading.Event()

    def cases(cancel):
        os.kill(os.getpid(), signal.SIGTERM)  # as from outside: the main thread takes it
        assert cancel.wait(10), "the first signal sets the cancel flag"
        reported.set()  # a cut case reports, then the run ends
        return "not used"

    assert cli_policy.wait_on_thread(cases, patience=30) is None
    assert reported.is_set(), "the waiting thread gave the cut cases time to report"
    assert (cli_policy.signum, cli_policy.count, cli_policy.hurried.is_set()) == (signal.SIGTERM, 1, False)


def test_a_second_signal_stops_the_waiting_and_no_signal_ever_gives_up(cli_policy):
    release = threading.Event()

    def stubborn(cancel):
        os.kill(os.getpid(), signal.SIGINT)  # as from outside: the main thread takes it
        assert cancel.wait(10)
        os.kill(os.getpid(), signal.SIGINT)  # hurry: do not wait for this case
        release.wait(30)  # a case that is slow to report

    thread_count = threading.active_count()
    try:
        assert cli_policy.wait_on_thread(stubborn, patience=30) is None
        assert cli_policy.hurried.is_set() and not release.is_set()
        assert cli_policy.running == 1, "the case still ending keeps the cancel flag open"
        signal.raise_signal(signal.SIGINT)  # a third: counted, never a KeyboardInterrupt
        cli_policy.finishing = True
        signal.raise_signal(signal.SIGTERM)  # the reports are being written
        assert (cli_policy.signum, cli_policy.count) == (signal.SIGINT, 4)
    finally:
        release.set()
    for thread in threading.enumerate():
        if thread.name == "shutdown-probe-run":
            thread.join(10)
    assert threading.active_count() <= thread_count


def test_a_signal_ignored_on_purpose_is_taken_only_by_the_cli():
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        pytest_face = Interruption()  # the plugin's defaults
        pytest_face.install()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        pytest_face.uninstall()
        cli = Interruption(give_up_after=None, take_ignored=True)
        cli.install()
        assert signal.getsignal(signal.SIGTERM) == cli._on_signal
        cli.uninstall()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)


def test_the_repr_says_the_state():
    stop = Interruption()
    assert repr(stop) == "<Interruption not interrupted, 0 signal(s), 0 running>"
    stop.signum, stop.count = signal.SIGTERM, 2
    assert repr(stop) == "<Interruption interrupted by SIGTERM, 2 signal(s), 0 running>"
