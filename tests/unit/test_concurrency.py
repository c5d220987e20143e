"""--jobs auto's policy (shutdown_probe.concurrency): how many cases at most, and when
one past the CPU count may start. The CPU readings are fed in, so each decision is
checked against a known load; the reader of /proc/stat is checked on its own."""

from __future__ import annotations

import os
import threading
import time

import pytest

from shutdown_probe.cli.parser import build_parser
from shutdown_probe.concurrency import (AUTO, BUSY_AT_MOST, PER_CPU, Admission, auto_jobs, cpu_count, cpu_times,
                                        most_at_once, cpus_of_cpu_max)


class Readings:
    """A machine whose CPUs are busy ``share`` of the time: every reading adds 100 ticks."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.busy = self.total = 0
        self.calls = 0

    def __call__(self) -> tuple[int, int] | None:
        self.calls += 1
        self.total += 100
        self.busy += round(100 * self.share)
        return self.busy, self.total


def test_auto_allows_several_cases_per_cpu_never_more_than_the_cases() -> None:
    assert auto_jobs(cpus=2) == 2 * PER_CPU > 2
    assert auto_jobs(16, cpus=2) == 2 * PER_CPU
    assert auto_jobs(3, cpus=2) == 3
    assert auto_jobs(0, cpus=2) == 1
    assert auto_jobs() == PER_CPU * len(os.sched_getaffinity(0))
    assert most_at_once(AUTO, 5) == min(5, PER_CPU * cpu_count())
    assert most_at_once(3, 100) == 3


def test_the_cli_passes_auto_on_for_the_runner_to_size() -> None:
    args = build_parser().parse_args(["run", "x.toml", "--jobs", "auto"])
    assert args.jobs == AUTO
    assert build_parser().parse_args(["run", "x.toml", "-j", "7"]).jobs == 7


def test_up_to_the_floor_cases_start_without_a_look_at_the_cpus() -> None:
    readings = Readings(share=1.0)  # saturated: past the floor nothing would start
    gate = Admission(2, times=readings, window_s=0.01)
    assert gate.enter() and gate.enter()
    assert readings.calls == 0 and gate.held == 0


def test_past_the_floor_an_idle_machine_admits_after_one_window() -> None:
    gate = Admission(1, times=Readings(share=BUSY_AT_MOST / 2), window_s=0.01)
    assert gate.enter()
    began = time.monotonic()
    assert gate.enter()
    assert time.monotonic() - began >= 0.01
    assert gate.held == 1


def test_past_the_floor_a_busy_machine_holds_the_start_until_a_case_ends() -> None:
    gate = Admission(1, times=Readings(share=BUSY_AT_MOST), window_s=0.01)  # at the limit is too busy
    assert gate.enter()
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: gate.enter() and entered.set())
    waiter.start()
    try:
        assert not entered.wait(0.3)  # 30 windows, none with room
        gate.leave()  # a case ended: below the floor again
        assert entered.wait(10)
    finally:
        waiter.join(10)
    assert gate.held == 1


def test_without_readings_nothing_starts_past_the_floor_and_a_stop_ends_the_wait() -> None:
    gate = Admission(1, times=lambda: None, window_s=0.01)
    assert gate.enter()
    stop = threading.Event()
    answers: list[bool] = []
    waiter = threading.Thread(target=lambda: answers.append(gate.enter(stop.is_set)))
    waiter.start()
    assert not stop.wait(0.2)
    assert answers == []
    stop.set()
    gate.leave()  # wakes the waiter, which sees the stop before the free place
    waiter.join(10)
    assert answers == [False]


def test_the_machine_reading_is_busy_and_total_ticks_that_only_grow() -> None:
    first = cpu_times()
    assert first is not None
    deadline = time.monotonic() + 0.05
    while time.monotonic() < deadline:  # spin: this process keeps a CPU busy
        pass
    second = cpu_times()
    assert second is not None
    assert 0 <= first[0] <= first[1] and 0 <= second[0] <= second[1]
    assert second[1] > first[1] and second[0] > first[0]


@pytest.mark.parametrize("floor", [0, -3])
def test_the_floor_is_at_least_one(floor: int) -> None:
    assert Admission(floor, times=lambda: None).enter()


@pytest.mark.parametrize(("text", "cpus"), [("max 100000", None), ("150000 100000\n", 1.5), ("50000 100000", 0.5),
                                            ("", None), ("x 100000", None), ("100 0", None)])
def test_a_containers_cpu_quota_is_read_as_cpus(text: str, cpus: float | None) -> None:
    assert cpus_of_cpu_max(text) == cpus
