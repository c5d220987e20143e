"""The inits and stopper variants users deploy with (issue 20, item 5), on real processes.

What each variant must do was measured by hand first, outside the harness (a parent
with a SIGTERM handler, a background job that exits on SIGTERM and a stubborn child
that ignores it, all in one process group, under ``_pid1_launcher.py``):

* tini and ``dumb-init --single-child``: SIGTERM reaches the parent only; both
  children die by the kernel's SIGKILL when PID 1 exits after the parent;
* ``tini -g`` and dumb-init: SIGTERM reaches all three; the job exits at once, the
  stubborn child is SIGKILLed with the namespace when the parent has exited;
* systemd.kill(5): KillMode=mixed SIGTERMs the main process only and SIGKILLs the rest
  (systemd's service.c: at once, once the main process has exited); KillMode=process
  leaves the rest running; ExecStop= runs before the stop signal (systemd.service(5));
* supervisord killasgroup=true (without stopasgroup): SIGTERM to the program only,
  SIGKILL to its whole group when stopwaitsecs runs out;
* a child its parent never reaps stays a zombie until PID 1 dies.

The targets print their own pids; the tests find each process by that pid.
"""

from __future__ import annotations

import re
import shutil
import sys

import pytest

from tests.harness.test_profiles import LATE, needs_pidns, printed_pid, run
from tests.support import proc
from shutdown_probe.render.explain import explain
from shutdown_probe.render.markdown import format_markdown
from shutdown_probe.results import CaseResult, ProcessRecord, Results


def got_sigterm(result: CaseResult) -> set[str]:
    """Who printed "[pid N] WHO got SIGTERM"."""
    return set(re.findall(r"\] (root|job|stubborn) got SIGTERM", result.output_tail))


def by_printed(result: CaseResult, who: str) -> ProcessRecord:
    """The process the root printed as "WHO is PID" (its pid as the root sees it)."""
    pid = int(re.findall(rf"\] {who} is (\d+)", result.output_tail)[0])
    found = [p for p in result.processes if (p.ns_pid if p.ns_pid is not None else p.pid) == pid]
    assert len(found) == 1, (who, pid, result.processes)
    return found[0]


def needs(program: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(program) is None,
                              reason=f"{program} is not installed (Debian: apt-get install {program})")


GRACE = 5


# ----------------------------------------------------------------------- inits


@needs_pidns
@needs("tini")
def test_tini_forwards_to_the_app_only_and_the_background_job_dies_with_pid1():
    result, wall = run("job_family.py", "docker-stop-init", profiles={"docker-stop-init": {"grace": GRACE}})
    assert result.outcome == "exited", (result.error, result.output_tail)
    assert got_sigterm(result) == {"root"}
    assert "root: job still running" in result.output_tail
    job, stubborn = by_printed(result, "job"), by_printed(result, "stubborn")
    # nobody but the kernel ended them: PID 1 (tini) exited after the root
    assert job.signal == "SIGKILL" and stubborn.signal == "SIGKILL"
    assert not job.killed_by_stop and not stubborn.killed_by_stop
    assert proc(result, "root").returncode == 0
    assert result.stop.final_kill is False
    assert "tini" in result.stop.init and " -g" not in result.stop.init
    assert wall < GRACE


@needs_pidns
@pytest.mark.parametrize("path, init", [("docker-stop-tini-group", "tini"),
                                        ("docker-stop-tini-group", "builtin"),
                                        ("docker-stop-dumb-init", None)])
