"""Renderers against exact output, from results built by hand (no process runs here)."""

from __future__ import annotations

import json
import re

from shutdown_probe.render import format_markdown, format_terminal
from shutdown_probe.render.cells import hook_cell
from shutdown_probe.render.explain import explain
from shutdown_probe.results import (CaseResult, Escalation, ExpectResult, HookOrder, HookResult, OrderPair,
                                    Orphan, ProcessRecord, Results)


def sample() -> Results:
    ran_root = HookResult(True, "stdout line 3: bye", pids=[10], roles=["root"], at_s=0.1, matches=1)
    ran_both = HookResult(True, "stdout line 3: bye", pids=[10, 11], roles=["root", "child"], at_s=0.1)
    cases = [
        CaseResult(
            scenario="demo", path="sigkill-child", outcome="exited",
            exit={"returncode": 247, "signal": None}, duration_s=0.314, root_exit_s=0.3,
            hooks={"atexit": ran_root, "flush": HookResult(False, "no output line matched 'flush'")},
            hook_order=["atexit"],
            processes=[ProcessRecord(10, "root", "python app.py", returncode=247, exit_known=True,
                                     ended_after_s=0.3, listening=[5000]),
                       ProcessRecord(11, "child", "python app.py", signal="SIGKILL", exit_known=True,
                                     ended_after_s=0.01, listening=[5000], signals_caught=["SIGTERM"])],
            expect=ExpectResult(True, [], declared=True),
        ),
        CaseResult(
            scenario="demo", path="sigkill", outcome="exited",
            exit={"returncode": None, "signal": "SIGKILL"}, duration_s=None, root_exit_s=0.02,
            hooks={"atexit": HookResult(False, "no output line matched 'bye'"),
                   "flush": HookResult(False, "no output line matched 'flush'")},
            orphans=[Orphan(11, "python app.py", "child", [5000], True)],
            escalations=[Escalation(11, "child", "SIGKILL", "orphan")],
            expect=ExpectResult(False, ["expected hook 'atexit' to run, it did not"], declared=True),
        ),
        CaseResult(
            scenario="demo", path="sigint-child", outcome="exited",
            exit={"returncode": 0, "signal": None}, duration_s=1.5, root_exit_s=1.5,
            hooks={"atexit": ran_both, "flush": HookResult(True, "x", pids=[11], roles=["child"], at_s=0.2)},
            hook_order=["atexit", "flush"], order=HookOrder(["atexit", "flush"], [OrderPair("atexit", "flush", "stdout")]),
        ),
        CaseResult(scenario="demo", path="os-exit", outcome="skipped",
                   error="skipped: the root has no child process to signal"),
    ]
    return Results(cases=cases, scenarios={"demo": "A demo"}, tool="shutdown-probe 0.1.0",
                   environment={"python": "3.11.7", "platform": "Linux"})


def rows(text: str) -> list[list[str]]:
    """The cells of each table body row, whitespace-trimmed."""
    out = []
    for line in text.splitlines():
        if line.startswith("│"):
            out.append([c.strip() for c in line.strip("│").split("│")])
    return out


def test_terminal_matrix_cells():
    text = format_terminal(sample(), width=110)
    assert text.splitlines()[0].rstrip() == "demo — A demo"
    assert re.search(r"┃ path +┃ +atexit +┃ +flush +┃ exit +┃ +time ┃ orphans", text)
    body = rows(text)
    assert body == [
        ["sigkill-child", "✓ parent", "✗", "rc 247", "0.31 s", "-"],
        # the root ended at 0.02 s; its orphan ran on until the harness killed it (when: not recorded)
        ["sigkill", "✗", "✗", "SIGKILL", "0.02 s (orphans: killed)", "child 11 :5000 (killed)"],
        ["sigint-child", "✓ both", "✓ child", "rc 0", "1.50 s", "-"],
        ["os-exit", "-", "-", "skipped", "-", "-"],
    ]
    lines = [line.rstrip() for line in text.splitlines()]
    assert "parent = the launched process, child = its working child, both = the two; " in " ".join(text.split())
    assert "✗ sigkill: expected hook 'atexit' to run, it did not" in lines
    assert "order in sigint-child: atexit → flush" in lines
    assert lines[-1] == "4 cases: 3 exited, 1 skipped; expectations held in 1 of 2"


