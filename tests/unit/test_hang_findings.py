"""The results' ``hang`` findings, the outcome ``ignored`` and the orphans' ``fate``,
in the model and in every renderer, from results built by hand (no process runs
here). The words checked are the ones the reports promise (docs/design.md)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from shutdown_probe.render import format_compat, format_junit, format_markdown, format_terminal
from shutdown_probe.render.html import format_html
from shutdown_probe.render.repeats import repeat_lines
from shutdown_probe.results import (CaseResult, ExpectResult, Hang, IgnoredSignal, Orphan, ProcessRecord, Results,
                                    StuckAt, UnservedPort)


def cases() -> list[CaseResult]:
    killed = {"returncode": None, "signal": "SIGKILL"}
    return [
        CaseResult(scenario="job", path="sigterm", outcome="ignored", exit=killed,
                   processes=[ProcessRecord(10, "root", "python job.py", signal="SIGKILL", exit_known=True,
                                            killed_by_harness=True)],
                   hang=Hang(ignored=[IgnoredSignal(10, "root", "SIGTERM", "ignored")],
                             stuck=[StuckAt(10, "root", "running")]),
                   expect=ExpectResult(True, [], declared=True)),
        CaseResult(scenario="job", path="sigint", outcome="hung", exit=killed,
                   processes=[ProcessRecord(11, "root", "python job.py", signal="SIGKILL", exit_known=True,
                                            killed_by_harness=True, listening=[41234])],
                   hang=Hang(unserved=[UnservedPort(41234, [11], ["root"], 3, 1.0)],
                             stuck=[StuckAt(11, "root", "atexit", "atexit:flush", "job.py:12", 0.02)])),
        CaseResult(scenario="job", path="sigkill", outcome="exited", exit=killed, root_exit_s=0.01,
                   orphans=[Orphan(21, "python job.py", "child", [], False, fate="exited", watched_s=2.0,
                                   ended_after_s=3.01, returncode=1, exit_known=True),
                            Orphan(22, "python job.py", "child-2", [], True, fate="running", watched_s=2.0)],
                   hang=Hang()),
    ]


def results() -> Results:
    return Results(cases=cases(), scenarios={"job": "a job"}, tool="shutdown-probe 0.1.0",
                   environment={"python": "3.11.7", "platform": "Linux"})


LINES = [
    "sigterm: root pid 10 ignored SIGTERM (SIG_IGN)",
    "sigint: port 41234 still listening (root pid 11) with nothing accepting: "
    "a connection waited 1 s unaccepted (3 in the accept queue)",
    "sigint: root pid 11 was in atexit:flush (job.py:12) since 0.02 s when the harness killed it",
]
ORPHANS = "child 21 (exited after 3.01 s, rc 1); child-2 22 (still running, killed)"


def test_the_findings_survive_the_json_round_trip():
    again = Results.from_dict(json.loads(results().to_json()))
    assert [c.hang for c in again.cases] == [c.hang for c in cases()]
    assert [c.orphans for c in again.cases] == [c.orphans for c in cases()]


def test_a_version_1_file_without_them_loads_with_nothing_claimed():
    data = json.loads(results().to_json())
    for case in data["cases"]:
        del case["hang"]
        for orphan in case["orphans"]:
            for key in ("fate", "watched_s", "ended_after_s", "returncode", "signal", "exit_known", "exit_note"):
                del orphan[key]
    old = Results.from_dict(data)
    assert all(c.hang is None for c in old.cases)
    assert [o.fate for o in old.cases[2].orphans] == [None, None]
    # and the orphans cell says what it always said
    assert "child 21; child-2 22 (killed)" in format_markdown(old)


def test_terminal_shows_the_outcome_the_findings_and_the_fates():
    text = format_terminal(results(), width=250)
    assert "ignored SIGTERM → SIGKILL" in text and "hung → SIGKILL" in text
    for line in LINES:
        assert line in text, line
    assert ORPHANS in text
    assert "1 ignored, 1 hung, 1 exited" in text


def test_markdown_html_and_junit_show_them_too():
    md, html = format_markdown(results()), format_html(results())
    for line in LINES:
        assert line in md, line
    assert "ignored SIGTERM → SIGKILL" in md and ORPHANS in md
    assert "ignored SIGTERM → SIGKILL" in html and "was in atexit:flush (job.py:12)" in html
    props = {(tc.get("name"), p.get("name")): p.get("value")
             for tc in ET.fromstring(format_junit(results())).iter("testcase") for p in tc.iter("property")}
    assert props[("sigterm", "shutdown_probe.outcome")] == "ignored"
    assert props[("sigterm", "shutdown_probe.exit")] == "ignored SIGTERM → SIGKILL"
    assert props[("sigkill", "shutdown_probe.orphans")] == ORPHANS


def test_a_signal_another_process_ignored_names_it():
    case = cases()[0]
    assert case.hang is not None
    case.hang.ignored = [IgnoredSignal(12, "child", "SIGINT", "ignored"), IgnoredSignal(13, "child-2", "SIGINT", "blocked")]
    text = format_terminal(Results(cases=[case]), width=250)
    assert "ignored SIGINT (child+child-2) → SIGKILL" in text
    assert "child-2 pid 13 blocked SIGINT (blocked, still pending)" in text


def test_compat_tables_name_the_outcome_and_the_orphans_fates():
    table = format_compat([results()])
    assert "ignored" in table and "orphan left" in table and "orphan exited late" in table
    assert "ignored = still running after the stop timeout, with the path's signal ignored or blocked" in table
    assert "orphan exited late = a process outlived the root and the stop timeout, then exited by itself" in table


def test_repeated_runs_differ_when_an_orphan_exited_in_one_and_was_killed_in_another():
    first, second = cases()[2], cases()[2]
    first.attempt, second.attempt = 1, 2
    second.orphans = [Orphan(21, "python job.py", "child", [], True, fate="running", watched_s=2.0),
                      second.orphans[1]]
    for case in (first, second):  # every orphan is one of the case's processes too
        case.processes = [ProcessRecord(o.pid, o.role, o.cmdline, returncode=o.returncode, exit_known=o.exit_known,
                                        ended_after_s=o.ended_after_s, killed_by_harness=o.killed_by_harness,
                                        signal="SIGKILL" if o.killed_by_harness else None) for o in case.orphans]
    [line] = repeat_lines([first, second])
    assert line.kind == "differ", line.text
    assert "orphan (exited), rc 1" in line.text and "orphan (running), SIGKILL by the harness" in line.text
