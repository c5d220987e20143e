"""Renderers against exact output, from results built by hand (no process runs here)."""

from __future__ import annotations

import json
import re

from shutdown_probe.render import format_markdown, format_terminal
from shutdown_probe.render.common import explain, hook_cell
from shutdown_probe.results import (CaseResult, Escalation, ExpectResult, HookResult, Orphan,
                                    ProcessRecord, Results)


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
            hook_order=["atexit", "flush"],
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
        ["sigkill", "✗", "✗", "SIGKILL", "0.02 s", "child 11 :5000 (killed)"],
        ["sigint-child", "✓ both", "✓ child", "rc 0", "1.50 s", "-"],
        ["os-exit", "-", "-", "skipped", "-", "-"],
    ]
    lines = [line.rstrip() for line in text.splitlines()]
    assert "parent = the launched process, child = its working child, both = the two" in lines
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
| `sigkill` | ✗ | ✗ | SIGKILL | 0.02 s | child 11 :5000 (killed) |
| `sigint-child` | ✓ both | ✓ child | rc 0 | 1.50 s | - |
| `os-exit` | - | - | skipped | - | - |

- parent = the launched process, child = its working child, both = the two
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
    assert "- hook `atexit` ✓ [root 10]: stdout line 3: bye" in text
    assert "- harness sent SIGKILL to child pid 11: orphan" in text
    assert "#### `os-exit` — skipped" in text


def test_markdown_escapes_pipes():
    res = sample()
    res.cases[1].expect.failures = ["a | b"]
    assert "- ✗ sigkill: a \\| b" in format_markdown(res, details=False)


def test_json_round_trip():
    res = sample()
    data = json.loads(res.to_json())
    assert data["version"] == 1
    assert data["cases"][0]["exit"] == {"returncode": 247, "signal": None}
    assert data["cases"][1]["orphans"][0]["listening"] == [5000]
    again = Results.from_dict(data)
    assert again.to_dict() == res.to_dict()
    assert format_terminal(again) == format_terminal(res)


def test_json_refuses_other_versions():
    data = sample().to_dict()
    data["version"] = 2
    try:
        Results.from_dict(data)
    except ValueError as exc:
        assert re.search(r"version 2", str(exc))
    else:
        raise AssertionError("version 2 accepted")


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
    from shutdown_probe.render.common import time_cell

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
