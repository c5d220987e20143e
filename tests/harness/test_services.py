"""Scenario services ([services.NAME]) are real processes the harness starts before
the app and stops after it: once for a run (scope "run") or once per case (scope
"case"), never left running, whatever happens to them or to the harness.

The service is tests/targets/echo_service.py, a TCP echo server that writes one line
to a log file of the test's when it starts and one when SIGTERM stops it: its starts
and stops are counted from that file, not from the results under test. The app
(service_client.py) reaches it only through ``{services.echo.port}``, and prints what
it echoed back.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shutdown_probe import expand_cases, load_scenario, run_cases, watchdog
from shutdown_probe.processes import tagged_processes
from tests.support import ROOT, SESSION, TARGETS, running, wait_gone, wait_while_running, write_scenario

# How long a service may outlive a harness killed by SIGKILL (the watchdog's sweep:
# generous, for a loaded two-core machine).
SURVIVAL_LIMIT = 5.0


def echo_scenario(tmp_path: Path, *, scope: str = "run", paths: tuple[str, ...] = ("sigterm", "sigint", "sigkill"),
                  echo_args: str = "", app_env: str = "", ready_timeout: float = 10, app: str | None = None) -> Path:
    """A scenario whose app needs the echo service; the service logs to tmp_path/echo.log."""
    log = tmp_path / "echo.log"
    command = app or f'["{{python}}", "{TARGETS / "service_client.py"}", "{{workdir}}"]'
    return write_scenario(tmp_path, textwrap.dedent(f'''\
        paths = {json.dumps(list(paths))}
        [app]
        command = {command}
        env = {{ ECHO_PORT = "{{services.echo.port}}"{app_env} }}
        ready = {{ file = "{{workdir}}/ready" }}
        stop_timeout = 5
        [services.echo]
        command = ["{{python}}", "{TARGETS / "echo_service.py"}", "{{port}}", "{log}"{echo_args}]
        ready = {{ tcp = "127.0.0.1:{{port}}" }}
        ready_timeout = {ready_timeout}
        scope = "{scope}"
        '''))


def log_lines(tmp_path: Path, kind: str) -> list[list[str]]:
    try:
        lines = (tmp_path / "echo.log").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [line.split()[1:] for line in lines if line.split()[0] == kind]


def run_all(scenario: Path, jobs: int = 1):
    return run_cases(expand_cases([load_scenario(scenario)]), jobs=jobs).cases


@pytest.mark.parametrize("jobs", [1, 3])
def test_a_run_scoped_service_starts_once_for_every_case_and_stops_after_the_last(tmp_path, jobs):
    cases = run_all(echo_scenario(tmp_path, scope="run"), jobs=jobs)
    starts, stops = log_lines(tmp_path, "start"), log_lines(tmp_path, "stop")
    assert len(starts) == 1, starts
    pid, port = int(starts[0][0]), int(starts[0][1])
    assert stops == [[str(pid)]]  # stopped with SIGTERM, after the run
    assert not running(pid)
    for case in cases:
        assert case.outcome == "exited", case.error
        # the app reached it through its placeholder: the echo of its own greeting
        root = next(p for p in case.processes if p.role == "root")
        assert f"echo: hello {root.pid}" in case.output_tail
        [svc] = case.services
        assert (svc.name, svc.scope, svc.state, svc.pid, svc.port) == ("echo", "run", "running", pid, port)
        assert svc.error is None and svc.output_tail == ""
        # not one of the app's processes
        assert pid not in {p.pid for p in case.processes} | {o.pid for o in case.orphans}


def test_a_case_scoped_service_starts_and_stops_with_each_case(tmp_path):
    cases = run_all(echo_scenario(tmp_path, scope="case"), jobs=2)
    starts, stops = log_lines(tmp_path, "start"), log_lines(tmp_path, "stop")
    assert len(starts) == 3, starts
    assert sorted(s[0] for s in stops) == sorted(s[0] for s in starts)  # each one SIGTERMed
    pids = {int(s[0]) for s in starts}
    for case in cases:
        assert case.outcome == "exited", case.error
        [svc] = case.services
        assert svc.state == "stopped" and svc.stopped_by_harness and not svc.killed_by_harness
        assert svc.pid in pids
        pids.discard(svc.pid)  # a service of its own, not another case's
        assert not running(svc.pid)
    assert not pids


def test_a_service_that_never_gets_ready_makes_every_case_an_error_with_a_sentence(tmp_path):
    cases = run_all(echo_scenario(tmp_path, echo_args=', "--never-ready"', ready_timeout=1, paths=("sigterm", "sigint")))
    assert len(log_lines(tmp_path, "start")) == 1  # tried once for the run, not once per case
    for case in cases:
        assert case.outcome == "error"
        assert case.error is not None and case.error.startswith("service 'echo' never got ready: tcp 127.0.0.1:")
        assert "not ready within 1 s" in case.error and "not listening, on purpose" in case.error
        assert case.processes == []  # the app never started
        [svc] = case.services
        assert svc.state == "not-ready" and "not listening, on purpose" in svc.output_tail
        assert not running(svc.pid)


def test_a_service_that_exits_before_it_is_ready_says_how_and_what_it_printed(tmp_path):
    scenario = write_scenario(tmp_path, textwrap.dedent(f'''\
        paths = ["sigterm"]
        [app]
        command = ["{{python}}", "-c", "pass"]
        [services.broken]
        command = ["{{python}}", "-c", "import sys; print('bad config line 3'); sys.exit(3)"]
        ready = {{ tcp = "{{port}}" }}
        scope = "case"
        '''))
    [case] = run_all(scenario)
    assert case.outcome == "error"
    assert case.error == ("service 'broken' never got ready: service 'broken' exited before it was ready "
                          "(exited with code 3); its last output line: bad config line 3")
    [svc] = case.services
    assert (svc.state, svc.returncode) == ("not-ready", 3)


def test_a_service_killed_during_a_case_makes_it_an_error_and_the_next_case_says_so_too(tmp_path):
    # the app sends DIE to the service when SIGTERM comes: the service SIGKILLs itself
    scenario = echo_scenario(tmp_path, app_env=', ON_STOP = "DIE"', paths=("sigterm", "sigint"))
    first, second = run_all(scenario, jobs=1)
    [pid] = [int(s[0]) for s in log_lines(tmp_path, "start")]
    assert first.outcome == "error"
    assert first.error is not None
    assert "service 'echo' (scope run) ended while the case needed it: killed by SIGKILL" in first.error
    assert "after the trigger; its last output line: [echo" in first.error and "dying" in first.error
    [svc] = first.services
    assert (svc.state, svc.signal, svc.pid) == ("died", "SIGKILL", pid)
    assert svc.ended_after_s is not None and svc.ended_after_s >= 0
    assert not svc.stopped_by_harness and "dying" in svc.output_tail
    # the app's own shutdown was still observed and kept
    assert first.exit == {"returncode": 0, "signal": None}
    # scope "run": nobody restarts it behind the next case's back
    assert second.outcome == "error" and second.processes == []
    assert second.error is not None and second.error.startswith(
        "service 'echo' (scope run, started once for the cases of the run) had ended before this case started: "
        "killed by SIGKILL")
    assert log_lines(tmp_path, "stop") == []


def start_harness(scenario: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "shutdown_probe", "run", str(scenario), "--jobs", "2", "--quiet"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})


# An app that never stops by itself: SIGTERM and SIGINT are ignored, so each case runs
# until its stop timeout; the harness is killed while they run.
STUBBORN = ('["{python}", "-c", "import os, signal, socket, sys; '
            'socket.create_connection((\'127.0.0.1\', int(os.environ[\'ECHO_PORT\']))); '
            '[signal.signal(s, signal.SIG_IGN) for s in (signal.SIGTERM, signal.SIGINT)]; '
            'open(sys.argv[1] + \'/ready\', \'w\').close(); signal.pause()", "{workdir}"]')


@pytest.mark.parametrize("scope", ["run", "case"])
def test_a_harness_killed_by_sigkill_leaves_no_service_behind(tmp_path, scope):
    scenario = write_scenario(tmp_path, echo_scenario(tmp_path, scope=scope, app=STUBBORN,
                                                      paths=("sigterm", "sigint")).read_text()
                              .replace("stop_timeout = 5", "stop_timeout = 60"))
    proc = start_harness(scenario, tmp_path)
    want = 1 if scope == "run" else 2
    wait_while_running(proc, lambda: len(log_lines(tmp_path, "start")) >= want, f"{want} service start(s)")
    pids = [int(s[0]) for s in log_lines(tmp_path, "start")]

    def apps() -> list[int]:  # the cases' apps: tagged, and not a service
        return [p.pid for p in tagged_processes(f"{SESSION}/") if p.pid not in pids]

    # both cases' apps are up (each connected to the service before its ready file)
    wait_while_running(proc, lambda: len(apps()) >= 2, "both cases' apps")
    assert all(running(pid) for pid in pids)
    alive = pids + apps()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stderr.close()  # type: ignore[union-attr]
    survivors = wait_gone(alive, SURVIVAL_LIMIT)
    for pid in survivors:  # do not poison the next tests
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], f"alive {SURVIVAL_LIMIT} s after the harness was SIGKILLed (services: {pids})"
    # its watchdog, re-parented to this process, ends a moment after its sweep: wait for
    # it, so that a later test counting this process's watchdogs finds only its own
    wait_gone([pid for pid, state in watchdog.watchdog_children().items()
               if pid != watchdog.pid() and state != "Z"], 10)


def test_an_interrupted_run_stops_its_services(tmp_path):
    scenario = write_scenario(tmp_path, echo_scenario(tmp_path, scope="run", app=STUBBORN,
                                                      paths=("sigterm", "sigint")).read_text()
                              .replace("stop_timeout = 5", "stop_timeout = 60"))
    proc = start_harness(scenario, tmp_path)
    wait_while_running(proc, lambda: log_lines(tmp_path, "start"), "the service's start")
    [pid] = [int(s[0]) for s in log_lines(tmp_path, "start")]
    os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"the interrupted harness did not end: {err.decode(errors='replace')}")
    assert proc.returncode == 130, err
    assert wait_gone([pid], SURVIVAL_LIMIT) == []


@pytest.mark.skipif(shutil.which("redis-server") is None,
                    reason="redis-server is not installed (.ci/run installs it: apt-get install redis-server)")
def test_a_real_redis_server_as_a_run_scoped_service(tmp_path):
    # The app speaks RESP by hand (PING, then SET its pid): no client library between
    # it and the real server.
    app = tmp_path / "redis_app.py"
    app.write_text(textwrap.dedent('''\
        import os, signal, socket, sys
        conn = socket.create_connection(("127.0.0.1", int(os.environ["REDIS_PORT"])), timeout=10)
        stream = conn.makefile("rwb")
        def ask(*words):
            stream.write(f"*{len(words)}\\r\\n".encode() + b"".join(
                f"${len(w)}\\r\\n{w}\\r\\n".encode() for w in words))
            stream.flush()
            return stream.readline().decode().strip()
        print(f"[pid {os.getpid()}] PING -> {ask('PING')}", flush=True)
        print(f"[pid {os.getpid()}] SET -> {ask('SET', f'app:{os.getpid()}', 'up')}", flush=True)
        open(os.path.join(sys.argv[1], "ready"), "w").close()
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        signal.pause()
        '''))
    scenario = write_scenario(tmp_path, textwrap.dedent(f'''\
        paths = ["sigterm", "sigint"]
        [app]
        command = ["{{python}}", "{app}", "{{workdir}}"]
        env = {{ REDIS_PORT = "{{services.redis.port}}" }}
        ready = {{ file = "{{workdir}}/ready" }}
        [services.redis]
        command = ["redis-server", "--port", "{{port}}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", "{{workdir}}"]
        ready = {{ tcp = "127.0.0.1:{{port}}" }}
        '''))
    cases = run_all(scenario, jobs=2)
    pids = {svc.pid for case in cases for svc in case.services}
    assert len(pids) == 1  # one redis-server for both cases
    for case in cases:
        assert case.outcome in ("exited",), case.error
        assert "PING -> +PONG" in case.output_tail and "SET -> +OK" in case.output_tail
        [svc] = case.services
        assert svc.command.startswith("redis-server --port ")
    assert wait_gone(list(pids), 10) == []  # stopped after the run
