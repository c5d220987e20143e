"""The processes of one case: finding them, naming them, signalling them, ending them.

Three mechanisms keep track of every process a case creates, because each alone
misses something:

* every target is started with an environment tag (``SHUTDOWN_PROBE_CASE``) that its
  descendants inherit, so a process can be attributed to its case even after its
  parent died (the psutil tree forgets orphans);
* the harness makes itself a child subreaper, so orphans are re-parented to it rather
  than to init: they stay visible and the harness reaps them;
* each process found gets a pidfd at once, so a later signal can never hit a
  recycled PID and its exit is an event the harness can wait on.

A process that drops the tag and leaves its case's session reaches the harness as an
untagged child: :mod:`~shutdown_probe.adoption` decides whose it is. The commands of
a case's triggers and preStop actions are started here too (:meth:`CaseProcesses.spawn_action`):
tagged as the action's, so they and everything they start are the case's processes,
in roles that say so (``trigger``, ``trigger-child``, ``pre-stop``...).

Every SIGKILL the harness sends to a process a case tracks goes through
:meth:`CaseProcesses.kill`, which writes it down (:attr:`CaseProcesses.sigkills`, the
case's escalations). A stray (a re-parented process no running case can take in) is
killed by :func:`~shutdown_probe.adoption.kill_and_reap` instead, and recorded as a
``Stray`` (``killed_by_harness``) on each case that may own it, not as an escalation.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field

import psutil

from . import adoption, watchdog
from .paths import signal_name
from .procnet import child_pids, descendant_pids, listening_ports
from .waiting import wait_readable

TAG_ENV = "SHUTDOWN_PROBE_CASE"

# The roles of the processes a case's actions start (the action itself; whatever it
# starts is "<action>-child"), and the suffix of their tag: "<case tag>/<action>".
ACTIONS = ("trigger", "pre-stop")
# A process re-parented to the harness without a tag, tied to its case otherwise.
ADOPTED = "adopted"


def action_of(role: str) -> str | None:
    """The action a role belongs to ("trigger" for "trigger-child"), None for the app's."""
    for action in ACTIONS:
        if role == action or role == f"{action}-child":
            return action
    return None

_PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Capabilities:
    """What this machine lets the harness do; each missing piece says why."""

    pidfd: str | None = None  # None when available, else the reason it is not
    subreaper: str | None = None
    pidfd_exit_info: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {
            "pidfd": self.pidfd or "yes",
            "subreaper": self.subreaper or "yes",
            "pidfd_exit_info": self.pidfd_exit_info or "yes",
            "watchdog": watchdog.state(),
        }


_caps: Capabilities | None = None


def capabilities() -> Capabilities:
    """Detect (once) pidfds, the subreaper bit and PIDFD_INFO_EXIT, and enable the subreaper."""
    global _caps
    if _caps is None:
        caps = Capabilities()
        try:
            fd = os.pidfd_open(os.getpid())
            os.close(fd)
        except (AttributeError, OSError) as exc:
            caps.pidfd = f"pidfd_open unavailable ({exc}); signals go by PID, checked by start time"
        caps.subreaper = _become_subreaper()
        caps.pidfd_exit_info = None if caps.pidfd is None and _probe_exit_info() else (
            "the kernel has no PIDFD_INFO_EXIT (Linux 6.15+): exit status is known only "
            "for processes the harness reaps itself"
        )
        _caps = caps
    return _caps


def _become_subreaper() -> str | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            return f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(err)}"
    except (OSError, AttributeError) as exc:
        return f"prctl unavailable: {exc}"
    return None


# struct pidfd_info from <linux/pidfd.h> (72 bytes with exit_code, Linux 6.15+).
_PIDFD_INFO_SIZE = 72
_PIDFD_INFO_EXIT = 1 << 3
_PIDFD_GET_INFO = (3 << 30) | (_PIDFD_INFO_SIZE << 16) | (0xFF << 8) | 11
_EXIT_CODE_OFFSET = 60


