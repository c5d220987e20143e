"""Escalation is data: every SIGKILL the harness sends to a case's process is in the
case's escalations AND on that process's record, and nowhere only one of the two."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from tests.support import running
from shutdown_probe import expand_cases, run_case
from shutdown_probe.processes import CaseProcesses
from shutdown_probe.scenario import make_scenario

# On SIGTERM the root starts a daemon the classic way (fork, setsid, fork again,
# an empty environment: no case tag, no pipe of the case) and exits at once. The
# daemon is found only after the path fired, re-parented to the harness, and is
# still running at the end: the harness must kill it, and say so twice.
DAEMONIZES = textwrap.dedent("""
    import os, signal, sys, time

    def term(*_):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                fd = os.open(os.devnull, os.O_RDWR)
                for n in (0, 1, 2):
                    os.dup2(fd, n)
                open(sys.argv[1] + ".tmp", "w").write(str(os.getpid()))
                os.rename(sys.argv[1] + ".tmp", sys.argv[1])
                os.execve("/bin/sleep", ["sleep", "1000"], {})
            os._exit(0)
        os._exit(0)

    signal.signal(signal.SIGTERM, term)
    print("ready", flush=True)
    while True:
        signal.pause()
""")


def _run_daemonizing(tmp_path):
    script = tmp_path / "daemonizes.py"
    script.write_text(DAEMONIZES)
    pidfile = tmp_path / "daemon.pid"
    sc = make_scenario(name="daemonizes", command=[sys.executable, str(script), str(pidfile)],
                       ready={"log": "ready"}, stop_timeout=1.0, paths=["sigterm"], probe=False)
    [case] = expand_cases([sc])
    return run_case(case), pidfile


def test_a_daemon_found_after_the_path_fired_is_killed_and_both_records_say_so(tmp_path):
    result, pidfile = _run_daemonizing(tmp_path)
    assert pidfile.exists(), result.output_tail
    daemon = int(pidfile.read_text())
    assert not running(daemon)
    assert result.outcome == "exited", (result.outcome, result.error)
    [rec] = [p for p in result.processes if p.pid == daemon]
    assert rec.killed_by_harness and rec.signal == "SIGKILL"
    [esc] = [e for e in result.escalations if e.pid == daemon]
    assert esc.signal == "SIGKILL" and esc.role == rec.role and "orphan" in esc.reason
    assert [(o.pid, o.killed_by_harness) for o in result.orphans] == [(daemon, True)]
    # the two records are one: a kill in the escalations is on the process's record
    assert {e.pid for e in result.escalations} == {p.pid for p in result.processes if p.killed_by_harness}


def test_a_process_is_killed_once_whichever_thread_asks(tmp_path):
    """abort_all's thread and the case's own can both end a case: one kill, one
    record, however many times it is asked for."""
    popen = subprocess.Popen(["sleep", "1000"], start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL)
    tree = CaseProcesses(popen, "test-kills-once")
    try:
        root = tree.root
        assert tree.kills.kill(root, "first") is True
        assert tree.kills.kill(root, "second") is False  # already killed by the harness
        assert tree.wait_gone(30)
        assert [(k.handle.pid, k.reason) for k in tree.sigkills] == [(popen.pid, "first")]
        assert root.killed_by_harness and root.exit_note == "first"
    finally:
        if popen.poll() is None:
            os.kill(popen.pid, signal.SIGKILL)
        popen.wait()
        tree.finish()


def test_a_process_handle_reads_like_trios():
    popen = subprocess.Popen(["sleep", "1000"], start_new_session=True, stdin=subprocess.DEVNULL)
    tree = CaseProcesses(popen, "test-kills-repr")
    try:
        assert repr(tree.root) == f"<root running with PID {popen.pid}>"
        popen.send_signal(signal.SIGTERM)
        popen.wait()
        assert not tree.root.alive
        tree.finish()
        tree.root.status = 15  # a wait status: killed by signal 15
        assert repr(tree.root) == f"<root exited with signal SIGTERM (PID {popen.pid})>"
        tree.root.status = 3 << 8
        assert repr(tree.root) == f"<root exited with status 3 (PID {popen.pid})>"
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()