def test_terminal_hung_and_not_ready_cells():
    res = Results(cases=[
        CaseResult(scenario="s", path="sigterm", outcome="hung", exit={"returncode": None, "signal": "SIGKILL"},
                   hooks={"h": HookResult(False, "-")}),
        CaseResult(scenario="s", path="sigint", outcome="not-ready", error="the app exited before it was ready"),
    ])
    text = format_terminal(res, width=100)
    assert rows(text) == [
        ["sigterm", "✗", "hung → SIGKILL", "killed", "-"],
        ["sigint", "-", "not-ready", "-", "-"],
    ]
    assert "✗ sigint: not-ready: the app exited before it was ready" in text


EXPECTED_MARKDOWN_TABLE = """\
## demo

A demo

| path | atexit | flush | exit | time | orphans |
|---|:---:|:---:|---|---:|---|
| `sigkill-child` | ✓ parent | ✗ | rc 247 | 0.31 s | - |
| `sigkill` | ✗ | ✗ | SIGKILL | 0.02 s (orphans: killed) | child 11 :5000 (killed) |
| `sigint-child` | ✓ both | ✓ child | rc 0 | 1.50 s | - |
| `os-exit` | - | - | skipped | - | - |

- parent = the launched process, child = its working child, both = the two; time A s (orphans: B s) = the root ended after A s; processes it left ran on until the harness killed them at B s
- order in sigint-child: atexit → flush
- ✗ sigkill: expected hook 'atexit' to run, it did not

4 cases: 3 exited, 1 skipped; expectations held in 1 of 2.

What happened on each path:

- `sigkill-child`: the parent (pid 10) ran atexit, then exited with status 247; the child (pid 11) died by SIGKILL.
- `sigkill`: no hook ran.
- `sigint-child`: atexit and flush ran.
- `os-exit`: skipped: the root has no child process to signal
"""


def test_explain_says_which_process_ran_was_cut_or_never_ran_each_probe_hook():
    # article 1's ctrl-c: the parent ran both hooks; the child was killed inside the
    # second one it started (LIFO) and never reached the first
    hooks = {
        "atexit:shutdown": HookResult(True, "probe", pids=[10], roles=["root"], source="probe",
                                      registered_pids=[10, 11]),
        "atexit:shutdown3": HookResult(True, "probe", pids=[10], roles=["root"], source="probe",
                                       interrupted_pids=[11], interrupted_roles=["child"],
                                       registered_pids=[10, 11]),
    }
    case = CaseResult(
        scenario="flask", path="ctrl-c", outcome="exited", exit={"returncode": 0, "signal": None},
        hooks=hooks, trigger={"signal": "SIGINT", "to": "process group", "pgid": 10},
        processes=[ProcessRecord(10, "root", "python app.py", returncode=0, exit_known=True,
                                 kind="reloader-parent"),
                   ProcessRecord(11, "child", "python app.py", signal="SIGKILL", exit_known=True,
                                 kind="reloader-child")],
    )
    assert explain(case) == (
        "SIGINT to the whole process group: the parent (reloader-parent, pid 10) ran atexit:shutdown and "
        "atexit:shutdown3, then exited with status 0; the child (reloader-child, pid 11) was inside "
        "atexit:shutdown3 when it died, never ran atexit:shutdown, then died by SIGKILL.")
    assert hook_cell(case, "atexit:shutdown3") == "✓ parent ◐ child"
    assert hook_cell(case, "atexit:shutdown") == "✓ parent"


def test_markdown_table_exact():
    assert format_markdown(sample(), details=False) == EXPECTED_MARKDOWN_TABLE + "\n_shutdown-probe 0.1.0; python 3.11.7, platform Linux._\n"


def test_markdown_details():
    text = format_markdown(sample())
    assert "- process child pid 11: SIGKILL after 0.01 s (listening :5000; handles SIGTERM)" in text
    assert "- process root pid 10: rc 247 after 0.30 s (listening :5000)" in text
    assert "- hook `atexit` ✓ \\[root 10\\]: stdout line 3: bye" in text
    assert "- harness sent SIGKILL to child pid 11: orphan" in text
    assert "#### `os-exit` — skipped" in text


