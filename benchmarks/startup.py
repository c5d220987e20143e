"""Fixed costs, each as a paired difference against the bare thing it adds to.

    python benchmarks/startup.py --rounds 20 [--probe-rounds 100] --out FILE.json

Three pairs, each run as processes from here, timed from spawn to reap, the two arms
of a pair in an order that alternates from one round to the next (a drift of the
machine's speed lands on both alike), after one warm-up run of each arm. The probe's
pair runs five times as many rounds by default: its difference is a few milliseconds
in ~35, where twenty pairs leave the median at the mercy of a few slow starts.

- probe start-up: ``python -c pass`` with the Python probe switched on (the
  environment the harness gives a target: ``shutdown_probe.probe.probe_env``) against
  without it; both with ``PYTHONDONTWRITEBYTECODE=1``, the case the issue's goal
  names (no bytecode cache can be written);
- check: ``python -m shutdown_probe check scenarios/flask_atexit.toml`` against
  ``python -c pass``;
- run fixed cost: ``python -m shutdown_probe run benchmarks/scenarios/trivial.toml
  --jobs 1 --quiet`` (one case) against ``benchmarks/contenders/bare.py --cases 1``
  (the same case by hand): the difference is what a ``run`` costs over a bare script
  doing the same work, one case's overhead included.

The JSON has, per pair, every round's two wall times and the paired differences, and
the same in CPU time (user + system of the command and its reaped descendants), which
a busy machine stretches far less: ``run.py --quick --check`` judges that one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SHUTDOWN_PROBE_") and k != "PYTHONPATH"}


def _probe_env(events: Path) -> dict[str, str]:
    from shutdown_probe.probe import probe_env

    return probe_env(dict(_plain_env(), PYTHONDONTWRITEBYTECODE="1"), str(events), None)


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time, and CPU time (user + system, the command and every descendant it
    reaped): the CPU time hardly moves when the machine is busy, the wall time does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=120)
    took = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return took, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def _pair(rounds: int, this: tuple[list[str], dict[str, str]], over: tuple[list[str], dict[str, str]]) -> dict:
    _timed(*this), _timed(*over)  # warm-up: page cache, bytecode where it may be written
    ons: list[tuple[float, float]] = []
    offs: list[tuple[float, float]] = []
    for n in range(rounds):
        arms = ((ons, this), (offs, over)) if n % 2 == 0 else ((offs, over), (ons, this))
        for into, (argv, env) in arms:
            into.append(_timed(argv, env))
    return {"this_s": [w for w, _ in ons], "over_s": [w for w, _ in offs],
            "diff_s": [a[0] - b[0] for a, b in zip(ons, offs)],
            "this_cpu_s": [c for _, c in ons], "over_cpu_s": [c for _, c in offs],
            "diff_cpu_s": [a[1] - b[1] for a, b in zip(ons, offs)]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--probe-rounds", type=int, default=None,
                   help="pairs for the probe's start-up, a few milliseconds in ~35: default 5 x --rounds")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    probe_rounds = args.probe_rounds if args.probe_rounds is not None else 5 * args.rounds
    plain = _plain_env()
    nobytecode = dict(plain, PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory(prefix="shutdown-probe-startup-") as tmp:
        events = Path(tmp) / "events.jsonl"
        figures = {
            "probe_start": _pair(probe_rounds, ([PY, "-c", "pass"], _probe_env(events)),
                                 ([PY, "-c", "pass"], nobytecode)),
            "check": _pair(args.rounds, ([PY, "-m", "shutdown_probe", "check", "scenarios/flask_atexit.toml"], plain),
                           ([PY, "-c", "pass"], plain)),
            "run_fixed": _pair(args.rounds,
                               ([PY, "-m", "shutdown_probe", "run", "benchmarks/scenarios/trivial.toml", "--jobs", "1",
                                 "--quiet"], plain),
                               ([PY, "benchmarks/contenders/bare.py", "--target", "trivial", "--cases", "1",
                                 "--out", str(Path(tmp) / "bare.jsonl")], plain)),
        }
    args.out.write_text(json.dumps({"rounds": args.rounds, "probe_rounds": probe_rounds, "figures": figures},
                                   indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
