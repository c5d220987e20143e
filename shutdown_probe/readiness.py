"""Ready checks: is the app up, so that stopping it now means something?

Every check waits on events: the root's pidfd (an app that exits before it is ready
fails at once, not at the timeout), the output capture (log lines), or connect
attempts with short back-off. None sleeps a fixed time except ``delay``, which is a
user's explicit choice and still ends early if the app dies.
"""

from __future__ import annotations

import os
import socket
import time
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from .output import Line, OutputCapture
from .patterns import line_matcher, quoted, regex_timeout_note
from .procnet import listening_ports, server_sockets
from .scenario import ReadyCheck
from .waiting import Backoff, Flag, wait_readable

if TYPE_CHECKING:  # requests costs 50 ms to import: only apps checked over HTTP pay it
    import requests

# How long a log ready check waits, once the app has exited, for the reader to hand out
# what the app wrote before it (microseconds of work, unless the machine starves it)
CATCH_UP_S = 5.0


@dataclass
class ReadyOutcome:
    ready: bool
    detail: str  # what made it ready, or why it never was
    elapsed: float
    served: str | None = None  # listening: HOST:PORT a process of the app took a connection on


class Interrupted(Exception):
    """The harness was asked to stop while waiting."""


def wait_ready(
    check: ReadyCheck | None,
    *,
    timeout: float,
    root_fd: int | None,
    root_alive: Callable[[], bool],
    capture: OutputCapture,
    log_watch: LogWatcher | None,
    cancel: Flag | None = None,
    who: str = "the app",
    tree_pids: Callable[[], list[int]] | None = None,
    quiet_watch: QuietWatch | None = None,
) -> ReadyOutcome:
    """Wait until ``check`` passes, the root exits, or ``timeout`` runs out.

    ``log_watch`` must have been subscribed to the capture before the app started,
    so no line can slip past. ``who`` names what is waited for in the outcome's
    words ("the app", "service 'redis'"). ``tree_pids`` lists the app's processes
    (``listening``); ``quiet_watch``, subscribed like ``log_watch``, says when the
    last line came (``quiet``, and ``listening`` with ``quiet``).
    """
    start = time.monotonic()
    deadline = start + timeout
    wake = [fd for fd in (root_fd, cancel.fileno() if cancel else None) if fd is not None]

    def gone() -> ReadyOutcome | None:
        if cancel is not None and cancel.is_set():
            raise Interrupted()
        if not root_alive():
            return ReadyOutcome(False, f"{who} exited before it was ready", time.monotonic() - start)
        return None

    if check is None:
        return gone() or ReadyOutcome(True, "started (no ready check)", 0.0)

    if check.kind == "delay":
        wait_readable(wake, float(check.value))
        return gone() or ReadyOutcome(True, f"after a {check.value} s delay", time.monotonic() - start)

    if check.kind in ("listening", "quiet"):
        return _wait_own(check, deadline, start, timeout, wake, gone, tree_pids, quiet_watch)

    if check.kind == "log":
        assert log_watch is not None
        return _wait_log(check, log_watch, capture, deadline, start, timeout, wake, gone)

    # A refused connect or a missing file costs microseconds: try again after about a
    # millisecond, backing off to a quarter second for an app that takes its time.
    backoff = Backoff(first=0.001, factor=1.5, cap=0.25)
    last = "not tried"
    with direct_session() if check.kind == "http" else nullcontext() as session:
        probe: Callable[[str, float], tuple[bool, str]]
        if session is not None:
            probe = partial(_http_ok, session)
        else:
            probe = _tcp_ok if check.kind == "tcp" else _file_ok
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


def _wait_log(check: ReadyCheck, log_watch: LogWatcher, capture: OutputCapture, deadline: float, start: float,
              timeout: float, wake: list[int], gone: Callable[[], ReadyOutcome | None]) -> ReadyOutcome:
    """``log``: until ``log_watch`` has seen its lines, the app is gone, or the deadline."""
    while True:
        if log_watch.flag.is_set():
            if log_watch.note is not None:  # the regex was turned off: it can never match now
                return ReadyOutcome(False, log_watch.note, time.monotonic() - start)
            return ReadyOutcome(True, f"log matched {quoted(str(check.value))}", time.monotonic() - start)
        failed = gone()
        if failed:
            # the app may have printed its line just before it exited, and the reader
            # not have got to it yet: read what was written first
            read_all = capture.caught_up(capture.position(), CATCH_UP_S)
            if log_watch.flag.is_set():
                continue  # judged at the top of the loop
            if not read_all:
                failed.detail += f" (what it wrote last was not all read within {CATCH_UP_S:g} s)"
            return failed
        left = deadline - time.monotonic()
        if left <= 0:
            return ReadyOutcome(False, f"no output line matched {quoted(str(check.value))} within {timeout:g} s",
                                time.monotonic() - start)
        wait_readable(wake + [log_watch.flag.fileno()], left)


