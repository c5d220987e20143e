"""shutdown-probe's benchmark: one command, every figure measured in the same run.

    python benchmarks/run.py            # the full run (several minutes), prints only
    python benchmarks/run.py --write    # the same, then rewrites the table in
                                        # benchmarks/README.md and benchmarks/results.json
    python benchmarks/run.py --quick    # tiny counts, a smoke test (< 30 s)

Every contender is a separate command, run as a subprocess; each command line is
printed with the wall-clock time it took, so anyone can time it again with `time`.
Contenders are alternated: R rounds, each round runs every contender's batch of N
cases in an order rotated by one from the round before, and the per-case samples
are pooled across rounds, so a slow minute of the machine hits every contender
alike. benchmarks/README.md says what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from commands import Command, Ran, Runner, _readable
from goals import GOALS, missed, verdict
from readme import fmt_spread, write_readme
from samples import CONTENDERS, HEADLINE, PEERS, TARGETS, Contender, Pool, Sample, median, p95, spread, summary

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
README = BENCH / "README.md"
RESULTS = BENCH / "results.json"

@dataclass(frozen=True)
class Settings:
    rounds: int
    trivial_cases: int       # per batch
    flask_cases: int         # per batch
    jobs_cases: int          # per throughput command
    memory_cases: tuple[int, int]
    flask_matrix: bool       # time scenarios/flask_atexit.toml with --jobs 1 and auto
    sleepy_cases: int        # without the Flask matrix: the sleep-bound target's cases, --jobs 1 and auto
    startup_rounds: int      # pairs of each fixed cost (benchmarks/startup.py)
    render_repeats: int      # renders of each size, the fastest kept (benchmarks/render_time.py)


FULL = Settings(rounds=4, trivial_cases=60, flask_cases=15, jobs_cases=100, memory_cases=(250, 1000),
                flask_matrix=True, sleepy_cases=16, startup_rounds=20, render_repeats=3)
QUICK = Settings(rounds=2, trivial_cases=5, flask_cases=2, jobs_cases=12, memory_cases=(10, 40),
                 flask_matrix=False, sleepy_cases=8, startup_rounds=3, render_repeats=1)


# ------------------------------------------------------------------ printing helpers


def ms(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x * 1000:.{digits}f} ms"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}×"


def overlap(cases: list[dict]) -> float | None:
    """How many cases ran at once on average: the sum of their times over the span
    from the first case's launch to the last one's end (the command's start-up and
    report are outside it). A case runs from its trigger minus its time to ready (the
    launch) to its trigger plus its duration (every process gone)."""
    spans = [(c["trigger_clock"] - c["ready_s"], c["trigger_clock"] + c["duration_s"]) for c in cases
             if None not in (c.get("trigger_clock"), c.get("ready_s"), c.get("duration_s"))]
    if not spans:
        return None
    whole = max(e for _, e in spans) - min(b for b, _ in spans)
    return sum(e - b for b, e in spans) / whole if whole > 0 else None


def round_ratios(pool: Pool, bare: Pool | None) -> list[float]:
    """Round by round, this contender's median case over bare's in the same round."""
    if bare is None:
        return []
    return [a / b for a, b in zip(pool.round_medians, bare.round_medians) if a is not None and b]


def say(text: str = "") -> None:
    print(text, flush=True)


# ------------------------------------------------------------------ the phases


class Benchmark:
    def __init__(self, settings: Settings, contenders: list[Contender], workdir: Path) -> None:
        self.settings = settings
        self.contenders = contenders
        self.workdir = workdir
        self.runner = Runner(workdir)
        self.skipped: dict[str, str] = {}
        self.pools = {t: {c.name: Pool() for c in contenders} for t in TARGETS}
        self.figures: dict = {}
        self.outputs: dict[tuple[str, str], Path] = {}  # (contender, target) -> its last batch's results
        self._batch = 0

    # ---------------------------------------------------------- one batch

    def batch(self, contender: Contender, target: str, cases: int, phase: str) -> tuple[Ran, list[Sample]]:
        self._batch += 1
        slug = "".join(ch if ch.isalnum() else "-" for ch in contender.name).strip("-")
        tag = f"b{self._batch}-{slug}-{target}"
        stamp_dir = self.workdir / "stamps" / tag if target == "trivial" else None
        if stamp_dir is not None:
            stamp_dir.mkdir(parents=True)
        out = self.workdir / f"{tag}.{'json' if contender.kind == 'probe' else 'jsonl'}"
        ran = self.runner.run(contender.command(target, cases, out, stamp_dir), phase=phase)
        self.outputs[(contender.name, target)] = out
        return ran, contender.samples(out, stamp_dir)

    def warm_up(self) -> None:
        """One case of every contender and target, not counted: fills the page cache,
        compiles .pyc files (unless PYTHONDONTWRITEBYTECODE is set), and finds out
        which peers cannot run here."""
        say("warm-up (1 case each, not counted)")
        for contender in self.contenders:
            for target in TARGETS:
                ran, _ = self.batch(contender, target, 1, "warm-up")
                say(f"      $ {ran.command.shell()}")
                if ran.rc == 4 and ran.stdout.startswith("skipped:"):
                    self.skipped[contender.name] = ran.stdout.strip().removeprefix("skipped:").strip()
                    say(f"  {contender.name}: skipped: {self.skipped[contender.name]}")
                    break
                if ran.rc != 0:
                    say(f"  {contender.name}/{target}: warm-up failed (exit {ran.rc}): {_tail(ran)}")
        say()

    # ---------------------------------------------------------- per-case figures

    def rounds(self) -> None:
        s = self.settings
        active = [c for c in self.contenders if c.name not in self.skipped]
        say(f"per-case runs: {s.rounds} rounds; a batch is {s.trivial_cases} cases (trivial) or "
            f"{s.flask_cases} (flask); the order rotates every round")
        say(f"every command runs in {ROOT} with stdout and stderr to files; wall = its whole run")
        for r in range(s.rounds):
            order = active[r % len(active):] + active[:r % len(active)]
            for target in TARGETS:
                cases = s.trivial_cases if target == "trivial" else s.flask_cases
                for contender in order:
                    ran, samples = self.batch(contender, target, cases, f"round {r + 1}")
                    pool = self.pools[target][contender.name]
                    pool.samples += samples
                    pool.command_wall_s += ran.wall_s
                    pool.command_cases += cases
                    pool.commands += 1
                    pool.round_medians.append(median([x.wall_s for x in samples if x.ok and x.wall_s is not None]))
                    bad = [x for x in samples if not x.ok]
                    note = ""
                    if ran.rc != 0 or bad or len(samples) != cases:
                        note = f"  [exit {ran.rc}, {len(samples) - len(bad)}/{cases} cases ok: {_why(bad, ran)}]"
                        pool.failures.append(note.strip())
                    say(f"  r{r + 1} {target:<7} {contender.name:<26} {ran.wall_s:7.2f} s "
                        f"{ms(ran.wall_s / cases):>9}/case{note}")
                    say(f"      $ {ran.command.shell()}")
        say()

    def report_per_case(self) -> None:
        out = {}
        for target in TARGETS:
            pools = self.pools[target]
            bare = pools.get("bare")
            bare_med = median(bare.walls()) if bare else None
            bare_cmd = bare.per_command_case() if bare else None
            n = self.settings.rounds * (self.settings.trivial_cases if target == "trivial" else self.settings.flask_cases)
            say(f"{target} target: per-case wall time, {n} cases per contender "
                f"({self.settings.rounds} rounds × {n // self.settings.rounds})")
            head = (f"  {'contender':<26} {'median':>9} {'p95':>9} {'×bare':>6} {'rounds: median [min–max]':>26}"
                    f"   {'cmd/case':>9} {'×bare':>6} {'outside':>9}")
            if target == "trivial":
                head += "   exit latency median / p95 / max"
            say(head)
            rows = {}
            for name, pool in pools.items():
                if name in self.skipped:
                    say(f"  {name:<26} skipped: {self.skipped[name]}")
                    rows[name] = {"skipped": self.skipped[name]}
                    continue
                walls, lat = pool.walls(), pool.latencies()
                med = median(walls)
                rounds = round_ratios(pool, bare)
                row = {"cases": len(pool.samples), "ok": len(pool.ok), "wall": summary(walls),
                       "ratio_to_bare": ratio(med, bare_med), "round_ratios": rounds,
                       "round_ratio": spread(rounds),
                       "command_wall_per_case_s": pool.per_command_case(),
                       "command_ratio_to_bare": ratio(pool.per_command_case(), bare_cmd),
                       "outside_cases_per_command_s": pool.outside_cases(),
                       "latency": summary(lat) if target == "trivial" else None,
                       "failures": pool.failures}
                if pool.detections():
                    row["poll_detected"] = summary(pool.detections())
                rows[name] = row
                line = (f"  {name:<26} {ms(med):>9} {ms(p95(walls)):>9} {fmt_ratio(row['ratio_to_bare']):>6} "
                        f"{fmt_spread(row['round_ratio']):>26}   "
                        f"{ms(pool.per_command_case()):>9} {fmt_ratio(row['command_ratio_to_bare']):>6}"
                        f" {ms(pool.outside_cases(), 0):>9}")
                if target == "trivial":
                    line += (f"   {ms(median(lat), 2)} / {ms(p95(lat), 2)} / "
                             f"{ms(max(lat) if lat else None, 2)} ({len(lat)} of {len(pool.ok)} measured)")
                if len(pool.ok) != len(pool.samples):
                    line += f"   {len(pool.samples) - len(pool.ok)} case(s) failed"
                say(line)
            for name, row in rows.items():
                if row.get("poll_detected"):
                    d = row["poll_detected"]
                    say(f"  {name}: its poll saw the exit {ms(d['median_s'], 2)} (median, p95 "
                        f"{ms(d['p95_s'], 2)}) after the stamp; stop() returned later")
            out[target] = rows
            say()
        say("  median, p95: per-case wall time from each contender's own records; ×bare: median / bare's median")
        say("  rounds: each round's median case / bare's in the same round, median [min–max] over the rounds")
        say("  cmd/case: the command's wall time / its cases, interpreter start and report included")
        say("  outside: per command, its wall time minus its cases' (start-up, imports, report)")
        say()
        self.figures["per_case"] = out

    # ---------------------------------------------------------- throughput

    def throughput(self) -> None:
        """Trivial cases per second through shutdown-probe, --jobs 1 against --jobs auto."""
        n = self.settings.jobs_cases
        walls = {"1": 0.0, "auto": 0.0}
        bad = []
        say(f"throughput, trivial target: {n} cases a command, --jobs 1 and --jobs auto alternated, "
            f"{self.settings.rounds} rounds (auto = {_cpus()} here)")
        for r in range(self.settings.rounds):
            for jobs in (("1", "auto") if r % 2 == 0 else ("auto", "1")):
                out = self.workdir / f"jobs-{jobs}-r{r + 1}.json"
                cmd = Command(f"shutdown-probe --jobs {jobs}",
                              [PY, "-m", "shutdown_probe", "run", "benchmarks/scenarios/trivial.toml",
                               "--repeat", str(n), "--jobs", jobs, "--quiet", "--json", str(out)])
                ran = self.runner.run(cmd, phase="throughput")
                walls[jobs] += ran.wall_s
                exited = _count_exited(out)
                if ran.rc != 0 or exited != n:
                    bad.append(f"--jobs {jobs}: exit {ran.rc}, {exited}/{n} exited")
                say(f"  r{r + 1} --jobs {jobs:<4} {ran.wall_s:6.2f} s  {n / ran.wall_s:6.1f} cases/s")
                say(f"      $ {cmd.shell()}")
        total = n * self.settings.rounds
        rate = {j: total / w for j, w in walls.items()}
        speedup = rate["auto"] / rate["1"]
        say(f"  cases/s: --jobs 1 {rate['1']:.1f}, --jobs auto {rate['auto']:.1f}: {speedup:.2f}× faster"
            + (f"  [{'; '.join(bad)}]" if bad else ""))
        say()
        self.figures["throughput_trivial"] = {"cases_per_command": n, "rounds": self.settings.rounds,
                                              "auto_jobs": _cpus(), "cases_per_s_jobs_1": rate["1"],
                                              "cases_per_s_jobs_auto": rate["auto"], "speedup": speedup,
                                              "problems": bad}

    def flask_matrix(self) -> None:
        """The bundled scenarios/flask_atexit.toml matrix, --jobs 1 then --jobs auto."""
        say("scenarios/flask_atexit.toml, the full matrix (16 cases), --jobs 1 then --jobs auto")
        self.figures["flask_matrix"] = self._jobs_pair("flask matrix", ["scenarios/flask_atexit.toml"])

    def sleepy_matrix(self, *, auto_only: bool) -> None:
        """Without the Flask matrix (--quick): cases that sleep 1 s after SIGTERM under
        --jobs auto (and --jobs 1 unless ``auto_only``): how many ran at once."""
        n = self.settings.sleepy_cases
        say(f"sleep-bound target (benchmarks/scenarios/sleepy.toml, an atexit hook sleeps 1 s), {n} cases, "
            + ("--jobs auto" if auto_only else "--jobs 1 then --jobs auto"))
        self.figures["sleepy_matrix"] = self._jobs_pair(
            "sleepy matrix", ["benchmarks/scenarios/sleepy.toml", "--repeat", str(n)],
            ("auto",) if auto_only else ("1", "auto"))

    def _jobs_pair(self, phase: str, what: list[str], jobs_values: tuple[str, ...] = ("1", "auto")) -> dict:
        res: dict = {}
        for jobs in jobs_values:
            out = self.workdir / f"{phase.replace(' ', '-')}-{jobs}.json"
            cmd = Command(f"{phase} --jobs {jobs}", [PY, "-m", "shutdown_probe", "run", *what, "--jobs", jobs,
                                                     "--quiet", "--json", str(out)])
            ran = self.runner.run(cmd, phase=phase)
            data = json.loads(out.read_text()) if out.exists() else {"cases": [], "environment": {}}
            cases = data["cases"]
            held = sum(1 for c in cases if c["expect"]["passed"] and c["outcome"] not in ("error", "not-ready"))
            res[jobs] = {"wall_s": ran.wall_s, "rc": ran.rc, "cases": len(cases), "expectations_held": held,
                         "jobs": (data.get("environment") or {}).get("jobs"), "overlap": overlap(cases)}
            say(f"  --jobs {jobs:<4} {ran.wall_s:6.1f} s  exit {ran.rc}, at most {res[jobs]['jobs']} at once, "
                f"{fmt_ratio(res[jobs]['overlap'])} on average, expectations held in {held} of {len(cases)}")
            say(f"      $ {cmd.shell()}")
        res["speedup"] = res["1"]["wall_s"] / res["auto"]["wall_s"] if "1" in res and res["auto"]["wall_s"] else None
        res["auto_jobs"] = res["auto"]["jobs"]
        if res["speedup"] is not None:
            say(f"  --jobs auto is {fmt_ratio(res['speedup'])} faster than --jobs 1 (command wall time, start-up "
                "included)")
        say()
        return res

    # ---------------------------------------------------------- fixed costs and reports

    def startup(self) -> None:
        """Probe start-up, `check FILE` and `run`'s fixed cost, paired against the bare thing."""
        n = self.settings.startup_rounds
        say(f"fixed costs: {n} alternated pairs each, {5 * n} for the probe's start-up (benchmarks/startup.py; "
            "paired differences, median [min–max])")
        out = self.workdir / "startup.json"
        cmd = Command("startup", [PY, "benchmarks/startup.py", "--rounds", str(n), "--probe-rounds", str(5 * n),
                                  "--out", str(out)])
        ran = self.runner.run(cmd, phase="startup")
        say(f"      $ {cmd.shell()}")
        if ran.rc != 0 or not out.exists():
            say(f"  failed (exit {ran.rc}): {_tail(ran)}")
            self.figures["startup"] = {"error": _tail(ran)}
            say()
            return
        res = {}
        labels = {"probe_start": "probe start-up over python -c pass (PYTHONDONTWRITEBYTECODE=1)",
                  "check": "check scenarios/flask_atexit.toml over python -c pass",
                  "run_fixed": "run, one trivial case, over bare.py doing it"}
        for key, pair in json.loads(out.read_text())["figures"].items():
            res[key] = {"this_median_s": median(pair["this_s"]), "over_median_s": median(pair["over_s"]),
                        "diff": spread(pair["diff_s"]), "cpu_diff": spread(pair["diff_cpu_s"])}
            say(f"  {labels.get(key, key):<62} {fmt_spread(res[key]['diff'], 'ms')}  "
                f"({ms(res[key]['this_median_s'])} vs {ms(res[key]['over_median_s'])}); "
                f"CPU time {fmt_spread(res[key]['cpu_diff'], 'ms')}")
        say()
        self.figures["startup"] = res

    def reports(self, source: Path | None) -> None:
        """The renderers on 1,000 and 2,000 cases copied from a probe-on Flask batch."""
        k = self.settings.render_repeats
        say(f"reports: rendering 1,000 and 2,000 cases (benchmarks/render_time.py; fastest of {k})")
        if source is None or not source.exists():
            say("  no probe-on results to grow: not measured")
            say()
            return
        out = self.workdir / "render.json"
        cmd = Command("render", [PY, "benchmarks/render_time.py", str(source), "--cases", "1000,2000",
                                 "--repeats", str(k), "--out", str(out)])
        ran = self.runner.run(cmd, phase="reports")
        say("  " + "\n  ".join(ran.stdout.strip().splitlines()) if ran.rc == 0 else f"  failed: {_tail(ran)}")
        say(f"      $ {cmd.shell()}")
        say()
        if ran.rc == 0 and out.exists():
            data = json.loads(out.read_text())
            self.figures["render"] = data["seconds"]
            self.figures["render_cpu"] = data["cpu_seconds"]

    # ---------------------------------------------------------- memory

    def memory(self) -> None:
        """The harness's peak RSS for a small and a large run of trivial cases."""
        say("peak memory of the harness (RUSAGE_SELF of the shutdown-probe process; targets excluded)")
        res = {}
        for n in self.settings.memory_cases:
            report = self.workdir / f"rss-{n}.json"
            out = self.workdir / f"rss-{n}-results.json"
            cmd = Command(f"memory {n}", [PY, "benchmarks/peak_rss.py", str(report), "run",
                                          "benchmarks/scenarios/trivial.toml", "--repeat", str(n), "--jobs", "auto",
                                          "--quiet", "--json", str(out)])
            sampler = RssSampler()
            ran = self.runner.run(cmd, phase="memory", on_start=sampler.start)
            sampler.join()
            peak_kib = json.loads(report.read_text())["maxrss_kib"] if report.exists() else None
            exited = _count_exited(out)
            res[str(n)] = {"cases": n, "exited": exited, "rc": ran.rc, "wall_s": ran.wall_s,
                           "peak_mb": _mb(peak_kib), "wait4_maxrss_mb": _mb(ran.rusage_maxrss_kib),
                           "rss_mb_at_20pct": sampler.at(0.2), "rss_mb_at_90pct": sampler.at(0.9)}
            r = res[str(n)]
            say(f"  {n:>5} cases: peak {_fmt_mb(r['peak_mb'])} (wait4, targets included: "
                f"{_fmt_mb(r['wait4_maxrss_mb'])}); RSS sampled at 20 % / 90 % of the run: "
                f"{_fmt_mb(r['rss_mb_at_20pct'])} / {_fmt_mb(r['rss_mb_at_90pct'])}; {ran.wall_s:.1f} s, "
                f"exit {ran.rc}, {exited}/{n} exited")
            say(f"      $ {cmd.shell()}")
        small, big = (res[str(n)] for n in self.settings.memory_cases)
        growth = None
        if small["peak_mb"] is not None and big["peak_mb"] is not None:
            growth = (big["peak_mb"] - small["peak_mb"]) / (big["cases"] - small["cases"]) * 1000
            say(f"  growth: {growth:+.1f} MB per 1,000 cases (peak, {small['cases']} → {big['cases']} cases)")
        # Only a run of several seconds has its start-up well before 20 % of its time.
        if big["wall_s"] >= 5 and None not in (big["rss_mb_at_20pct"], big["rss_mb_at_90pct"], big["peak_mb"]):
            # Cases finish at a steady rate, so 20 % → 90 % of the time is ~70 % of them.
            during = (big["rss_mb_at_90pct"] - big["rss_mb_at_20pct"]) / (0.7 * big["cases"]) * 1000
            at_end = big["peak_mb"] - big["rss_mb_at_90pct"]
            res["growth_while_running_mb_per_1000"] = during
            res["peak_above_rss_at_90pct_mb"] = at_end
            say(f"  where, {big['cases']} cases: about {during:+.1f} MB per 1,000 cases while cases run "
                f"(RSS 20 % → 90 %), and {at_end:+.1f} MB from 90 % to the peak (the last cases and the report)")
        res["growth_mb_per_1000"] = growth
        say()
        self.figures["memory"] = res

    # ---------------------------------------------------------- verdicts

    def verdicts(self, *, quick: bool) -> list[dict]:
        """Every goal of issue 23 against this run's figures (benchmarks/goals.py)."""
        figures = self.figures
        trivial = figures.get("per_case", {}).get("trivial", {})
        values: dict[str, tuple[float | None, str]] = {}
        for key, name in (("per_case_on", HEADLINE), ("per_case_off", "shutdown-probe (probe off)")):
            rr = (trivial.get(name) or {}).get("round_ratio")
            values[key] = (None, "") if rr is None else (rr["median"], f"[{rr['min']:.2f}–{rr['max']:.2f}]")
        for key in ("probe_start", "check", "run_fixed"):
            d = ((figures.get("startup") or {}).get(key) or {}).get("cpu_diff" if quick else "diff")
            values[key] = (None, "") if d is None else (d["median"] * 1000, f"[{d['min'] * 1000:+.1f} – "
                                                                           f"{d['max'] * 1000:+.1f} ms]")
        lat = ((trivial.get(HEADLINE) or {}).get("latency") or {}).get("p95_s")
        values["latency_p95"] = (None if lat is None else lat * 1000, "")
        html = (figures.get("render_cpu" if quick else "render") or {}).get("2000", {}).get("html")
        values["html_2000"] = (html, "")
        flask, sleepy = figures.get("flask_matrix"), figures.get("sleepy_matrix")
        values["jobs_speedup"] = (None if flask is None else flask["speedup"], "")
        values["jobs_overlap"] = (None if sleepy is None else sleepy["auto"]["overlap"], "")
        auto = ((flask or sleepy) or {}).get("auto") or {}
        values["jobs_expectations"] = ((auto["expectations_held"] / auto["cases"]) if auto.get("cases") else None,
                                       f"({auto.get('expectations_held')} of {auto.get('cases')})" if auto else "")
        mem = figures.get("memory", {})
        big = mem.get(str(self.settings.memory_cases[1]), {})
        values["peak_mb"] = (big.get("peak_mb"), f"({self.settings.memory_cases[1]:,} cases)")
        values["growth_mb"] = (mem.get("growth_mb_per_1000"), "")
        v = [verdict(g, values[g.key][0], quick=quick, spread=values[g.key][1]) for g in GOALS]
        say("goals (issue 23)" + (": --quick, against loose limits that only catch gross regressions" if quick else ""))
        for item in v:
            say(f"  {item['text']}")
        say()
        figures["verdicts"] = v
        return v


