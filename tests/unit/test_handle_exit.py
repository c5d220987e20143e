"""Article 2's unittest suite for ``handle_exit``, as pytest tests.

They run against our implementation in ``scenarios/apps/handle_exit.py``, inside the
pytest process: signals are sent to ourselves with ``os.kill(os.getpid(), ...)``, so
every test runs with the SIGTERM and SIGINT handlers saved and restored.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys

import pytest

from tests.support import SCENARIOS



def _load():
    path = SCENARIOS / "apps" / "handle_exit.py"
    spec = importlib.util.spec_from_file_location("handle_exit_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


he = _load()
handle_exit = he.handle_exit


@pytest.fixture(autouse=True)
def saved_handlers():
    """Each test starts from Python's defaults and gives the process back as it was."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Explicitly Python's default: a SIG_IGN inherited from a shell (`cmd &`) would
    # otherwise turn the SIGINT test into a hang.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    for s, h in saved.items():
        signal.signal(s, h)
    assert he._active is False, "a handle_exit block was left active"


def test_plain_use():
    ran = []
    with handle_exit():
        ran.append("body")
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None)
    assert ran == ["body"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_callback_called_once_on_normal_end():
    calls = []
    with handle_exit(lambda: calls.append("callback")):
        pass
    assert calls == ["callback"]


def test_callback_called_once_when_sigterm_ends_the_block():
    calls = []
    with handle_exit(lambda: calls.append("callback")):
        os.kill(os.getpid(), signal.SIGTERM)
        calls.append("after kill")  # never reached: the handler raised first
    assert calls == ["callback"]


def test_keyboard_interrupt_swallowed():
    calls = []
    try:
        with handle_exit(lambda: calls.append("callback")):
            raise KeyboardInterrupt
    except KeyboardInterrupt:  # a fail, not a stop of the whole pytest session
        pytest.fail("KeyboardInterrupt escaped the handle_exit block")
    assert calls == ["callback"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_self_ends_the_block_cleanly(signum):
    events = []
    try:
        with handle_exit(lambda: events.append("callback")):
            try:
                os.kill(os.getpid(), signum)
                events.append("after kill")  # never reached
            finally:
                events.append("finally")
    except (KeyboardInterrupt, SystemExit) as exc:
        pytest.fail(f"{type(exc).__name__} escaped the handle_exit block")
    # No exception escaped the with; the block's finally ran, then the callback.
    assert events == ["finally", "callback"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_old_handler_still_runs_with_append():
    queue = []
    seen_in_old = []

    def old(signum, frame):
        queue.append("old")
        # Called from the new handler's finally: its SystemExit is already in flight,
        # which shows the old handler runs after the new one.
        seen_in_old.append(sys.exc_info()[0])

    signal.signal(signal.SIGTERM, old)
    with handle_exit(lambda: queue.append("new"), append=True):
        os.kill(os.getpid(), signal.SIGTERM)
        queue.append("after kill")  # never reached
    # The article's order: the old handler, then the new callback.
    assert queue == ["old", "new"]
    assert seen_in_old == [SystemExit]
    assert signal.getsignal(signal.SIGTERM) is old


def test_existing_handler_without_append_is_refused():
    def old(signum, frame):
        pass

    signal.signal(signal.SIGTERM, old)
    body = []
    with pytest.raises(RuntimeError, match="already installed"):
        with handle_exit():
            body.append("ran")
    assert body == []
    assert signal.getsignal(signal.SIGTERM) is old  # untouched


def test_ignored_sigterm_is_not_a_handler():
    """SIG_IGN is a disposition, not someone's handler: no append needed, and put back."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    events = []
    with handle_exit(lambda: events.append("callback")):
        os.kill(os.getpid(), signal.SIGTERM)
        events.append("after kill")
    assert events == ["callback"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_nesting_is_refused():
    outer, inner = [], []
    with handle_exit(lambda: outer.append("callback")):
        installed = signal.getsignal(signal.SIGTERM)
        with pytest.raises(RuntimeError, match="nested"):
            with handle_exit(lambda: inner.append("callback")):
                inner.append("body")
        # The refused inner block changed nothing: the outer handler is still there.
        assert signal.getsignal(signal.SIGTERM) is installed
    assert inner == []
    assert outer == ["callback"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_usable_again_after_a_block():
    calls = []
    for _ in range(2):
        with handle_exit(lambda: calls.append("callback")):
            os.kill(os.getpid(), signal.SIGTERM)
    assert calls == ["callback", "callback"]


@pytest.mark.parametrize("previous", ["SIG_DFL", "SIG_IGN", "python-handler"])
def test_previous_handler_restored_after_exception(previous):
    def old(signum, frame):
        pass

    handler = {"SIG_DFL": signal.SIG_DFL, "SIG_IGN": signal.SIG_IGN, "python-handler": old}[previous]
    signal.signal(signal.SIGTERM, handler)
    calls = []
    with pytest.raises(ValueError, match="boom"):
        with handle_exit(lambda: calls.append("callback"), append=True):
            raise ValueError("boom")
    assert calls == ["callback"]
    assert signal.getsignal(signal.SIGTERM) is handler


def test_previous_handler_restored_when_the_callback_raises():
    def broken():
        raise OSError("callback failed")

    with pytest.raises(OSError, match="callback failed"):
        with handle_exit(broken):
            pass
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("code", [3, "bad config"], ids=["code-3", "message"])
def test_nonzero_system_exit_reraised(code):
    calls = []
    with pytest.raises(SystemExit) as info:
        with handle_exit(lambda: calls.append("callback")):
            sys.exit(code)
    assert info.value.code == code
    assert calls == ["callback"]  # the callback still ran
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("code", [0, None], ids=["exit-0", "exit-none"])
def test_zero_system_exit_swallowed(code):
    calls = []
    with handle_exit(lambda: calls.append("callback")):
        sys.exit(code)
    assert calls == ["callback"]
