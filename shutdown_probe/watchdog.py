"""The harness side of the watchdog (``_watchdog.py``), which outlives a killed harness.

A harness that is interrupted ends its cases itself; a harness that is SIGKILLed
cannot. The watchdog is one small process per harness, started before the first
case, that waits for the harness's end of a pipe to close and then kills whatever of
the harness's cases is still running, and removes the case folders the harness
left. :func:`ensure` starts it (again, if it was killed); :func:`watch` tells it
about each process a case has, :func:`cases` how many cases run (while any does, it
looks at the harness's children itself), :func:`watch_dir` and :func:`forget_dir`
about each case folder.

It is started with ``os.posix_spawn`` rather than ``subprocess.Popen``: it is meant
to outlive this process, and a ``Popen`` still running at interpreter exit is
reported as a leak.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading

from . import adoption
from .procnet import child_pids

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_watchdog.py")

_lock = threading.Lock()
_pid: int | None = None
_pipe: int | None = None  # the write end of its stdin
_problem: str | None = None
# What a new watchdog must be told again: the folders and the number of cases.
_folders: dict[str, bytes] = {}
_cases = b""  # the last "cases" line


# What _watchdog.py names itself (/proc/PID/comm).
NAME = "sp-watchdog"


def ensure(run_id: str) -> str | None:
    """Have a live watchdog for this harness; None when there is one, else why not."""
    global _pid, _pipe, _problem
    with _lock:
        _reap_adopted()
        if _pid is not None and _alive():
            return None
        _forget()
        r, w = os.pipe()
        os.set_blocking(w, False)  # a stopped watchdog must not stop the harness
        err = 2 if os.isatty(2) else os.open(os.devnull, os.O_WRONLY)
        try:
            # a pipe from a caller that reads our stderr (``capture_output``) must not
            # be held open by a process that outlives us
            actions = [(os.POSIX_SPAWN_DUP2, r, 0), (os.POSIX_SPAWN_DUP2, err, 2),
                       (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
            env = {k: v for k, v in os.environ.items() if k != "SHUTDOWN_PROBE_CASE"}
            # registered as the harness's own child, so it is never taken for a stray
            with adoption.spawning():
                pid = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", SCRIPT, run_id,
                                                      tempfile.gettempdir()],
                                     env, file_actions=actions, setsid=True)
                adoption.own(pid)
        except OSError as exc:
            os.close(w)
            _problem = f"the watchdog could not start ({exc.strerror or exc}): a harness killed by SIGKILL " \
                       "leaves its cases' processes running"
            return _problem
        finally:
            os.close(r)
            if err != 2:
                os.close(err)
        _pid, _pipe, _problem = pid, w, None
        for line in [*_folders.values(), _cases]:
            if line:
                _send(line)
        return None


def is_watchdog(pid: int) -> bool:
    """Whether ``pid`` is a watchdog: this harness's own (the one it started), or one
    of a harness it started, named so AND running this package's watchdog script as
    ``python -I -S SCRIPT`` (as :func:`ensure` starts it). The name alone is anyone's
    to take, and would let a process opt out of being tracked."""
    if pid == _pid:
        return True
    try:
        with open(f"/proc/{pid}/comm", "rb") as fh:
            if fh.read().rstrip(b"\n") != NAME.encode():
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    return argv[1:4] == [b"-I", b"-S", os.fsencode(SCRIPT)]


def watchdog_children() -> dict[int, str]:
    """This process's children named like a watchdog -> their state letter ("S", "Z"...)."""
    out = {}
    for child in child_pids(os.getpid()):
        try:
            with open(f"/proc/{child}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        if stat[stat.find(b"(") + 1:stat.rfind(b")")] == NAME.encode():
            out[child] = stat[stat.rfind(b")") + 2:][:1].decode()
    return out


def _reap_adopted() -> None:
    """Reap the ended watchdogs of harnesses this one started (a CLI run from a test).

    When such a harness exits, its watchdog is re-parented to this process, a
    subreaper; when the watchdog then ends, only this process can reap it. Its name,
    which a zombie keeps, says it is one: no other child of ours is called that.
    """
    for child, state in watchdog_children().items():
        if child != _pid and state == "Z":
            try:
                os.waitpid(child, os.WNOHANG)
            except ChildProcessError:
                pass


def _alive() -> bool:
    """Whether the watchdog runs; reaps it when it does not."""
    assert _pid is not None
    try:
        done, _ = os.waitpid(_pid, os.WNOHANG)
    except ChildProcessError:
        done = _pid
    if done:
        adoption.disown(_pid)
    return done == 0


def _forget() -> None:
    global _pid, _pipe
    if _pipe is not None:
        os.close(_pipe)
    _pid = _pipe = None


def watch(pid: int) -> None:
    """Tell the watchdog that ``pid`` belongs to a case (kept if the tag is lost)."""
    with _lock:
        _send(b"%d\n" % pid)


def cases() -> None:
    """Tell the watchdog how many cases run now, and since when (CLOCK_BOOTTIME, the
    clock of /proc's start times): it must not take the time it reads the line for
    the time the cases began.

    The count is read and the line written under one lock: read outside it, two
    cases' threads could send their lines in the other order (the last line sent,
    "cases 0", while a case runs), and the watchdog would stop looking."""
    global _cases
    with _lock:
        n, since = adoption.running()
        ticks = int(since * os.sysconf("SC_CLK_TCK")) if since is not None else 0
        _cases = b"cases %d %d\n" % (n, ticks)
        _send(_cases)


def watch_dir(path: str) -> None:
    """Tell the watchdog of a case folder the harness just made, to remove if the
    harness dies before it does. A path it could not parse back is not sent."""
    raw = os.fsencode(path)
    if b"\n" in raw or b"\r" in raw:
        return
    try:
        st = os.lstat(path)
    except OSError:
        return
    line = b"dir %d %d %s\n" % (st.st_dev, st.st_ino, raw)
    with _lock:
        _folders[path] = line
        _send(line)


def forget_dir(path: str) -> None:
    """The harness removed (or keeps) the folder: the watchdog must not touch it."""
    with _lock:
        if _folders.pop(path, None) is not None:
            _send(b"undir %s\n" % os.fsencode(path))


def _send(line: bytes) -> None:
    """Write one line to the watchdog (with ``_lock`` held); never blocks."""
    global _pipe
    if _pipe is None:
        return
    try:
        os.write(_pipe, line)
    except BlockingIOError:
        pass  # it is not reading: the case tag still finds the process
    except OSError:  # it is gone: the next case starts another
        os.close(_pipe)
        _pipe = None


def state() -> str:
    """For the results' capabilities: "yes", or what is missing."""
    with _lock:
        if _problem is not None:
            return _problem
        return "yes" if _pid is not None else "not started (no case ran)"


def pid() -> int | None:
    return _pid
