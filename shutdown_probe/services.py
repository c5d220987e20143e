"""Scenario services as processes: start one, wait until it is ready, watch it, stop it.

A service ([services.NAME]: a broker, a database) is a real process the harness
starts beside a case's app. It is not one of the app's processes, and nothing that
looks at a case's processes may take it for one:

* it runs in a session of its own (a signal to the app's group never reaches it),
  with a tag of its own in its environment, ``SESSION/RUN/service-NAME-ID``: no case's
  tag, so a case's discovery, its orphans and its paths' targets never include it and
  :mod:`~shutdown_probe.adoption` leaves its re-parented children alone; yet the tag
  names this harness, so the watchdog sweeps it (and everything it started) if the
  harness dies, and a leak check for the session's processes finds it;
* it is the harness's own child (:func:`~shutdown_probe.adoption.own`), told to the
  watchdog (:func:`~shutdown_probe.watchdog.watch`) the moment it exists;
* a thread waits on its pidfd and reaps it, so its end is an event with a time
  (:attr:`Service.ended_at`) and never a zombie;
* :meth:`Service.stop` sends SIGTERM to its process group, waits ``stop_timeout`` on
  the pidfd, then SIGKILLs the group and whatever still carries its tag;
  :func:`kill_all` SIGKILLs every live service at once (an interrupted harness).

Its output is read like the app's (:class:`~shutdown_probe.output.OutputCapture`) and
its last lines are the evidence when it fails.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
import uuid

import psutil

from . import adoption, watchdog
from .handles import TAG_ENV, describe_status, tagged_processes
from .output import OutputCapture
from .readiness import LogWatcher, ReadyOutcome, wait_ready
from .results import ServiceRecord, ServiceScope, ServiceState
from .scenario import ResolvedService
from .waiting import Flag, wait_readable

# How many of a service's last output lines a failure keeps as evidence.
SERVICE_TAIL = 20
# After its SIGKILL, how long a service's process group may take to be gone.
KILL_WAIT = 5.0

_live: set["Service"] = set()
_live_lock = threading.Lock()


def service_tag(prefix: str, name: str) -> str:
    """The environment tag of one start of service ``name``: under this harness's
    ``prefix`` (``SESSION/RUN/``), and never a case's."""
    return f"{prefix}service-{name}-{uuid.uuid4().hex[:8]}"


