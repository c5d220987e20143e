"""Hook detectors: turn what the app left behind into "this hook ran".

A log hook is proven by an output line matching its regex written *after the trigger*
(a match before the trigger is reported but does not count: it cannot be shutdown
work). "Before" is decided by byte position in the stream, not by when the harness
read the line, so a reader that lags behind cannot turn a startup line into evidence. A
file hook is proven by a sentinel that exists after the case and was created or
modified after the trigger.

A log regex that takes longer than ``REGEX_TIMEOUT`` on a line is turned off for the
rest of the case: the hook is then unobserved from that line on, and its result says so
(``observed`` is false and its evidence starts with :data:`UNOBSERVED`;
:attr:`LogHookDetector.note` has the line for the case).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import regex

from .output import Line
from .reading import describe_kind
from .results import UNOBSERVED, HookOrder, HookResult, OrderPair, UnknownOrder
from .patterns import line_matcher, quoted, regex_timeout_note
from .scenario import HookSpec

MAX_MATCHES = 50


@dataclass
class _Match:
    line: Line
    pid: int | None


@dataclass
class LogHookDetector:
    """Subscribed to the output capture before the app starts."""

    spec: HookSpec
    trigger_t: float | None = None  # monotonic time of the trigger, once fired
    mark: dict[str, int] | None = None  # bytes written per stream at the trigger
    # Before arming, the latest matches: at arm time those past the mark move to after.
    before: deque[_Match] = field(default_factory=lambda: deque(maxlen=MAX_MATCHES))
    after: list[_Match] = field(default_factory=list)
    # the first line after the trigger that matched, per stream (kept when ``after``
    # is full): where the hook's first evidence lies in each pipe, for the order
    firsts: dict[str, Line] = field(default_factory=dict)
    # set when the regex took too long on a line and was turned off: one line that says
    # so, for the case (the runner adds it to the case's error)
    note: str | None = None
    gave_up_on: Line | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # the spec's regex (a detector is made only for a hook with one), and its matcher
    pattern: regex.Pattern[str] = field(init=False, repr=False)
    _match: Callable[[str], list[regex.Match[str]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        assert self.spec.log is not None, self.spec
        self.pattern = self.spec.log
        self._match = line_matcher(self.pattern)

    def __call__(self, line: Line) -> None:
        if self.note is not None:
            return
        try:
            # Every match, not just the first: print() writes the text and the newline
            # in two calls, so two processes printing at once can share one line.
            matches = self._match(line.text)
        except TimeoutError:
            with self._lock:
                self.gave_up_on = line
                self.note = regex_timeout_note(f"hooks.{self.spec.name}.log", self.pattern, line)
            return
        for m in matches:
            pid = None
            if "pid" in self.pattern.groupindex and m.group("pid"):
                try:
                    pid = int(m.group("pid"))
                except ValueError:
                    pid = None
            with self._lock:
                if self.mark is None or line.end <= self.mark.get(line.stream, 0):
                    self.before.append(_Match(line, pid))
                    continue
                self.firsts.setdefault(line.stream, line)
                if len(self.after) < MAX_MATCHES:
                    self.after.append(_Match(line, pid))

    def arm(self, trigger_t: float, mark: dict[str, int]) -> None:
        with self._lock:
            self.trigger_t = trigger_t
            self.mark = mark
            # Lines read between taking the mark and arming, yet written after it.
            late = [m for m in self.before if m.line.end > mark.get(m.line.stream, 0)]
            for m in late:
                self.before.remove(m)
                first = self.firsts.get(m.line.stream)
                if first is None or m.line.end < first.end:
                    self.firsts[m.line.stream] = m.line
            self.after[:0] = late

    def first_seen(self) -> tuple[float, int] | None:
        """When the first evidence appeared: (monotonic time, line number) for ordering."""
        with self._lock:
            return (self.after[0].line.t, self.after[0].line.number) if self.after else None

    def points(self) -> list[_Point] | None:
        """Its first evidence in each stream, for ordering: the line's place in the pipe."""
        with self._lock:
            firsts = dict(self.firsts)
        return [_Point(stream, stream, line.end, f"the same line ({stream} line {line.number})")
                for stream, line in sorted(firsts.items())] or None

    def result(self, roles: dict[int, str], pid_map: dict[int, int] | None = None) -> HookResult:
        """``pid_map`` turns the pids an app prints inside a PID namespace into ours."""
        with self._lock:
            after, before, note, gave_up_on = list(self.after), list(self.before), self.note, self.gave_up_on
        if note is not None and not after:
            # ran is false for want of evidence, not because the hook did not run
            return HookResult(False, f"{UNOBSERVED}: {note}", observed=False)
        if not after:
            if before:
                first = before[-1].line
                return HookResult(False, f"no match after the trigger (only before it, {first.stream} "
                                         f"line {first.number}: {first.text.strip()[:120]})")
            return HookResult(False, f"no output line matched {quoted(self.pattern.pattern)}")
        first = after[0].line
        pids = sorted({(pid_map or {}).get(m.pid, m.pid) for m in after if m.pid is not None})
        later = ""
        if gave_up_on is not None:  # it ran; which processes and how often may be incomplete
            later = (f" (lines from {gave_up_on.stream} line {gave_up_on.number} on were not checked: "
                     "the regex took too long)")
        return HookResult(
            True,
            f"{first.stream} line {first.number}: {first.text.strip()[:200]}{later}",
            pids=pids,
            roles=[roles.get(p, "unknown") for p in pids],
            # when the harness read it: late by the reader's lag, if any
            at_s=round(max(0.0, first.t - (self.trigger_t or first.t)), 4),
            matches=len(after),
        )