def _pidfd_exit_status(fd: int) -> int | None:
    """The wait status of an exited (and reaped) process, from the kernel, or None."""
    buf = bytearray(_PIDFD_INFO_SIZE)
    struct.pack_into("Q", buf, 0, _PIDFD_INFO_EXIT)
    try:
        fcntl.ioctl(fd, _PIDFD_GET_INFO, buf, True)
    except OSError:
        return None
    (mask,) = struct.unpack_from("Q", buf, 0)
    if not mask & _PIDFD_INFO_EXIT:
        return None
    (status,) = struct.unpack_from("i", buf, _EXIT_CODE_OFFSET)
    return status


def _probe_exit_info() -> bool:
    """Does PIDFD_INFO_EXIT work here? Tried on a throwaway ``true``."""
    try:
        proc = subprocess.Popen(["true"])
    except OSError:
        return False
    fd = os.pidfd_open(proc.pid)
    try:
        proc.wait()
        return _pidfd_exit_status(fd) is not None
    finally:
        os.close(fd)


def describe_status(status: int) -> tuple[int | None, str | None]:
    """A wait status -> (returncode, signal name); exactly one is set."""
    if os.WIFSIGNALED(status):
        return None, signal_name(os.WTERMSIG(status))
    return os.WEXITSTATUS(status), None


# ------------------------------------------------------------------ a process handle


@dataclass(eq=False)
class ProcessHandle:
    """One process of a case, held by a pidfd when the machine has them."""

    pid: int
    role: str
    ps: psutil.Process
    pidfd: int | None = None
    cmdline: str = ""
    popen: subprocess.Popen | None = None  # the harness started it: this Popen reaps it
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
    # for a re-parented process without a tag: what ties it to the case
    attributed_by: str | None = None

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

    def learn_exit(self) -> None:
        """After the process ended: find its exit status any way the machine allows."""
        if self.status is not None or self.is_popen:
            return
        self.reap()
        if self.status is None and self.pidfd is not None:
            self.status = _pidfd_exit_status(self.pidfd)
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


def _open(ps: psutil.Process) -> int | None:
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


# ------------------------------------------------------------------ the case's tree


@dataclass
class Kill:
    """One SIGKILL the harness sent to a process of a case."""

    handle: ProcessHandle
    reason: str
    at: float  # monotonic
    record: bool  # False for a case that never ran its path (skipped): not an escalation


