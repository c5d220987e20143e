"""Repeated runs (``--repeat``) compared by behaviour, and the port a hung root or an
orphan held to the end, against real processes.

tests/targets/run_by_run.py changes its shutdown from one run to the next through a
counter file outside the case's folder: in ``swap`` mode every run does the same thing
by another child (the harness numbers them ``child`` and ``child-2`` by start time);
in ``kill`` mode the parent's end is the same in every run while its child's is not.
What each run did is read from the target's own lines ("run N: parent sends SIGKILL"),
never from the comparison under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from tests.support import TARGETS, proc, run_cli, write_scenario
from shutdown_probe import make_scenario, run_case
from shutdown_probe.behaviour import compare
from shutdown_probe.render.compat import format_compat
from shutdown_probe.render.repeats import repeat_lines
from shutdown_probe.render.traffic import port_cell
from shutdown_probe.results import CaseResult, Results, load_results
from shutdown_probe.runner import Case

RUNS = 3


def repeated(tmp_path: Path, mode: str) -> list[CaseResult]:
    """The RUNS runs of sigterm on run_by_run.py MODE, one after the other (--jobs 1)."""
    counter = tmp_path / "counter"
    path = write_scenario(tmp_path, f'''
paths = ["sigterm"]
[app]
command = ["{{python}}", {json.dumps(str(TARGETS / "run_by_run.py"))}, "{{workdir}}", "{mode}", {json.dumps(str(counter))}]
ready = {{ file = "{{workdir}}/ready" }}
[hooks.cleanup]
log = 'cleanup \\(pid (?P<pid>\\d+)\\)'
''')
    out = tmp_path / "out.json"
    done = run_cli("run", str(path), "--repeat", str(RUNS), "--jobs", "1", "-q", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert counter.read_text() == str(RUNS)
    cases = load_results(out).cases
    assert [c.attempt for c in cases] == list(range(1, RUNS + 1))
    return cases


def run_number(case: CaseResult) -> int:
    (n,) = set(re.findall(r"run (\d+): parent sends", case.output_tail))
    return int(n)


def test_runs_that_did_the_same_by_other_children_agree(tmp_path):
    """The issue's hypercorn case: the idle worker was `child` in some runs and
    `child-2` in others. Same behaviour: the runs agree, and the row names no number."""
    cases = repeated(tmp_path, "swap")
    for case in cases:
        n = run_number(case)
        cleaned = proc(case, "child" if n % 2 else "child-2")  # the first forked child in odd runs
        other = proc(case, "child-2" if n % 2 else "child")
        assert case.hooks["cleanup"].pids == [cleaned.pid]
        assert (cleaned.returncode, cleaned.signal) == (0, None)
        assert (other.returncode, other.signal) == (None, "SIGTERM")
    # the labels really did swap between the runs
    assert {tuple(case.hooks["cleanup"].roles) for case in cases} == {("child",), ("child-2",)}
    (line,) = repeat_lines(cases)
    assert line.kind == "agree", line.text
    assert line.comparison is not None and "process" in line.comparison.compared
    table = run_cli("report", str(tmp_path / "out.json"))
    row = next(r for r in table.stdout.splitlines() if r.startswith("│ sigterm ×3"))
    assert row.split("│")[2].strip() == "✓ child"  # one value: no "child ×2 · child-2 ×1"


def test_a_child_that_ended_otherwise_in_some_runs_is_a_split_with_its_runs(tmp_path):
    """The issue's Django case: the root exits 0 in every run, its child exits 0 in one
    run and is SIGKILLed in the others. The runs differ, in that child's end."""
    cases = repeated(tmp_path, "kill")
    killed = tuple(c.attempt for c in cases if run_number(c) % 2)  # the target's own rule
    cleaned = tuple(c.attempt for c in cases if not run_number(c) % 2)
    assert killed and cleaned
    for case in cases:
        assert case.exit == {"returncode": 0, "signal": None}
    comparison = compare(cases)
    (diff,) = [d for d in comparison.differences if d.aspect == "process"]
    child = proc(cases[0], "child")
    assert diff.name == (child.kind or "child")
    by_runs = {v.runs: v for v in diff.variants}
    assert set(by_runs) == {killed, cleaned}
    (fate,) = by_runs[killed].fates
    assert (fate.signal, fate.returncode, fate.by, fate.hooks) == ("SIGKILL", None, "", ())
    (fate,) = by_runs[cleaned].fates
    assert (fate.signal, fate.returncode, fate.hooks) == (None, 0, ("cleanup",))
    (line,) = repeat_lines(cases)
    assert line.kind == "differ" and f"{diff.name}: " in line.text
    # the compatibility table splits the same way
    table = format_compat([Results(cases=cases)])
    assert f"{diff.name}: SIGKILL ({len(killed)}/{RUNS} runs)" in table
    assert f"{diff.name}: rc 0 ({len(cleaned)}/{RUNS} runs)" in table


