"""Safety: the harness's signals reach only what its cases created; no shell unless
asked; private workdirs that are removed; every place that sends a signal is known."""

from __future__ import annotations

import ast
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import psutil

from tests.support import ROOT, write_scenario
from shutdown_probe.processes import CaseProcesses, ProcessHandle, process_group
from shutdown_probe.runner import expand_cases, run_case
from shutdown_probe.scenario import load_scenario
from shutdown_probe.waiting import wait_readable

PACKAGE = ROOT / "shutdown_probe"

# Every call in the package that sends a signal, and why it can only reach a process
# of a case (file, function) -> the calls there. A new one fails the test below until
# it is added here with its reason.
SIGNAL_SENDERS = {
    ("handles.py", "send"): {"signal.pidfd_send_signal", "self.ps.send_signal"},  # pidfd; else psutil,
    # which compares the start time first, so a reused PID is refused
    ("processes.py", "signal_group"): {"os.killpg"},  # only while the group leader is unreaped
    # CaseKills.kill: a case's process, through send (above), written down
    ("processes.py", "kill_all"): {"self.kills.kill"},
    ("processes.py", "wait_gone"): {"self.kills.kill"},
    ("processes.py", "finish"): {"self.kills.kill"},  # an action's command the last look missed
    ("actions.py", "_command"): {"tree.kills.kill"},  # the action's own command, a process of the case
    # kill_and_reap: a stray child of the harness and its descendants, each pinned by
    # a pidfd opened and then checked against the start time the look read (without
    # pidfds: the start time checked right before the signal)
    ("kills.py", "_signal"): {"signal.pidfd_send_signal", "os.kill"},
    ("_watchdog.py", "send"): {"signal.pidfd_send_signal"},  # pidfd opened, then start time checked
    ("interrupts.py", "_on_signal"): {"signal.pidfd_send_signal"},  # xdist workers, by pidfd
    ("pytest_cases.py", "_sweep_leftovers"): {"proc.kill"},  # psutil: start time checked
    # a scenario service: its own session's group while its leader is unreaped (its
    # reaper holds the lock the signal is sent under); what still carries its own tag
    # (psutil: start time checked); kill_all: each live service, through the first
    ("services.py", "_signal_group"): {"os.killpg"},
    ("services.py", "start_service"): {"os.killpg"},  # the service just started, not yet reaped
    ("services.py", "_kill_rest"): {"proc.kill"},
    ("services.py", "kill_all"): {"s.kill"},
    # a [verify] check that overran: Service.kill (its group, while its leader is unreaped)
    ("verify.py", "_end"): {"check.kill"},
    ("interrupts.py", "parent_death_signal"): {"os.kill"},  # itself
    ("_forward_init.py", "main"): {"os.killpg", "os.kill"},  # the init's own unreaped child / its group
    ("_pid1_launcher.py", "_end_like"): {"os.kill"},  # itself
    ("_probe_site/sitecustomize.py", "_inject"): {"os.kill"},  # the target itself (an injected crash)
}
SENDING = {"kill", "killpg", "pidfd_send_signal", "send_signal", "pthread_kill"}


def _calls(tree: ast.AST):
    """(enclosing function name, dotted call name) for every call of a signal sender."""
    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            name = func
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr in SENDING:
                yield name, ast.unparse(child.func)
            yield from visit(child, name)
    yield from visit(tree, "<module>")