def test_markdown_escapes_pipes():
    res = sample()
    res.cases[1].expect.failures = ["a | b"]
    assert "- ✗ sigkill: a \\| b" in format_markdown(res, details=False)


def test_json_round_trip():
    res = sample()
    data = json.loads(res.to_json())
    assert data["version"] == 2
    assert data["cases"][0]["exit"] == {"returncode": 247, "signal": None}
    assert data["cases"][1]["orphans"][0]["listening"] == [5000]
    again = Results.from_dict(data)
    assert again.to_dict() == res.to_dict()
    assert format_terminal(again) == format_terminal(res)


def test_json_refuses_other_versions():
    data = sample().to_dict()
    data["version"] = 3
    try:
        Results.from_dict(data)
    except ValueError as exc:
        assert re.search(r"version 3", str(exc))
    else:
        raise AssertionError("version 3 accepted")


def test_two_files_with_one_scenario_name_get_a_table_each():
    cases = [CaseResult(scenario="x", path="sigterm", outcome="exited", scenario_file=f"/{d}/x.toml",
                        exit={"returncode": None, "signal": "SIGTERM"}) for d in ("a", "b")]
    text = format_terminal(Results(cases=cases), width=100)
    titles = [line.strip() for line in text.splitlines() if line.startswith("x (")]
    assert titles == ["x (/a/x.toml)", "x (/b/x.toml)"]
    assert len(rows(text)) == 2


# ---------------------------------------------------------------- stop profiles


def _stop_case(path: str, **stop) -> CaseResult:
    from shutdown_probe.results import StopRecord

    record = StopRecord(profile=path, stopper="Docker", signal="SIGTERM", to="PID 1 (the app)",
                        grace_s=10.0, source="docs", **stop)
    procs = [ProcessRecord(20, "launcher", "python -I -S _pid1_launcher.py", signal="SIGKILL", exit_known=True),
             ProcessRecord(21, "root", "python app.py", signal="SIGKILL", exit_known=True, ns_pid=1,
                           killed_by_stop=stop.get("final_kill", False))]
    return CaseResult(scenario="demo", path=path, outcome="exited", exit={"returncode": None, "signal": "SIGKILL"},
                      hooks={"finally": HookResult(False, "no match")}, processes=procs, stop=record)


def test_time_cell_tells_the_grace_accounting():
    from shutdown_probe.render.cells import time_cell

    killed = _stop_case("docker-stop", final_kill=True, kill_at_s=10.004,
                        killed=[{"pid": 21, "role": "root", "cmdline": "python app.py"}], pid1_handles_signal=False)
    quick = _stop_case("docker-stop-init", cleanup_s=0.031)
    assert time_cell(killed) == "killed at 10.0 s"
    assert time_cell(quick) == "0.03 s of 10 s"


def test_explain_a_stop_profile_names_the_dropped_signal_and_the_kill_not_the_launcher():
    case = _stop_case("docker-stop", final_kill=True, kill_at_s=10.0, pid1_handles_signal=False,
                      killed=[{"pid": 21, "role": "root", "cmdline": "python app.py"}])
    text = explain(case)
    assert text.startswith("Docker: SIGTERM to PID 1 (the app), which has no SIGTERM handler (nor blocks it), so the kernel dropped it")
    assert "the 10 s grace ran out: SIGKILL (root 21)" in text
    assert "PID 1 inside" in text and "killed by SIGKILL when the grace ran out" in text
    assert "launcher" not in text and "20" not in text.replace("pid 21", "")
    # one app process: the launcher does not make it a multi-process case
    assert hook_cell(case, "finally") == "✗"


def test_stop_record_survives_the_json_round_trip():
    case = _stop_case("k8s-delete", final_kill=True, kill_at_s=3.0,
                      pre_stop={"action": "preStop", "http": "http://x/drain", "status": 200, "duration_s": 0.5})
    back = Results.from_dict(json.loads(Results(cases=[case]).to_json())).cases[0]
    assert back.stop == case.stop and back.processes[1].ns_pid == 1 and back.processes[1].killed_by_stop
    assert "preStop http://x/drain (HTTP 200, 0.50 s)" in explain(back)


