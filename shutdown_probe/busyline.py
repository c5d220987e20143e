"""The app's own word on which process is doing the work: ``[app] busy = { log = REGEX }``.

A worker system without HTTP traffic (a Celery prefork worker, an RQ worker, a job
runner) has no connection in the kernel's socket table to tell which process is
busy, but it usually says so itself: Celery's main process learns which pool child
took a job when the child acknowledges it, and a log format with ``%(process)d``
names the process running a task. The scenario gives a regex whose named group
``pid`` captures that pid; this watcher, subscribed to the output capture before the
app starts, keeps the latest line that matched with a pid.

The latest line the harness has read when a signal trigger chooses its target (just
before the signal) is the evidence: ``to = "busy"`` means the process it names,
``to = "idle"`` a worker other than it (see :mod:`~shutdown_probe.aim`, which also
checks that the pid is a live process of the case: a pid that names nothing of the
case skips it, and nothing outside the case is ever signalled).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import regex

from .output import Line
from .patterns import line_matcher, regex_timeout_note, shown


@dataclass(frozen=True)
class BusyLine:
    """One line naming a busy process: the pid its ``pid`` group captured, and where."""

    pid: int
    stream: str
    number: int
    text: str

    def where(self) -> str:
        """'stderr line 33: '...task accepted by pid 412 (pid 400)'' (the text cut short)."""
        return f"{self.stream} line {self.number}: {shown(self.text.strip(), 120)}"


class BusyWatch:
    """Subscribed to the output capture: the latest line matching ``[app] busy.log``
    whose ``pid`` group holds a whole number."""

    def __init__(self, pattern: regex.Pattern[str]) -> None:
        self.pattern = pattern
        self._match = line_matcher(pattern)
        self._lock = threading.Lock()
        self._latest: BusyLine | None = None
        self._matched = 0
        # set when the regex took too long on a line: it is off for the rest of the case
        self.note: str | None = None

    def __call__(self, line: Line) -> None:
        if self.note is not None:
            return
        try:
            matches = self._match(line.text)
        except TimeoutError:
            with self._lock:
                self.note = regex_timeout_note("app.busy.log", self.pattern, line)
            return
        for m in matches:
            raw = (m.group("pid") or "").strip()
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
                continue  # a match whose pid group is empty or not a number names no process
            with self._lock:
                self._latest = BusyLine(int(raw), line.stream, line.number, line.text)
                self._matched += 1

    def latest(self) -> BusyLine | None:
        """The latest line read so far that named a pid (None: none yet)."""
        with self._lock:
            return self._latest

    def nothing_named(self) -> str:
        """Why no line names the busy process, in words (when :meth:`latest` is None)."""
        with self._lock:
            note = self.note
        if note is not None:
            return f"nothing names the busy process: {note}"
        return (f"no line of the app's output has matched [app] busy.log {shown(self.pattern.pattern)} with a "
                "pid yet, so nothing names the busy process")
