"""Reading a target's stdout and stderr continuously.

One thread per case drains both pipes with ``select`` so an app that writes megabytes
never blocks on a full pipe. Every complete line is timestamped on the monotonic clock,
carries its byte offset in its stream, and is handed to the subscribers (hook
detectors, the log ready check); only a bounded tail is kept for the report.

Byte offsets answer "was this written before the trigger?" exactly: :meth:`position`
is everything written to each pipe so far (read, plus still unread in the pipe), so
a line ending at or before it was written before, however late the reader gets to it.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from .waiting import Flag, wait_readable

# A "line" longer than this is cut into pieces: a flood without newlines must not
# grow memory without bound.
MAX_LINE = 64 * 1024
TAIL_LINES = 60
TAIL_LINE_CHARS = 400


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD)."""
    try:
        buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return struct.unpack("i", buf)[0]


@dataclass(frozen=True)
class Line:
    stream: str  # "stdout" or "stderr"
    number: int  # 1-based, per stream
    text: str
    t: float  # time.monotonic() when it was read
    end: int = 0  # byte offset in its stream just past the line (and its newline)


Subscriber = Callable[[Line], None]


class OutputCapture:
    def __init__(self, streams: dict[str, int]) -> None:
        """``streams`` maps a name ("stdout") to a readable pipe fd the capture owns."""
        self._fds = {fd: name for name, fd in streams.items()}
        self._partial = {name: bytearray() for name in streams}
        self._counts = {name: 0 for name in streams}
        self._consumed = {name: 0 for name in streams}  # bytes turned into lines so far
        self.bytes_read = {name: 0 for name in streams}
        self._tail: deque[Line] = deque(maxlen=TAIL_LINES)
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        # Held while reading a chunk and counting it, so position() never sees a chunk
        # that has left the pipe but is not yet counted.
        self._read_lock = threading.Lock()
        self._open: set[int] = set(self._fds)
        self._stop = Flag()
        self._thread = threading.Thread(target=self._run, name="shutdown-probe-output", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def subscribe(self, fn: Subscriber) -> None:
        """Call ``fn`` for every line read from now on; subscribe before :meth:`start`
        to see every line."""
        with self._lock:
            self._subscribers.append(fn)

    def tail(self, limit: int = TAIL_LINES) -> str:
        with self._lock:
            lines = list(self._tail)[-limit:]
        out = []
        for line in lines:
            text = line.text
            if len(text) > TAIL_LINE_CHARS:
                text = text[:TAIL_LINE_CHARS] + f"... [{len(line.text) - TAIL_LINE_CHARS} more chars]"
            out.append(f"[{line.stream}] {text}" if line.stream == "stderr" else text)
        return "\n".join(out)

    def position(self) -> dict[str, int]:
        """Bytes written to each stream so far: read by the harness, or still in the pipe."""
        with self._read_lock:
            pos = dict(self.bytes_read)
            for fd in self._open:
                pos[self._fds[fd]] += _unread(fd)
        return pos

    def finish(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for both pipes to reach EOF, then stop reading.

        Returns False when a pipe was still open (some process outside the case held
        it); whatever was read is kept either way.
        """
        self._thread.join(timeout)
        eof = not self._thread.is_alive()
        self._stop.set()
        self._thread.join(2.0)
        self._stop.close()
        return eof

    # -- the reader thread

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
                        continue
                    self._feed(name, chunk)
        finally:
            for fd, name in open_fds.items():
                self._flush_partial(name)
                self._close(fd)

    def _close(self, fd: int) -> None:
        with self._read_lock:
            self._open.discard(fd)
            os.close(fd)

    def _feed(self, name: str, chunk: bytes) -> None:
        buf = self._partial[name]
        buf += chunk
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            self._emit(name, bytes(buf[start:nl]))
            start = nl + 1
        del buf[:start]
        while len(buf) > MAX_LINE:
            self._emit(name, bytes(buf[:MAX_LINE]), newline=False)
            del buf[:MAX_LINE]

    def _flush_partial(self, name: str) -> None:
        buf = self._partial[name]
        if buf:
            self._emit(name, bytes(buf), newline=False)
            buf.clear()

    def _emit(self, name: str, raw: bytes, newline: bool = True) -> None:
        self._counts[name] += 1
        self._consumed[name] += len(raw) + (1 if newline else 0)
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        line = Line(name, self._counts[name], text, time.monotonic(), self._consumed[name])
        with self._lock:
            self._tail.append(line)
            subscribers = list(self._subscribers)
        for fn in subscribers:
            fn(line)