# ---------------------------------------------------------------- traffic


def _req(n: int, kind: str, outcome: str, **kw):
    from shutdown_probe.results import RequestRecord

    return RequestRecord(n, kind, outcome, **kw)


def traffic_sample() -> Results:
    """A gunicorn-like scenario: SIGTERM drains; SIGKILL to a worker cuts its two
    requests while the master lives on and respawns it; one case without traffic."""
    from shutdown_probe.results import TrafficRecord

    drained = TrafficRecord(
        url="http://127.0.0.1:8000/slow", new_url="http://127.0.0.1:8000/", in_flight=3, window_s=2.0,
        requests=[_req(1, "in-flight", "completed", detail="200 OK", status=200, sent_s=-0.2, ended_s=1.52,
                       pid=4101, role="child"),
                  _req(2, "in-flight", "completed", status=200, sent_s=-0.2, ended_s=1.53, pid=4102, role="child-2"),
                  _req(3, "in-flight", "completed", status=200, sent_s=-0.2, ended_s=1.55, pid=4101, role="child"),
                  # new: 2 served before the port stopped, then 4 refused
                  _req(4, "new", "completed", status=200, sent_s=0.005, ended_s=0.01),
                  _req(5, "new", "completed", status=200, sent_s=0.01, ended_s=0.015),
                  *(_req(n, "new", "refused", detail="connection refused", sent_s=0.02 + n / 100)
                    for n in range(6, 10))],
        drained=True, stopped_accepting_s=0.021, refused_from_s=0.06, released_s=1.514, last_served_s=1.55,
        stopped_by="window")
    cut = TrafficRecord(
        url="http://127.0.0.1:8000/slow", new_url=None, in_flight=3, window_s=2.0,
        requests=[_req(1, "in-flight", "cut", detail="connection reset", sent_s=-0.2, ended_s=0.31,
                       pid=4101, role="child"),
                  _req(2, "in-flight", "completed", detail="200", status=200, sent_s=-0.2, ended_s=1.52,
                       pid=4102, role="child-2"),
                  _req(3, "in-flight", "cut", detail="connection reset", sent_s=-0.2, ended_s=0.31,
                       pid=4101, role="child"),
                  # new, deliberately out of outcome order: the cell lists them in REQUEST_OUTCOMES order
                  *(_req(n, "new", "cut", detail="connection reset", sent_s=0.02) for n in (4, 5, 6)),
                  *(_req(n, "new", "completed", status=200, sent_s=n / 10) for n in range(7, 19))],
        drained=False, dropped=3, last_served_s=1.9, stopped_by="cap",
        notes=["the master respawned the worker"])
    procs = [ProcessRecord(4100, "root", "gunicorn app:app", signal="SIGTERM", killed_by_harness=True,
                           listening=[8000]),
             ProcessRecord(4101, "child", "gunicorn: worker", signal="SIGKILL", exit_known=True, ended_after_s=0.312),
             ProcessRecord(4102, "child-2", "gunicorn: worker", signal="SIGTERM", killed_by_harness=True),
             ProcessRecord(4200, "child-3", "gunicorn: worker", signal="SIGTERM", killed_by_harness=True,
                           started_after_s=0.05)]
    atexit = HookResult(True, "stdout: bye", pids=[4101, 4102], roles=["child", "child-2"])
    cases = [
        CaseResult(scenario="gunicorn", path="sigterm", outcome="exited", exit={"returncode": 0, "signal": None},
                   duration_s=1.6, hooks={"atexit": atexit}, traffic=drained),
        CaseResult(scenario="gunicorn", path="sigkill-child", outcome="survived",
                   exit={"returncode": None, "signal": "SIGTERM"}, hooks={"atexit": HookResult(False, "no match")},
                   processes=procs, trigger={"signal": "SIGKILL", "to": "child"}, traffic=cut),
        CaseResult(scenario="gunicorn", path="sigint", outcome="exited", exit={"returncode": 0, "signal": None},
                   duration_s=0.2, hooks={"atexit": atexit}),
        CaseResult(scenario="gunicorn", path="os-exit", outcome="skipped", error="skipped: no os-exit trigger"),
    ]
    return Results(cases=cases, scenarios={"gunicorn": "gunicorn sync workers"})


