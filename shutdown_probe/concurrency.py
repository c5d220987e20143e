"""How many cases run at once: the one policy behind ``--jobs auto`` (the CLI's
default) and the pytest API's ``run_paths(jobs="auto")``.

A case mostly waits: for the app to be ready, for its hooks' sleeps, for a grace
period to run out. Sizing the run by the CPU count leaves the CPUs idle while every
case sleeps, so ``auto`` allows up to :data:`PER_CPU` cases per usable CPU (never
more than there are cases), and starts one past the first CPU-count of them only
while the CPUs have room: the share of CPU time the whole machine spent busy over the
last :data:`WINDOW_S` (``/proc/stat``) is below :data:`BUSY_AT_MOST`. A burst of start-ups
(every app importing its framework at once) therefore holds the next start back
until it is over, instead of piling more work onto it and stretching a case's
timing: the speedup is overlapping waits, not more cores.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from typing import Literal, Union

AUTO: Literal["auto"] = "auto"
Jobs = Union[int, Literal["auto"]]

# Cases per usable CPU that auto allows at most. Sixteen Flask cases with the reloader
# on (two Pythons each, hooks sleeping 1 s) held every expectation over 10 repeats
# with 8 at once on 2 CPUs (benchmarks/README.md).
PER_CPU = 4
# Past the first CPU-count of cases, start another only while the machine was busy
# less than this share of its CPU time over the last WINDOW_S.
BUSY_AT_MOST = 0.75
WINDOW_S = 0.1


def cpu_count() -> int:
    """The CPUs this process may run on: its affinity mask (not the machine's total),
    or fewer when its cgroup's CPU quota (a container's ``--cpus``) allows fewer."""
    try:
        cpus = len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - Linux has it
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, math.ceil(quota))) if quota is not None else cpus


def _cgroup_quota() -> float | None:
    """CPUs' worth of time the cgroup v2 ``cpu.max`` of this process allows, or None
    (no limit, no cgroup v2, unreadable)."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            group = next((line[3:].strip() for line in f if line.startswith("0::")), None)
        if group is None:
            return None
        with open(f"/sys/fs/cgroup{group.rstrip('/')}/cpu.max", encoding="utf-8") as f:
            return cpus_of_cpu_max(f.read())
    except OSError:
        return None


def cpus_of_cpu_max(text: str) -> float | None:
    """``cpu.max`` ("LIMIT PERIOD" in microseconds, or "max PERIOD") as CPUs' worth."""
    try:
        limit, period = text.split()[:2]
        return None if limit == "max" else int(limit) / int(period)
    except (ValueError, ZeroDivisionError):
        return None


def auto_jobs(cases: int | None = None, cpus: int | None = None) -> int:
    """The most cases ``auto`` runs at once: PER_CPU per usable CPU, at most ``cases``."""
    most = PER_CPU * (cpus or cpu_count())
    return max(1, min(most, cases)) if cases is not None else most


def most_at_once(jobs: Jobs, cases: int) -> int:
    """The most cases a run of ``cases`` runs at once with ``jobs`` (a number or auto):
    what its results record as its jobs."""
    return auto_jobs(cases) if jobs == AUTO else max(1, int(jobs))


def cpu_times() -> tuple[int, int] | None:
    """The machine's (busy, total) CPU time so far, in clock ticks, from the ``cpu``
    line of /proc/stat; None where it cannot be read. Idle and I/O wait are not busy;
    guest time is already inside user time, so it is not counted twice."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
        if fields[0] != b"cpu":
            return None
        ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError, IndexError):
        return None
    idle = ticks[3] + ticks[4]
    total = sum(ticks)
    return total - idle, total


class Admission:
    """Decides when a worker may start its next case under ``auto``.

    While fewer than ``floor`` cases run (one per usable CPU), a case starts at once,
    as the CPU-count policy always did. Past that, a start waits until the CPUs were
    less than BUSY_AT_MOST busy over a window of WINDOW_S, or a case ends (then it
    looks again), or ``stopped`` says the run is over. Where /proc/stat cannot be read
    it never admits past ``floor``: without a measurement, it does not guess.
    """

    def __init__(self, floor: int, *, times: Callable[[], tuple[int, int] | None] = cpu_times,
                 window_s: float = WINDOW_S, busy_at_most: float = BUSY_AT_MOST) -> None:
        self.floor = max(1, floor)
        self._times = times
        self._window_s = window_s
        self._busy_at_most = busy_at_most
        self._running = 0
        self._admitted = 0  # starts so far: a window that began before the last one is stale
        self._changed = threading.Condition()
        self.held = 0  # starts that had to wait for the CPUs: reported by nothing, read by tests

    def enter(self, stopped: Callable[[], bool] = lambda: False) -> bool:
        """Wait for room to start a case: True when it may start, False when ``stopped``."""
        with self._changed:
            waited = False
            while not stopped():
                if self._running < self.floor:
                    break
                waited = True
                before, admitted = self._times(), self._admitted
                if before is not None:
                    ended = self._changed.wait(self._window_s)  # a case ending wakes it early
                    after = self._times()
                    fresh = not ended and admitted == self._admitted
                    if fresh and after is not None and self._room(before, after):
                        break
                else:
                    self._changed.wait(1.0)
            else:
                return False
            self._running += 1
            self._admitted += 1
            self.held += waited
            return True

    def leave(self) -> None:
        with self._changed:
            self._running -= 1
            self._changed.notify()

    def _room(self, before: tuple[int, int], after: tuple[int, int]) -> bool:
        busy, total = after[0] - before[0], after[1] - before[1]
        return total > 0 and busy / total < self._busy_at_most
