"""One process of a case as the harness holds it, and the names of its roles.

A :class:`ProcessHandle` holds its process by a pidfd when the machine has them, so a
signal can never hit a recycled PID and its exit is an event to wait on; without
pidfds it goes by psutil, which checks the start time before each signal. Its
``repr`` says its state as trio's processes do ("running with PID N", "exited with
status N", "exited with signal SIGTERM").

Also here: the case tag every target inherits (:data:`TAG_ENV`), the roles of the
processes a case's actions start, and the psutil reads the process layer shares.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Iterable

import psutil

from .capabilities import capabilities, pidfd_exit_status
from .paths import signal_name
from .procfs import environ_value, stat
from .waiting import wait_readable

TAG_ENV = "SHUTDOWN_PROBE_CASE"

# The roles of the processes a case's actions start (the action itself; whatever it
# starts is "<action>-child"), and the suffix of their tag: "<case tag>/<action>".
ACTIONS = ("trigger", "pre-stop", "exec-stop")
# A process re-parented to the harness without a tag, tied to its case otherwise.
ADOPTED = "adopted"


def action_of(role: str) -> str | None:
    """The action a role belongs to ("trigger" for "trigger-child"), None for the app's."""
    for action in ACTIONS:
        if role == action or role == f"{action}-child":
            return action
    return None


def describe_status(status: int) -> tuple[int | None, str | None]:
    """A wait status -> (returncode, signal name); exactly one is set."""
    if os.WIFSIGNALED(status):
        return None, signal_name(os.WTERMSIG(status))
    return os.WEXITSTATUS(status), None


@dataclass(eq=False)
class ProcessHandle:
    """One process of a case, held by a pidfd when the machine has them."""

    pid: int
    role: str
    ps: psutil.Process
    pidfd: int | None = None
    cmdline: str = ""
    popen: subprocess.Popen[bytes] | None = None  # the harness started it: this Popen reaps it
    ns_pid: int | None = None  # its PID inside the case's PID namespace, if any
    listening: list[int] = field(default_factory=list)
    ended_at: float | None = None  # monotonic time its exit was noticed
    found_at: float | None = None  # monotonic time discovery first saw it
    started_at: float | None = None  # monotonic time it started (10 ms ticks), if read
    status: int | None = None  # wait status, once known
    exit_note: str | None = None
    killed_by_harness: bool = False
    killed_by_stop: bool = False  # the stop profile's final SIGKILL hit it
    signals_ignored: list[str] = field(default_factory=list)
    signals_caught: list[str] = field(default_factory=list)
    ignored_mask: int | None = None  # SigIgn when the app got ready (None: not read then)
    # for a re-parented process without a tag: what ties it to the case
    attributed_by: str | None = None
    # After its exit (a pidfd turns readable at the exit, not at the reaping): a
    # zombie its parent had not reaped yet. zombie_seen: the last monotonic time it was
    # seen so; reaped_at: the first time it was seen gone after that.
    zombie_seen: float | None = None
    reaped_at: float | None = None
    zombie_settled: bool = False  # nothing more to learn: never a zombie, or reaped

    @property
    def is_popen(self) -> bool:
        return self.popen is not None

    def __repr__(self) -> str:
        if self.ended_at is None:
            state = f"running with PID {self.pid}"
        elif self.status is None:
            state = f"exited (PID {self.pid}, status unknown)"
        else:
            rc, sig = describe_status(self.status)
            state = f"exited with signal {sig}" if sig else f"exited with status {rc}"
            state += f" (PID {self.pid})"
        return f"<{self.role} {state}>"

    @property
    def alive(self) -> bool:
        if self.ended_at is not None:
            return False
        if self.pidfd is not None:
            if wait_readable([self.pidfd], 0):
                self.ended_at = time.monotonic()
                return False
            return True
        try:
            running = self.ps.is_running() and self.ps.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            running = False
        if not running:
            self.ended_at = time.monotonic()
        return running

    def send(self, sig: int) -> bool:
        """Deliver ``sig``; False when the process was already gone."""
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, sig)
            else:
                # No pidfd: psutil checks the start time first, so a recycled PID is
                # refused rather than hit.
                self.ps.send_signal(sig)
        except (ProcessLookupError, psutil.NoSuchProcess):
            return False
        except (OSError, psutil.AccessDenied) as exc:
            # Not the harness's bug: a setuid command (EPERM), a kernel that refuses.
            # The case's cleanup must go on; the handle says why it was not signalled.
            self.exit_note = f"the harness could not send it {signal_name(sig)}: {exc}"
            return False
        return True

    def reap(self) -> None:
        """Collect the exit status if this process is the harness's (adopted) child.

        Never called for the process the harness started: its ``Popen`` reaps it, and
        a second waiter would steal the status from it.
        """
        if self.is_popen or self.status is not None:
            return
        try:
            if self.pidfd is not None:
                info = os.waitid(os.P_PIDFD, self.pidfd, os.WEXITED | os.WNOHANG)
                if info is not None:
                    self.status = _siginfo_status(info)
            else:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = status
        except ChildProcessError:
            pass  # someone else's child: its parent reaps it

    def look_for_zombie(self, now: float) -> None:
        """Once it has exited: is it still in the process table, unreaped by a parent
        that is not the harness (a PID 1 that never calls wait)? The harness's own
        children are reaped by :meth:`reap`, never watched here."""
        if self.zombie_settled or self.ended_at is None:
            return
        try:
            # is_running() compares the start time: a reused PID is not this process
            zombie = self.ps.is_running() and self.ps.status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            zombie = False
        st = stat(self.pid) if zombie else None
        if st is not None and st.ppid != os.getpid():
            parent = stat(st.ppid)
            if parent is not None and parent.exiting:
                return  # a parent dying with it (a group signal): not one that never reaps
            self.zombie_seen = now
            return
        if zombie:
            return  # re-parented to the harness: reap() takes it
        if self.zombie_seen is not None:
            self.reaped_at = now
        self.zombie_settled = True

    def learn_exit(self) -> None:
        """After the process ended: find its exit status any way the machine allows."""
        if self.status is not None or self.is_popen:
            return
        self.reap()
        if self.status is None and self.pidfd is not None:
            self.status = pidfd_exit_status(self.pidfd)
        if self.status is None:
            self.exit_note = capabilities().pidfd_exit_info or "exit status not reported"

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _siginfo_status(info: os.waitid_result) -> int:
    if info.si_code == os.CLD_EXITED:
        return (info.si_status & 0xFF) << 8
    return info.si_status & 0x7F  # killed or dumped: the signal number