TRAFFIC_LEGEND = ("drained = every request in flight when the path fired got a whole response below 500; "
                  "dropped = connected, then cut without a whole response; "
                  "refused = connection refused (nothing listening)")


def test_terminal_traffic_columns_sit_between_the_hooks_and_exit():
    text = format_terminal(traffic_sample(), width=160)
    assert re.search(r"┃ path +┃ +atexit +┃ +drained +┃ new requests +┃ port +┃ exit +┃ +time ┃ orphans", text)
    assert rows(text) == [
        ["sigterm", "✓ child+child-2", "✓ 3/3", "2 served, 4 refused", "stopped 0.02 s; released 1.51 s",
         "rc 0", "1.60 s", "-"],
        ["sigkill-child", "✗", "✗ 1/3: 2 cut", "12 served, 3 dropped", "kept serving", "survived", "0.31 s", "-"],
        ["sigint", "✓ child+child-2", "-", "-", "-", "rc 0", "0.20 s", "-"],
        ["os-exit", "-", "-", "-", "-", "skipped", "-", "-"],
    ]
    assert TRAFFIC_LEGEND in " ".join(line.strip() for line in text.splitlines())


def test_a_table_without_traffic_has_no_traffic_columns_nor_legend():
    # one run, two scenarios: only the one with traffic gets the columns
    res = sample()
    res.cases += traffic_sample().cases[:1]
    text = format_terminal(res, width=160)
    demo, gunicorn = text.split("\ngunicorn")
    assert "drained" not in demo and "new requests" not in demo and "port" not in demo
    assert "drained" in gunicorn and "new requests" in gunicorn
    assert len(rows(demo)[0]) == 6  # path, atexit, flush, exit, time, orphans
    md = format_markdown(res, details=False)
    assert "| path | atexit | flush | exit | time | orphans |" in md
    assert "| path | atexit | drained | new requests | port | exit | time | orphans |" in md
    assert md.count("- drained = ") == 1


def test_markdown_traffic_rows_exact():
    md = format_markdown(traffic_sample(), details=False)
    table = md.split("gunicorn sync workers\n\n", 1)[1].split("\n\n", 1)[0]
    assert table.splitlines() == [
        "| path | atexit | drained | new requests | port | exit | time | orphans |",
        "|---|:---:|:---:|---|---|---|---:|---|",
        "| `sigterm` | ✓ child+child-2 | ✓ 3/3 | 2 served, 4 refused | stopped 0.02 s; released 1.51 s | rc 0 | 1.60 s | - |",
        "| `sigkill-child` | ✗ | ✗ 1/3: 2 cut | 12 served, 3 dropped | kept serving | survived | 0.31 s | - |",
        "| `sigint` | ✓ child+child-2 | - | - | - | rc 0 | 0.20 s | - |",
        "| `os-exit` | - | - | - | - | skipped | - | - |",
    ]
    assert f"- {TRAFFIC_LEGEND}\n" in md


def test_drained_cell_names_each_failure_and_says_nothing_when_nothing_was_in_flight():
    from shutdown_probe.render.traffic import drained_cell
    from shutdown_probe.results import TrafficRecord

    def case(drained, requests, outcome="exited"):
        return CaseResult(scenario="s", path="p", outcome=outcome,
                          traffic=TrafficRecord(url="u", new_url=None, in_flight=len(requests),
                                                requests=requests, drained=drained))

    failing = [_req(1, "in-flight", "timed-out"), _req(2, "in-flight", "error-status", status=503),
               _req(3, "in-flight", "unfinished"), _req(4, "in-flight", "completed", status=200)]
    assert drained_cell(case(False, failing)) == "✗ 1/4: 1 5xx, 1 timed out, 1 unfinished"
    # every in-flight one completed, a queued one was cut: the cell says which
    queued = [_req(1, "in-flight", "completed", status=200), _req(2, "queued", "cut")]
    assert drained_cell(case(False, queued)) == "✗ 1/1: queued: 1 cut"
    # drained (the verdict is about the requests in flight) yet the backlog was lost
    assert drained_cell(case(True, queued)) == "✓ 1/1: queued: 1 cut"
    assert drained_cell(case(True, [_req(1, "in-flight", "completed", status=204)])) == "✓ 1/1"
    assert drained_cell(case(None, [])) == "-"
    assert drained_cell(case(False, failing, outcome="error")) == "-"
    assert drained_cell(CaseResult(scenario="s", path="p", outcome="exited")) == "-"


