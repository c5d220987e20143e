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

Every SIGKILL the harness sends to a process a case tracks goes through the case's
:class:`~shutdown_probe.kills.CaseKills` (:attr:`CaseProcesses.kills`), which sends
it and writes it down in one step; :mod:`~shutdown_probe.kills` says how strays are
killed and recorded. The handle, the capability checks, the ``/proc`` reads and the
strays have modules of their own (:mod:`~shutdown_probe.handles`,
:mod:`~shutdown_probe.capabilities`, :mod:`~shutdown_probe.procfs`,
:mod:`~shutdown_probe.strays`); this module names them for its users.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Callable, Sequence

import psutil

from . import adoption, watchdog
from .capabilities import Capabilities, capabilities
from .handles import (
    ACTIONS,
    ADOPTED,
    TAG_ENV,
    ProcessHandle,
    action_of,
    argv_text,
    cmdline_of,
    created,
    describe_status,
    environ_of,
    live_processes,
    open_pidfd,
    parent_pid,
    still_running,
    tag_of_pid,
    tagged_processes,
)
from .kills import CaseKills, Kill
from .procfs import (
    ns_pid_of,
    process_group,
    signal_accepted,
    signal_dispositions,
    signal_is_fatal,
    started_monotonic,
)
from .mphelpers import mp_helper
from .procnet import child_pids, descendant_pids, listening_ports
from .strays import find_strays, sweep_strays
from .waiting import wait_readable

# Names the process layer is used by, wherever they live now (the runner, the stop
# profiles and the pytest plugin import them from here).
__all__ = [
    "ACTIONS", "ADOPTED", "TAG_ENV", "Capabilities", "CaseProcesses", "Kill", "ProcessHandle", "action_of",
    "capabilities", "describe_status", "ns_pid_of", "process_group", "signal_accepted", "signal_dispositions",
    "signal_is_fatal", "started_monotonic", "sweep_strays", "tagged_processes",
]


# How often the ports of processes found after the app got ready are read (seconds).
LATE_PORTS_EVERY = 0.25

