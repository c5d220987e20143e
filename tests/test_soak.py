"""Soak: 336 hostile cases with ``--jobs auto`` leave no process, descriptor or memory behind.

tests/soak.py runs the CLI's ``run`` seven times in one process over the twelve
hostile scenarios of tests/targets/hostile.py (four paths each: 48 cases a round)
and records descriptors, memory, threads and children after every round. This test
judges those figures and prints them (``-s``, or in the log of a failure).
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys

import pytest

from conftest import ROOT, SESSION
from shutdown_probe.processes import tagged_processes

ROUNDS = 7
# A leak of 20 KB a case would be 6.7 MB over the run; the allocator's own swings
# between rounds, measured, are under 4 MB.
RSS_GROWTH_LIMIT_KB = 6 * 1024


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_hundreds_of_hostile_cases_leave_nothing_behind(tmp_path):
    figures = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "soak.py"), str(tmp_path), str(ROUNDS),
                           str(figures)], cwd=ROOT, capture_output=True, text=True, timeout=380)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    data = json.loads(figures.read_text())
    rounds, cases = data["rounds"], data["cases"]
    per_round = len(data["modes"]) * len(data["paths"])
    assert len(cases) == ROUNDS * per_round >= 300
    assert data["jobs"] >= 1

    # nothing left running: no case process (tagged), no child but the watchdog
    assert tagged_processes(f"{SESSION}/") == []
    watchdogs = {r["watchdog"] for r in rounds}
    assert len(watchdogs) == 1 and None not in watchdogs  # one watchdog, never restarted
    assert all(r["children"] == [r["watchdog"]] for r in rounds), [r["children"] for r in rounds]
    assert all(r["threads"] == 1 for r in rounds), [r["threads"] for r in rounds]

    # descriptors: the watchdog's pipe is the one the first round adds, and it stays one
    fds = [r["fds"] for r in rounds]
    assert fds[0] == data["start"]["fds"] + 1, (data["start"]["fds"], fds)
    assert len(set(fds)) == 1, fds

    # memory: flat after the first round (imports, caches), within the allocator's swings
    rss = [r["rss_kb"] for r in rounds]
    growth = max(rss[1:]) - rss[1]
    assert growth < RSS_GROWTH_LIMIT_KB, rss

    # every case ran to an end the harness understood, and the same case always ends
    # the same way (hostile apps are deterministic; the harness must be too)
    bad = [c for c in cases if c["outcome"] not in ("exited", "hung")]
    assert not bad, bad[:5]
    seen = collections.defaultdict(set)
    for c in cases:
        seen[(c["scenario"], c["path"])].add((c["outcome"], json.dumps(c["exit"]), c["orphans"]))
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}
    assert all(r["exit"] == 0 for r in rounds)

    walls = sorted(c["wall_s"] for c in cases)
    print(f"\nsoak: {len(cases)} cases, jobs {data['jobs']}, {data['wall_s']} s; descriptors "
          f"{data['start']['fds']} at start, {fds} after each round; RSS {data['start']['rss_kb'] // 1024} MB at "
          f"start, {[r // 1024 for r in rss]} MB after each round (growth after round 1: {growth} KB); "
          f"case wall time median {walls[len(walls) // 2]:.2f} s, max {walls[-1]:.2f} s")
