"""Runs compared by behaviour (shutdown_probe.behaviour): roles, not labels.

The expected values follow from the definitions: a process is named by its framework
role (``ProcessRecord.kind``), else by multiprocessing's helper its command line shows,
else by the harness's role without its number; its fate is its exit (``returncode`` or
``signal``), who killed it, the hooks whose ``pids`` hold it; the runs of a path agree
when every role has the same multiset of fates and the rest (outcome, hook marks, the
requests in flight, the hook orders) is the same.
"""

from __future__ import annotations

from shutdown_probe.behaviour import Fate, behaviour, compare, role_of
from shutdown_probe.render.compat import format_compat
from shutdown_probe.render.repeats import repeat_lines
from shutdown_probe.render.rows import rows
from shutdown_probe.render.traffic import port_cell
from shutdown_probe.results import (CaseResult, HookResult, Orphan, ProcessRecord, RequestRecord, Results,
                                    TrafficRecord)

TRACKER_ARGV = "python -B -c from multiprocessing.resource_tracker import main;main(4)"


def p(pid: int, role: str, kind: str | None = None, rc: int | None = None, sig: str | None = None,
      **kw: object) -> ProcessRecord:
    return ProcessRecord(pid, role, kind=kind, returncode=rc, signal=sig, exit_known=True,
                         ended_after_s=0.1, **kw)  # type: ignore[arg-type]


def hypercorn_run(n: int, idle: str, kinds: bool = True) -> CaseResult:
    """SIGTERM to hypercorn --workers 2: the idle worker (``idle``: child or child-2)
    runs its hooks and exits 0, the busy one dies by SIGTERM; the root exits 0."""
    base = 100 * n
    busy = "child-2" if idle == "child" else "child"
    pids = {"child": base + 2, "child-2": base + 3}
    worker = "worker" if kinds else None
    procs = [p(base, "root", "master" if kinds else None, rc=0),
             p(base + 1, "child-3", cmdline=TRACKER_ARGV, rc=0),
             p(pids[idle], idle, worker, rc=0), p(pids[busy], busy, worker, sig="SIGTERM")]
    if n % 2:
        procs.reverse()  # the record's order is not behaviour either
    hook = HookResult(True, "x", pids=[pids[idle]], roles=[idle])
    return CaseResult("hypercorn", "sigterm", "exited", attempt=n, exit={"returncode": 0, "signal": None},
                      processes=procs, hooks={"lifespan": hook})


def test_role_of_names_the_framework_role_then_the_helper_then_the_unnumbered_role():
    assert role_of(p(1, "child-2", "worker")) == "worker"
    assert role_of(p(1, "child-3", cmdline=TRACKER_ARGV)) == "mp-resource-tracker"
    assert role_of(p(1, "child-2")) == "child"
    assert role_of(p(1, "child")) == "child"
    assert role_of(p(1, "root", "master")) == "master (root)"
    assert role_of(p(1, "root")) == "root"


def test_which_worker_the_harness_numbered_first_does_not_count():
    """The issue's hypercorn runs: the idle worker was child in some runs, child-2 in
    others; with the probe's roles and without them, the runs agree."""
    for kinds in (True, False):
        runs = [hypercorn_run(1, "child", kinds), hypercorn_run(2, "child-2", kinds), hypercorn_run(3, "child", kinds)]
        comparison = compare(runs)
        assert comparison.agree, comparison.differences
        assert comparison.compared == ("outcome", "process", "hook")
        assert behaviour(runs[0]) == behaviour(runs[1])
        # the folded row names the hook's process without the number
        (row,) = rows(runs, ["lifespan"], False)
        assert row.hooks == ["✓ worker" if kinds else "✓ child"]