# ------------------------------------------------------------------ the case's tree


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
        args = popen.args
        argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        self.started = ProcessHandle(popen.pid, "launcher" if launcher else "root", ps, open_pidfd(ps),
                                     cmdline_of(ps) or argv_text(argv), popen=popen)
        self.handles[popen.pid] = self.started
        watchdog.watch(popen.pid)
        self.root = self.started
        self.pid1: ProcessHandle | None = None  # PID 1 of the case's namespace
        self.init: ProcessHandle | None = None
        self._layers = (["init"] if init else []) + ["root"] if launcher else []
        self.worker: ProcessHandle | None = None  # the "child" that does the work
        self.helpers: list[ProcessHandle] = []  # the root's children that are multiprocessing's helpers
        # Every SIGKILL the harness sent to a process of the case, in order.
        self.kills = CaseKills()
        # Held while ``handles`` grows: abort_all's thread may discover at the same
        # time as the case's own, and one process must get one handle.
        self._discovering = threading.RLock()
        # Processes started for the case by another thread (a trigger's command), for
        # the case's own thread to take into ``handles`` (which only it changes).
        self._incoming: list[ProcessHandle] = []
        # Set by close() once the case is ending: no action starts after its last look.
        self.closed = False
        self.window = window
        self._settled_at: float | None = None  # when settle_roles read the ports
        self._ports_next = 0.0  # the next look at the ports of processes found later
        if window is not None:
            # copy() is one step under the GIL: another thread iterating the dict
            # while this case's thread adds to it would raise
            window.known = lambda: set(self.handles.copy())
            window.tracks = lambda: {pid for pid, h in self.handles.copy().items() if h.ended_at is None}

    def find_root(self) -> str | None:
        """Behind a launcher: find PID 1 (and the init's child); None, or what is missing."""
        parent = self.started
        for role in self._layers:
            kids = sorted(live_processes(child_pids(parent.pid)).values(), key=created)
            if not kids:
                return f"the {parent.role} (pid {parent.pid}) has no child: the {role} is gone"
            ps = kids[0]
            handle = self.handles.get(ps.pid) or ProcessHandle(ps.pid, role, ps, open_pidfd(ps), cmdline_of(ps))
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
        with self._discovering:
            return self._discover(full_scan)

    def _discover(self, full_scan: bool) -> list[ProcessHandle]:
        for h in self.handles.values():
            if not h.cmdline and h.ended_at is None:
                # Read while the process was still in execve: the kernel lets a vfork
                # parent (Popen) run on before it has set up the new argv, and
                # /proc/PID/cmdline is empty until then (seen under load).
                h.cmdline = cmdline_of(h.ps)
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
            tag = tag_of_pid(pid)
            if tag is not None and (tag == self.tag or tag.startswith(self.tag + "/")):
                adopted.append(pid)
        harness_kids = set(kids)
        tagged_orphans = {pid for pid in adopted if pid in harness_kids}  # re-parented, found by tag
        strays: dict[int, str] = {}
        if seen_now is not None:
            strays = find_strays(seen_now, seen | set(adopted), self.window)
            adopted += list(strays)
        if adopted:
            found += adopted + [p for p in descendant_pids(adopted) if p not in seen]
        new = []
        for pid, proc in sorted(live_processes(found).items(), key=lambda kv: created(kv[1])):
            if pid in self.handles:
                continue
            fd = open_pidfd(proc)
            if fd is None and not still_running(proc):
                continue  # already gone
            role = self._role_for(proc, pid in strays)
            # A process re-parented to the harness that the case took in: what tied it
            # (its tag, or what adoption.attribute found), whichever look saw it first.
            tie = strays.get(pid) or ("tag" if pid in tagged_orphans else None)
            handle = ProcessHandle(pid, role, proc, fd, cmdline_of(proc),
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
            tag = tag_of_pid(proc.pid) or ""
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
        else a child that listens on a TCP port, else the oldest child; never one of
        multiprocessing's helpers (:mod:`~shutdown_probe.mphelpers`), which are
        numbered last and kept in ``helpers``.
        """
        ports = listening_ports([h.pid for h in self.handles.values() if h.alive])
        for handle in self.handles.values():
            handle.listening = ports.get(handle.pid, [])
        self._settled_at = time.monotonic()
        children = [h for h in self.handles.values()
                    if h.role.startswith("child") and h.alive and parent_pid(h.ps) == self.root.pid]
        self.helpers = [h for h in children if self.helper_kind(h)]
        if not children:
            return

        def rank(h: ProcessHandle) -> tuple[int, int, int, float, int]:
            return (
                1 if h in self.helpers else 0,
                0 if environ_of(h.ps).get("WERKZEUG_RUN_MAIN") == "true" else 1,
                0 if h.listening else 1,
                created(h.ps),
                h.pid,
            )

        children.sort(key=rank)
        # Renumber so that "child" is always the worker.
        for n, h in enumerate(children):
            h.role = "child" if n == 0 else f"child-{n + 1}"
        self.worker = children[0] if children[0] not in self.helpers else None

    def helper_kind(self, h: ProcessHandle) -> str | None:
        """Which of multiprocessing's helpers ``h`` is (:mod:`~shutdown_probe.mphelpers`,
        told from its command line and its parent's), or None."""
        parent = self.handles.get(parent_pid(h.ps) or -1)
        return mp_helper(cmdline_of(h.ps) or h.cmdline, cmdline_of(parent.ps) if parent is not None else "")

    def _late_ports(self) -> None:
        """The ports of processes found after :meth:`settle_roles` (a replacement
        worker), read while they live until they are seen listening; at most every
        :data:`LATE_PORTS_EVERY` seconds, and only for those."""
        now = time.monotonic()
        if self._settled_at is None or now < self._ports_next:
            return
        self._ports_next = now + LATE_PORTS_EVERY
        late = [h.pid for h in self.handles.values()
                if h.alive and not h.listening and h.found_at is not None and h.found_at > self._settled_at]
        for pid, ports in listening_ports(late).items():
            self.handles[pid].listening = ports

    def started_since(self, t: float) -> list[ProcessHandle]:
        """The root's children first seen after monotonic time ``t`` (a respawned worker)."""
        return [h for h in self.handles.values()
                if h.found_at is not None and h.found_at > t and h.role.startswith("child")]

    # -- waiting

    def live(self) -> list[ProcessHandle]:
        # a copy (one step under the GIL): abort_all's thread may add handles meanwhile
        return [h for h in self.handles.copy().values() if h.alive]

    def wait_root(self, deadline: float, wake_fds: Sequence[int] = ()) -> bool:
        """Wait until the root exits (True) or ``deadline``/a wake fd (False).

        New processes are looked for on every wake-up, so a process forked during
        shutdown is still tracked.
        """
        return self.wait_until(lambda: not self.root.alive, deadline, wake_fds)

    def wait_all(self, deadline: float, wake_fds: Sequence[int] = ()) -> bool:
        return self.wait_until(lambda: not self.live(), deadline, wake_fds)

    def wait_until(self, done: Callable[[], bool], deadline: float, wake_fds: Sequence[int] = (), *,
                   every: float = 0.2) -> bool:
        """Wait until ``done()`` (True), ``deadline`` or a wake fd (False unless done).

        Wakes on every exit (pidfds); ``every`` caps the time between two looks, for
        a ``done`` that no fd announces (new processes, a file, the probe's events).
        """
        rescan = min(0.02, every)
        while True:
            self.discover()
            self._reap_ended()
            self._late_ports()
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
        now = time.monotonic()
        for h in self.handles.values():
            if not h.alive:
                h.reap()
                if not h.is_popen:
                    h.look_for_zombie(now)
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

    @property
    def sigkills(self) -> list[Kill]:
        """Every SIGKILL the harness sent to a process of the case, in order."""
        return self.kills.all()

    def kill_all(self, reason: str, *, record: bool = True) -> list[ProcessHandle]:
        """SIGKILL every live process of the case; return those the harness killed."""
        killed: list[ProcessHandle] = []
        self._ports_next = 0.0
        self._late_ports()  # a last look at what the late ones serve, before they die
        # The known processes first, then a machine-wide look for the tag: that scan
        # reads every process's environment, which can take long on a busy machine
        # (each read waits for that process's memory map lock), and must not delay
        # the SIGKILLs it cannot add to.
        for scan in (False, True):
            if scan:
                self.discover(full_scan=True)
            for h in self.live():
                if h not in killed and self.kills.kill(h, reason, record=record):
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
                self.kills.kill(h, reason, record=record)
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
            handle = ProcessHandle(popen.pid, action, ps, open_pidfd(ps), " ".join(argv), popen=popen,
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
                    self.kills.kill(h, "cleanup at the end of the case")
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
