"""processes.CaseProcesses: what the record of a process says about it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shutdown_probe.processes import CaseProcesses


def test_the_started_process_has_its_command_line_even_while_in_execve():
    # Popen returns once execve has begun; until the kernel has copied the new argv,
    # /proc/PID/cmdline reads empty (measured: 9 reads in 10 right after Popen), and
    # a report named the root with an empty command line about 1 case in 20.
    for n in range(10):
        popen = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", f"arg-{n}"],
                                 stdin=subprocess.PIPE)
        try:
            tree = CaseProcesses(popen, "no-tag")
            assert tree.started.cmdline.split()[-1] == f"arg-{n}", tree.started.cmdline
        finally:
            popen.stdin.close()
            popen.wait(timeout=60)
            tree.finish()


def _tree(tag: str) -> tuple[subprocess.Popen, CaseProcesses]:
    popen = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    return popen, CaseProcesses(popen, tag)


def _end(popen: subprocess.Popen, tree: CaseProcesses) -> None:
    popen.stdin.close()
    popen.wait(timeout=60)
    tree.finish()


def test_an_action_asked_for_after_the_case_closed_is_not_started_and_says_so(tmp_path):
    """Issue 18 review, item 9: a trigger thread that reached Popen after the case's
    last look started a command nothing tracked. A closed case starts none."""
    from shutdown_probe.actions import perform
    from shutdown_probe.scenario import TriggerSpec

    marker = tmp_path / "ran"
    popen, tree = _tree("item9-closed")
    try:
        tree.close()
        trigger = TriggerSpec(name="late", command=["/bin/sh", "-c", f"touch {marker}"], timeout=5)
        info = perform(trigger, str(tmp_path), {"PATH": "/usr/bin:/bin"}, tree=tree, action="trigger")
        assert info["started"] is False and "not started" in info["error"]
        assert "pid" not in info and not marker.exists()
        assert [h.role for h in tree.handles.values()] == ["root"]
    finally:
        _end(popen, tree)


def test_an_action_the_case_never_looked_at_is_taken_in_and_killed_by_finish(tmp_path):
    """Issue 18 review, item 9: a handle left in the incoming list was never tracked,
    killed or recorded; finish() takes it in."""
    popen, tree = _tree("item9-incoming")
    handle = tree.spawn_action(["sleep", "1000"], "trigger", str(tmp_path), {"PATH": "/usr/bin:/bin"})
    try:
        _end(popen, tree)
        assert tree.handles.get(handle.pid) is handle
        assert handle.killed_by_harness
        assert [(k.handle, k.record) for k in tree.sigkills] == [(handle, True)]
        assert handle.popen.wait(timeout=30) == -9
    finally:
        if handle.popen.poll() is None:
            handle.popen.kill()
            handle.popen.wait()


def test_a_process_is_tracked_without_a_pidfd_when_descriptors_run_out():
    """Issue 18 review, item 6: pidfd_open failing with EMFILE raised out of the
    case's cleanup (only ProcessLookupError was caught). Run in a child whose
    descriptor limit is reached, so the test process keeps its own."""
    code = """
import os, resource, subprocess, sys
import psutil
from shutdown_probe import handles as processes
processes.capabilities()
child = subprocess.Popen(["sleep", "1000"])
proc = psutil.Process(child.pid)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
n = len(os.listdir("/proc/self/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
held = []
try:
    while True:
        held.append(os.open("/dev/null", os.O_RDONLY))
except OSError:
    pass
try:
    fd = processes.open_pidfd(proc)
    print("fd", fd)
finally:
    for f in held:
        os.close(f)
    child.kill()
    child.wait()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fd", "None"]


def test_a_tagged_process_re_parented_to_the_harness_is_adopted_by_its_tag(tmp_path):
    """Issue 18 review, item 5: a process of the case first seen as the harness's
    child, still carrying the tag, was a "descendant" with no tie, while the same
    process seen after an execve that dropped the tag was "adopted". Here it is the
    harness's child (started by the test, not registered as the harness's own) with
    the case's tag: how a re-parented process looks."""
    from shutdown_probe.processes import TAG_ENV, capabilities

    if capabilities().subreaper is not None:
        pytest.skip(capabilities().subreaper)
    popen, tree = _tree("item5-tag")
    orphan = subprocess.Popen(["sleep", "1000"], env={"PATH": "/usr/bin:/bin", TAG_ENV: "item5-tag"},
                              start_new_session=True)
    try:
        tree.discover()
        h = tree.handles[orphan.pid]
        assert (h.role, h.attributed_by) == ("adopted", "tag")
    finally:
        orphan.kill()
        orphan.wait()
        _end(popen, tree)