class CaseProcesses:
    """Every process of one case, discovered as they appear.

    Usually the harness starts the app's root process itself. For a PID-1 case it
    starts a launcher instead (role ``launcher``), whose child is PID 1 of a new
    namespace: the app's root, or an init (role ``init``) whose child is the root.
    Until :meth:`find_root` runs, ``root`` is the process the harness started: its
    death still means the app died.
    """

    def __init__(self, popen: subprocess.Popen[bytes], tag: str, *, launcher: bool = False,
                 init: bool = False, window: adoption.Window | None = None) -> None:
        self.popen = popen
        self.tag = tag
        self.handles: dict[int, ProcessHandle] = {}
        ps = psutil.Process(popen.pid)
        # Popen returns as soon as execve has begun, before the kernel has copied the
        # new argv (/proc/PID/cmdline reads empty 9 times in 10 here): the argv the
        # harness gave is the one the kernel is setting up.
        argv = popen.args if isinstance(popen.args, (list, tuple)) else [popen.args]
        self.started = ProcessHandle(popen.pid, "launcher" if launcher else "root", ps, _open(ps),
                                     _cmdline(ps) or _text_of(argv), popen=popen)
        self.handles[popen.pid] = self.started
        watchdog.watch(popen.pid)
        self.root = self.started
        self.pid1: ProcessHandle | None = None  # PID 1 of the case's namespace
        self.init: ProcessHandle | None = None
        self._layers = (["init"] if init else []) + ["root"] if launcher else []
        self.worker: ProcessHandle | None = None  # the "child" that does the work
        # Every SIGKILL the harness sent to a process of the case, in order.
        self.sigkills: list[Kill] = []
        # Processes started for the case by another thread (a trigger's command), for
        # the case's own thread to take into ``handles`` (which only it changes).
        self._incoming: list[ProcessHandle] = []
        # Set by close() once the case is ending: no action starts after its last look.
        self.closed = False
        self.window = window
        if window is not None:
            # copy() is one step under the GIL: another thread iterating the dict
            # while this case's thread adds to it would raise
            window.known = lambda: set(self.handles.copy())
            window.tracks = lambda: {pid for pid, h in self.handles.copy().items() if h.ended_at is None}

    def find_root(self) -> str | None:
        """Behind a launcher: find PID 1 (and the init's child); None, or what is missing."""
        parent = self.started
        for role in self._layers:
            kids = sorted(_processes(child_pids(parent.pid)).values(), key=_created)
            if not kids:
                return f"the {parent.role} (pid {parent.pid}) has no child: the {role} is gone"
            ps = kids[0]
            handle = self.handles.get(ps.pid) or ProcessHandle(ps.pid, role, ps, _open(ps), _cmdline(ps))
            watchdog.watch(ps.pid)
            handle.role = role
            handle.ns_pid = ns_pid_of(ps.pid)
            self.handles[ps.pid] = handle
            if self.pid1 is None:
                self.pid1 = handle
            if role == "init":
                self.init = handle
            parent = handle
        self.root = parent
        self._layers = []
        return None

    # -- discovery

    def discover(self, *, full_scan: bool = False) -> list[ProcessHandle]:
        """Find processes of this case not seen before; return the new handles.

        Looks at the descendants of every known live process, at the harness's own
        children carrying this case's tag (orphans adopted by the subreaper) and at
        their descendants, and at the harness's untagged children (see
        :mod:`~shutdown_probe.adoption`): one this case can be known to own is taken
        in, one nobody can be known to own is killed and recorded. With ``full_scan``,
        or when the harness is not a subreaper, every process on the machine is
        checked for the tag.
        """
        for h in self.handles.values():
            if not h.cmdline and h.ended_at is None:
                # Read while the process was still in execve: the kernel lets a vfork
                # parent (Popen) run on before it has set up the new argv, and
                # /proc/PID/cmdline is empty until then (seen under load).
                h.cmdline = _cmdline(h.ps)
        subreaper = capabilities().subreaper is None
        seen_now = adoption.look(lambda: child_pids(os.getpid())) if subreaper else None
        while self._incoming:
            h = self._incoming.pop(0)
            self.handles[h.pid] = h
        live = [h.pid for h in self.handles.values() if h.ended_at is None]
        found = [pid for pid in descendant_pids(live) if pid not in self.handles]
        seen = set(found) | set(self.handles)
        kids = seen_now.children if seen_now is not None else child_pids(os.getpid())
        candidates = psutil.pids() if full_scan or not subreaper else kids
        own = seen_now.own if seen_now is not None else set()
        adopted = []
        for pid in candidates:
            if pid in seen or pid in own:
                continue
            tag = _tag_of_pid(pid)
            if tag is not None and (tag == self.tag or tag.startswith(self.tag + "/")):
                adopted.append(pid)
        harness_kids = set(kids)
        tagged_orphans = {pid for pid in adopted if pid in harness_kids}  # re-parented, found by tag
        strays: dict[int, str] = {}
        if seen_now is not None:
            strays = _strays(seen_now, seen | set(adopted), self.window)
            adopted += list(strays)
        if adopted:
            found += adopted + [p for p in descendant_pids(adopted) if p not in seen]
        new = []
        for pid, proc in sorted(_processes(found).items(), key=lambda kv: _created(kv[1])):
            if pid in self.handles:
                continue
            fd = _open(proc)
            if fd is None and not _running(proc):
                continue  # already gone
            role = self._role_for(proc, pid in strays)
            # A process re-parented to the harness that the case took in: what tied it
            # (its tag, or what adoption.attribute found), whichever look saw it first.
            tie = strays.get(pid) or ("tag" if pid in tagged_orphans else None)
            handle = ProcessHandle(pid, role, proc, fd, _cmdline(proc),
                                   found_at=time.monotonic(), started_at=started_monotonic(pid),
                                   attributed_by=tie)
            if self.pid1 is not None:
                handle.ns_pid = ns_pid_of(pid)
            self.handles[pid] = handle
            watchdog.watch(pid)
            new.append(handle)
        return new

    def _role_for(self, proc: psutil.Process, stray: bool = False) -> str:
        try:
            ppid = proc.ppid()
        except psutil.Error:
            ppid = None
        parent = self.handles.get(ppid) if ppid is not None else None
        if parent is not None and action_of(parent.role):
            return f"{action_of(parent.role)}-child"
        if ppid == os.getpid():  # re-parented to the harness: what it was is in its tag
            if stray:
                # no tag; tied by its session to an action's process: that action's
                try:
                    leader = self.handles.get(os.getsid(proc.pid))
                except OSError:
                    leader = None
                action = action_of(leader.role) if leader is not None else None
                return f"{action}-child" if action else ADOPTED
            tag = _tag_of_pid(proc.pid) or ""
            if tag.startswith(self.tag + "/") and tag[len(self.tag) + 1:] in ACTIONS:
                return f"{tag[len(self.tag) + 1:]}-child"
            # The app's, re-parented: "adopted" whether the tag or something else tied
            # it (read before or after an execve that dropped the tag: the same process)
            return ADOPTED
        if ppid == self.root.pid:
            n = sum(1 for h in self.handles.values() if h.role.startswith("child"))
            return "child" if n == 0 else f"child-{n + 1}"
        if parent is not None and parent.role.startswith("child"):
            return "grandchild"
        return "descendant"

    def settle_roles(self) -> None:
        """Choose the root's working child and record what each process listens on.

        The worker is the child the Werkzeug reloader marked (``WERKZEUG_RUN_MAIN``),
        else a child that listens on a TCP port, else the oldest child.
        """
        ports = listening_ports([h.pid for h in self.handles.values() if h.alive])
        for handle in self.handles.values():
            handle.listening = ports.get(handle.pid, [])
        children = [h for h in self.handles.values()
                    if h.role.startswith("child") and h.alive and _ppid(h.ps) == self.root.pid]
        if not children:
            return

        def rank(h: ProcessHandle) -> tuple[int, int, float]:
            return (
                0 if _env_of(h.ps).get("WERKZEUG_RUN_MAIN") == "true" else 1,
                0 if h.listening else 1,
                _created(h.ps),
            )

        children.sort(key=rank)
        # Renumber so that "child" is always the worker.
        for n, h in enumerate(children):
            h.role = "child" if n == 0 else f"child-{n + 1}"
        self.worker = children[0]

    def started_since(self, t: float) -> list[ProcessHandle]:
        """The root's children first seen after monotonic time ``t`` (a respawned worker)."""
        return [h for h in self.handles.values()
                if h.found_at is not None and h.found_at > t and h.role.startswith("child")]

    # -- waiting

    def live(self) -> list[ProcessHandle]:
        return [h for h in self.handles.values() if h.alive]

    def wait_root(self, deadline: float, wake_fds: list[int] = ()) -> bool:
        """Wait until the root exits (True) or ``deadline``/a wake fd (False).

        New processes are looked for on every wake-up, so a process forked during
        shutdown is still tracked.
        """
        return self.wait_until(lambda: not self.root.alive, deadline, wake_fds)

    def wait_all(self, deadline: float, wake_fds: list[int] = ()) -> bool:
        return self.wait_until(lambda: not self.live(), deadline, wake_fds)

    def wait_until(self, done, deadline: float, wake_fds=(), *, every: float = 0.2) -> bool:
        """Wait until ``done()`` (True), ``deadline`` or a wake fd (False unless done).

        Wakes on every exit (pidfds); ``every`` caps the time between two looks, for
        a ``done`` that no fd announces (new processes, a file, the probe's events).
        """
        rescan = min(0.02, every)
        while True:
            self.discover()
            self._reap_ended()
            if done():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            fds = [h.pidfd for h in self.live() if h.pidfd is not None]
            woke = wait_readable(fds + list(wake_fds), min(left, rescan))
            self._note_exits(woke)
            if any(fd in woke for fd in wake_fds):
                return done()
            # Discovery is the one thing that cannot be event-driven: rescan often at
            # first, when shutdown forks happen, then less often.
            rescan = min(every, rescan * 1.5)

    def _note_exits(self, readable: list[int]) -> None:
        """Stamp the exits a poll just reported, before anything else takes time."""
        if not readable:
            return
        now = time.monotonic()
        for h in self.handles.values():
            if h.ended_at is None and h.pidfd is not None and h.pidfd in readable:
                h.ended_at = now

    def _reap_ended(self) -> None:
        for h in self.handles.values():
            if not h.alive:
                h.reap()
        if self.popen.returncode is None and not self.started.alive:
            self.popen.wait()
            adoption.disown(self.popen.pid)

    # -- ending

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the case's process group, and never to another one.

        The group is the started process's: its PID is the group id. Until the
        harness reaps that process, the PID cannot be reused, so ``killpg`` reaches
        this case's group and no other. Once it is reaped, a new process could in
        principle take the number and lead a group of its own: then the live members
        the harness knows are signalled one by one, through their pidfds. False when
        no process received it.
        """
        pgid = self.started.pid
        if self.popen.returncode is None:
            try:
                os.killpg(pgid, sig)
                return True
            except ProcessLookupError:
                return False
        hit = False
        for h in self.live():
            if process_group(h.pid) == pgid:
                hit |= h.send(sig)
        return hit

    def kill(self, h: ProcessHandle, reason: str, *, record: bool = True) -> bool:
        """SIGKILL one process of the case and write it down; False if it was gone.

        The one way the harness kills a case's process: each kill is kept in
        :attr:`sigkills` (the runner turns those with ``record`` into the case's
        escalations) and marks the process ``killed_by_harness``.
        """
        if not h.send(signal.SIGKILL):
            return False
        h.killed_by_harness = True
        h.exit_note = reason
        self.sigkills.append(Kill(h, reason, time.monotonic(), record))
        return True

    def kill_all(self, reason: str, *, record: bool = True) -> list[ProcessHandle]:
        """SIGKILL every live process of the case; return those the harness killed."""
        killed: list[ProcessHandle] = []
        # The known processes first, then a machine-wide look for the tag: that scan
        # reads every process's environment, which can take long on a busy machine
        # (each read waits for that process's memory map lock), and must not delay
        # the SIGKILLs it cannot add to.
        for scan in (False, True):
            if scan:
                self.discover(full_scan=True)
            for h in self.live():
                if h not in killed and self.kill(h, reason, record=record):
                    killed.append(h)
        return killed

    def wait_gone(self, timeout: float = 5.0, reason: str = "cleanup at the end of the case", *,
                  record: bool = True) -> bool:
        """After kill_all: wait (bounded) until nothing of the case is left, reaping.

        A process found meanwhile (forked just before the kill, or re-parented to
        the harness just now) is killed too, for the same ``reason``.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._reap_ended()
            live = self.live()
            if not live:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            fds = [h.pidfd for h in live if h.pidfd is not None]
            self._note_exits(wait_readable(fds, min(left, 0.05)))
            for h in self.discover(full_scan=True):
                self.kill(h, reason, record=record)
        if self.popen.returncode is None:
            self.popen.wait()
            adoption.disown(self.popen.pid)
        return True

    def close(self) -> None:
        """The case is ending: no action's command starts from now on (checked under
        the same lock :meth:`spawn_action` starts one under, so one started before is
        in ``_incoming`` for the next look, and none starts after)."""
        with adoption.spawning():
            self.closed = True

    def spawn_action(self, argv: list[str], action: str, cwd: str,
                     env: dict[str, str]) -> ProcessHandle | None:
        """Start an action's command (``action``: "trigger" or "pre-stop") as a process
        of the case: in a session of its own, tagged ``<case tag>/<action>`` so that
        whatever it starts is the case's too, and known to the watchdog. Any thread
        may call it; the case's own thread takes the handle in. Raises OSError when
        the command cannot start; returns None, starting nothing, once the case is
        closed (:meth:`close`: its last look may be over: nothing would track the command)."""
        env = {**env, TAG_ENV: f"{self.tag}/{action}"}
        with adoption.spawning():
            if self.closed:
                return None
            popen = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
            adoption.own(popen.pid)
            # Not yet reaped (its Popen is the only waiter), so these always work.
            ps = psutil.Process(popen.pid)
            handle = ProcessHandle(popen.pid, action, ps, _open(ps), " ".join(argv), popen=popen,
                                   found_at=time.monotonic(), started_at=started_monotonic(popen.pid))
            self._incoming.append(handle)
        watchdog.watch(popen.pid)
        return handle

    def reaped(self, h: ProcessHandle) -> None:
        """The Popen of a process the harness started has reaped it."""
        if h.popen is not None and h.popen.returncode is not None:
            adoption.disown(h.pid)

    def finish(self) -> None:
        """Learn every exit status we can, then release the pidfds.

        An exit seen through ``alive`` (a pidfd poll) is not yet reaped: the process
        the harness started is waited for here, whoever noticed its end.
        """
        with adoption.spawning():
            self.closed = True
            while self._incoming:  # started after the last look: still the case's
                h = self._incoming.pop(0)
                self.handles[h.pid] = h
                if h.alive:  # nothing of a case outlives it
                    self.kill(h, "cleanup at the end of the case")
        self._reap_ended()
        if self.popen.returncode is not None:
            adoption.disown(self.popen.pid)  # whoever waited for it
        for h in self.handles.values():
            if h.popen is not None and h is not self.started and not h.alive:
                h.popen.poll()  # an action's command: normally its own thread reaped it
                self.reaped(h)
            h.learn_exit()
        for h in self.handles.values():
            h.close()


