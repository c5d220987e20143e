"""Event-driven waiting: block on file descriptors (pidfds, pipes), never sleep blind.

A :class:`Flag` is a ``threading.Event`` that can also be waited on with ``select``
next to pidfds, so one call wakes on "the process exited", "the log line appeared"
or "the harness is being interrupted", whichever comes first.
"""

from __future__ import annotations

import os
import select
import threading


class Flag:
    """A one-shot event backed by a pipe, so it can be selected on."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._closed = False

    def fileno(self) -> int:
        return self._r

    def set(self) -> None:
        with self._lock:
            if self._event.is_set() or self._closed:
                return
            self._event.set()
            os.write(self._w, b"x")

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._r)
                os.close(self._w)


def wait_readable(fds: list[int], timeout: float | None) -> list[int]:
    """The fds among ``fds`` that are readable within ``timeout`` seconds (or [])."""
    if timeout is not None and timeout < 0:
        timeout = 0
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    ms = None if timeout is None else int(timeout * 1000 + 0.999)
    while True:
        try:
            events = poller.poll(ms)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
    return [fd for fd, _ in events]


class Backoff:
    """Delays for retrying a check: short at first, then capped."""

    def __init__(self, first: float = 0.01, factor: float = 1.6, cap: float = 0.25) -> None:
        self.delay = first
        self.factor = factor
        self.cap = cap

    def next(self) -> float:
        d = self.delay
        self.delay = min(self.cap, self.delay * self.factor)
        return d
