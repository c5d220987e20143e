"""Reading a target's stdout and stderr continuously.

One thread per case drains both pipes with ``select`` so an app that writes megabytes
never blocks on a full pipe. Every complete line is timestamped on the monotonic clock,
carries its byte offset in its stream, and is handed to the subscribers (hook
detectors, the log ready check); only a bounded tail is kept for the report.

The reader holds the pipe's writer back (a full pipe blocks it), so its speed is the
app's: a shutdown that prints a million short lines must not look hung because the
harness spent microseconds of Python on each. A subscriber that only cares about
lines matching a regex says so (``subscribe(fn, pattern)``); each chunk read is then
searched once, in C, and only the lines the regex can match become Line objects for
it.

Byte offsets answer "was this written before the trigger?" exactly: :meth:`position`
is everything written to each pipe so far (read, plus still unread in the pipe), so
a line ending at or before it was written before, however late the reader gets to it.
"""

from __future__ import annotations

import _thread
import fcntl
import os
import re
import struct
import termios
import threading
import time
from collections import deque
from itertools import accumulate
from typing import Callable, Iterable, NamedTuple

import regex as regexmod

from . import patterns
from .results import STDERR_MARK
from .waiting import Flag, wait_readable

# A "line" longer than this is cut into pieces (at a UTF-8 character boundary, so
# up to 3 bytes shorter): a flood without newlines must not grow memory without bound.
MAX_LINE = 64 * 1024
TAIL_LINES = 60
# A chunk whose lines are shorter than this on average is searched whole for the
# subscribers' regexes; longer lines are handed out one by one.
SHORT_LINE = 256
TAIL_LINE_CHARS = 400


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD)."""
    try:
        buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    unread: int = struct.unpack("i", buf)[0]
    return unread


def _cut(buf: bytearray) -> int:
    """Where to cut a line longer than MAX_LINE: at MAX_LINE, or up to 3 bytes before
    it so that a UTF-8 character is not split in two (each half would decode to
    U+FFFD). ``buf[cut]``, the first byte of the next piece, must not be a UTF-8
    continuation byte (0b10xxxxxx); bytes that are not UTF-8 are cut at MAX_LINE."""
    for cut in range(MAX_LINE, MAX_LINE - 4, -1):
        if buf[cut] & 0xC0 != 0x80:
            return cut
    return MAX_LINE


class Line(NamedTuple):
    """One line of a stream (a tuple: a flood makes millions of them)."""

    stream: str  # "stdout" or "stderr"
    number: int  # 1-based, per stream
    text: str
    t: float  # time.monotonic() when it was read
    end: int = 0  # byte offset in its stream just past the line (and its newline)


Subscriber = Callable[[Line], None]

# Searching a whole chunk at once finds every line a regex matches on its own if the
# regex cannot tell the two apart: with MULTILINE, ^ and $ match at each line's ends
# as they do at a lone line's. What looks past the line's ends differently does not
# qualify (\A, \Z, negative lookarounds, which see the neighbouring "\n", and
# conditionals): such a subscriber is given every line.
_NOT_PREFILTERABLE = re.compile(r"\\[AZ]|\(\?<?!|\(\?\(")
_CRS = re.compile(r"\r+(?=\n)")


def _drop_end_crs(text: str) -> str:
    """``text``'s lines as Line.text gives them (CRs at their ends dropped), still
    joined by "\n". A regex over the whole text costs a millisecond per chunk, so
    only what a CR is actually in pays for it."""
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\n").rstrip("\r")
    return _CRS.sub("", text) if "\r\n" in text else text  # runs of CRs


def _chunk_regex(pattern: regexmod.Pattern[str] | None) -> regexmod.Pattern[str] | None:
    """The regex that finds, in a chunk of lines joined by "\n", at least every line
    ``pattern`` matches alone; None when there is none (every line is then given)."""
    if pattern is None or not isinstance(pattern.pattern, str) or _NOT_PREFILTERABLE.search(pattern.pattern):
        return None
    try:
        # the regex module, as the subscriber's own matching: re holds the GIL for a
        # whole search, and a catastrophic pattern over a chunk would freeze the harness
        flags = pattern.flags & (re.IGNORECASE | re.DOTALL | re.VERBOSE | re.ASCII)
        return regexmod.compile(pattern.pattern, flags | regexmod.VERSION0 | regexmod.MULTILINE)
    except (regexmod.error, ValueError):  # pragma: no cover - it compiled once already
        return None


def _matching_lines(regex: regexmod.Pattern[str], text: str) -> set[int]:
    """Indexes of the lines of ``text`` (split on "\n") that a match of ``regex``
    touches. Counting newlines from one match to the next keeps this linear."""
    out: set[int] = set()
    index, pos = 0, 0
    for m in regex.finditer(text, timeout=patterns.REGEX_TIMEOUT, concurrent=True):
        start, end = m.span()
        index += text.count("\n", pos, start)
        last = index + text.count("\n", start, max(start, end - 1))
        out.update(range(index, last + 1))
        index, pos = last, max(start, end - 1)
    return out


class OutputCapture:
    def __init__(self, streams: dict[str, int]) -> None:
        """``streams`` maps a name ("stdout") to a readable pipe fd the capture owns."""
        self._fds = {fd: name for name, fd in streams.items()}
        self._partial = {name: bytearray() for name in streams}
        self._counts = {name: 0 for name in streams}
        self._consumed = {name: 0 for name in streams}  # bytes turned into lines so far
        self.bytes_read = {name: 0 for name in streams}
        # Each stream keeps its own last lines, numbered across streams to merge them
        # back in the order read: a flood on stdout must not push out the traceback
        # on stderr.
        self._tails: dict[str, deque[tuple[int, Line]]] = {name: deque(maxlen=TAIL_LINES) for name in streams}
        self._tail_seq = 0
        # (fn, chunk regex or None: every line)
        self._subscribers: list[tuple[Subscriber, regexmod.Pattern[str] | None]] = []
        self._lock = threading.Lock()
        # Held while reading a chunk and counting it, so position() never sees a chunk
        # that has left the pipe but is not yet counted.
        self._read_lock = threading.Lock()
        self._open: set[int] = set(self._fds)
        self._stop = Flag()
        self._done = threading.Event()  # set when the reader has stopped
        # Bytes of each stream read and handed to the subscribers (every whole line in
        # them given out): what caught_up() waits on.
        self._fed = {name: 0 for name in streams}
        self._fed_changed = threading.Condition()

    def start(self) -> None:
        # A bare thread: threading.Thread.start() waits until the new thread has run
        # (a context switch, up to half a millisecond on a loaded machine, every case).
        # It is a daemon thread like threading's, never joined at exit.
        _thread.start_new_thread(self._reader, ())

    def subscribe(self, fn: Subscriber, pattern: regexmod.Pattern[str] | None = None) -> None:
        """Call ``fn`` for every line read from now on; subscribe before :meth:`start`
        to see every line. With ``pattern``, ``fn`` may be spared the lines that
        ``pattern.search`` does not match (it still gets them in order, and must still
        check each line it gets)."""
        with self._lock:
            self._subscribers.append((fn, _chunk_regex(pattern)))

    def tail(self, limit: int = TAIL_LINES) -> str:
        """The last ``limit`` lines of each stream, in the order they were read; stderr
        lines marked ``[stderr]``, long lines shortened."""
        with self._lock:
            kept = sorted(entry for tail in self._tails.values() for entry in list(tail)[-limit:])
        out = []
        for _, line in kept:
            text = line.text
            if len(text) > TAIL_LINE_CHARS:
                text = text[:TAIL_LINE_CHARS] + f"... [{len(line.text) - TAIL_LINE_CHARS} more chars]"
            out.append(STDERR_MARK + text if line.stream == "stderr" else text)
        return "\n".join(out)

    def position(self) -> dict[str, int]:
        """Bytes written to each stream so far: read by the harness, or still in the pipe."""
        with self._read_lock:
            pos = dict(self.bytes_read)
            for fd in self._open:
                pos[self._fds[fd]] += _unread(fd)
        return pos

    def caught_up(self, position: dict[str, int], timeout: float) -> bool:
        """Wait up to ``timeout`` until every line written by ``position`` (what
        :meth:`position` said, e.g. when the app was seen to exit) has been handed to
        the subscribers; whether it was."""
        deadline = time.monotonic() + timeout
        with self._fed_changed:
            while any(self._fed[name] < at for name, at in position.items()):
                left = deadline - time.monotonic()
                if left <= 0 or self._done.is_set():
                    return all(self._fed[name] >= at for name, at in position.items())
                self._fed_changed.wait(left)
            return True

    def finish(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for both pipes to reach EOF, then stop reading.

        Returns False when a pipe was still open (some process outside the case held
        it); whatever was read is kept either way.
        """
        eof = self._done.wait(timeout)
        self._stop.set()
        self._done.wait(2.0)
        self._stop.close()
        return eof

    # -- the reader thread

    def _wanted(self, i: int, regex: regexmod.Pattern[str] | None, text: str) -> set[int] | None:
        """The lines of ``text`` subscriber ``i`` is given (None: all of them)."""
        if regex is None:
            return None
        try:
            return _matching_lines(regex, text)
        except TimeoutError:
            # too slow over a chunk: this subscriber gets every line from now on; its own
            # matching times out on the culprit line and turns its regex off
            with self._lock:
                self._subscribers[i] = (self._subscribers[i][0], None)
            return None

    def _reader(self) -> None:
        try:
            self._run()
        finally:
            self._done.set()
            with self._fed_changed:  # caught_up() stops waiting for what will never be read
                self._fed_changed.notify_all()

    def _run(self) -> None:
        open_fds = dict(self._fds)
        try:
            while open_fds:
                ready = wait_readable([*open_fds, self._stop.fileno()], None)
                if self._stop.fileno() in ready:
                    break
                for fd in ready:
                    name = open_fds[fd]
                    with self._read_lock:
                        try:
                            chunk = os.read(fd, 65536)
                        except BlockingIOError:  # pragma: no cover
                            continue
                        self.bytes_read[name] += len(chunk)
                    if not chunk:
                        self._flush_partial(name)
                        self._close(fd)
                        del open_fds[fd]
                        self._fed_to(name)
                        continue
                    self._feed(name, chunk)
                    self._fed_to(name)
        finally:
            for fd, name in open_fds.items():
                self._flush_partial(name)
                self._close(fd)
                self._fed_to(name)

    def _fed_to(self, name: str) -> None:
        """Everything read of ``name`` so far has been given out."""
        with self._fed_changed:
            self._fed[name] = self.bytes_read[name]
            self._fed_changed.notify_all()

    def _close(self, fd: int) -> None:
        with self._read_lock:
            self._open.discard(fd)
            os.close(fd)

    def _feed(self, name: str, chunk: bytes) -> None:
        buf = self._partial[name]
        buf += chunk
        last = buf.rfind(b"\n")
        if last >= 0:
            self._emit(name, bytes(buf[:last]))
            del buf[:last + 1]
        while len(buf) > MAX_LINE:
            cut = _cut(buf)
            self._emit(name, bytes(buf[:cut]), newline=False)
            del buf[:cut]

    def _flush_partial(self, name: str) -> None:
        buf = self._partial[name]
        if buf:
            self._emit(name, bytes(buf), newline=False)
            buf.clear()

    def _emit(self, name: str, block: bytes, newline: bool = True) -> None:
        """Hand out the lines of ``block`` (lines joined by "\n"; each ended by a
        newline if ``newline``, else it is one piece without any): in order, each to
        the subscribers that want it, and the last few to the tail."""
        with self._lock:
            subscribers = list(self._subscribers)
        t = time.monotonic()
        raws = block.split(b"\n") if newline else [block]
        first, before = self._counts[name] + 1, self._consumed[name]
        ends = list(accumulate(map(len, raws)))  # bytes up to each line's end, newlines apart
        nl = 1 if newline else 0

        def line(k: int) -> Line:
            text = raws[k].decode("utf-8", errors="replace").rstrip("\r")
            return Line(name, first + k, text, t, before + ends[k] + nl * (k + 1))

        # per subscriber: the indexes of the lines it is given, or None for all
        wanted: list[set[int] | None] = [None] * len(subscribers)
        # A search of the whole chunk costs up to ~5 ns a character (a regex that
        # starts with ^ is tried at every one); a line given to a subscriber ~1 us.
        many_short = len(raws) * SHORT_LINE > len(block)
        if many_short and any(regex is not None for _, regex in subscribers):
            # the text Line.text would give, lines still joined by "\n"
            text = _drop_end_crs(block.decode("utf-8", errors="replace"))
            wanted = [self._wanted(i, regex, text) for i, (_, regex) in enumerate(subscribers)]
        tail_from = max(0, len(raws) - TAIL_LINES)
        if None in wanted:
            indexes: Iterable[int] = range(len(raws))
        else:
            indexes = sorted(set(range(tail_from, len(raws))).union(*wanted))  # type: ignore[arg-type]
        tail: list[Line] = []
        for k in indexes:
            ln = line(k)
            for (fn, _), lines in zip(subscribers, wanted):
                if lines is None or k in lines:
                    fn(ln)
            if k >= tail_from:
                tail.append(ln)
        self._counts[name] += len(raws)
        self._consumed[name] = before + ends[-1] + nl * len(raws)
        with self._lock:
            seq = self._tail_seq
            self._tails[name].extend(zip(range(seq, seq + len(tail)), tail))
            self._tail_seq = seq + len(tail)
