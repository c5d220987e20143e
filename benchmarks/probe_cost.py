"""What the Python probe adds to a target: per process start, and per fork.

    python benchmarks/probe_cost.py                  # 60 rounds of each measure
    python benchmarks/probe_cost.py --rounds 200 --forks 400
    python benchmarks/probe_cost.py --site OLD/sitecustomize.py    # another version

Start: ``python -c pass`` run by this process, timed around the whole process (wall
time from spawn to reap), once with the probe (its folder first on ``PYTHONPATH``,
``SHUTDOWN_PROBE_EVENTS`` set, as the harness runs a target) and once without, in an
order that alternates from one round to the next so a drift in the machine's speed
lands on both alike. The probe's folder is a fresh copy, so whether its bytecode is
cached is this script's choice: once with the ``.pyc`` cached (one warm-up run writes
it), once with ``PYTHONDONTWRITEBYTECODE=1`` and no ``.pyc`` (every start compiles
``sitecustomize.py``, as in a read-only install).

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

SITE = Path(__file__).resolve().parent.parent / "shutdown_probe" / "_probe_site" / "sitecustomize.py"

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


def _env(site: Path | None, events: Path, bytecode: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SHUTDOWN_PROBE_") and k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    if site is not None:
        env["PYTHONPATH"] = str(site)
        env["SHUTDOWN_PROBE_EVENTS"] = str(events)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _start_time(env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - t0


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
    parser.add_argument("--site", type=Path, default=SITE,
                        help="the sitecustomize.py to measure (default: this checkout's probe)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]} ({sys.executable}); {args.rounds} rounds, "
          f"{args.forks} forks a round")
    with tempfile.TemporaryDirectory() as tmp:
        for bytecode in (True, False):
            site = Path(tmp) / ("cached" if bytecode else "uncached")
            site.mkdir()
            shutil.copy(args.site, site / "sitecustomize.py")
            events = Path(tmp) / "events.jsonl"
            on, off = _env(site, events, bytecode), _env(None, events, bytecode)
            label = ".pyc cached" if bytecode else "PYTHONDONTWRITEBYTECODE=1"
            ons, offs = _rounds(_start_time, on, off, args.rounds)
            print(_line(f"start, {label}", ons, offs))
            for threading in (False, True):
                ons, offs = _rounds(lambda env: _fork_time(env, args.forks, threading), on, off, args.rounds)
                print(_line(f"fork{', the app imported threading' if threading else ''}, {label}", ons, offs))
            events.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
