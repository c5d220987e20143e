"""One process's files under ``/proc``, read and parsed: stat, status, environ, fds.

Every reader returns None (or an empty value) when the process is gone or the file
cannot be read: a process of a case can end between any two reads, and that is never
the harness's error. Listing children and reading the socket tables, the other
``/proc`` reads the harness does often, are in :mod:`~shutdown_probe.procnet`.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


def boottime() -> float:
    """Now, on the clock /proc gives start times in (CLOCK_BOOTTIME)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass
class Stat:
    """The fields of /proc/PID/stat the harness needs."""

    state: bytes
    pgid: int
    sid: int
    start: int  # clock ticks since boot
    ppid: int = 0
    flags: int = 0  # the kernel's PF_* flags of the task

    @property
    def exiting(self) -> bool:
        """PF_EXITING: the process has begun to exit (include/linux/sched.h)."""
        return bool(self.flags & 0x4)


def stat(pid: int) -> Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()  # after "(comm)", which may hold spaces
    try:
        return Stat(fields[0], int(fields[2]), int(fields[3]), int(fields[19]), int(fields[1]),
                    int(fields[6]))
    except (IndexError, ValueError):
        return None


def started_monotonic(pid: int) -> float | None:
    """When ``pid`` started, on the monotonic clock; None if unreadable.

    psutil's create_time adds the boot time, which the kernel gives in whole seconds;
    /proc/PID/stat's start time (clock ticks since boot) against CLOCK_BOOTTIME now
    is exact to a tick.
    """
    st = stat(pid)
    if st is None:
        return None
    age = boottime() - st.start / _TICK
    return time.monotonic() - age


def status(pid: int) -> dict[str, str] | None:
    """The fields of /proc/PID/status (raw values); None if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return {k: v.strip() for k, _, v in (line.partition(":") for line in fh)}
    except OSError:
        return None


def ns_pid_of(pid: int) -> int | None:
    """``pid``'s number inside its innermost PID namespace, when that is not ours."""
    pids = ((status(pid) or {}).get("NSpid") or "").split()
    return int(pids[-1]) if len(pids) > 1 else None


def environ_value(pid: int, key: str) -> str | None:
    """The value of ``key`` in ``pid``'s environment; None if it has none or it is unreadable."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read()
    except OSError:
        return None
    prefix = key.encode() + b"="
    for item in env.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix):].decode(errors="replace")
    return None


def fd_inodes(pid: int, kind: str) -> set[int]:
    """The inodes of the ``kind`` ("pipe", "socket") descriptors ``pid`` holds open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()
    head = f"{kind}:["
    out = set()
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith(head):
            try:
                out.add(int(link[len(head):-1]))
            except ValueError:
                pass
    return out


def process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


# ------------------------------------------------------------------ signal masks


def signal_masks(pid: int) -> dict[str, int] | None:
    """SigIgn, SigCgt, SigBlk, SigPnd and ShdPnd (pending for the whole process) of
    ``pid`` from /proc/PID/status; None if unreadable."""
    fields = status(pid)
    if fields is None:
        return None
    try:
        return {k: int(v, 16) for k, v in fields.items() if (k.startswith("Sig") and k != "SigQ") or k == "ShdPnd"}
    except ValueError:
        return None


def thread_masks(pid: int, name: str) -> list[int] | None:
    """The signal mask ``name`` ("SigBlk", "SigPnd") of each of ``pid``'s threads,
    from /proc/PID/task/TID/status; None if unreadable (a thread that ends meanwhile
    is left out)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    out = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as fh:
                for line in fh:
                    key, _, value = line.partition(":")
                    if key == name:
                        out.append(int(value, 16))
                        break
        except (OSError, ValueError):
            continue
    return out or None


def _in_masks(pid: int, sig: int, names: tuple[str, ...]) -> bool | None:
    """Whether ``sig`` is set in any of ``pid``'s masks ``names``; None if unreadable."""
    masks = signal_masks(pid)
    if not masks:
        return None
    return any(masks.get(name, 0) & (1 << (sig - 1)) for name in names)


def signal_dispositions(pid: int) -> tuple[list[str], list[str]]:
    """(ignored, caught) among the signals a stop path can send, from /proc."""
    interesting = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                   signal.SIGUSR1, signal.SIGUSR2)
    masks = signal_masks(pid) or {}

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