def open_pidfd(ps: psutil.Process) -> int | None:
    """A pidfd for ``ps``; None when it is gone, or when no pidfd can be had (no
    pidfds here, or out of descriptors: EMFILE): the handle then goes by psutil,
    which checks the start time before each signal."""
    if capabilities().pidfd is not None:
        return None
    try:
        fd = os.pidfd_open(ps.pid)
    except OSError:
        return None
    # The PID could have been recycled between the scan and pidfd_open: psutil's
    # is_running() compares the start time it saw with the current one.
    if not ps.is_running():
        os.close(fd)
        return None
    return fd


# ------------------------------------------------------------------ psutil helpers


def environ_of(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except psutil.Error:
        return {}


def tag_of_pid(pid: int) -> str | None:
    """The case tag in ``pid``'s environment; None if it has none or it is unreadable."""
    return environ_value(pid, TAG_ENV)


def live_processes(pids: list[int]) -> dict[int, psutil.Process]:
    """psutil handles for those of ``pids`` still there."""
    out: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            out[pid] = psutil.Process(pid)
        except psutil.Error:
            continue
    return out


def parent_pid(proc: psutil.Process) -> int | None:
    try:
        return proc.ppid()
    except psutil.Error:
        return None


def still_running(proc: psutil.Process) -> bool:
    """Whether ``proc`` (the process psutil saw, by its start time) is still there."""
    try:
        return proc.is_running()
    except psutil.Error:
        return False


def created(proc: psutil.Process) -> float:
    try:
        return proc.create_time()
    except psutil.Error:
        return 0.0


def cmdline_of(proc: psutil.Process) -> str:
    """The command line as text ("" while the process is still in execve, or gone)."""
    try:
        return argv_text(proc.cmdline())
    except psutil.Error:
        return ""


def argv_text(argv: Iterable[str | bytes | os.PathLike[str] | os.PathLike[bytes]]) -> str:
    """An argv as one line. An argument that is not UTF-8 comes with lone surrogates
    (surrogateescape), which no report could encode: such bytes become U+FFFD here,
    as they do in the output tail."""
    text = " ".join(os.fsdecode(a) for a in argv)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def tagged_processes(prefix: str = "") -> list[psutil.Process]:
    """Every live (non-zombie) process whose case tag starts with ``prefix``."""
    out: list[psutil.Process] = []
    for proc in psutil.process_iter():
        tag = tag_of_pid(proc.pid)
        if tag is not None and tag.startswith(prefix):
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
            except psutil.Error:
                continue
            out.append(proc)
    return out
