"""The probe's events file is the target's to break (issue 18, item 2).

The app can replace the file named by SHUTDOWN_PROBE_EVENTS with a FIFO or a link to
/dev/zero, or append lines of any shape. The harness must read it without blocking,
without following the link, within a size bound, and turn what it cannot use into a
note on the case ("the probe's evidence is incomplete: ..."), never a traceback or a
lost report. Every case here is a real target (tests/targets/probe_tamper.py) run by
the real runner or the CLI; the expected notes follow from what the target did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support import ROOT, run_cli, target_toml, write_scenario
from shutdown_probe import expand_cases, load_scenario, run_case
from shutdown_probe.probe import EVENTS_LIMIT, load_events, runs_python
from shutdown_probe.render import format_markdown, format_terminal
from shutdown_probe.results import INCOMPLETE, UNOBSERVED, Results

PROBE_DIR = ROOT / "shutdown_probe" / "_probe_site"


def tamper_scenario(tmp_path: Path, *mode: str, expect: str = "") -> Path:
    return write_scenario(tmp_path, target_toml(
        "probe_tamper.py", *mode, name="tamper", paths=["sigterm"], ready_timeout=20, stop_timeout=10,
        hooks={"bye": r"log = '\[pid \d+\] bye'"}, tables=expect))


def run_tamper(tmp_path: Path, *mode: str, expect: str = ""):
    cases = expand_cases([load_scenario(tamper_scenario(tmp_path, *mode, expect=expect))])
    return run_case(cases[0])


# ---------------------------------------------------------------- the runner

@pytest.mark.parametrize("mode, why", [
    (("fifo",), "its events file is a FIFO, not a regular file"),
    (("zero",), "its events file is a symbolic link (not followed)"),
], ids=["fifo", "link-to-dev-zero"])
def test_an_events_file_replaced_by_the_app_is_a_note_not_a_hang(tmp_path, mode, why):
    result = run_tamper(tmp_path, *mode)
    assert result.outcome == "exited", (result.outcome, result.error, result.output_tail)
    assert result.hooks["bye"].ran  # the app's own line: its shutdown did run
    assert [(n.kind, n.detail) for n in result.probe_notes] == [("unreadable", why)]
    # nothing of the probe's was read, so it claims nothing: no atexit:* hook at all
    assert not any(name.startswith("atexit:") for name in result.hooks)


@pytest.mark.parametrize("kind, problem", [
    ("pid-list", "'pid' of a start event is not a pid (1 to 4194304)"),
    ("no-t", "a register event without 't'"),
    ("argv-ints", "'argv' of a start event is not a list of strings"),
    ("nested", "not JSON"),
    ("nan", "'t' of a finalize event is not a finite number"),
])
def test_a_malformed_line_is_dropped_and_counted_on_the_case(tmp_path, kind, problem):
    result = run_tamper(tmp_path, "line", kind)
    assert result.outcome == "exited", (result.outcome, result.error, result.output_tail)
    assert len(result.probe_notes) == 1
    note = result.probe_notes[0]
    assert note.kind == "malformed" and note.lines == 1
    assert problem in note.detail
    # the events around the bad line are still read: the probe saw bye run
    assert result.hooks["atexit:bye"].ran is True
    assert result.processes[0].pid in result.hooks["atexit:bye"].pids


@pytest.mark.parametrize("kind, problem", [
    ("huge-pid", "'pid' of a register event is not a pid"),
    ("huge-t", "'t' of a register event is not a finite number"),
])
def test_values_past_the_results_bounds_are_dropped_so_the_results_load_back(tmp_path, kind, problem):
    """A pid of 10**18 or a time of 1e300 is valid JSON but past what the results
    reader accepts (pids, |numbers| <= 1e15): taken as evidence it made a case whose
    JSON `report` (and the pytest plugin, which reads each case back) refuses."""
    result = run_tamper(tmp_path, "line", kind)
    assert result.outcome == "exited", (result.outcome, result.error, result.output_tail)
    assert [(n.kind, n.lines) for n in result.probe_notes] == [("malformed", 3)]
    assert problem in result.probe_notes[0].detail
    assert "atexit:forged" not in result.hooks
    back = Results.from_dict(json.loads(Results(cases=[result]).to_json()))
    assert back.cases[0].hooks == result.hooks


def test_the_cli_report_reads_back_what_run_wrote_of_a_forged_time(tmp_path):
    path = tamper_scenario(tmp_path, "line", "huge-t")
    out = tmp_path / "out.json"
    done = run_cli("run", str(path), "--json", str(out), "--jobs", "1", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    again = run_cli("report", str(out), timeout=60)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stdout + again.stderr


def test_an_events_file_over_the_bound_is_read_up_to_it_and_says_so(tmp_path):
    """9 MiB of padding pushes the hook's events past the 8 MiB bound: the probe saw
    bye registered but not run, and says it may have missed it."""
    assert EVENTS_LIMIT < 9 * 1024 * 1024
    result = run_tamper(tmp_path, "big", expect='[expect.sigterm]\nnot_ran = ["atexit:bye"]')
    assert result.outcome == "exited", (result.outcome, result.error)
    assert [n.kind for n in result.probe_notes] == ["truncated"]
    assert "larger than 8 MiB" in result.probe_notes[0].detail
    bye = result.hooks["atexit:bye"]
    assert bye.ran is False and bye.evidence.startswith(f"{UNOBSERVED}: {INCOMPLETE}")
    # "did not run" cannot be claimed on evidence that was cut off
    assert not result.expect.passed
    assert "could not be watched to the end" in result.expect.failures[0]


def test_a_hook_whose_end_was_lost_past_the_bound_is_not_cut_short(tmp_path):
    """padder's hook-start is read; its hook-end lies past the 8 MiB bound. The process
    exited normally (no signal), so nothing cut the hook short: its end was lost, and
    the case says the hook was not observed, not "cut short"."""
    result = run_tamper(tmp_path, "pad-in-hook")
    assert result.outcome == "exited", (result.outcome, result.error)
    assert [n.kind for n in result.probe_notes] == ["truncated"]
    assert result.processes[0].returncode == 0 and result.processes[0].signal is None
    padder = result.hooks["atexit:padder"]
    assert padder.matches == 1  # its start was seen
    assert padder.interrupted_pids == [] and padder.ran is False
    assert padder.evidence.startswith(f"{UNOBSERVED}: {INCOMPLETE}") and "its end not seen" in padder.evidence
    assert "cut short" not in format_terminal(Results(cases=[result]), width=400)


def test_with_evidence_lost_a_run_is_cut_short_only_in_a_process_a_signal_ended(tmp_path):
    """The same truncated file, read with the process records: the run of a process
    that a signal ended counts as cut short, the other's is not observed."""
    from shutdown_probe.probe import ProbeReport
    from shutdown_probe.results import ProcessRecord

    events = tmp_path / "events.jsonl"
    lines = [{"ev": "register", "pid": pid, "t": 1.0, "id": 1, "name": "bye", "where": None, "stdlib": False}
             for pid in (101, 102)]
    lines += [{"ev": "hook-start", "pid": pid, "t": 2.0, "id": 1, "name": "bye"} for pid in (101, 102)]
    events.write_text("".join(json.dumps(e) + "\n" for e in lines) + "not an event\n")
    report = ProbeReport.load(str(events))
    assert report.notes  # the evidence is incomplete
    records = [ProcessRecord(101, "root", signal="SIGKILL"), ProcessRecord(102, "child", returncode=0)]
    bye = report.hook_results(0.0, {101: "root", 102: "child"}, records)["atexit:bye"]
    assert bye.interrupted_pids == [101] and bye.ran is False
    assert "child 102, its end not seen" in bye.evidence