# ------------------------------------------------------------------ re-parented processes


def _strays(now: adoption.Look, seen: set[int], window: adoption.Window | None) -> dict[int, str]:
    """The harness's children no case tracks, outside its session: those the case of
    ``window`` can be known to own (pid -> what ties them to it). Those whose case cannot be
    known, or whose case is over, are killed and recorded here; those another
    running case owns are left to it; those no case can own are left alone."""
    mine: dict[int, str] = {}
    unknown = [pid for pid in now.children if pid not in seen and pid not in now.own]
    if not unknown:
        return mine
    harness_session = os.getsid(0)
    # Every process another running case knows, ended or not: one it saw end is its
    # own to reap (its exit status is its record), and must not be reaped here.
    tracked = set().union(*(w.known() for w in now.windows if w.ended is None and w is not window))
    for pid in unknown:
        if pid in tracked:
            continue
        st = adoption.stat(pid)
        if st is None or st.sid == harness_session:
            continue  # gone, or someone else's (no case process is in our session)
        if st.state not in (b"Z", b"X") and watchdog.is_watchdog(pid):
            continue  # ours, or the watchdog of a harness we started, which ended before it
        zombie = st.state in (b"Z", b"X")
        tag = None if zombie else _tag_of_pid(pid)
        verdict = adoption.attribute(pid, st, tag, now.windows)
        if verdict is None:
            continue
        if zombie and verdict.owner is not None and verdict.owner is not window and verdict.owner.ended is None:
            continue  # another running case's: it reaps it when it takes it in
        if zombie:
            # Ended before anyone saw it: nothing to kill, but the harness adopted it
            # as an init would, and must reap it as an init would (a zombie still
            # answers kill(pid, 0)). Its tag cannot be read, its session can.
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            continue
        owner = verdict.owner
        if owner is not None and owner is window:
            mine[pid] = verdict.how
        elif owner is None or owner.ended is not None:
            proc = _processes([pid]).get(pid)
            ports = listening_ports([pid]).get(pid, [])
            adoption.settle(pid, st, verdict, _cmdline(proc) if proc else "", ports,
                            lambda: adoption.kill_and_reap(pid, st.start))
        # else: a running case owns it and takes it in on its own next look
    return mine