def test_group_forwarding_inits_signal_the_background_job_too(path, init):
    if init == "tini" and shutil.which("tini") is None:
        pytest.skip("tini is not installed (Debian: apt-get install tini)")
    if path == "docker-stop-dumb-init" and shutil.which("dumb-init") is None:
        pytest.skip("dumb-init is not installed (Debian: apt-get install dumb-init)")
    settings: dict = {"grace": GRACE}
    if init is not None:
        settings["init"] = init
    # the root waits for the stubborn child's handler before it exits: otherwise, on a
    # loaded machine, PID 1's exit can SIGKILL the child before its handler has printed
    result, wall = run("job_family.py", path, "--root-waits-stubborn", profiles={path: settings})
    assert result.outcome == "exited", (result.error, result.output_tail)
    assert got_sigterm(result) == {"root", "job", "stubborn"}
    assert "root: job ended" in result.output_tail
    job, stubborn, init_proc = by_printed(result, "job"), by_printed(result, "stubborn"), proc(result, "init")
    assert job.returncode == 0  # its handler's exit
    assert stubborn.signal == "SIGKILL" and not stubborn.killed_by_stop  # the namespace's end
    assert proc(result, "root").returncode == 0
    assert result.stop.signalled == [{"pid": init_proc.pid, "role": "init", "delivered": True}]
    if path == "docker-stop-dumb-init":
        assert "dumb-init" in result.stop.init and "dumb-init" in init_proc.cmdline
    elif init == "tini":
        assert result.stop.init.endswith(" -g") and "-g" in init_proc.cmdline.split()
    else:
        assert "--group" in result.stop.init and "--group" in init_proc.cmdline.split()
    assert wall < GRACE


