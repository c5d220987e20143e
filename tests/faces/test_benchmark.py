"""The benchmark's quick mode runs end to end, prints figures that make sense, and
its --check holds.

`python benchmarks/run.py --quick --no-peers --check` runs every phase of the
benchmark with tiny counts, the sleep-bound target instead of the two-minute Flask
matrix (under a minute on a quiet 2-core machine). This checks the printed per-case
table parses, the raw figures behind it are sane (every case ran, a latency was
measured for every case), every goal got a verdict and none of --quick's loose limits
was missed (benchmarks/goals.py says why each is loose enough for a loaded machine),
every command it ran was printed, and that a run without --write leaves
benchmarks/README.md and results.json alone. The generated README section is built
from the same figures into a copy.
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
ROW = re.compile(r"^  (?P<name>bare|shutdown-probe \(probe o(?:n|ff)\))\s+(?P<median>\d+\.\d) ms\s+"
                 r"(?P<p95>\d+\.\d) ms\s+(?P<ratio>\d+\.\d\d)×", re.M)


def _contents() -> dict:
    return {p: p.read_bytes() if p.exists() else None for p in GENERATED}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    before = _contents()
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    proc = subprocess.run([sys.executable, str(RUN), "--quick", "--no-peers", "--check", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text()), before


@pytest.mark.timeout(450)
def test_printed_per_case_table_parses_and_is_sane(quick_run):
    stdout, figures, _ = quick_run
    trivial_table = stdout.split("trivial target: per-case wall time", 1)[1].split("\n\n", 1)[0]
    rows = {m["name"]: m for m in ROW.finditer(trivial_table)}
    assert set(rows) == {"bare", "shutdown-probe (probe on)", "shutdown-probe (probe off)"}, trivial_table
    assert list(rows)[1] == "shutdown-probe (probe on)"  # the headline comes first
    assert float(rows["bare"]["median"]) > 0
    assert float(rows["bare"]["ratio"]) == 1.0
    for name, row in rows.items():
        assert 0 < float(row["median"]) <= float(row["p95"]) < 5000, (name, row.group(0))
    # the printed ratio is the ratio of the printed medians
    for name in ("shutdown-probe (probe on)", "shutdown-probe (probe off)"):
        sp = rows[name]
        expected = float(sp["median"]) / float(rows["bare"]["median"])
        assert abs(float(sp["ratio"]) - expected) < 0.02 + 0.01 * expected


@pytest.mark.timeout(450)
def test_every_case_ran_and_every_exit_was_timed(quick_run):
    _, figures, _ = quick_run
    settings = figures["settings"]
    for target, per_batch in (("trivial", settings["trivial_cases"]), ("flask", settings["flask_cases"])):
        rows = figures["figures"]["per_case"][target]
        for name in ("bare", "shutdown-probe (probe on)", "shutdown-probe (probe off)"):
            row = rows[name]
            assert row["cases"] == row["ok"] == settings["rounds"] * per_batch, (target, name, row)
            assert row["wall"]["median_s"] > 0
            assert row["command_wall_per_case_s"] > 0
            # one ratio a round, each this round's median case over bare's
            assert len(row["round_ratios"]) == settings["rounds"], (target, name, row)
            rr = row["round_ratio"]
            assert 0 < rr["min"] <= rr["median"] <= rr["max"], (target, name, rr)
            if target == "trivial":
                # one latency per case, and a plausible one: the stamp is taken just
                # before the exit, on the clock the harness uses (rounding allows a hair
                # below zero)
                lat = row["latency"]
                assert lat is not None, (name, "no exit-detection latency was measured")
                assert lat["n"] == row["ok"], (name, lat)
                assert -0.0001 <= lat["median_s"] <= lat["max_s"] < 1.0, (name, lat)
    assert "mirakuru" not in figures["figures"]["per_case"]["trivial"]  # --no-peers


@pytest.mark.timeout(450)
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
    sleepy = figures["figures"]["sleepy_matrix"]["auto"]
    assert sleepy["cases"] == sleepy["expectations_held"] == figures["settings"]["sleepy_cases"]
    assert sleepy["jobs"] > 1
    for key in ("probe_start", "check", "run_fixed"):
        pair = figures["figures"]["startup"][key]
        assert pair["this_median_s"] > 0 and pair["over_median_s"] > 0
    assert figures["figures"]["startup"]["check"]["diff"]["median"] > 0  # check does more than `pass`
    render = figures["figures"]["render"]
    assert set(render) == {"1000", "2000"} and all(v > 0 for size in render.values() for v in size.values())


@pytest.mark.timeout(450)
def test_every_goal_has_a_verdict_and_the_quick_check_held(quick_run):
    stdout, figures, _ = quick_run
    from benchmarks.goals import GOALS

    verdicts = figures["figures"]["verdicts"]
    assert [v["key"] for v in verdicts] == [g.key for g in GOALS]
    block = stdout.split("goals (issue 23)", 1)[1].split("\n\n", 1)[0]
    assert len(re.findall(r"^  [✓✗○] ", block, re.M)) == len(GOALS), block
    assert not [v for v in verdicts if v["met"] is False]  # the run exited 0 under --check
    # what --quick judges: each goal with a quick limit got a figure
    assert all(v["value"] is not None for v in verdicts if v["limit"] is not None), verdicts


@pytest.mark.timeout(450)
def test_the_generated_readme_states_the_load_versions_and_every_goal(quick_run, tmp_path):
    _, figures, _ = quick_run
    from benchmarks.readme import BEGIN, END, markdown, write_readme

    copy = tmp_path / "README.md"
    copy.write_text(f"# before\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    write_readme(copy, figures)
    text = copy.read_text()
    assert text.startswith("# before\n") and text.endswith("\n\nafter\n") and "old" not in text
    section = markdown(figures)
    assert section in text
    assert f"`{figures['machine']['uptime_at_start']}`" in section and f"`{figures['machine']['uptime_at_end']}`" in section
    assert f"psutil {figures['versions']['psutil']}" in section
    assert section.index("**Headline") < section.index("**trivial target**")
    for v in figures["figures"]["verdicts"]:
        assert f"- {v['text']}" in section


@pytest.mark.timeout(450)
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