def sweep_strays() -> None:
    """After a case: kill and record a process of a finished case (or of no case that
    can be known) that was re-parented to the harness after that case's last look."""
    if capabilities().subreaper is None:
        # Again while a pass settles someone: a stray's children that escaped its kill
        # (re-parented to the harness) are found by the next pass. Bounded: a pass
        # that still finds one after that many is left to the next case's look.
        for _ in range(_SWEEPS):
            before = adoption.settled_total()
            _strays(adoption.look(lambda: child_pids(os.getpid())), set(), None)
            if adoption.settled_total() == before:
                break


_SWEEPS = 10


# ------------------------------------------------------------------ psutil helpers


def _env_of(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except psutil.Error:
        return {}


def _tag_of_pid(pid: int) -> str | None:
    """The case tag in ``pid``'s environment; None if it has none or it is unreadable."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read()
    except OSError:
        return None
    key = TAG_ENV.encode() + b"="
    for item in env.split(b"\0"):
        if item.startswith(key):
            return item[len(key):].decode(errors="replace")
    return None


def _processes(pids: list[int]) -> dict[int, psutil.Process]:
    """psutil handles for those of ``pids`` still there."""
    out = {}
    for pid in pids:
        try:
            out[pid] = psutil.Process(pid)
        except psutil.Error:
            continue
    return out


def _ppid(proc: psutil.Process) -> int | None:
    try:
        return proc.ppid()
    except psutil.Error:
        return None


def _running(proc: psutil.Process) -> bool:
    """Whether ``proc`` (the process psutil saw, by its start time) is still there."""
    try:
        return proc.is_running()
    except psutil.Error:
        return False


def _created(proc: psutil.Process) -> float:
    try:
        return proc.create_time()
    except psutil.Error:
        return 0.0


def _cmdline(proc: psutil.Process) -> str:
    """The command line as text ("" while the process is still in execve, or gone)."""
    try:
        return _text_of(proc.cmdline())
    except psutil.Error:
        return ""


def _text_of(argv) -> str:
    """An argv as one line. An argument that is not UTF-8 comes with lone surrogates
    (surrogateescape), which no report could encode: such bytes become U+FFFD here,
    as they do in the output tail."""
    text = " ".join(os.fsdecode(a) for a in argv)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _status(pid: int) -> dict[str, str] | None:
    """The fields of /proc/PID/status (raw values); None if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return {k: v.strip() for k, _, v in (line.partition(":") for line in fh)}
    except OSError:
        return None


def started_monotonic(pid: int) -> float | None:
    """When ``pid`` started, on the monotonic clock; None if unreadable.

    psutil's create_time adds the boot time, which the kernel gives in whole seconds;
    /proc/PID/stat's start time (clock ticks since boot) against CLOCK_BOOTTIME now
    is exact to a tick.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            ticks = int(fh.read().rpartition(")")[2].split()[19])
    except (OSError, IndexError, ValueError):
        return None
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    return time.monotonic() - age


def ns_pid_of(pid: int) -> int | None:
    """``pid``'s number inside its innermost PID namespace, when that is not ours."""
    pids = ((_status(pid) or {}).get("NSpid") or "").split()
    return int(pids[-1]) if len(pids) > 1 else None


def _signal_masks(pid: int) -> dict[str, int] | None:
    """SigIgn, SigCgt, SigBlk... of ``pid`` from /proc/PID/status; None if unreadable."""
    status = _status(pid)
    if status is None:
        return None
    try:
        return {k: int(v, 16) for k, v in status.items() if k.startswith("Sig") and k != "SigQ"}
    except ValueError:
        return None


def _in_masks(pid: int, sig: int, names: tuple[str, ...]) -> bool | None:
    """Whether ``sig`` is set in any of ``pid``'s masks ``names``; None if unreadable."""
    masks = _signal_masks(pid)
    if not masks:
        return None
    return any(masks.get(name, 0) & (1 << (sig - 1)) for name in names)


def signal_dispositions(pid: int) -> tuple[list[str], list[str]]:
    """(ignored, caught) among the signals a stop path can send, from /proc."""
    interesting = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                   signal.SIGUSR1, signal.SIGUSR2)
    masks = _signal_masks(pid) or {}

    def names(mask: int) -> list[str]:
        return [s.name for s in interesting if mask & (1 << (s - 1))]

    return names(masks.get("SigIgn", 0)), names(masks.get("SigCgt", 0))


def signal_accepted(pid: int, sig: int) -> bool | None:
    """Whether ``pid`` catches or blocks ``sig`` now (SigCgt | SigBlk); None if unknown.

    This is what decides whether a signal from outside reaches a PID 1: the kernel
    drops it unless PID 1 has a handler, or has it blocked (then it is queued).
    """
    return _in_masks(pid, sig, ("SigCgt", "SigBlk"))


def signal_is_fatal(pid: int, sig: int) -> bool:
    """Whether ``sig`` (one whose default action ends a process) will end ``pid``: it
    neither catches, blocks nor ignores it. False when /proc cannot tell."""
    return _in_masks(pid, sig, ("SigCgt", "SigBlk", "SigIgn")) is False


def tagged_processes(prefix: str = "") -> list[psutil.Process]:
    """Every live (non-zombie) process whose case tag starts with ``prefix``."""
    out = []
    for proc in psutil.process_iter():
        tag = _tag_of_pid(proc.pid)
        if tag is not None and tag.startswith(prefix):
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
            except psutil.Error:
                continue
            out.append(proc)
    return out
