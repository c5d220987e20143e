"""What the benchmark's contenders record: one sample per case, the statistics over
them, the contenders and how each one's records are read, and a contender's pool of
samples on one target over the rounds."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from commands import Command

PY = sys.executable


@dataclass
class Sample:
    """One case of one contender."""

    ok: bool
    wall_s: float | None = None
    latency_s: float | None = None       # the contender noticed the exit this long after the stamp
    detected_s: float | None = None      # mirakuru: its poll saw the exit this long after the stamp
    error: str | None = None


def median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def p95(xs: list[float]) -> float | None:
    """Nearest rank: the smallest sample with at least 95 % of the samples at or below it."""
    if not xs:
        return None
    s = sorted(xs)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def spread(xs: list[float]) -> dict | None:
    """Median [min–max]."""
    return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs)} if xs else None


def summary(xs: list[float]) -> dict | None:
    if not xs:
        return None
    return {"n": len(xs), "median_s": median(xs), "p95_s": p95(xs), "max_s": max(xs)}


def read_stamp(stamp_dir: Path | None, pid: int | None) -> float | None:
    """The trivial target's own time.monotonic() just before it exited."""
    if stamp_dir is None or pid is None:
        return None
    try:
        return float((stamp_dir / str(pid)).read_text())
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------ contenders


@dataclass(frozen=True)
class Contender:
    name: str
    kind: str                  # "script" (benchmarks/contenders/X.py) or "probe" (shutdown-probe)
    script: str = ""
    scenarios: dict[str, str] = field(default_factory=dict)  # target -> scenario file, for "probe"

    def command(self, target: str, cases: int, out: Path, stamp_dir: Path | None) -> Command:
        if self.kind == "script":
            argv = [PY, f"benchmarks/contenders/{self.script}", "--target", target, "--cases", str(cases),
                    "--out", str(out)]
            if stamp_dir is not None:
                argv += ["--stamp-dir", str(stamp_dir)]
            return Command(f"{self.name}/{target}", argv)
        # The harness passes its environment on to the target: STAMP_DIR reaches it.
        argv = [PY, "-m", "shutdown_probe", "run", self.scenarios[target], "--repeat", str(cases),
                "--jobs", "1", "--quiet", "--json", str(out)]
        env = {"STAMP_DIR": str(stamp_dir)} if stamp_dir is not None else {}
        return Command(f"{self.name}/{target}", argv, env)

    def samples(self, out: Path, stamp_dir: Path | None) -> list[Sample]:
        if not out.exists():
            return []
        if self.kind == "script":
            return [_script_sample(json.loads(line), stamp_dir) for line in out.read_text().splitlines() if line]
        return [_probe_sample(case, stamp_dir) for case in json.loads(out.read_text())["cases"]]


def _script_sample(rec: dict, stamp_dir: Path | None) -> Sample:
    if not rec.get("ok"):
        return Sample(False, rec.get("wall_s"), error=rec.get("error"))
    stamp = read_stamp(stamp_dir, rec.get("pid"))
    latency = rec["noticed"] - stamp if stamp is not None else None
    detected = rec["detected"] - stamp if stamp is not None and rec.get("detected") is not None else None
    return Sample(True, rec["wall_s"], latency, detected)


def _probe_sample(case: dict, stamp_dir: Path | None) -> Sample:
    if case["outcome"] != "exited":
        return Sample(False, case.get("wall_s"), error=f"{case['outcome']}: {case.get('error')}")
    root = next(p for p in case["processes"] if p["role"] == "root")
    stamp = read_stamp(stamp_dir, root["pid"])
    latency = None
    if stamp is not None and root.get("ended_after_s") is not None:
        # when the harness saw the exit, on the same clock as the stamp
        latency = case["trigger_clock"] + root["ended_after_s"] - stamp
    return Sample(True, case["wall_s"], latency)


# The headline is the probe-on row: the probe is on by default for a Python app, so
# it is what a user gets. Probe off is the same harness with the target untouched.
HEADLINE = "shutdown-probe (probe on)"
CONTENDERS = [
    Contender("bare", "script", "bare.py"),
    Contender(HEADLINE, "probe", scenarios={"trivial": "benchmarks/scenarios/trivial_probe.toml",
                                            "flask": "benchmarks/scenarios/flask_probe.toml"}),
    Contender("shutdown-probe (probe off)", "probe", scenarios={"trivial": "benchmarks/scenarios/trivial.toml",
                                                                "flask": "benchmarks/scenarios/flask.toml"}),
    Contender("mirakuru", "script", "mirakuru_run.py"),
    Contender("pytest-xprocess", "script", "xprocess_run.py"),
]
PEERS = {"mirakuru", "pytest-xprocess"}
TARGETS = ("trivial", "flask")


@dataclass
class Pool:
    """Everything one contender did on one target, pooled over the rounds."""

    samples: list[Sample] = field(default_factory=list)
    command_wall_s: float = 0.0
    command_cases: int = 0
    commands: int = 0
    failures: list[str] = field(default_factory=list)
    round_medians: list[float | None] = field(default_factory=list)  # each round's batch, its median case

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    def walls(self) -> list[float]:
        return [s.wall_s for s in self.ok if s.wall_s is not None]

    def latencies(self) -> list[float]:
        return [s.latency_s for s in self.ok if s.latency_s is not None]

    def detections(self) -> list[float]:
        return [s.detected_s for s in self.ok if s.detected_s is not None]

    def per_command_case(self) -> float | None:
        return self.command_wall_s / self.command_cases if self.command_cases else None

    def outside_cases(self) -> float | None:
        """A command's time outside its cases (interpreter start, imports, report),
        per command: what timing the command adds to N x the per-case time."""
        if not self.commands:
            return None
        inside = sum(s.wall_s for s in self.samples if s.wall_s is not None)
        return (self.command_wall_s - inside) / self.commands