def test_new_requests_cell_counts_in_outcome_order_and_says_none_sent():
    from shutdown_probe.render.traffic import new_requests_cell
    from shutdown_probe.results import TrafficRecord

    def case(requests):
        return CaseResult(scenario="s", path="p", outcome="exited",
                          traffic=TrafficRecord(url="u", new_url=None, in_flight=1, requests=requests))

    every = [_req(1, "new", "unfinished"), _req(2, "new", "timed-out"), _req(3, "new", "refused"),
             _req(4, "new", "refused"), _req(5, "new", "cut"), _req(6, "new", "error-status", status=502),
             _req(7, "new", "completed", status=200), _req(8, "in-flight", "cut")]
    assert new_requests_cell(case(every)) == "1 served, 1 5xx, 1 dropped, 2 refused, 1 timed out, 1 unfinished"
    assert new_requests_cell(case([_req(1, "in-flight", "completed")])) == "none sent"


def test_port_cell_adds_the_release_only_when_it_came_later():
    from shutdown_probe.render.traffic import port_cell
    from shutdown_probe.results import TrafficRecord

    def case(stopped, released, served=0):
        requests = [_req(n, "new", "completed", status=200) for n in range(served)]
        return CaseResult(scenario="s", path="p", outcome="exited",
                          traffic=TrafficRecord(url="u", new_url=None, in_flight=1, requests=requests,
                                                stopped_accepting_s=stopped, released_s=released))

    assert port_cell(case(0.123, 0.16)) == "stopped 0.12 s"  # 0.037 s apart: one moment
    assert port_cell(case(0.123, 2.0)) == "stopped 0.12 s; released 2.00 s"
    assert port_cell(case(0.5, None)) == "stopped 0.50 s"
    assert port_cell(case(None, None, served=2)) == "kept serving"
    assert port_cell(case(None, 1.0)) == "-"


def test_survived_case_exit_and_time_cells():
    from shutdown_probe.render.cells import exit_cell, time_cell
    from shutdown_probe.render.failure import row_summary

    case = traffic_sample().cases[1]
    # the root's SIGTERM in exit is the harness's cleanup: not shown
    assert exit_cell(case) == "survived"
    assert time_cell(case) == "0.31 s"  # the child's ended_after_s, 0.312
    # a worker started after the path fired is not the target, even in the target's role
    case.processes.insert(0, ProcessRecord(4300, "child", "gunicorn: worker", signal="SIGTERM",
                                           ended_after_s=2.5, started_after_s=0.05))
    assert time_cell(case) == "0.31 s"
    del case.processes[0]
    assert row_summary(case) == "survived, 0.31 s, drained ✗ 1/3: 2 cut, new requests: 12 served, 3 dropped"
    # the target never ended (or is unknown): no time
    case.processes[1].ended_after_s = None
    assert time_cell(case) == "-"
    assert "the parent (pid 4100) was still running when the harness ended the case" in explain(case)
    assert "the child-3 (pid 4200, started 0.05 s after the trigger)" in explain(case)


def test_markdown_details_tell_each_in_flight_request_and_the_port():
    text = format_markdown(traffic_sample())
    section = text.split("#### `sigkill-child` — survived\n", 1)[1].split("####", 1)[0]
    lines = section.splitlines()
    start = lines.index("- traffic: http://127.0.0.1:8000/slow (3 in flight)")
    assert lines[start:start + 7] == [
        "- traffic: http://127.0.0.1:8000/slow (3 in flight)",
        "  - #1 in-flight on child pid 4101: cut (connection reset) at 0.31 s",
        "  - #2 in-flight on child-2 pid 4102: completed 200 at 1.52 s",
        "  - #3 in-flight on child pid 4101: cut (connection reset) at 0.31 s",
        "  - new requests: 12 served, 3 dropped (sent until the cap on new requests was reached)",
        "  - port: kept serving new requests; last response served at 1.90 s",
        "  - note: the master respawned the worker",
    ]
    assert "- respawned: child-3 pid 4200 started 0.05 s after the trigger" in lines
    first = text.split("#### `sigterm` — exited\n", 1)[1].split("####", 1)[0]
    assert "- traffic: http://127.0.0.1:8000/slow (3 in flight); new requests to http://127.0.0.1:8000/" in first
    assert "  - #1 in-flight on child pid 4101: completed 200 OK at 1.52 s" in first
    assert "  - #2 in-flight on child-2 pid 4102: completed 200 at 1.53 s" in first
    assert "  - new requests: 2 served, 4 refused (sent until the 2 s window ended)" in first
    assert ("  - port: stopped serving new requests at 0.02 s; refused connections from 0.06 s; "
            "released at 1.51 s; last response served at 1.55 s") in first
    assert "traffic" not in text.split("#### `sigint` — exited\n", 1)[1].split("####", 1)[0]