class FileHookDetector:
    """A sentinel file the app writes. Only a regular file counts: the path is never
    followed or opened, only ``lstat``-ed, so a FIFO cannot block the harness and a
    symbolic link to a file that existed anyway (``/etc/passwd``) proves nothing; the
    evidence then says what the path is, with the link's own time and target."""

    def __init__(self, spec: HookSpec, path: str) -> None:
        self.spec = spec
        self.path = path
        self._before: os.stat_result | None = None
        self._trigger_wall: float | None = None
        self._trigger_t = 0.0

    def first_seen(self) -> tuple[float, int] | None:
        """Whether (and about when, on the monotonic clock) the sentinel proved the hook ran."""
        st, _, _ = self._observe()
        if st is None or self._trigger_wall is None:
            return None
        return (self._trigger_t + (st.st_mtime - self._trigger_wall), 0)

    def _stat(self) -> os.stat_result | None:
        try:
            return os.lstat(self.path)
        except OSError:
            return None

    def _untouched(self, st: os.stat_result) -> bool:
        before = self._before
        return (before is not None and (st.st_ino, st.st_mode, st.st_mtime_ns)
                == (before.st_ino, before.st_mode, before.st_mtime_ns))

    def _observe(self) -> tuple[os.stat_result | None, str, bool]:
        """The sentinel's lstat when it proves the hook ran, else None and why not; and
        whether the path could tell (False: something changed it, but not into proof)."""
        st = self._stat()
        if st is None:
            return None, f"sentinel {self.path} does not exist", True
        if not stat.S_ISREG(st.st_mode):
            return None, self._not_regular(st), self._untouched(st)
        if self._untouched(st):
            return None, f"sentinel {self.path} existed before the trigger and was not touched", True
        return st, "", True

    def _not_regular(self, st: os.stat_result) -> str:
        what = describe_kind(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            try:
                to = os.readlink(self.path)
            except OSError:
                to = "?"
            what += f" to {ascii(to[:200])}"
        if self._untouched(st):
            return f"sentinel {self.path} is {what}, there before the trigger and not changed"
        when = ""
        if self._trigger_wall is not None:  # the path's own time, not what it points to
            when = f" (itself made or changed {max(0.0, st.st_mtime - self._trigger_wall):.3f} s after the trigger)"
        # made during the shutdown, so something ran; but not the regular file that
        # counts as proof, so "not run" cannot be claimed either
        return f"{UNOBSERVED}: sentinel {self.path} is {what}{when}, not a regular file, so it is not counted"

    def arm(self, trigger_t: float, mark: dict[str, int] | None = None) -> None:
        self._trigger_t = trigger_t
        self._trigger_wall = time.time() - (time.monotonic() - trigger_t)
        self._before = self._stat()

    def result(self, roles: dict[int, str]) -> HookResult:
        st, why_not, observed = self._observe()
        if st is None:
            return HookResult(False, why_not, observed=observed)
        at = None
        if self._trigger_wall is not None:
            at = round(max(0.0, st.st_mtime - self._trigger_wall), 4)
        return HookResult(True, f"sentinel {self.path} ({st.st_size} bytes)", at_s=at, matches=1)

    def points(self) -> list[_Point] | None:
        """Its evidence on a clock, for ordering: its modification time on its file system,
        which is its LAST write: a hook that created the file early and wrote it again
        later is placed at the later write (Python 3.11 has no statx for a birth time)."""
        st, _, _ = self._observe()
        if st is None:
            return None
        return [_Point(FILE_CLOCK, st.st_dev, st.st_mtime_ns, "the same last-write time")]


# ---------------------------------------------------------------- order

# named for what it orders by: a sentinel's last write, not its first appearance
FILE_CLOCK = "last-write times"
# what each clock times, for the reason two hooks on different clocks are not ordered
_CLOCK_WORDS = {"stdout": "a line's place in stdout", "stderr": "a line's place in stderr",
                FILE_CLOCK: "a sentinel's last-write time"}


@dataclass(frozen=True)
class _Point:
    """A hook's first evidence as one clock saw it. Two points are ordered only when
    they share ``clock`` and ``domain`` (the stream; the file system)."""

    clock: str
    domain: object
    at: int  # the byte offset just past the line; the modification time in ns
    tie: str  # why two equal points cannot be ordered, in words


def _precedes(xs: list[_Point], ys: list[_Point]) -> _Point | None:
    """A point of ``xs`` that one clock saw before every point of ``ys``, if any: then
    the first evidence of ``xs`` came before the first of ``ys``."""
    for x in xs:
        if all((y.clock, y.domain) == (x.clock, x.domain) and x.at < y.at for y in ys):
            return x
    return None


def _why_unknown(xs: list[_Point], ys: list[_Point]) -> str:
    for x in xs:
        for y in ys:
            if (x.clock, x.domain, x.at) == (y.clock, y.domain, y.at):
                return x.tie
    clocks = sorted({p.clock for p in (*xs, *ys)})
    if clocks == [FILE_CLOCK]:
        return "sentinels on different file systems"
    if len(clocks) == 1:  # one stream, but a hook has evidence elsewhere too
        return "their evidence is spread over more than one clock"
    return "different clocks: " + " and ".join(_CLOCK_WORDS.get(c, c) for c in clocks)


def observed_order(detectors: dict[str, LogHookDetector | FileHookDetector]) -> HookOrder:
    """What one clock saw of the order in which the hooks' first evidence appeared.

    A line's place in its stream is exact (a pipe keeps the order of writes, however
    late it is read) and so is the order of two different modification times on one
    file system; nothing else is compared: a pipe is read late by an amount nobody
    knows, and a file time lags by up to a clock tick. ``detectors`` come in
    declaration order, which orders the listing where nothing was observed.
    """
    points: dict[str, list[_Point]] = {}
    blind: dict[str, str] = {}  # hooks that ran but whose first evidence may be unseen
    for name, det in detectors.items():
        got = det.points()
        if got:
            points[name] = got
            if isinstance(det, LogHookDetector) and det.gave_up_on is not None:
                blind[name] = f"the regex of {name} was turned off, so its first evidence may be unseen"
    names = list(points)
    known: list[OrderPair] = []
    unknown: list[UnknownOrder] = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if a in blind or b in blind:
                unknown.append(UnknownOrder([a, b], blind.get(a) or blind[b]))
            elif (x := _precedes(points[a], points[b])) is not None:
                known.append(OrderPair(a, b, x.clock))
            elif (y := _precedes(points[b], points[a])) is not None:
                known.append(OrderPair(b, a, y.clock))
            else:
                unknown.append(UnknownOrder([a, b], _why_unknown(points[a], points[b])))
    # a listing that keeps every known pair, else the declaration order
    after = {n: {p.then for p in known if p.first == n} for n in names}
    listing: list[str] = []
    left = list(names)
    while left:
        pick = next(n for n in left if not any(n in after[m] for m in left))
        listing.append(pick)
        left.remove(pick)
    return HookOrder(listing, known, unknown)