class Service:
    """One running start of a service: held by a pidfd, reaped by its own thread."""

    def __init__(self, plan: ResolvedService, scope: ServiceScope, port: int, tag: str, folder: str,
                 popen: subprocess.Popen[bytes], pidfd: int, capture: OutputCapture,
                 ready_watch: LogWatcher | None, started_at: float) -> None:
        self.name, self.scope, self.port, self.tag, self.folder = plan.name, scope, port, tag, folder
        self.plan = plan
        self.popen = popen
        self.pid = popen.pid
        self.pidfd = pidfd
        self.capture = capture
        self.ready_watch = ready_watch
        self.started_at = started_at  # CLOCK_MONOTONIC, just before it was started
        self.ready: ReadyOutcome | None = None
        self.ready_s: float | None = None  # its start -> the end of its ready check
        self.ended_at: float | None = None  # CLOCK_MONOTONIC when it ended
        self.status: int | None = None  # its wait status, once reaped
        self.stopping = False  # the harness is stopping it: its end is no death
        self.stopped_by_harness = False
        self.killed_by_harness = False
        self._lock = threading.Lock()  # the reaper holds it while reaping: a signal to the
        self._gone = threading.Event()  # group under it never hits a reused process group
        self._reaper = threading.Thread(target=self._reap, name=f"shutdown-probe-service-{self.name}", daemon=True)
        self._reaper.start()

    def __repr__(self) -> str:
        state = "running" if self.alive() else f"ended ({self.how_ended()})"
        return f"<Service {self.name} pid {self.pid} port {self.port} {state}>"

    def _reap(self) -> None:
        wait_readable([self.pidfd], None)
        ended = time.monotonic()
        with self._lock:
            self.popen.wait()
            self.ended_at = ended
            rc = self.popen.returncode
            self.status = -rc & 0x7F if rc < 0 else (rc & 0xFF) << 8
            adoption.disown(self.pid)
        self._gone.set()

    def reaped(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for its reaper to have its exit status and time."""
        return self._gone.wait(timeout)

    def alive(self) -> bool:
        return not self._gone.is_set() and not wait_readable([self.pidfd], 0)

    def how_ended(self) -> str:
        """"exited with code 1", "killed by SIGKILL", or "running"."""
        if self.status is None and not self.alive():
            self._gone.wait(KILL_WAIT)  # ended: its reaper is about to have the status
        if self.status is None:
            return "running"
        rc, sig = describe_status(self.status)
        return f"killed by {sig}" if sig else f"exited with code {rc}"

    def wait_ready(self, timeout: float, cancel: Flag | None) -> ReadyOutcome:
        """Wait for its ready check (:func:`~shutdown_probe.readiness.wait_ready`, the
        app's); raises :class:`~shutdown_probe.readiness.Interrupted` on ``cancel``."""
        self.ready = wait_ready(self.plan.ready, timeout=timeout, root_fd=self.pidfd, root_alive=self.alive,
                                capture=self.capture, log_watch=self.ready_watch, cancel=cancel,
                                who=f"service '{self.name}'")
        self.ready_s = time.monotonic() - self.started_at
        return self.ready

    def _signal_group(self, sig: int) -> bool:
        """``sig`` to its process group, while its leader is not reaped (so the group's
        number is still its own); False when it was."""
        with self._lock:
            if self.status is not None:
                return False
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                return False
            return True

    def _kill_rest(self) -> None:
        """SIGKILL what is left of it: its group, and anything carrying its tag."""
        self._signal_group(signal.SIGKILL)
        for proc in tagged_processes(self.tag):
            try:
                proc.kill()
            except psutil.Error:
                pass

    def stop(self, timeout: float) -> None:
        """SIGTERM to its group, ``timeout`` seconds to end, then SIGKILL; reaped,
        its output read to the end, its folder left to the caller."""
        self.stopping = True
        if self._signal_group(signal.SIGTERM):
            self.stopped_by_harness = True
        if not self._gone.wait(timeout):
            self.killed_by_harness = self.stopped_by_harness = True
        self._kill_rest()
        self._finish()

    def kill(self) -> bool:
        """SIGKILL it now (an interrupted harness); whether it was still running."""
        self.stopping = True
        was = self._signal_group(signal.SIGKILL)
        if was:
            self.killed_by_harness = self.stopped_by_harness = True
        return was

    def _finish(self) -> None:
        self._gone.wait(KILL_WAIT)
        self._reaper.join(KILL_WAIT)
        self.capture.finish(1.0)
        if self.ready_watch is not None:
            self.ready_watch.close()
        with _live_lock:
            _live.discard(self)
        if self._gone.is_set():
            os.close(self.pidfd)

    def state(self) -> ServiceState:
        if self.ready is not None and not self.ready.ready:
            return "not-ready"
        if self.status is None:
            return "running"
        return "stopped" if self.stopping else "died"

    def record(self, t0: float | None, *, state: ServiceState | None = None, error: str | None = None,
               evidence: bool = False, died: bool = False) -> ServiceRecord:
        """What a case saw of it; ``t0`` the case's trigger; ``died``: it ended while
        the case needed it; ``evidence``: keep its last output lines (it failed)."""
        rec = ServiceRecord(name=self.name, scope=self.scope, state="died" if died else state or self.state(),
                            command=shlex.join(self.plan.argv), port=self.port, pid=self.pid,
                            stopped_by_harness=self.stopped_by_harness, killed_by_harness=self.killed_by_harness,
                            error=error)
        if self.ready is not None and self.ready_s is not None:
            rec.ready_s = round(self.ready_s, 4)
            rec.ready_detail = self.ready.detail
        if self.status is None and not self.alive():
            self._gone.wait(KILL_WAIT)
        if self.status is not None:
            rec.returncode, rec.signal = describe_status(self.status)
        if died and self.ended_at is not None and t0 is not None:
            rec.ended_after_s = round(self.ended_at - t0, 4)
        if died:  # not the harness's doing, whatever it sent afterwards
            rec.stopped_by_harness = rec.killed_by_harness = False
        if evidence:
            rec.output_tail = self.capture.tail(SERVICE_TAIL)
        return rec

    def last_line(self) -> str | None:
        """Its last output line, for a sentence (None when it printed nothing)."""
        lines = [ln for ln in self.capture.tail(SERVICE_TAIL).splitlines() if ln.strip()]
        return lines[-1] if lines else None


def start_service(plan: ResolvedService, scope: ServiceScope, port: int, tag: str,
                  folder: str) -> Service | str:
    """Start one service (``plan``, its templates filled), tagged ``tag``, in a session
    of its own; the running :class:`Service`, or why it could not start."""
    env = dict(os.environ)
    for leftover in ("WERKZEUG_RUN_MAIN", "WERKZEUG_SERVER_FD", "PYTHONUNBUFFERED"):
        env.pop(leftover, None)
    env["PYTHONUNBUFFERED"] = "1"  # a Python service's last words reach the evidence
    env.update(plan.env)
    env[TAG_ENV] = tag
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    started_at = time.monotonic()
    try:
        with adoption.spawning():
            popen = subprocess.Popen(plan.argv, cwd=plan.cwd, env=env, stdin=subprocess.DEVNULL, stdout=out_w,
                                     stderr=err_w, start_new_session=True,
                                     preexec_fn=adoption.stop_signal_reset())
            adoption.own(popen.pid)
    except OSError as exc:
        for fd in (out_r, err_r):
            os.close(fd)
        return f"cannot start {plan.argv[0]!r}: {exc.strerror or exc}"
    finally:
        os.close(out_w)
        os.close(err_w)
    watchdog.watch(popen.pid)  # a harness killed from now on leaves it to the watchdog
    try:
        pidfd = os.pidfd_open(popen.pid)
    except OSError as exc:  # no pidfds here: nothing could watch it, so it does not run
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        adoption.disown(popen.pid)
        for fd in (out_r, err_r):
            os.close(fd)
        return f"cannot watch service '{plan.name}': pidfd_open failed ({exc.strerror or exc})"
    capture = OutputCapture({"stdout": out_r, "stderr": err_r})
    ready_watch = None
    if plan.ready is not None and plan.ready.kind == "log":
        ready_watch = LogWatcher(plan.ready.regex, plan.ready.count)
        capture.subscribe(ready_watch, plan.ready.regex)
    capture.start()
    service = Service(plan, scope, port, tag, folder, popen, pidfd, capture, ready_watch, started_at)
    with _live_lock:
        _live.add(service)
    return service


def kill_all() -> int:
    """SIGKILL every live service of this harness (an interrupted run); how many."""
    with _live_lock:
        services = list(_live)
    return sum(1 for s in services if s.kill())