# ---------------------------------------------------------------- the port held to the end

TRAFFIC_SERVER = str(TARGETS / "traffic_server.py")
PREFORK_SERVER = str(TARGETS / "prefork_server.py")
SLOW_URL = "http://127.0.0.1:{port}/slow"
FAST_URL = "http://127.0.0.1:{port}/"


def round_trip(case: CaseResult) -> CaseResult:
    (again,) = Results.from_dict(json.loads(Results(cases=[case]).to_json())).cases
    return again


def test_a_hung_root_holds_the_port_and_the_port_cell_says_so():
    """traffic_server.py keep ignores SIGTERM and serves on: hung, and the port it
    listens on (the case's, in the traffic URL) was still its own at the kill."""
    sc = make_scenario("keep", command=["{python}", TRAFFIC_SERVER, "keep"],
                       env={"PORT": "{port}", "SLOW_SECONDS": "0.5"}, ready={"http": FAST_URL}, paths=["sigterm"],
                       traffic={"url": SLOW_URL, "in_flight": 1, "new_url": FAST_URL, "window": 0.5},
                       stop_timeout=1.5)
    r = run_case(Case(sc, sc.paths[0]))
    assert r.outcome == "hung", (r.error, r.output_tail)
    port = urlsplit(r.traffic.url).port
    assert r.traffic.port == port
    assert r.traffic.held_by == [proc(r, "root").pid]
    assert f":{port} held by root until killed" in port_cell(r)
    again = round_trip(r)
    assert again.traffic == r.traffic and port_cell(again) == port_cell(r)


def test_orphans_hold_the_port_through_the_results_and_a_repeated_row():
    """kill -9 on prefork_server.py's master: its two workers serve on, orphaned, on
    the inherited listener; the orphans' ports and the port's holders survive the
    results JSON, and a row folding two such runs still names the ports."""
    sc = make_scenario("prefork", command=["{python}", PREFORK_SERVER, "2"],
                       env={"PORT": "{port}", "SLOW_SECONDS": "0.2"}, ready={"http": FAST_URL}, paths=["sigkill"],
                       traffic={"url": SLOW_URL, "in_flight": 1, "new_url": FAST_URL, "window": 0.5},
                       stop_timeout=1.5)
    runs = []
    for attempt in (1, 2):
        r = run_case(Case(sc, sc.paths[0], attempt=attempt))
        port = urlsplit(r.traffic.url).port
        workers = sorted(p.pid for p in r.processes if p.role.startswith("child"))
        assert len(workers) == 2 and sorted(o.pid for o in r.orphans) == workers, r.orphans
        assert all(o.listening == [port] for o in r.orphans)
        assert r.traffic.held_by == workers
        again = round_trip(r)
        assert again.orphans == r.orphans and again.traffic == r.traffic
        runs.append(again)
    from shutdown_probe.render.rows import rows

    (row,) = rows(runs, [], True)
    ports = [urlsplit(r.traffic.url).port for r in runs]
    for port in ports:
        assert f":{port}" in row.orphans and f":{port}" in row.traffic[2]
