"""[verify] checks are real commands the harness runs after a case, against the state
the app left: after every process of the case is gone, while its services still run,
while its folder still holds what the app wrote; and nothing they start outlives them.

The app is tests/targets/state_writer.py: its state file says "started", and "saved"
once its SIGTERM handler ran (SIGKILL leaves "started"). The checks are modes of
tests/targets/verify_check.py; what each does is in its docstring, and the expected
values below follow from it and from the signals' semantics, not from the results.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shutdown_probe import expand_cases, load_scenario, run_cases
from shutdown_probe.results import STDERR_MARK
from shutdown_probe.verify import VERIFY_TAIL
from tests.support import ROOT, TARGETS, running, wait_gone, wait_while_running, write_scenario

CHECK = str(TARGETS / "verify_check.py")


def scenario(tmp_path: Path, checks: str, *, paths: tuple[str, ...] = ("sigterm", "sigkill"), expect: str = "",
             extra: str = "") -> Path:
    return write_scenario(tmp_path, textwrap.dedent(f'''\
        paths = {json.dumps(list(paths))}
        [app]
        command = ["{{python}}", "{TARGETS / "state_writer.py"}", "{{workdir}}"]
        ready = {{ file = "{{workdir}}/ready" }}
        stop_timeout = 5
        ''') + extra + checks + expect)


def run(path: Path, jobs: int = 1):
    return {c.path: c for c in run_cases(expand_cases([load_scenario(path)]), jobs=jobs).cases}


def test_a_check_sees_what_the_app_left_after_its_every_process_is_gone(tmp_path):
    path = scenario(tmp_path, f'''
[verify.saved]
command = ["{{python}}", "{CHECK}", "state", "{{workdir}}", "saved"]
[expect.sigterm]
claim = "the SIGTERM handler saves the state"
verified = ["saved"]
[expect.sigkill]
not_verified = ["saved"]
''')
    cases = run(path)
    # SIGTERM: the handler wrote "saved", then the process exited; the check found it gone
    (term,) = cases["sigterm"].verify
    assert (term.name, term.passed, term.returncode, term.signal, term.error) == ("saved", True, 0, None, None)
    assert term.output == "state: saved"
    assert term.duration_s is not None and 0 < term.duration_s < 10
    assert "{workdir}" not in term.command
    assert term.command.split()[-1] == "saved"
    # SIGKILL: nothing ran; the state is what it was while the job worked
    (kill,) = cases["sigkill"].verify
    assert (kill.passed, kill.returncode, kill.error, kill.output) == (False, 1, None, "state: started")
    assert cases["sigterm"].expect.passed and cases["sigterm"].expect.verdict == "confirmed"
    assert cases["sigkill"].expect.passed, cases["sigkill"].expect.failures


def test_a_check_runs_while_the_services_run(tmp_path):
    path = scenario(tmp_path, f'''
[verify.echo]
command = ["{{python}}", "{CHECK}", "echo", "{{services.echo.port}}"]
''', paths=("sigterm",), extra=f'''
[services.echo]
command = ["{{python}}", "{TARGETS / "echo_service.py"}", "{{port}}", "{tmp_path / "echo.log"}"]
ready = {{ tcp = "127.0.0.1:{{port}}" }}
scope = "case"
''')
    (rec,) = run(path)["sigterm"].verify
    assert (rec.passed, rec.output) == (True, "echoed: ping")
    # the service was stopped after the check: its SIGTERM handler logged it
    log = (tmp_path / "echo.log").read_text().split()
    assert log[0] == "start" and "stop" in log


def test_no_check_runs_for_a_case_that_did_not_run_its_path(tmp_path):
    mark = tmp_path / "ran"
    path = scenario(tmp_path, f'''
[verify.mark]
command = ["{{python}}", "{CHECK}", "mark", "{mark}"]
[expect.sigkill-child]
verified = ["mark"]
''', paths=("sigkill-child",))
    case = run(path)["sigkill-child"]
    assert case.outcome == "skipped"  # one process: no child to signal
    assert case.verify == [] and not mark.exists()
    assert case.expect.passed  # a skipped case tests nothing


def test_a_check_that_overruns_is_killed_and_gives_no_answer(tmp_path):
    pidfile = tmp_path / "hang.pid"
    path = scenario(tmp_path, f'''
[verify.hang]
command = ["{{python}}", "{CHECK}", "hang", "{pidfile}"]
timeout = 1
[verify.after]
command = ["{{python}}", "{CHECK}", "state", "{{workdir}}", "saved"]
[expect.sigterm]
verified = ["hang"]
''', paths=("sigterm",))
    case = run(path)["sigterm"]
    hang, after = case.verify
    assert not hang.passed and hang.signal == "SIGKILL" and hang.returncode is None
    assert hang.error is not None and hang.error.startswith("still running after 1 s: killed")
    assert hang.output == "hanging"
    assert hang.duration_s is not None and hang.duration_s >= 1
    assert not running(int(pidfile.read_text()))
    assert after.passed  # the next check still ran
    assert not case.expect.passed
    assert case.expect.failures[0].startswith("expected check 'hang' to pass; it gave no answer: still running")


def test_what_a_check_leaves_running_is_killed(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    path = scenario(tmp_path, f'''
[verify.daemon]
command = ["{{python}}", "{CHECK}", "daemon", "{pidfile}"]
''', paths=("sigterm",))
    (rec,) = run(path)["sigterm"].verify
    assert (rec.passed, rec.output) == (True, "daemon started")
    # a grandchild in a session of its own, still carrying the check's tag
    assert wait_gone([int(pidfile.read_text())], 5) == []


def test_a_checks_flood_is_kept_bounded_and_a_signal_death_is_no_answer(tmp_path):
    path = scenario(tmp_path, f'''
[verify.flood]
command = ["{{python}}", "{CHECK}", "flood"]
[verify.abort]
command = ["{{python}}", "{CHECK}", "abort"]
[verify.missing]
command = ["{{python}}", "{CHECK}", "state", "{{workdir}}/nowhere", "x"]
''', paths=("sigterm",))
    flood, abort, missing = run(path)["sigterm"].verify
    assert (flood.passed, flood.returncode, flood.error) == (False, 1, None)
    lines = flood.output.splitlines()
    assert len(lines) <= VERIFY_TAIL
    assert lines[-1].startswith("\x1b[31mline 999")  # kept as written; the renderers make it inert
    assert len(flood.output) < 20_000
    assert (abort.passed, abort.signal, abort.error) == (False, "SIGABRT", "killed by SIGABRT (no answer)")
    # a Python traceback: it exited 1, on stderr
    assert (missing.passed, missing.returncode, missing.error) == (False, 1, None)
    assert missing.output.splitlines()[-1].startswith(STDERR_MARK + "FileNotFoundError")


def test_a_harness_killed_while_a_check_runs_leaves_nothing_behind(tmp_path):
    pidfile = tmp_path / "hang.pid"
    path = scenario(tmp_path, f'''
[verify.hang]
command = ["{{python}}", "{CHECK}", "hang", "{pidfile}"]
timeout = 600
''', paths=("sigterm",))
    proc = subprocess.Popen([sys.executable, "-m", "shutdown_probe", "run", str(path), "--quiet"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_while_running(proc, pidfile.exists, "the check's start")
        pid = int(pidfile.read_text())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    survivors = wait_gone([pid], 10)  # the watchdog's sweep
    for left in survivors:
        os.kill(left, signal.SIGKILL)
    assert survivors == []


@pytest.mark.parametrize("jobs", [2])
def test_each_case_checks_its_own_folder(tmp_path, jobs):
    path = scenario(tmp_path, f'''
[verify.saved]
command = ["{{python}}", "{CHECK}", "state", "{{workdir}}", "saved"]
''', paths=("sigterm", "sigkill", "sigint"))
    cases = run(path, jobs=jobs)
    # SIGINT: no handler of the job's own; KeyboardInterrupt ends it, the state stays "started"
    assert {p: c.verify[0].output for p, c in cases.items()} == {
        "sigterm": "state: saved", "sigkill": "state: started", "sigint": "state: started"}
