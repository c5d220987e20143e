"""What SIGINT and SIGTERM do to a harness that runs cases: one policy, both faces.

The command line (``run``, ``articles``) and the pytest plugin take both signals while
cases run, through an :class:`Interruption`. Left to Python, SIGINT would be a
KeyboardInterrupt wherever the main thread happens to be and SIGTERM death on the
spot: a running case would lose its result, and SIGTERM would leave its targets
running. The policy instead:

* **first signal, cases running**: cancel them. The cancel flag is set; each running
  case kills its processes, ends as ``interrupted`` and is recorded like any other,
  and nothing new starts. The face then writes every report asked for with what was
  gathered and exits 128 + the signal's number (130, 143).
* **second signal, cases running**: hurry. Nobody waits any longer for the cut cases
  to report (:attr:`Interruption.hurried`); their processes are killed all the same.
* **the give-up signal** (``give_up_after``, the third for pytest): a
  KeyboardInterrupt wherever it lands, for a case that does not stop. Only a face
  whose own thread runs the cases needs it; the case it cuts may be missing from the
  reports. The CLI's main thread only waits, and its second signal already stopped
  the waiting, so it never gives up.
* **first signal, no case running** (pytest between two tests): a KeyboardInterrupt,
  the ordinary way out; what the tests recorded is still reported.
* **reports being written** (:attr:`Interruption.finishing`): signals are only
  counted, so every report asked for gets written.

A pytest-xdist controller runs no case itself: it passes every signal it takes on to
each of its workers exactly once (:meth:`Interruption.add_worker`), and the workers
stop as above.

Where the faces legitimately differ is a parameter, not a second policy: whether a
signal ignored on purpose (``nohup``, ``cmd &``) is taken anyway (the CLI is the
program the user started; pytest's dispositions are pytest's), when to give up, and
how the face waits: pytest runs cases in its main thread, the CLI runs them on a
thread of their own and waits (:meth:`Interruption.wait_on_thread`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar, Union

from .waiting import Flag, wait_readable

__all__ = ["Interruption", "parent_death_signal"]

T = TypeVar("T")

# What signal.getsignal returns: a Python handler, SIG_DFL/SIG_IGN, or None (a handler
# not installed from Python).
_Handler = Union[Callable[[int, Union[FrameType, None]], Any], int, signal.Handlers, None]

# How long a stopped run waits for the cases it cut short to report, once their
# processes are killed: each case's own cleanup is bounded well below this.
PATIENCE = 30.0


class Interruption:
    """SIGINT and SIGTERM while a face runs cases (see the module docstring).

    ``give_up_after``: the signal count that is a KeyboardInterrupt wherever it lands
    (None: never). ``take_ignored``: take a signal whose disposition is SIG_IGN too.
    """

    def __init__(self, *, give_up_after: int | None = 3, take_ignored: bool = False) -> None:
        self.give_up_after = give_up_after
        self.take_ignored = take_ignored
        self.signum: int | None = None  # the first signal taken
        self.count = 0  # signals taken
        self.running = 0  # faces' calls running cases in this process now
        self.finishing = False  # the reports are being written
        self.hurried = threading.Event()  # a second signal: do not wait for the cut cases
        self.killed = 0  # processes wait_on_thread killed after the first signal
        # set by every signal taken while cases run (and by the end of a run on a
        # thread): what a face whose main thread only waits wakes on
        self._wake = threading.Event()
        self._cancel: Flag | None = None
        self._old: dict[int, _Handler] = {}
        self.workers: dict[str, int] = {}  # xdist controller: worker id -> its pidfd

    def __repr__(self) -> str:
        state = f"interrupted by {self.name}" if self.signum is not None else "not interrupted"
        return f"<Interruption {state}, {self.count} signal(s), {self.running} running>"

    @property
    def cancel(self) -> Flag:
        """The flag the cases watch; set by the first signal while they run."""
        if self._cancel is None:
            self._cancel = Flag()
        return self._cancel

    @property
    def name(self) -> str | None:
        """The first signal's name ("SIGINT"), or None before any."""
        return signal.Signals(self.signum).name if self.signum is not None else None

    # ------------------------------------------------------------ the handlers

    def install(self, *, worker: bool = False) -> None:
        """Take SIGINT and SIGTERM (from the main thread only; once). ``worker``: this is
        a pytest-xdist worker, whose signals come from its controller."""
        if self._old or threading.current_thread() is not threading.main_thread():
            return
        if worker:
            try:
                os.setpgid(0, 0)  # out of the controller's group: signals come from it
            except OSError:
                pass  # a session leader already: a group signal cannot reach it anyway
            # A controller killed outright cannot pass anything on: its death is the
            # signal then (SIGTERM, so the running case ends as interrupted and its
            # processes are killed, rather than running to its stop timeout).
            parent_death_signal(signal.SIGTERM)
        self.cancel  # made now: the handler must not allocate it
        for sig in (signal.SIGINT, signal.SIGTERM):
            current = signal.getsignal(sig)
            if current is None or (current == signal.SIG_IGN and not self.take_ignored):
                continue  # ignored on purpose (``nohup``, ``cmd &``) or not ours to replace
            self._old[sig] = current
            signal.signal(sig, self._on_signal)

    def uninstall(self) -> None:
        """Give the signals back as they were; close what is no longer needed."""
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()
        if self._cancel is not None and not self.running:
            self._cancel.close()
            self._cancel = None
        for fd in self.workers.values():
            os.close(fd)
        self.workers.clear()

    def add_worker(self, worker_id: str, pid: int) -> None:
        """An xdist controller's worker: pass each signal on to it."""
        try:
            self.workers[worker_id] = os.pidfd_open(pid)
        except OSError:
            pass  # gone already, or no pidfds here: it shares our group, signals reach it

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        self.count += 1
        for fd in self.workers.values():  # an xdist controller: each worker gets each one once
            try:
                signal.pidfd_send_signal(fd, signum)
            except OSError:
                pass  # that worker has ended
        if self.finishing:
            return  # the reports are being written
        if self.give_up_after is not None and self.count >= self.give_up_after:
            raise KeyboardInterrupt  # insisted on: out now, whatever it costs
        if self.running:
            if first:
                self.cancel.set()  # the running cases end as interrupted and say so
            else:
                self.hurried.set()  # the first one's stop is under way, and kills at once
            self._wake.set()
            return
        if first and not self.workers:
            raise KeyboardInterrupt  # between cases: the ordinary way out

    # ------------------------------------------------------------ the faces' ways of running cases

    def run(self, call: Callable[[Flag], T], keep: Callable[[T], None]) -> T:
        """For a face whose main thread runs the cases (pytest): ``call(cancel)`` runs
        them and ``keep(value)`` records what it returned, both as "cases running" (a
        signal cancels them, it never raises there, short of giving up)."""
        self.running += 1
        try:
            value = call(self.cancel)
            keep(value)
            return value
        finally:
            self.running -= 1

    def wait_on_thread(self, call: Callable[[Flag], T], *, patience: float = PATIENCE) -> T | None:
        """For a face whose main thread only waits (the CLI): ``call(cancel)`` runs the
        cases on a thread of its own while this thread takes the signals.

        Returns what ``call`` returned (an exception it raised is raised here), or
        None when a signal stopped the run: then every case's processes were killed
        (:attr:`killed` says how many), and the cases cut short had ``patience``
        seconds to report unless a second signal said not to wait for them.
        """
        box: dict[str, Any] = {}
        ended = threading.Event()
        # The kernel may hand a process's signal to any of its threads; Python runs the
        # handler only once the main thread runs bytecode again, and a main thread
        # blocked on a lock never would. So it waits on a pipe that the signal's C
        # handler writes to (signal.set_wakeup_fd), whichever thread took it, and that
        # the run's end writes to too.
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            os.set_blocking(fd, False)

        def work() -> None:
            try:
                box["value"] = call(self.cancel)
            except BaseException as exc:  # raised by the waiting thread
                box["error"] = exc
            finally:
                ended.set()
                self._wake.set()
                try:
                    os.write(wake_w, b"x")
                except OSError:
                    pass  # full (the waiter wakes anyway) or closed (it stopped waiting)

        worker = threading.Thread(target=work, name="shutdown-probe-run")
        self.running += 1
        old_wakeup = _set_wakeup_fd(wake_w)
        try:
            worker.start()
            while not ended.is_set() and self.signum is None:
                wait_readable([wake_r], None)
                _drain(wake_r)  # the loop looks again at what woke it
            if self.signum is None:
                worker.join()
            if self.signum is not None:
                self.killed = self._stop_cases(ended, patience)
                return None
        finally:
            _set_wakeup_fd(old_wakeup)
            if not worker.is_alive():  # else a hurried case is still ending, and may
                self.running -= 1      # yet look at the cancel flag: uninstall keeps it
            os.close(wake_r)
            if not worker.is_alive():  # else it may still write its end there
                os.close(wake_w)
        if "error" in box:
            raise box["error"]
        value: T = box["value"]
        return value

    def _stop_cases(self, ended: threading.Event, patience: float) -> int:
        """After the first signal: kill every case's processes now, give the cut cases
        ``patience`` seconds to report (none after a second signal), and kill again
        whatever started meanwhile. How many processes were killed."""
        from .runner import abort_all

        killed = abort_all()
        deadline = time.monotonic() + patience
        while not (ended.is_set() or self.hurried.is_set()):
            left = deadline - time.monotonic()
            if left <= 0 or not self._wake.wait(left):
                break
            self._wake.clear()  # the loop looks again at what set it
        return killed + abort_all()


def _set_wakeup_fd(fd: int) -> int:
    """signal.set_wakeup_fd from the main thread (elsewhere it cannot: -1, nothing set)."""
    if threading.current_thread() is not threading.main_thread():
        return -1
    return signal.set_wakeup_fd(fd, warn_on_full_buffer=False)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def parent_death_signal(sig: int) -> None:
    """prctl(PR_SET_PDEATHSIG): ``sig`` when our parent (an xdist controller) dies."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took hold
        os.kill(os.getpid(), sig)