class RssSampler:
    """Samples a process's resident set every 50 ms from /proc, to show *when* the
    memory grows (the exact peak comes from RUSAGE_SELF, not from here)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self._thread: threading.Thread | None = None

    def start(self, proc: subprocess.Popen) -> None:
        self._thread = threading.Thread(target=self._sample, args=(proc.pid,), daemon=True)
        self._thread.start()

    def _sample(self, pid: int) -> None:
        pidfd = os.pidfd_open(pid)
        try:
            t0 = time.monotonic()
            while not _readable(pidfd, 0.05):  # wakes at once when the process exits
                kib = _vmrss_kib(pid)
                if kib is not None:
                    self.samples.append((time.monotonic() - t0, kib))
        finally:
            os.close(pidfd)

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def at(self, fraction: float) -> float | None:
        """RSS (MB) at the first sample past ``fraction`` of the sampled time."""
        if not self.samples:
            return None
        when = self.samples[-1][0] * fraction
        return _mb(next(kib for t, kib in self.samples if t >= when))


def _vmrss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _count_exited(results: Path) -> int:
    if not results.exists():
        return 0
    return sum(1 for c in json.loads(results.read_text())["cases"] if c["outcome"] == "exited")


def _mb(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024


def _fmt_mb(mb: float | None) -> str:
    return "-" if mb is None else f"{mb:.1f} MB"


def _tail(ran: Ran) -> str:
    lines = [ln for ln in (ran.stderr + ran.stdout).splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "(no output)"


def _why(bad: list[Sample], ran: Ran) -> str:
    if bad:
        return bad[0].error or "failed"
    return _tail(ran)


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


# ------------------------------------------------------------------ the machine


def machine() -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = None
    try:
        mem_kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        pass
    return {"cpus": os.cpu_count(), "cpus_usable": _cpus(), "cpu_model": model,
            "memory_gb": None if mem_kib is None else round(mem_kib / 1024 ** 2, 1),
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "kernel": platform.release(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "uptime_at_start": uptime(),
            "pythondontwritebytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))}


def uptime() -> str | None:
    """What `uptime` prints (the load averages over 1, 5 and 15 minutes), or None."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    out = {}
    for dist in ("shutdown-probe", "psutil", "flask", "werkzeug", "mirakuru", "pytest-xprocess"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        out["git"] = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                                    text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["git"] = None
    return out


# ------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny counts, the sleepy target instead of the Flask matrix: a smoke test (< 1 min)")
    p.add_argument("--cases", type=int, help="cases per batch on the trivial target")
    p.add_argument("--flask-cases", type=int, help="cases per batch on the Flask target")
    p.add_argument("--rounds", type=int, help="rounds of alternated batches")
    p.add_argument("--no-peers", action="store_true", help="leave out mirakuru and pytest-xprocess")
    p.add_argument("--no-flask-matrix", action="store_true", help="skip the scenarios/flask_atexit.toml timing")
    p.add_argument("--json", metavar="FILE", help="write the raw figures here")
    p.add_argument("--write", action="store_true",
                   help="rewrite the table in benchmarks/README.md and benchmarks/results.json")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a goal is missed (with --quick: a loose limit, see benchmarks/goals.py)")
    args = p.parse_args(argv)
    for name in ("cases", "flask_cases", "rounds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be 1 or more")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else FULL
    changes = {}
    if args.cases:
        changes["trivial_cases"] = args.cases
    if args.flask_cases:
        changes["flask_cases"] = args.flask_cases
    elif args.cases:
        changes["flask_cases"] = max(1, args.cases // 4)
    if args.rounds:
        changes["rounds"] = args.rounds
    if args.no_flask_matrix:
        changes["flask_matrix"] = False
    return Settings(**{**base.__dict__, **changes})


_stopped_by: list[int] = []


def stop_cleanly_on_signals() -> None:
    """SIGINT and SIGTERM become KeyboardInterrupt, so the running command is
    stopped in ``finally``; after the first, both are ignored until the end, so a
    second Ctrl-C cannot leave that command's processes behind."""

    def on_signal(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stopped_by.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    stop_cleanly_on_signals()
    contenders = [c for c in CONTENDERS if not (args.no_peers and c.name in PEERS)]
    command = shlex.join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])])
    began = time.monotonic()
    info = machine()
    vers = versions()
    say(f"shutdown-probe benchmark: {command}")
    say(f"machine: {info['cpus']} CPUs ({info['cpus_usable']} usable), {info['cpu_model']}, "
        f"{info['implementation']} {info['python']}, Linux {info['kernel']}; load average "
        f"{', '.join(str(x) for x in info['load_average_at_start'])}")
    say("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v))
    if info["pythondontwritebytecode"]:
        say("note: PYTHONDONTWRITEBYTECODE is set: no .pyc files are written, so every command compiles the "
            "modules that have none at start-up (shutdown_probe's, the probe's in probe-on targets)")
    say()
    workdir = Path(tempfile.mkdtemp(prefix="shutdown-probe-bench-"))
    bench = Benchmark(settings, contenders, workdir)
    try:
        bench.warm_up()
        bench.rounds()
        bench.report_per_case()
        bench.throughput()
        if settings.flask_matrix:
            bench.flask_matrix()
        else:
            bench.sleepy_matrix(auto_only=args.quick)
        bench.startup()
        bench.reports(bench.outputs.get((HEADLINE, "flask")))
        bench.memory()
        verdicts = bench.verdicts(quick=args.quick)
    except KeyboardInterrupt:  # the running command was stopped on the way out
        say("interrupted: nothing written")
        return 128 + (_stopped_by[0] if _stopped_by else signal.SIGINT)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    total = time.monotonic() - began
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    info["uptime_at_end"] = uptime()
    say(f"total {total:.0f} s; load average at the end {', '.join(str(x) for x in info['load_average_at_end'])}")
    say(f"uptime at the start: {info['uptime_at_start']}")
    say(f"uptime at the end:   {info['uptime_at_end']}")
    results = {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": command,
               "total_wall_s": round(total, 1), "settings": settings.__dict__, "machine": info, "versions": vers,
               "skipped": bench.skipped, "figures": bench.figures, "commands": bench.runner.log}
    text = json.dumps(results, indent=1, ensure_ascii=False) + "\n"
    if args.json:
        Path(args.json).write_text(text)
    if args.write:
        RESULTS.write_text(text)
        write_readme(README, results)
        say(f"wrote {RESULTS.relative_to(ROOT)} and the table in {README.relative_to(ROOT)}")
    if args.check and missed(verdicts):
        say(f"--check: {len(missed(verdicts))} goal(s) missed:")
        for v in missed(verdicts):
            say(f"  {v['text']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