@needs_pidns
def test_dumb_init_is_skipped_with_the_reason_when_missing(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result, _ = run("job_family.py", "docker-stop-dumb-init")
    assert result.outcome == "skipped"
    assert "dumb-init is not installed" in (result.skip_reason or "")
    assert result.processes == []


# ----------------------------------------------------------------------- systemd KillMode


def test_systemd_mixed_sigterms_the_main_process_and_sigkills_the_rest_once_it_exits():
    result, wall = run("job_family.py", "systemd-stop-mixed", profiles={"grace": GRACE}, stop_timeout=2)
    stop, root = result.stop, proc(result, "root")
    assert got_sigterm(result) == {"root"}
    assert "root: job still running" in result.output_tail
    assert [s["pid"] for s in stop.signalled] == [root.pid]
    job, stubborn = by_printed(result, "job"), by_printed(result, "stubborn")
    assert stop.final_kill is True and stop.kill_cause == "main-exited"
    assert {k["pid"] for k in stop.killed} == {job.pid, stubborn.pid}
    assert job.killed_by_stop and stubborn.killed_by_stop and job.signal == stubborn.signal == "SIGKILL"
    # the root waits 1 s for the job, then exits: the SIGKILL follows at once, long before the grace
    assert root.ended_after_s is not None and stop.kill_at_s is not None
    assert root.ended_after_s <= stop.kill_at_s < root.ended_after_s + LATE
    assert stop.kill_at_s < GRACE and wall < GRACE
    assert result.orphans == [] and result.escalations == []
    assert "the main process had exited: SIGKILL" in explain(result)


def test_systemd_mixed_kills_everything_when_the_main_process_outlasts_the_grace():
    grace = 1
    result, _ = run("job_family.py", "systemd-stop-mixed", "--root-ignores", profiles={"grace": grace})
    stop = result.stop
    assert stop.final_kill is True and stop.kill_cause == "grace"
    assert grace <= stop.kill_at_s < grace + LATE
    assert {k["pid"] for k in stop.killed} == {p.pid for p in result.processes}


def test_systemd_process_signals_and_stops_the_main_process_only():
    result, _ = run("job_family.py", "systemd-stop-process", profiles={"grace": GRACE}, stop_timeout=1)
    stop, root = result.stop, proc(result, "root")
    assert got_sigterm(result) == {"root"}
    assert [s["pid"] for s in stop.signalled] == [root.pid]
    assert stop.final_kill is False and stop.killed == []
    job, stubborn = by_printed(result, "job"), by_printed(result, "stubborn")
    assert {p["pid"] for p in stop.left_running} == {job.pid, stubborn.pid}
    # left running past the stop timeout: orphans the harness ended, not the stopper
    assert {o.pid for o in result.orphans} == {job.pid, stubborn.pid}
    assert not job.killed_by_stop and job.killed_by_harness


def test_systemd_control_group_signals_every_process():
    result, _ = run("job_family.py", "systemd-stop", profiles={"grace": GRACE}, stop_timeout=1)
    assert got_sigterm(result) == {"root", "job", "stubborn"}


def sigterms(result: CaseResult) -> dict[str, int]:
    """How many SIGTERMs each of the family's processes says it got (its handler
    prints a line for each, before anything else)."""
    found = re.findall(r"\] (root|job|stubborn) got SIGTERM", result.output_tail)
    return {who: found.count(who) for who in ("root", "job", "stubborn")}


# systemd's src/core/service.c (read, not run: no systemd here): when the main process
# exits in stop-sigterm, service_enter_stop_post() runs ExecStopPost= if any, then
# service_enter_signal(SERVICE_FINAL_SIGTERM): unit_kill_context() signals the control
# group again only for KillMode=control-group (mixed walks the cgroup for KILL_KILL
# only, process never), and arms TimeoutStopSec anew before the final SIGKILL.
@pytest.mark.parametrize("path, counts", [
    ("systemd-stop", {"root": 1, "job": 1, "stubborn": 2}),
    ("systemd-stop-mixed", {"root": 1, "job": 0, "stubborn": 0}),
    ("systemd-stop-process", {"root": 1, "job": 0, "stubborn": 0}),
])
def test_only_control_group_sends_the_final_sigterm_to_what_outlived_the_main_process(path, counts):
    result, _ = run("job_family.py", path, "--root-waits-stubborn", profiles={"grace": 2}, stop_timeout=1)
    assert sigterms(result) == counts, result.output_tail
    stop, stubborn = result.stop, by_printed(result, "stubborn")
    if path != "systemd-stop":
        assert stop.second_signal is None
        return
    # the main process (the root) exited at once: the final SIGTERM found the stubborn
    # child still there, and it got TimeoutStopSec (2 s) anew from that moment
    second = stop.second_signal
    assert second["sent"] is True and second["at_s"] < 2
    assert [s["pid"] for s in second["signalled"]] == [stubborn.pid]
    assert "final SIGTERM" in second["why"]
    assert stop.final_kill and stop.kill_cause == "grace"
    assert stop.kill_at_s >= second["at_s"] + 2 - 0.05 and stubborn.killed_by_stop
    assert f"SIGTERM again at {second['at_s']:.3f} s to {stubborn.role} {stubborn.pid}" in explain(result)


def test_a_process_that_ends_on_the_final_sigterm_needs_no_sigkill():
    result, _ = run("job_family.py", "systemd-stop", "--stubborn-yields", "--root-waits-stubborn",
                    profiles={"grace": GRACE}, stop_timeout=1)
    assert sigterms(result) == {"root": 1, "job": 1, "stubborn": 2}
    stubborn = by_printed(result, "stubborn")
    assert stubborn.returncode == 0 and not stubborn.killed_by_stop
    assert result.stop.final_kill is False and result.stop.cleanup_s < GRACE


def test_no_final_sigterm_when_the_main_process_outlasts_the_grace():
    """stop-sigterm times out: SIGKILL to every process (stop-sigkill); the final
    SIGTERM that follows has no one left to signal."""
    result, _ = run("job_family.py", "systemd-stop", "--root-ignores", profiles={"grace": 1})
    assert sigterms(result) == {"root": 0, "job": 1, "stubborn": 1}
    stop = result.stop
    assert stop.second_signal is None and stop.final_kill and 1 <= stop.kill_at_s < 2
    assert by_printed(result, "stubborn").killed_by_stop


# A Celery-style ExecStop=: stop the main process itself (by $MAINPID) and wait for it.
STOP_AND_WAIT = ["{python}", "-c",
                 "import os, select, signal; pid = int(os.environ['MAINPID']); fd = os.pidfd_open(pid); "
                 "os.kill(pid, signal.SIGTERM); print('[exec-stop] stopped', pid, flush=True); "
                 "raise SystemExit(0 if select.select([fd], [], [], 20)[0] else 3)"]


def test_exec_stop_runs_first_then_the_stop_signal_finds_the_main_process_gone():
    result, _ = run("job_family.py", "systemd-stop-mixed",
                    profiles={"systemd-stop-mixed": {"grace": GRACE, "exec_stop": STOP_AND_WAIT}})
    stop, root = result.stop, proc(result, "root")
    assert len(stop.exec_stop) == 1 and stop.exec_stop[0]["returncode"] == 0, stop.exec_stop
    assert stop.exec_stop[0]["command"] == [sys.executable, *STOP_AND_WAIT[1:]]  # {python} filled
    # the root got SIGTERM once, from the ExecStop command, and was gone before the
    # stopper's own signal: that one was not delivered
    assert got_sigterm(result) == {"root"}
    assert "[exec-stop] stopped" not in result.output_tail  # its output is not the app's
    assert stop.signal_at_s > 0
    assert stop.signalled == [{"pid": root.pid, "role": "root", "delivered": False}]
    assert stop.kill_cause == "main-exited"
    exec_stop = [p for p in result.processes if p.role == "exec-stop"]
    assert len(exec_stop) == 1 and exec_stop[0].returncode == 0


def test_a_failing_exec_stop_ends_the_list_and_the_stop_signal_follows():
    fail = [sys.executable, "-c", "raise SystemExit(3)"]
    never = [sys.executable, "-c", "print('second ExecStop ran', flush=True)"]
    result, _ = run("job_family.py", "systemd-stop",
                    profiles={"systemd-stop": {"grace": GRACE, "exec_stop": [fail, never]}}, stop_timeout=2)
    stop = result.stop
    assert [e.get("returncode") for e in stop.exec_stop] == [3]
    assert len([p for p in result.processes if p.role == "exec-stop"]) == 1
    assert got_sigterm(result) == {"root", "job", "stubborn"}


# ----------------------------------------------------------------------- supervisord killasgroup


def test_killasgroup_signals_the_program_only_and_leaves_children_when_it_exits():
    result, _ = run("job_family.py", "supervisor-stop-killasgroup", profiles={"grace": GRACE}, stop_timeout=1)
    stop = result.stop
    assert got_sigterm(result) == {"root"}
    assert stop.final_kill is False
    assert {p["pid"] for p in stop.left_running} == {by_printed(result, "job").pid,
                                                     by_printed(result, "stubborn").pid}


@pytest.mark.parametrize("path, killed", [("supervisor-stop-killasgroup", {"root", "job", "stubborn"}),
                                          ("supervisor-stop", {"root"})])
def test_killasgroup_kills_the_whole_group_when_the_grace_runs_out(path, killed):
    grace = 1
    result, _ = run("job_family.py", path, "--root-ignores", profiles={"grace": grace}, stop_timeout=1)
    stop = result.stop
    assert got_sigterm(result) == set()  # the root ignores it; nobody else was sent it
    assert stop.final_kill is True and grace <= stop.kill_at_s < grace + LATE
    pids = {"root": proc(result, "root").pid, "job": by_printed(result, "job").pid,
            "stubborn": by_printed(result, "stubborn").pid}
    assert {k["pid"] for k in stop.killed} == {pids[w] for w in killed}


# ----------------------------------------------------------------------- zombies


@needs_pidns
def test_a_child_pid1_never_reaps_is_a_zombie_until_pid1_is_killed():
    grace = 1.5
    result, _ = run("pid1_zombie.py", "docker-stop", profiles={"grace": grace})
    stop, root = result.stop, proc(result, "root")
    assert root.ns_pid == 1
    child = [p for p in result.processes if p.ns_pid == printed_pid(result, "child exiting")]
    assert len(child) == 1
    child_rec = child[0]
    # it really exited (status 0, soon after the stop signal reached PID 1's handler)...
    assert child_rec.returncode == 0 and child_rec.ended_after_s < grace
    # ...and stayed in the process table until PID 1 died by the stopper's SIGKILL
    assert child_rec.zombie is True
    assert stop.final_kill is True and stop.kill_at_s is not None
    assert stop.kill_at_s <= child_rec.reaped_after_s < stop.kill_at_s + LATE
    assert "then stayed a zombie its parent never reaped" in explain(result)
    assert "then a zombie (unreaped) until" in render_markdown_of(result)
    # the root itself was never a zombie: the namespace's end reaped it at once
    assert root.zombie is False


def test_a_child_that_dies_with_its_parent_is_no_zombie():
    """A group SIGTERM ends parent_child.py's parent and child together: the child is
    unreaped only for the instant its parent takes to exit (not reported)."""
    result, _ = run("parent_child.py", "supervisor-stop-group", profiles={"grace": GRACE}, stop_timeout=2)
    assert proc(result, "child").returncode is not None or proc(result, "child").signal is not None
    assert all(p.zombie is False for p in result.processes), result.processes


def render_markdown_of(result: CaseResult) -> str:
    return format_markdown(Results(cases=[result]))
