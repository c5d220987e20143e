"""Ready checks: is the app up, so that stopping it now means something?

Every check waits on events: the root's pidfd (an app that exits before it is ready
fails at once, not at the timeout), the output capture (log lines), or connect
attempts with short back-off. None sleeps a fixed time except ``delay``, which is a
user's explicit choice and still ends early if the app dies.
"""

from __future__ import annotations

import os
import re
import socket
import time
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .output import Line, OutputCapture
from .scenario import ReadyCheck
from .waiting import Backoff, Flag, wait_readable

if TYPE_CHECKING:  # requests costs 50 ms to import: only apps checked over HTTP pay it
    import requests


@dataclass
class ReadyOutcome:
    ready: bool
    detail: str  # what made it ready, or why it never was
    elapsed: float


class Interrupted(Exception):
    """The harness was asked to stop while waiting."""


def wait_ready(
    check: ReadyCheck | None,
    *,
    timeout: float,
    root_fd: int | None,
    root_alive,
    capture: OutputCapture,
    log_flag: Flag | None,
    cancel: Flag | None = None,
) -> ReadyOutcome:
    """Wait until ``check`` passes, the root exits, or ``timeout`` runs out.

    ``log_flag`` must have been subscribed to the capture before the app started
    (see :func:`log_watcher`), so no line can slip past.
    """
    start = time.monotonic()
    deadline = start + timeout
    wake = [fd for fd in (root_fd, cancel.fileno() if cancel else None) if fd is not None]

    def gone() -> ReadyOutcome | None:
        if cancel is not None and cancel.is_set():
            raise Interrupted()
        if not root_alive():
            return ReadyOutcome(False, "the app exited before it was ready", time.monotonic() - start)
        return None

    if check is None:
        return gone() or ReadyOutcome(True, "started (no ready check)", 0.0)

    if check.kind == "delay":
        wait_readable(wake, float(check.value))
        return gone() or ReadyOutcome(True, f"after a {check.value} s delay", time.monotonic() - start)

    if check.kind == "log":
        assert log_flag is not None
        while True:
            if log_flag.is_set():
                return ReadyOutcome(True, f"log matched {check.value!r}", time.monotonic() - start)
            failed = gone()
            if failed:
                return failed
            left = deadline - time.monotonic()
            if left <= 0:
                return ReadyOutcome(False, f"no output line matched {check.value!r} within {timeout:g} s",
                                    time.monotonic() - start)
            wait_readable(wake + [log_flag.fileno()], left)

    # A refused connect or a missing file costs microseconds: try again after about a
    # millisecond, backing off to a quarter second for an app that takes its time.
    backoff = Backoff(first=0.001, factor=1.5, cap=0.25)
    last = "not tried"
    with direct_session() if check.kind == "http" else nullcontext() as session:
        probe = {"http": partial(_http_ok, session), "tcp": _tcp_ok, "file": _file_ok}[check.kind]
        while True:
            failed = gone()
            if failed:
                return failed
            left = deadline - time.monotonic()
            if left <= 0:
                return ReadyOutcome(False, f"{check.kind} {check.value} not ready within {timeout:g} s ({last})",
                                    time.monotonic() - start)
            ok, last = probe(str(check.value), min(left, 1.0))
            if ok:
                return ReadyOutcome(True, f"{check.kind} {check.value}: {last}", time.monotonic() - start)
            wait_readable(wake, min(backoff.next(), deadline - time.monotonic()))


def log_watcher(pattern: str, flag: Flag, count: int = 1):
    """A capture subscriber that sets ``flag`` once ``count`` lines matched ``pattern``."""
    regex = re.compile(pattern)
    seen = 0

    def watch(line: Line) -> None:
        nonlocal seen
        if flag.is_set():
            return
        # two processes printing at once can share a line: count every match
        seen += sum(1 for _ in regex.finditer(line.text))
        if seen >= count:
            flag.set()

    return watch


def direct_session() -> requests.Session:
    """A requests session that ignores HTTP_PROXY and friends.

    The app runs on this machine; a proxy from the user's environment cannot reach
    127.0.0.1 of the harness and would turn every check into a ProxyError.
    """
    import requests

    session = requests.Session()
    session.trust_env = False
    return session


def _http_ok(session: requests.Session, url: str, timeout: float) -> tuple[bool, str]:
    import requests

    # While nothing listens, a bare connect says so in microseconds; building and
    # sending a request through requests costs a millisecond.
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname:
        try:
            socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout).close()
        except ConnectionRefusedError:
            return False, "ConnectionError"
        except OSError:
            pass  # let requests try and name the problem
    try:
        # Any HTTP answer means the server accepts and serves requests; a 404 on "/"
        # is still a server that is up.
        resp = session.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return False, type(exc).__name__
    return True, f"HTTP {resp.status_code}"


def _tcp_ok(spec: str, timeout: float) -> tuple[bool, str]:
    host, _, port = spec.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True, "connected"
    except OSError as exc:
        return False, exc.strerror or type(exc).__name__


def _file_ok(path: str, timeout: float) -> tuple[bool, str]:
    return (True, "exists") if os.path.exists(path) else (False, "missing")
