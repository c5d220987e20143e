"""Triggers and preStop actions (shutdown_probe/actions.py) against real processes.

A command action's processes are the case's: tagged, tracked, reported and killed
like the app's, in the action's own roles. An HTTP action is one request: a redirect
is recorded, never followed. The pids checked here are the ones the action's shell
wrote down itself, looked up in /proc directly.
"""

from __future__ import annotations

import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import proc, run_path, running, target_scenario
from shutdown_probe.namespaces import pid_namespace
from shutdown_probe.results import CaseResult


def written_pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def run(target: str, path: str, *args: str, **kw) -> CaseResult:
    return run_path(target_scenario(target, *args, name=f"actions-{target.removesuffix('.py')}", paths=[path], **kw),
                    path)


@pytest.fixture
def background(tmp_path):
    """Where the action's shell writes the pid of the process it leaves behind; that
    process is killed afterwards if the harness did not (so a failure leaks nothing)."""
    file = tmp_path / "background-pid"
    yield file
    if file.exists() and running(pid := written_pid(file)):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(60)
def test_a_trigger_commands_background_process_is_the_cases(background):
    """Issue 18, item 3: ``(sleep 1234.5 &)`` from a trigger outlived the case, the run
    and the watchdog. It is the trigger's: reported as left running (trigger-child),
    killed by the harness, and the app's own shutdown is not charged with it."""
    command = ["/bin/sh", "-c", f"kill -USR1 $(cat {{workdir}}/pid); (sleep 1234.5 & echo $! > {background})"]
    result = run("http_app.py", "bye", "{port}", ready={"http": "http://127.0.0.1:{port}/"},
                 hooks={"finally": r"\[pid \d+\] finally ran"}, triggers={"bye": {"command": command}},
                 stop_timeout=1)

    bg = written_pid(background)
    assert not running(bg), "the trigger's background process outlived the case"
    assert result.outcome == "exited", (result.outcome, result.error)
    assert result.exit == {"returncode": 0, "signal": None}  # SIGUSR1: SystemExit(0)
    assert result.hooks["finally"].ran
    trigger = proc(result, "trigger")
    assert trigger.returncode == 0 and not trigger.killed_by_harness
    assert result.trigger["pid"] == trigger.pid and result.trigger["returncode"] == 0
    # the trigger's subshell, which ended by itself, and the sleep it left behind
    [left] = [p for p in result.processes if p.pid == bg]
    assert left.role == "trigger-child" and left.killed_by_harness and left.signal == "SIGKILL"
    assert [(o.pid, o.role, o.killed_by_harness) for o in result.orphans] == [(bg, "trigger-child", True)]
    assert [(e.pid, e.role) for e in result.escalations] == [(bg, "trigger-child")]
    # the app ended by itself: its shutdown time is known, the trigger's leftover aside
    assert result.duration_s is not None and result.root_exit_s is not None


@pytest.mark.timeout(60)
def test_a_trigger_command_past_its_timeout_is_killed_and_the_kill_recorded():
    result = run("http_app.py", "slow", "{port}", ready={"http": "http://127.0.0.1:{port}/"},
                 triggers={"slow": {"command": ["sleep", "30"], "timeout": 0.5}}, stop_timeout=10)

    trigger = proc(result, "trigger")
    assert trigger.killed_by_harness and trigger.signal == "SIGKILL"
    assert "still running after 0.5 s" in result.trigger["error"]
    [esc] = [e for e in result.escalations if e.pid == trigger.pid]
    assert esc.role == "trigger" and esc.signal == "SIGKILL" and "0.5 s" in esc.reason
    # at the trigger's timeout (not before); stop_timeout is far enough that a loaded
    # machine's slow thread start cannot let the case's "hung" kill come first
    assert 0.5 <= esc.at_s < 10


@pytest.mark.timeout(60)
@pytest.mark.skipif(pid_namespace().prefix is None, reason="k8s-delete needs a PID namespace")
def test_a_prestop_commands_background_process_is_the_cases(background):
    command = ["/bin/sh", "-c", f"(sleep 1234.5 & echo $! > {background})"]
    result = run("sigterm_handler.py", "k8s-delete", "{workdir}/released", ready={"file": "{workdir}/ready"},
                 hooks={"released": {"file": "{workdir}/released"}}, stop_timeout=1,
                 profiles={"k8s-delete": {"grace": 10, "pre_stop": {"command": command}}})

    bg = written_pid(background)
    assert not running(bg), "the preStop's background process outlived the case"
    stop = result.stop
    assert stop.pre_stop["returncode"] == 0
    assert result.hooks["released"].ran and stop.final_kill is False  # the app stopped by itself
    assert proc(result, "pre-stop").returncode == 0
    assert [(o.pid, o.role, o.killed_by_harness) for o in result.orphans] == [(bg, "pre-stop-child", True)]
    # the stopper's processes are the app's: it did not wait for, nor kill, the preStop's
    assert bg not in {k["pid"] for k in stop.killed} | {p["pid"] for p in stop.left_running}


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format, *args):
        pass


@pytest.mark.timeout(60)
def test_a_trigger_does_not_follow_a_redirect():
    """Issue 18, item 4: the app answers 302 to another URL; that URL's 200 is not the
    app's answer, and the harness must not even ask it."""
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        port = other.server_address[1]
        result = run("http_app.py", "poke", "{port}", ready={"http": "http://127.0.0.1:{port}/"},
                     triggers={"poke": {"http": f"http://127.0.0.1:{{port}}/redirect/{port}"}}, stop_timeout=0.5)
    finally:
        other.shutdown()
        other.server_close()
        thread.join(5)

    assert result.trigger["status"] == 302
    assert result.trigger["location"] == f"http://127.0.0.1:{port}/"
    assert _Counting.hits == 0
    assert result.outcome == "hung"  # a redirect ends nothing: the app was still serving


@pytest.mark.timeout(60)
def test_a_python_triggers_atexit_callables_are_not_the_apps_hooks():
    """Issue 18 review, item 10: a ``{python}`` trigger inherited the probe (its
    PYTHONPATH entry and the events file) and its atexit callables were reported as
    the app's ``atexit:`` hooks. The trigger runs without the probe."""
    code = ("import atexit, os, signal\n"
            "def trigger_only_callable(): pass\n"
            "atexit.register(trigger_only_callable)\n"
            "os.kill(int(open('{workdir}/pid').read().split()[0]), signal.SIGUSR1)\n")
    result = run("http_app.py", "bye", "{port}", ready={"http": "http://127.0.0.1:{port}/"},
                 triggers={"bye": {"command": ["{python}", "-c", code]}}, stop_timeout=10)

    assert result.outcome == "exited", (result.outcome, result.error)
    assert proc(result, "trigger").returncode == 0
    assert result.probe["enabled"] and result.probe["processes"], result.probe  # the app had the probe
    assert not [name for name in result.hooks if "trigger_only_callable" in name], list(result.hooks)