def test_not_ran_of_a_probe_hook_fails_when_the_file_could_not_be_read(tmp_path):
    result = run_tamper(tmp_path, "fifo", expect='[expect.sigterm]\nnot_ran = ["atexit:never"]')
    assert result.expect.failures == [
        "expected hook 'atexit:never' not to run; it could not be watched to the end "
        f"({INCOMPLETE}: its events file is a FIFO, not a regular file)"]


# ---------------------------------------------------------------- the CLI and its reports

@pytest.mark.parametrize("mode", [("fifo",), ("zero",), ("line", "pid-list")], ids=["fifo", "zero", "bad-line"])
def test_the_cli_writes_every_report_and_says_the_evidence_is_incomplete(tmp_path, mode):
    path = tamper_scenario(tmp_path, *mode)
    out, md = tmp_path / "out.json", tmp_path / "out.md"
    done = run_cli("run", str(path), "--json", str(out), "--markdown", str(md), "--jobs", "1", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"sigterm: {INCOMPLETE}: " in " ".join(done.stdout.split())
    cases = json.loads(out.read_text())["cases"]
    assert len(cases) == 1 and cases[0]["probe_notes"][0]["kind"] in ("unreadable", "malformed")
    assert f"sigterm: {INCOMPLETE}: " in md.read_text()


def test_probe_notes_survive_the_json_round_trip_and_render(tmp_path):
    result = run_tamper(tmp_path, "line", "no-t")
    back = Results.from_dict(json.loads(Results(cases=[result]).to_json()))
    assert back.cases[0].probe_notes == result.probe_notes
    line = f"sigterm: {INCOMPLETE}: {result.probe_notes[0].detail}"
    assert line in format_terminal(back, width=400)
    assert f"- {line}" in format_markdown(back)


def test_results_written_before_probe_notes_existed_still_load():
    old = {"version": 1, "cases": [{"scenario": "s", "path": "sigterm", "outcome": "exited",
                                    "hook_order": ["a", "b"]}]}
    case = Results.from_dict(old).cases[0]
    assert case.probe_notes == [] and case.order is None


# ---------------------------------------------------------------- reading, piece by piece

def test_a_last_line_cut_short_counts_once_the_case_is_over(tmp_path):
    """While processes run, a line without its newline is still being written."""
    events = tmp_path / "events.jsonl"
    events.write_bytes(b'{"ev":"finalize","pid":5,"t":2.0,"caller":null}\n{"ev":"fin')
    assert load_events(str(events), finished=False).notes == []
    notes = load_events(str(events)).notes
    assert [(n.kind, n.lines) for n in notes] == [("malformed", 1)]


def test_the_probe_does_not_block_on_a_fifo_nor_write_through_a_link(tmp_path):
    """sitecustomize opens the events file itself: a FIFO with no reader must not
    hang the app's Python processes at start-up, and a link must not be written through."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("untouched\n")
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    for events in (fifo, link):
        env = dict(os.environ, PYTHONPATH=str(PROBE_DIR), SHUTDOWN_PROBE_EVENTS=str(events))
        done = subprocess.run([sys.executable, "-c", "import atexit; atexit.register(print, 'bye')"], env=env,
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert (done.returncode, done.stdout, done.stderr) == (0, "bye\n", "")
    assert elsewhere.read_text() == "untouched\n"


def test_runs_python_does_not_block_on_a_fifo_command(tmp_path):
    fifo = tmp_path / "app"
    os.mkfifo(fifo)
    answer: list[bool] = []
    reader = threading.Thread(target=lambda: answer.append(runs_python([str(fifo)], {}, str(tmp_path))),
                              daemon=True)
    reader.start()
    reader.join(30)
    if reader.is_alive():  # old code: blocked in open(); a writer sets it free
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(30)
        pytest.fail("runs_python blocked on a FIFO")
    assert answer == [False]


def test_a_process_without_threading_is_finalizing_once_its_atexit_stage_ran(tmp_path):
    # the probe patches threading only when the app imports it: a process that never
    # did has no "finalize" event, and its atexit stage is the first sign of the end
    from shutdown_probe.probe import ProbeReport

    events = tmp_path / "events.jsonl"
    start = '{"ev":"start","pid":%d,"t":1.0,"ppid":1,"argv":["python"],"how":"exec",' \
            '"werkzeug_run_main":null,"run_main":null,"executable":"python"}\n'
    events.write_text(start % 5 + start % 6
                      + '{"ev":"register","pid":5,"t":1.1,"id":1,"name":"m.f","where":"m.py:1","stdlib":false}\n'
                      + '{"ev":"hook-start","pid":5,"t":2.0,"id":1,"name":"m.f"}\n'
                      + '{"ev":"hook-end","pid":5,"t":2.5,"id":1,"name":"m.f","error":null,"dur":0.5}\n'
                      + '{"ev":"atexit-done","pid":5,"t":2.6}\n')
    report = ProbeReport.load(str(events))
    stage = report.shutdown_stage(5)
    assert stage is not None and stage.stage == "finalizing" and stage.t == 2.0
    other = report.shutdown_stage(6)
    assert other is not None and other.stage == "running"  # no atexit stage seen: still running