def test_failure_detail_carries_the_traffic_block():
    from shutdown_probe.render import format_case_failure, row_properties

    case = traffic_sample().cases[1]
    lines = format_case_failure(case).splitlines()
    assert "  respawned: child-3 pid 4200 started 0.05 s after the trigger" in lines
    start = lines.index("  traffic: http://127.0.0.1:8000/slow (3 in flight)")
    assert lines[start + 1] == "    #1 in-flight on child pid 4101: cut (connection reset) at 0.31 s"
    assert lines[start + 4] == "    new requests: 12 served, 3 dropped (sent until the cap on new requests was reached)"
    props = dict(row_properties(case, prefix="p"))
    assert props["p.drained"] == "✗ 1/3: 2 cut" and props["p.port"] == "kept serving"
    assert props["p.exit"] == "survived"
    assert "p.drained" not in dict(row_properties(traffic_sample().cases[2], prefix="p"))


def test_traffic_survives_the_json_round_trip():
    from shutdown_probe.results import RequestRecord, TrafficRecord

    res = traffic_sample()
    data = json.loads(res.to_json())
    assert data["cases"][1]["traffic"]["requests"][0] == {
        "n": 1, "kind": "in-flight", "outcome": "cut", "detail": "connection reset", "status": None,
        "sent_s": -0.2, "ended_s": 0.31, "pid": 4101, "role": "child"}
    assert data["cases"][2]["traffic"] is None
    assert data["cases"][1]["processes"][3]["started_after_s"] == 0.05
    again = Results.from_dict(data)
    traffic = again.cases[1].traffic
    assert isinstance(traffic, TrafficRecord) and all(isinstance(r, RequestRecord) for r in traffic.requests)
    assert traffic == res.cases[1].traffic and traffic.counts("new") == {"completed": 12, "cut": 3}
    assert again.cases[2].traffic is None
    assert again.to_dict() == res.to_dict()
    assert format_terminal(again, width=160) == format_terminal(res, width=160)


def test_repeated_runs_share_a_row_that_says_where_they_differed():
    def run(n: int, duration: float, ran: bool, orphan_pid: int | None) -> CaseResult:
        hook = HookResult(True, "x", pids=[10], roles=["root"]) if ran else HookResult(False, "none")
        orphans = [Orphan(orphan_pid, "python app.py", "child", [5000 + n], True)] if orphan_pid else []
        return CaseResult(scenario="demo", path="sigterm", outcome="exited", attempt=n,
                          exit={"returncode": 0, "signal": None}, duration_s=duration, root_exit_s=duration,
                          hooks={"atexit": hook}, orphans=orphans)

    results = Results(cases=[run(1, 0.3, True, 21), run(2, 0.1, True, 22), run(3, 0.2, False, 23)],
                      scenarios={"demo": ""}, tool="shutdown-probe 0.1.0")
    # pids and ports differ in every run: the orphans cell keeps what they share, and
    # the ports each run's orphan held (5000 + n) follow it, so none is lost
    orphans = "child listening (killed) (:5001, :5002, :5003)"
    assert rows(format_terminal(results)) == [["sigterm ×3", "✓ ×2 · ✗ ×1", "rc 0", "0.10–0.30 s", orphans]]
    md = format_markdown(results)
    assert f"| `sigterm ×3` | ✓ ×2 · ✗ ×1 | rc 0 | 0.10–0.30 s | {orphans} |" in md
    assert "sigterm: the 3 runs differ in hook atexit: ran (#1, #2) / not ran (#3)" in md


