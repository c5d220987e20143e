"""What the Python probe adds to a target: per process start, and per fork.

    python benchmarks/probe_cost.py                  # 60 rounds of each measure
    python benchmarks/probe_cost.py --rounds 200 --forks 400
    python benchmarks/probe_cost.py --site OLD/sitecustomize.py    # another version

Start: ``python -c pass`` run by this process, timed around the whole process (wall
time from spawn to reap) and by the CPU time the child used (``wait4``'s rusage, which
a loaded machine disturbs less), once with the probe and once without, in an order
that alternates from one round to the next so a drift in the machine's speed lands on
both alike. By default the probe goes in as the harness puts it in
(``probe.probe_env``: the loader's folder first on ``PYTHONPATH``, the run's cache of
compiled code, ``SHUTDOWN_PROBE_EVENTS``); with ``--site``, a fresh copy of that one
file is put first on ``PYTHONPATH`` instead, so whether its bytecode is cached is this
script's choice. Each measure runs once with ``.pyc`` files allowed (one warm-up run
writes them) and once with ``PYTHONDONTWRITEBYTECODE=1``, as in CI and containers.

Fork: one interpreter per round (probe on or off, alternating) forks ``--forks``
children, one at a time; each child calls ``os._exit(0)`` at once, and the parent
times ``os.fork()`` to ``waitpid`` returning, which covers the probe's at-fork work
in the child (its ``start`` event). The figure of a round is its median fork. Once
as is, once with the app importing ``threading`` first (as every app that uses
``logging`` does): the probe imports it in every process, and CPython runs
``threading``'s own at-fork handler in each child of a process that has it.

For each measure: each arm's median and range (min-max) over the rounds, and the
median of the paired differences (on minus off, round by round).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable


FORK_CODE = """
import os, sys, time
if sys.argv[2] == "threading":
    import threading
n = int(sys.argv[1])
times = []
for _ in range(n):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    times.append(time.perf_counter() - t0)
times.sort()
print(times[len(times) // 2])
"""


def _env(site: Path | None, events: Path, bytecode: bool, harness: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SHUTDOWN_PROBE_") and k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if harness:
        from shutdown_probe.probe import probe_env
        return probe_env(env, str(events), None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
        env["SHUTDOWN_PROBE_EVENTS"] = str(events)
    return env


_cpu: dict[int, float] = {}  # id(env) -> the CPU time of its latest start


def _start_time(env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "pass"], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"python -c pass failed: {proc.returncode}")
    _cpu[id(env)] = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - t0


def _start_cpu(env: dict[str, str]) -> float:
    _start_time(env)
    return _cpu[id(env)]


def _fork_time(env: dict[str, str], forks: int, threading: bool) -> float:
    out = subprocess.run([sys.executable, "-c", FORK_CODE, str(forks), "threading" if threading else "-"],
                         env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out)


def _rounds(measure: Callable[[dict[str, str]], float], on: dict[str, str], off: dict[str, str], rounds: int) -> tuple[list[float], list[float]]:
    measure(on), measure(off)  # warm-up: caches, the .pyc where it may be written
    ons: list[float] = []
    offs: list[float] = []
    for n in range(rounds):
        order = ((ons, on), (offs, off)) if n % 2 == 0 else ((offs, off), (ons, on))
        for into, env in order:
            into.append(measure(env))
    return ons, offs


def _line(name: str, ons: list[float], offs: list[float]) -> str:
    def arm(xs: list[float]) -> str:
        return f"{statistics.median(xs) * 1e3:.3f} ms ({min(xs) * 1e3:.3f}-{max(xs) * 1e3:.3f})"

    diff = statistics.median(a - b for a, b in zip(ons, offs)) * 1e3
    return f"{name}: on {arm(ons)}, off {arm(offs)}; paired difference, median {diff:+.3f} ms"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--forks", type=int, default=200)
    parser.add_argument("--site", type=Path, default=None,
                        help="a single sitecustomize.py to measure (default: the probe as the harness puts it in)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]} ({sys.executable}); {args.rounds} rounds, "
          f"{args.forks} forks a round")
    with tempfile.TemporaryDirectory() as tmp:
        for bytecode in (True, False):
            site = Path(tmp) / ("cached" if bytecode else "uncached")
            site.mkdir()
            if args.site is not None:
                shutil.copy(args.site, site / "sitecustomize.py")
            events = Path(tmp) / "events.jsonl"
            on = _env(site, events, bytecode, harness=args.site is None)
            off = _env(None, events, bytecode)
            label = ".pyc cached" if bytecode else "PYTHONDONTWRITEBYTECODE=1"
            ons, offs = _rounds(_start_time, on, off, args.rounds)
            print(_line(f"start, {label}", ons, offs))
            ons, offs = _rounds(_start_cpu, on, off, args.rounds)
            print(_line(f"start CPU time, {label}", ons, offs))
            for threading in (False, True):
                ons, offs = _rounds(lambda env: _fork_time(env, args.forks, threading), on, off, args.rounds)
                print(_line(f"fork{', the app imported threading' if threading else ''}, {label}", ons, offs))
            events.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