def test_one_child_ended_otherwise_in_some_runs_is_named_with_its_runs():
    """The issue's Django Ctrl-C: the reloader parent exits 0 in all three runs; its
    child exits 0 in #1 and is SIGKILLed (by the parent) in #2 and #3."""
    def run(n: int, child_rc: int | None, child_sig: str | None) -> CaseResult:
        return CaseResult("django", "ctrl-c", "exited", attempt=n, exit={"returncode": 0, "signal": None},
                          processes=[p(10 * n, "root", "reloader-parent", rc=0),
                                     p(10 * n + 1, "child", "reloader-child", rc=child_rc, sig=child_sig)])

    runs = [run(1, 0, None), run(2, None, "SIGKILL"), run(3, None, "SIGKILL")]
    comparison = compare(runs)
    (diff,) = comparison.differences
    assert (diff.aspect, diff.name) == ("process", "reloader-child")
    assert [(v.runs, v.fates) for v in diff.variants] == [((2, 3), (Fate(signal="SIGKILL"),)),
                                                         ((1,), (Fate(returncode=0),))]
    (line,) = repeat_lines(runs)
    assert line.kind == "differ"
    assert line.text == "ctrl-c: the 3 runs differ in reloader-child: SIGKILL (#2, #3) / rc 0 (#1)"
    table = format_compat([Results(cases=runs)])
    assert "reloader-child: SIGKILL (2/3 runs); reloader-child: rc 0 (1/3 runs)" in table
    assert "k/n runs" in table  # the legend explains the split


def test_whose_kill_an_orphan_and_a_respawn_each_count():
    def run(n: int, **kw: object) -> CaseResult:
        procs = [p(1, "root", rc=0), p(2, "child", sig="SIGKILL", **kw)]
        return CaseResult("s", "sigterm", "exited", attempt=n, processes=procs)

    assert not compare([run(1), run(2, killed_by_harness=True)]).agree
    assert not compare([run(1), run(2, killed_by_stop=True)]).agree
    assert not compare([run(1), run(2, started_after_s=0.5)]).agree
    orphaned = run(2)
    orphaned.orphans = [Orphan(2, "x", "child", [], True)]
    (diff,) = compare([run(1), orphaned]).differences
    assert [v.fates[0].orphan for v in diff.variants] == [False, True]
    # one more worker in one run: a multiset, so a difference
    more = run(2)
    more.processes.append(p(3, "child-2", sig="SIGKILL"))
    (diff,) = compare([run(1), more]).differences
    assert diff.name == "child" and sorted(len(v.fates) for v in diff.variants) == [1, 2]


def test_runs_that_did_not_run_to_the_end_agree_on_their_outcome_only():
    runs = [CaseResult("s", "sigterm-child", "skipped", attempt=n, error="skipped: no child") for n in (1, 2)]
    (line,) = repeat_lines(runs)
    assert line.kind == "agree" and line.text == "sigterm-child: the 2 runs agree on the outcome (skipped)"
    mixed = [runs[0], CaseResult("s", "sigterm-child", "exited", attempt=2, processes=[p(1, "root", rc=0)])]
    (diff,) = compare(mixed).differences  # nothing else of the skipped run is compared
    assert diff.aspect == "outcome"


def test_an_exit_no_run_could_learn_is_said_not_compared():
    def run(n: int) -> CaseResult:
        lost = ProcessRecord(2, "child", exit_known=False, ended_after_s=0.2, exit_note="no pidfd")
        return CaseResult("s", "sigterm", "exited", attempt=n, processes=[p(1, "root", rc=0), lost])

    comparison = compare([run(1), run(2)])
    assert comparison.agree and comparison.unknown == ("the exit status of 2 processes",)
    (line,) = repeat_lines([run(1), run(2)])
    assert line.text.endswith("; not compared (not known in every run): the exit status of 2 processes")


def test_requests_in_flight_are_compared_by_outcome():
    def run(n: int, fate: str) -> CaseResult:
        t = TrafficRecord("u", None, 1, requests=[RequestRecord(1, "in-flight", fate)])  # type: ignore[arg-type]
        return CaseResult("s", "sigterm", "exited", attempt=n, traffic=t)

    assert compare([run(1, "cut"), run(2, "cut")]).agree
    (diff,) = compare([run(1, "cut"), run(2, "completed")]).differences
    assert diff.aspect == "in-flight" and [v.text for v in diff.variants] == ["1 cut", "1 completed"]


def test_the_port_cell_names_who_held_the_port_to_the_end():
    procs = [p(7, "root", rc=None, sig="SIGKILL", killed_by_harness=True)]
    held = TrafficRecord("http://127.0.0.1:8123/slow", None, 1, port=8123, held_by=[7])
    case = CaseResult("s", "sigterm", "hung", processes=procs, traffic=held)
    assert port_cell(case) == ":8123 held by root until killed"
    assert port_cell(case, number=False) == "held by root until killed"
    # results that did not record it say nothing about it
    old = CaseResult("s", "sigterm", "hung", processes=procs, traffic=TrafficRecord("u", None, 1))
    assert port_cell(old) == "-"