HOSTILE = "x | y\n| --- |\n<script>alert(1)</script> `tick` **bold** [link](http://e.x) &amp; ~~gone~~"


def _unescaped_pipes(line: str) -> int:
    """The cell separators of a Markdown table row: pipes not escaped with a backslash."""
    return len(re.findall(r"(?<!\\)\|", line))


def test_hostile_target_text_cannot_break_the_markdown():
    res = sample()
    case = res.cases[0]
    case.output_tail = "before\n```\n# not a heading\n````\n</details>\nafter"
    case.hooks["atexit"].evidence = HOSTILE
    case.hooks[HOSTILE] = HookResult(True, HOSTILE, pids=[10], roles=["root"])
    case.scenario = res.cases[1].scenario = "demo"
    res.cases[1].expect.failures = [HOSTILE]
    text = format_markdown(res)
    table = [line for line in text.splitlines() if line.startswith("|")]
    header = _unescaped_pipes(table[0])
    assert all(_unescaped_pipes(line) == header for line in table), table
    assert len(table) == 2 + len(res.cases)  # no row was split in two
    # inside a code span (a hook name) markup is inert text; everywhere else it is escaped
    prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", text.split("<details>")[0])
    assert "<script>" not in prose and "**bold**" not in prose and "[link](" not in prose
    assert "\\<script\\>" in text and "\\*\\*bold\\*\\*" in text and "\\`tick\\`" in text
    assert "\\&amp;" in text and "\\~\\~gone\\~\\~" in text
    # the output tail: a fence longer than the longest backtick run inside it
    lines = text.splitlines()
    start = lines.index("`````")
    assert lines[start + 1:start + 7] == ["before", "```", "# not a heading", "````", "</details>", "after"]
    assert lines[start + 7] == "`````"


def test_a_heading_or_list_marker_at_a_bullet_start_stays_text():
    res = sample()
    res.cases[1].expect.failures = []
    res.cases[1].error = "# boom\n- not a list"
    text = format_markdown(res)
    assert "- \\# boom - not a list" in text


def test_undecodable_bytes_that_slipped_through_still_make_valid_utf8_json():
    # a lone surrogate is how Python carries a byte that is not UTF-8 (surrogateescape)
    text = "arg-\udcff\udcfe and \u20ac"
    case = CaseResult(scenario="s", path="sigterm", outcome="exited", error=text,
                      orphans=[Orphan(pid=1, cmdline=text, role="child", listening=[], killed_by_harness=True)])
    written = Results(cases=[case]).to_json()
    written.encode("utf-8")  # no UnicodeEncodeError
    back = json.loads(written)["cases"][0]
    assert back["error"] == text and back["orphans"][0]["cmdline"] == text  # lossless


def test_a_failure_report_shows_the_apps_control_bytes_as_pictures():
    from shutdown_probe.render.failure import format_case_failure

    case = CaseResult(scenario="s", path="sigterm", outcome="exited",
                      output_tail="\x1b]0;title\x07plain \x1b[31mred\x1b[0m nul\x00 bell\x07\n",
                      hooks={"h": HookResult(ran=True, evidence="line \x1b[2J\x00")})
    text = format_case_failure(case)
    assert not any(ord(ch) < 32 and ch != "\n" for ch in text), repr(text)
    assert "plain red nul␀ bell␇" in text


def test_a_failure_report_keeps_the_end_of_each_stream():
    from shutdown_probe.render.failure import format_case_failure

    flood = [f"request {i}" for i in range(100)]
    tail = "\n".join(["[stderr] Traceback (most recent call last):", "[stderr] KeyError: 'db'", *flood]) + "\n"
    text = format_case_failure(CaseResult(scenario="s", path="sigterm", outcome="exited", output_tail=tail),
                               tail_lines=5)
    shown = [line.removeprefix("    | ") for line in text.splitlines() if line.startswith("    | ")]
    assert shown == ["[stderr] Traceback (most recent call last):", "[stderr] KeyError: 'db'",
                     *flood[-5:]], text
    assert "output tail (last 7 lines):" in text