def _wait_own(check: ReadyCheck, deadline: float, start: float, timeout: float, wake: list[int],
              gone: Callable[[], ReadyOutcome | None], tree_pids: Callable[[], list[int]] | None,
              quiet_watch: QuietWatch | None) -> ReadyOutcome:
    """``listening`` (and its ``quiet``) and ``quiet``: the checks that watch the app's
    own processes and output rather than a place the scenario names."""
    quiet = float(check.value) if check.kind == "quiet" else check.quiet
    backoff = Backoff(first=0.002, factor=1.5, cap=0.25)
    while True:
        failed = gone()
        if failed:
            return failed
        now = time.monotonic()
        if check.kind == "listening" and tree_pids is not None:
            ports = listening_ports(tree_pids())
            found = sorted((port, pid) for pid, held in ports.items() for port in held)
            if found:
                port, pid = found[0]
                return _served(port, pid, deadline, start, timeout, wake, gone)
        quiet_at = None
        if quiet is not None and quiet_watch is not None:
            quiet_at = max(quiet_watch.last, start) + quiet
            if now >= quiet_at:
                return ReadyOutcome(True, f"no output for {quiet:g} s", now - start)
        if now >= deadline:
            what = "no process of it listened on a TCP port" if check.kind == "listening" else "its output never paused"
            tail = f" (nor went {quiet:g} s without output)" if check.kind == "listening" and quiet else ""
            return ReadyOutcome(False, f"{what} within {timeout:g} s{tail}", now - start)
        until = [deadline] + ([quiet_at] if quiet_at is not None else [])
        if check.kind == "listening":
            until.append(now + backoff.next())
        wait_readable(wake, max(0.0, min(until) - now))


def _served(port: int, pid: int, deadline: float, start: float, timeout: float, wake: list[int],
            gone: Callable[[], ReadyOutcome | None]) -> ReadyOutcome:
    """Ready once a process takes a connection to ``port`` off the accept queue: a
    listening socket alone says the app bound its port, not that it serves (the
    Werkzeug reloader's parent binds before it sets its handlers and starts the child
    that serves). A port nothing on the loopback can reach counts as ready by itself."""
    listens = f"pid {pid} listens on TCP port {port}"
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
            try:
                conn.connect((host, port))
            except OSError:
                continue
            mine = conn.getsockname()[1]
            backoff = Backoff(first=0.001, factor=1.5, cap=0.1)
            while True:
                rows = [r for r in server_sockets(port) if r.remote_port == mine and r.state == _ESTABLISHED]
                if not rows or rows[0].inode != 0:  # taken off the queue (or closed by the app)
                    return ReadyOutcome(True, f"{listens}, and a process took a connection to it",
                                        time.monotonic() - start, f"{host}:{port}" if ":" not in host
                                        else f"[{host}]:{port}")
                failed = gone()
                if failed:
                    return failed
                if time.monotonic() >= deadline:
                    return ReadyOutcome(False, f"{listens}, but no process took a connection to it within "
                                               f"{timeout:g} s", time.monotonic() - start)
                wait_readable(wake, min(backoff.next(), max(0.0, deadline - time.monotonic())))
    return ReadyOutcome(True, f"{listens} (not on the loopback: not connected to)", time.monotonic() - start)


_ESTABLISHED = "01"  # /proc/net/tcp's state of a connection


class QuietWatch:
    """A capture subscriber that keeps the time of the latest line (``quiet`` ready checks)."""

    def __init__(self) -> None:
        self.last = 0.0  # time.monotonic() of the latest line; 0: none yet

    def __call__(self, line: Line) -> None:
        self.last = max(self.last, line.t)


class LogWatcher:
    """A capture subscriber that sets ``flag`` once ``count`` lines matched ``regex``
    (the compiled ``ReadyCheck.regex``; two processes printing at once can share a
    line, so every match counts).

    A match that takes longer than ``REGEX_TIMEOUT`` turns the regex off for the case:
    ``note`` says why and the flag is set, so :func:`wait_ready` reports the app not
    ready at once rather than at the timeout. :meth:`close` releases the flag's pipe.
    """

    def __init__(self, regex: Any, count: int = 1) -> None:
        self.regex = regex
        self.count = count
        self.flag = Flag()
        self.note: str | None = None
        self._match = line_matcher(regex)
        self._seen = 0

    def __call__(self, line: Line) -> None:
        if self.flag.is_set():
            return
        try:
            self._seen += len(self._match(line.text))
        except TimeoutError:
            self.note = regex_timeout_note("app.ready.log", self.regex, line)
            self.flag.set()
            return
        if self._seen >= self.count:
            self.flag.set()

    def close(self) -> None:
        self.flag.close()


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
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # the loader checks URLs; never let one end the harness
        return False, f"invalid URL: {exc}"
    if parts.scheme == "http" and host:
        try:
            socket.create_connection((host, port or 80), timeout=timeout).close()
        except ConnectionRefusedError:
            return False, "ConnectionError"
        except (OSError, ValueError):  # ValueError: a host name IDNA cannot encode
            pass  # let requests try and name the problem
    try:
        # Any HTTP answer means the server accepts and serves requests; a 404 on "/"
        # is still a server that is up.
        resp = session.get(url, timeout=timeout, allow_redirects=False)
    except (requests.RequestException, ValueError) as exc:  # ValueError: a URL it cannot encode
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
    except (ValueError, OverflowError) as exc:  # a host IDNA cannot encode, a port out of range
        return False, f"{type(exc).__name__}: {exc}"


def _file_ok(path: str, timeout: float) -> tuple[bool, str]:
    return (True, "exists") if os.path.exists(path) else (False, "missing")
