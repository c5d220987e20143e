"""Why processes of a case were still running at the deadline, read before the
harness kills them (:class:`~shutdown_probe.results.Hang`):

* ``ignored``: a process the path's signal reached has it ignored (SIG_IGN, the
  ``SigIgn`` mask of ``/proc/PID/status``, when the app got ready and still at the
  deadline) or blocked (still pending for the process, ``ShdPnd``, and blocked in
  every thread: no thread could take it);
* ``unserved``: a port the case's processes still listen on, where nothing accepts:
  the harness connects (the kernel completes the handshake by itself) and watches
  its connection in the kernel's socket table; one that stays in the listener's
  accept queue (no socket inode yet) was never taken by any process;
* ``stuck``: where the Python probe last saw each process the harness then killed
  (an atexit callable that never returned, threading's shutdown, or no shutdown
  begun), filled in once the probe's events are read (:func:`stuck_at`).

Only observations: a port bound to an address the harness cannot reach, a process
without the probe, masks that cannot be read, give no entry rather than a guess.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence

from .handles import ProcessHandle
from .paths import signal_name
from .probe import ProbeReport
from .procfs import signal_masks, thread_masks
from .procnet import listening_ports, server_sockets
from .results import IgnoredSignal, StuckAt, UnservedPort
from .waiting import Backoff, wait_readable

# How long the harness's connection may wait in the accept queue before the port is
# reported as served by nobody. A live server takes a connection in well under a
# millisecond; a second leaves room for a loaded machine.
UNSERVED_WAIT = 1.0
_CONNECT_TIMEOUT = 1.0
_ESTABLISHED = "01"


def ignored_by(reached: Iterable[ProcessHandle], sig: int) -> list[IgnoredSignal]:
    """Those of ``reached`` (processes the path's signal ``sig`` was sent to) still
    running with ``sig`` ignored or blocked."""
    out: list[IgnoredSignal] = []
    if sig <= 0:
        return out
    bit = 1 << (sig - 1)
    for h in reached:
        if not h.alive:
            continue
        masks = signal_masks(h.pid)
        if not masks:
            continue  # gone meanwhile, or unreadable: nothing observed
        # ignored: SIG_IGN now and when the app got ready (a handler that ran and then
        # set SIG_IGN did not ignore the signal it ran for)
        ignored = masks.get("SigIgn", 0) & bit and (h.ignored_mask is None or h.ignored_mask & bit)
        how = "ignored" if ignored else "blocked" if _blocked(h.pid, bit, masks) else None
        if how is not None:
            out.append(IgnoredSignal(h.pid, h.role, signal_name(sig) or str(sig), how))
    return out


def _blocked(pid: int, bit: int, masks: dict[str, int]) -> bool:
    """Whether the signal ``bit`` is pending for the process (ShdPnd) and every one
    of its threads blocks it (SigBlk): then no thread can take it. A stopped process
    also leaves a signal pending, unblocked: that is not this."""
    if not masks.get("ShdPnd", 0) & bit:
        return False
    blocked = thread_masks(pid, "SigBlk")
    return blocked is not None and all(m & bit for m in blocked)


def unserved_ports(live: Sequence[ProcessHandle], wait: float = UNSERVED_WAIT) -> list[UnservedPort]:
    """The ports ``live`` processes listen on where no process accepted the harness's
    connection within ``wait`` seconds."""
    holders: dict[int, list[ProcessHandle]] = {}
    ports = listening_ports([h.pid for h in live])
    for h in live:
        for port in ports.get(h.pid, []):
            holders.setdefault(port, []).append(h)
    out: list[UnservedPort] = []
    for port, hs in sorted(holders.items()):
        queued = _unaccepted(port, wait)
        if queued is not None:
            out.append(UnservedPort(port, [h.pid for h in hs], [h.role for h in hs], queued, wait))
    return out


def _unaccepted(port: int, wait: float) -> int | None:
    """Connect to ``port`` on the loopback; the listener's accept queue length if the
    connection is still waiting there after ``wait`` s, None if a process took it (or
    no connection could be made)."""
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(_CONNECT_TIMEOUT)
            try:
                s.connect((host, port))
            except OSError:
                continue
            mine = s.getsockname()[1]
            end = time.monotonic() + wait
            backoff = Backoff(first=0.005, cap=0.1)
            while True:
                rows = server_sockets(port)
                ours = [r for r in rows if r.remote_port == mine and r.state == _ESTABLISHED]
                if not ours or ours[0].inode != 0:
                    return None  # taken off the queue by some process (or gone: not waiting)
                left = end - time.monotonic()
                if left <= 0:
                    listeners = [r for r in rows if r.remote_port == 0]
                    return max((r.rx_queue for r in listeners), default=1)
                wait_readable([], min(left, backoff.next()))
    return None


def stuck_at(report: ProbeReport, roles: dict[int, str], pids: Iterable[int], t0: float | None) -> list[StuckAt]:
    """Where the probe last saw each of ``pids`` in its shutdown; a process the probe
    did not run in gets no entry."""
    out: list[StuckAt] = []
    for pid in pids:
        stage = report.shutdown_stage(pid)
        if stage is None:
            continue
        since = round(stage.t - t0, 4) if stage.t is not None and t0 is not None else None
        out.append(StuckAt(pid, roles.get(pid, "descendant"), stage.stage, stage.hook, stage.where, since))
    return out