def test_every_call_that_sends_a_signal_is_accounted_for():
    found: dict[tuple[str, str], set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for func, call in _calls(ast.parse(path.read_text())):
            found.setdefault((rel, func), set()).add(call)
    assert found == SIGNAL_SENDERS


def test_no_call_signals_every_process_or_the_callers_group():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("kill", "killpg") and node.args:
                first = node.args[0]
                # kill(-1, ...) is every process we may signal; kill(0)/killpg(0) our own group
                assert not (isinstance(first, ast.UnaryOp) and isinstance(first.op, ast.USub)), \
                    f"{path.name}:{node.lineno}: a negative pid"
                assert not (isinstance(first, ast.Constant) and first.value in (0, -1)), \
                    f"{path.name}:{node.lineno}: pid {first.value}"


LEADER_THEN_GONE = """\
import os, signal
child = os.fork()
if child == 0:
    os.close(1)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(7))
    while True:
        signal.pause()
print(child, flush=True)
"""


def test_a_group_signal_after_the_leader_was_reaped_goes_to_known_members_only():
    # The group's leader prints its child's pid and exits; the child stays in the group.
    popen = subprocess.Popen([sys.executable, "-c", LEADER_THEN_GONE], stdout=subprocess.PIPE,
                             start_new_session=True)
    tree = CaseProcesses(popen, "test-tag")
    try:
        child = int(popen.stdout.readline())
        popen.wait()  # reaped: from now on the group id could, in principle, be reused
        assert process_group(child) == popen.pid
        ps = psutil.Process(child)
        tree.handles[child] = ProcessHandle(child, "child", ps, os.pidfd_open(child))
        fd = os.pidfd_open(child)
        try:
            assert tree.signal_group(signal.SIGTERM) is True  # through the child's pidfd
            assert wait_readable([fd], 5), "the member did not get the signal"
        finally:
            os.close(fd)
        assert tree.signal_group(signal.SIGTERM) is False  # no member left: nobody is hit
    finally:
        tree.kill_all("test over")
        tree.wait_gone(5)
        tree.finish()
        popen.stdout.close()


def test_a_command_string_is_not_given_to_a_shell_unless_asked(tmp_path):
    marker = tmp_path / "pwned"
    text = f'''
paths = ["sigterm"]
[app]
command = "{{python}} -c 'import sys; print(sys.argv[1:], flush=True); open(sys.argv[-1] + \\"-ready\\", \\"w\\")' ; touch {marker} $HOME {tmp_path / "r"}"
ready = {{ file = "{tmp_path / "r"}-ready" }}
'''
    sc = load_scenario(write_scenario(tmp_path, text))
    result = run_case(expand_cases([sc])[0])
    assert not marker.exists()  # ";" was an argument, not a command separator
    assert "';', 'touch'" in result.output_tail and "'$HOME'" in result.output_tail, result.output_tail


def test_workdirs_are_private_and_removed_unless_kept(tmp_path):
    text = '''
paths = ["sigterm"]
[app]
command = ["{python}", "-c", "import os, sys, signal; open(sys.argv[1] + '/ready', 'w'); signal.pause()", "{workdir}"]
ready = { file = "{workdir}/ready" }
'''
    sc = load_scenario(write_scenario(tmp_path, text))
    kept = run_case(expand_cases([sc])[0], keep_workdir=True)
    try:
        mode = stat.S_IMODE(os.stat(kept.workdir).st_mode)
        assert mode == 0o700, oct(mode)
        assert (Path(kept.workdir) / "ready").exists()
    finally:
        import shutil

        shutil.rmtree(kept.workdir, ignore_errors=True)
    gone = run_case(expand_cases([sc])[0])
    assert gone.workdir is None
    # its folder is named in the root's command line, and is no longer there
    [root] = [p for p in gone.processes if p.role == "root"]
    folder = root.cmdline.split()[-1]
    assert folder.startswith("/") and "shutdown-probe-" in folder and not os.path.exists(folder)


def test_a_case_gives_back_every_descriptor_it_opened(tmp_path):
    # a log ready check and a log hook: the kinds that open pipes of their own
    text = '''
paths = ["sigterm"]
[app]
command = ["{python}", "-c", "import signal; print('up', flush=True); signal.pause()"]
ready = { log = '^up$' }
[hooks.up]
log = 'up'
'''
    sc = load_scenario(write_scenario(tmp_path, text))
    run_case(expand_cases([sc])[0])  # the first case opens what the harness keeps (the watchdog's pipe)
    before = sorted(os.listdir("/proc/self/fd"))
    for _ in range(3):
        result = run_case(expand_cases([sc])[0])
        assert result.outcome == "exited", result.error
    assert sorted(os.listdir("/proc/self/fd")) == before
