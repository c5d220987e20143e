"""The benchmark's quick mode runs end to end and prints figures that make sense.

`python benchmarks/run.py --quick --no-peers` runs every phase of the benchmark but
the two-minute Flask matrix with tiny counts (about 15 s on 2 cores). This checks the
printed per-case table parses, the raw figures behind it are sane (every case ran, a
latency was measured for every case), every command it ran was printed, and that a
run without --write leaves benchmarks/README.md and results.json alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support import ROOT

RUN = ROOT / "benchmarks" / "run.py"
GENERATED = [ROOT / "benchmarks" / "README.md", ROOT / "benchmarks" / "results.json"]

# "  shutdown-probe     22.2 ms   26.4 ms  1.10×     72.6 ms  2.41×   ..."
ROW = re.compile(r"^  (?P<name>bare|shutdown-probe(?: \(probe on\))?)\s+(?P<median>\d+\.\d) ms\s+"
                 r"(?P<p95>\d+\.\d) ms\s+(?P<ratio>\d+\.\d\d)×", re.M)


def _contents() -> dict:
    return {p: p.read_bytes() if p.exists() else None for p in GENERATED}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    before = _contents()
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    proc = subprocess.run([sys.executable, str(RUN), "--quick", "--no-peers", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=100, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text()), before


@pytest.mark.timeout(120)
def test_printed_per_case_table_parses_and_is_sane(quick_run):
    stdout, figures, _ = quick_run
    trivial_table = stdout.split("trivial target: per-case wall time", 1)[1].split("\n\n", 1)[0]
    rows = {m["name"]: m for m in ROW.finditer(trivial_table)}
    assert set(rows) == {"bare", "shutdown-probe", "shutdown-probe (probe on)"}, trivial_table
    assert float(rows["bare"]["median"]) > 0
    assert float(rows["bare"]["ratio"]) == 1.0
    for name, row in rows.items():
        assert 0 < float(row["median"]) <= float(row["p95"]) < 5000, (name, row.group(0))
    # the printed ratio is the ratio of the printed medians
    sp = rows["shutdown-probe"]
    expected = float(sp["median"]) / float(rows["bare"]["median"])
    assert abs(float(sp["ratio"]) - expected) < 0.02 + 0.01 * expected
    assert re.search(r"^targets$", stdout, re.M)
    assert re.search(r"^  [✓✗] per-case overhead over bare \(trivial, median\): ", stdout, re.M)
    assert re.search(r"^  [✓✗] exit-detection latency p95 \(trivial\): \d+\.\d\d ms", stdout, re.M)


@pytest.mark.timeout(120)
def test_every_case_ran_and_every_exit_was_timed(quick_run):
    _, figures, _ = quick_run
    settings = figures["settings"]
    for target, per_batch in (("trivial", settings["trivial_cases"]), ("flask", settings["flask_cases"])):
        rows = figures["figures"]["per_case"][target]
        for name in ("bare", "shutdown-probe", "shutdown-probe (probe on)"):
            row = rows[name]
            assert row["cases"] == row["ok"] == settings["rounds"] * per_batch, (target, name, row)
            assert row["wall"]["median_s"] > 0
            assert row["command_wall_per_case_s"] > 0
            if target == "trivial":
                # one latency per case, and a plausible one: the stamp is taken just
                # before the exit, on the clock the harness uses (rounding allows a hair
                # below zero)
                lat = row["latency"]
                assert lat is not None, (name, "no exit-detection latency was measured")
                assert lat["n"] == row["ok"], (name, lat)
                assert -0.0001 <= lat["median_s"] <= lat["max_s"] < 1.0, (name, lat)
    assert "mirakuru" not in figures["figures"]["per_case"]["trivial"]  # --no-peers


@pytest.mark.timeout(120)
def test_throughput_and_memory_were_measured(quick_run):
    _, figures, _ = quick_run
    tp = figures["figures"]["throughput_trivial"]
    assert tp["cases_per_s_jobs_1"] > 0 and tp["cases_per_s_jobs_auto"] > 0
    assert tp["problems"] == []
    memory = figures["figures"]["memory"]
    for n in figures["settings"]["memory_cases"]:
        run = memory[str(n)]
        assert run["rc"] == 0 and run["exited"] == n
        assert 5 < run["peak_mb"] < 1000  # a Python process, not a unit mistake
    assert "flask_matrix" not in figures["figures"]  # --quick skips it


@pytest.mark.timeout(120)
def test_every_command_is_printed_and_nothing_is_written(quick_run):
    stdout, figures, before = quick_run
    printed = re.findall(r"^      \$ (.+)$", stdout, re.M)
    assert printed == [c["command"] for c in figures["commands"]]
    assert all(c["wall_s"] > 0 for c in figures["commands"])
    assert _contents() == before  # only --write touches the committed figures


STARTUP = ROOT / "benchmarks" / "pytest_startup.py"


@pytest.mark.timeout(120)
def test_pytest_startup_benchmark_runs_and_the_plugin_imports_nothing_heavy():
    # One pair per project: a smoke test of the script, not a measurement.
    proc = subprocess.run([sys.executable, str(STARTUP), "--runs", "1", "--unrelated", "10"], cwd=ROOT,
                          capture_output=True, text=True, timeout=100, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "one trivial test and a pyproject.toml" in out and "the same with 10 unrelated .toml files" in out
    # wall and CPU, in two projects, with bytecode caches and without
    assert len(re.findall(r"^    on - off, paired: median -?\d+\.\d ms", out, re.M)) == 8
    sessions = [part.split("\n\n", 1)[0] for part in out.split("-X importtime, plugin on")[1:]]
    assert len(sessions) == 2
    for session in sessions:
        for heavy in ("regex", "requests", "psutil", "rich", "shutdown_probe.scenario", "shutdown_probe.pytest_cases"):
            assert not re.search(rf"\| +{re.escape(heavy)}$", session, re.M), session
