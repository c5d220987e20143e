"""Deployment stop profiles, played against real processes.

Each test runs a tiny target from tests/targets/ under one profile and checks what the
StopRecord and the process records say against what the kernel and CPython must have
done: a PID 1 without a handler does not see SIGTERM (pid_namespaces(7)), SIGKILL
cannot be ignored, a stopped process runs a caught SIGTERM only once continued, PID 1's
exit kills its namespace, an exception in an atexit callback is reported and ignored.
The targets print their own pids (as they see them), which the tests compare with the
harness's records; timings are checked against the graces the tests set, with the
wall clock measured here, outside the harness.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from tests.support import ROOT, TARGETS, proc, target_scenario, write_scenario
from shutdown_probe import CaseResult, expand_cases, run_case
from shutdown_probe.namespaces import pid_namespace
from shutdown_probe.render.explain import explain

# How late the stopper's SIGKILL may come after its deadline on a loaded 2-core box.
LATE = 0.5


# ----------------------------------------------------------------------- helpers


def pid_line(text: str) -> str:
    """A log-hook regex for "[pid N] TEXT" whose pid group names the process."""
    return r"\[pid (?P<pid>\d+)\] " + text


def run(target: str, path: str, *args: str, hooks: dict | None = None, ready: dict | None = None,
        profiles: dict | None = None, stop_timeout: float = 5) -> tuple[CaseResult, float]:
    """Run ``tests/targets/TARGET WORKDIR ARGS`` under ``path``; return the result and
    the case's wall time as measured here."""
    sc = target_scenario(
        target, *args, name=f"profile-{target.removesuffix('.py')}",
        ready=ready or {"file": "{workdir}/ready"},
        hooks=hooks, paths=[path], profiles=profiles, stop_timeout=stop_timeout,
    )
    (case,) = expand_cases([sc], [path])
    t = time.monotonic()
    result = run_case(case)
    wall = time.monotonic() - t
    assert result.stop is not None and result.stop.profile == path
    return result, wall


def printed_pids(result: CaseResult, text: str) -> list[int]:
    """The pids a target printed as "[pid N] TEXT": its own os.getpid()."""
    return [int(m) for m in re.findall(r"\[pid (\d+)\] " + re.escape(text), result.output_tail)]


def printed_pid(result: CaseResult, text: str) -> int:
    pids = printed_pids(result, text)
    assert len(pids) == 1, f"{text!r} printed {len(pids)} times:\n{result.output_tail}"
    return pids[0]


def declared_ran(result: CaseResult) -> set[str]:
    return {n for n, h in result.hooks.items() if h.ran and h.source != "probe"}


def probe_ran(result: CaseResult) -> set[str]:
    return {n for n, h in result.hooks.items() if h.ran and h.source == "probe"}


def signalled_pids(result: CaseResult) -> list[int]:
    return [s["pid"] for s in result.stop.signalled if "pid" in s]


def assert_killed_at_grace(result: CaseResult, grace: float) -> None:
    """The stopper's SIGKILL came when the grace ran out: not before, not much later."""
    stop = result.stop
    assert stop.final_kill is True, stop
    assert stop.cleanup_s is None
    assert grace <= stop.kill_at_s < grace + LATE, stop.kill_at_s
    assert result.duration_s is None  # a SIGKILL ended it, not the app


_ns = pid_namespace()
needs_pidns = pytest.mark.skipif(_ns.prefix is None, reason=f"no PID namespace here: {_ns.why_not}")

PLAIN_HOOKS = {"atexit": pid_line("atexit ran"), "finally": pid_line("finally ran"),
               "keyboard_interrupt": pid_line("KeyboardInterrupt")}


# ----------------------------------------------------------------------- docker stop


@needs_pidns
@pytest.mark.timeout(60)
def test_docker_stop_pid1_without_handler_drops_sigterm_and_dies_at_grace():
    grace = 1.5
    result, wall = run("plain.py", "docker-stop", hooks=PLAIN_HOOKS, profiles={"grace": grace})
    stop, root = result.stop, proc(result, "root")

    assert result.outcome == "exited", (result.error, result.output_tail)
    assert result.error is None
    # The app sees itself as PID 1, and the harness says the same.
    assert printed_pid(result, "ready") == 1
    assert root.ns_pid == 1
    assert root.pid != 1
    # Python installs no SIGTERM handler: the kernel drops the signal for PID 1.
    assert "SIGTERM" not in root.signals_caught
    assert stop.pid1_handles_signal is False
    assert stop.signalled == [{"pid": root.pid, "role": "root", "delivered": True}]
    assert stop.namespace
    # ... so nothing happens until the grace runs out, then SIGKILL.
    assert_killed_at_grace(result, grace)
    assert root.pid in [k["pid"] for k in stop.killed]
    assert root.signal == "SIGKILL" and root.killed_by_stop and not root.killed_by_harness
    assert result.exit == {"returncode": None, "signal": "SIGKILL"}
    assert declared_ran(result) == set() and probe_ran(result) == set()
    assert result.escalations == [] and result.orphans == []
    # The launcher stays outside the namespace and dies with PID 1.
    launcher = proc(result, "launcher")
    assert launcher.ns_pid is None and launcher.pid != root.pid
    # The case cost the grace, and not much more.
    assert grace <= wall < grace + 1.5


@needs_pidns
@pytest.mark.timeout(60)
def test_docker_stop_handler_finishes_long_before_a_long_grace():
    grace = 60
    result, wall = run("sigterm_handler.py", "docker-stop", "{workdir}/released",
                       hooks={"released": {"file": "{workdir}/released"},
                              "finally": pid_line("finally ran")},
                       profiles={"docker-stop": {"grace": grace}})
    stop, root = result.stop, proc(result, "root")

    assert result.outcome == "exited", (result.error, result.output_tail)
    assert root.ns_pid == 1
    assert "SIGTERM" in root.signals_caught
    assert stop.pid1_handles_signal is True
    assert stop.grace_s == grace
    assert declared_ran(result) == {"released", "finally"}
    assert stop.final_kill is False and stop.killed == [] and stop.kill_at_s is None
    assert stop.cleanup_s is not None and 0 <= stop.cleanup_s < 2
    assert result.exit == {"returncode": 0, "signal": None}
    assert not root.killed_by_stop
    # Nothing waits for the 60 s grace once the app is gone.
    assert wall < 5
    # Attribution across the namespace: the app printed its own pid (1); the log
    # hook reports the host pid of that process.
    assert printed_pid(result, "finally ran") == 1
    assert result.hooks["finally"].pids == [root.pid]
    assert result.hooks["finally"].roles == ["root"]


@needs_pidns
def test_docker_stop_pid1_that_takes_sigterm_by_sigwait_gets_it():
    """No handler, but SIGTERM blocked and waited for (sigwait/signalfd): the kernel
    queues a blocked signal for PID 1 instead of dropping it."""
    result, wall = run("profile_sigwait.py", "docker-stop", hooks={"released": {"file": "{workdir}/released"}},
                       profiles={"grace": 30})
    root = proc(result, "root")
    assert root.ns_pid == 1
    assert printed_pid(result, "got SIGTERM by sigwait") == 1
    assert declared_ran(result) == {"released"}
    assert result.stop.final_kill is False
    assert result.exit == {"returncode": 0, "signal": None}
    assert wall < 5


@needs_pidns
def test_docker_stop_sigwait_pid1_is_not_recorded_as_dropping_sigterm():
    result, _ = run("profile_sigwait.py", "docker-stop", hooks={"released": {"file": "{workdir}/released"}},
                    profiles={"grace": 30})
    assert declared_ran(result) == {"released"}  # it did get SIGTERM
    # sigwait unblocks SIGTERM for the wait, so /proc shows neither a handler nor a
    # block; PID 1's reaction is the proof, and the record must not say "dropped"
    assert result.stop.pid1_handles_signal is not False
    assert "dropped" not in explain(result)


# ----------------------------------------------------------------------- docker stop --init


@needs_pidns
@pytest.mark.parametrize("init", ["builtin", "tini"])
def test_docker_stop_init_forwards_sigterm_to_the_app(init):
    if init == "tini" and shutil.which("tini") is None:
        pytest.skip("tini is not installed (Debian: apt-get install tini)")
    grace = 2
    result, wall = run("plain.py", "docker-stop-init", hooks=PLAIN_HOOKS,
                       profiles={"docker-stop-init": {"grace": grace, "init": init}})
    stop, root, init_proc = result.stop, proc(result, "root"), proc(result, "init")

    assert result.outcome == "exited", (result.error, result.output_tail)
    # The init is PID 1, the app its child, PID 2 (as the app itself says).
    assert init_proc.ns_pid == 1
    assert root.ns_pid == 2
    assert printed_pid(result, "ready") == 2
    if init == "tini":
        assert "tini" in stop.init and "tini" in init_proc.cmdline
    else:
        assert "built-in" in stop.init and "_forward_init.py" in init_proc.cmdline
    # SIGTERM went to the init only, which forwarded it: the app (no handler, not
    # PID 1) died of it at once, running no Python cleanup.
    assert stop.signalled == [{"pid": init_proc.pid, "role": "init", "delivered": True}]
    assert root.signal == "SIGTERM"
    assert root.ended_after_s is not None and root.ended_after_s < 1
    assert result.exit == {"returncode": None, "signal": "SIGTERM"}
    assert declared_ran(result) == set()
    assert stop.final_kill is False and stop.killed == []
    assert stop.cleanup_s is not None and stop.cleanup_s < 1
    assert wall < grace


@needs_pidns
def test_docker_stop_init_kills_init_and_app_when_the_app_ignores_sigterm():
    grace = 1
    result, _ = run("ignore_all.py", "docker-stop-init", profiles={"docker-stop-init": {"grace": grace,
                                                                                         "init": "builtin"}})
    root, init_proc = proc(result, "root"), proc(result, "init")
    assert_killed_at_grace(result, grace)
    assert {k["pid"] for k in result.stop.killed} == {root.pid, init_proc.pid}
    assert root.signal == "SIGKILL" and root.killed_by_stop
    assert init_proc.signal == "SIGKILL" and init_proc.killed_by_stop
    assert result.escalations == [] and result.orphans == []


# ----------------------------------------------------------------------- no namespace: grace runs out


@pytest.mark.parametrize("path", ["systemd-stop", "heroku-stop", "supervisor-stop"])
def test_ignored_sigterm_runs_out_the_grace_and_is_killed(path):
    grace = 1
    result, wall = run("ignore_all.py", path, profiles={"grace": grace})
    stop, root = result.stop, proc(result, "root")

    assert result.outcome == "exited", (result.error, result.output_tail)
    assert "SIGTERM" in root.signals_ignored
    assert root.ns_pid is None and stop.namespace is None
    assert [p.role for p in result.processes] == ["root"]  # no launcher outside a namespace
    assert signalled_pids(result) == [root.pid]
    assert_killed_at_grace(result, grace)
    assert [k["pid"] for k in stop.killed] == [root.pid]
    assert root.killed_by_stop and not root.killed_by_harness
    assert root.signal == "SIGKILL"
    assert result.exit == {"returncode": None, "signal": "SIGKILL"}
    assert result.escalations == [] and result.orphans == []
    assert stop.left_running == []
    assert grace <= wall < grace + 1.5


# ----------------------------------------------------------------------- who gets the signal


@pytest.mark.parametrize("path", ["systemd-stop", "heroku-stop"])
def test_every_process_gets_sigterm(path):
    result, _ = run("parent_child.py", path, profiles={"grace": 2})
    root, child = proc(result, "root"), proc(result, "child")
    # the root first, then its child: both by pid, one by one
    assert signalled_pids(result) == [root.pid, child.pid]
    assert all(s["delivered"] for s in result.stop.signalled)
    assert result.stop.to == "every process (2)"
    # neither has a SIGTERM handler: both died of the signal itself
    assert root.signal == "SIGTERM" and child.signal == "SIGTERM"
    assert result.stop.final_kill is False and result.orphans == []


@pytest.mark.parametrize("path, continued", [("systemd-stop", True), ("heroku-stop", False)])
def test_sigcont_lets_a_stopped_process_handle_sigterm(path, continued):
    """systemd follows SIGTERM with SIGCONT; a stopped child runs its handler only then."""
    grace = 1.5
    result, _ = run("profile_stopped_child.py", path,
                    hooks={"child_released": {"file": "{workdir}/child-released"}}, profiles={"grace": grace})
    root, child = proc(result, "root"), proc(result, "child")
    assert signalled_pids(result) == [root.pid, child.pid]
    assert "SIGTERM" in child.signals_caught
    if continued:
        assert declared_ran(result) == {"child_released"}
        assert result.stop.final_kill is False
        assert child.returncode == 0 and root.returncode == 0
        assert result.stop.cleanup_s < 1
    else:
        assert declared_ran(result) == set()
        assert_killed_at_grace(result, grace)
        assert {k["pid"] for k in result.stop.killed} == {root.pid, child.pid}
        assert child.signal == "SIGKILL" and child.killed_by_stop
        assert root.signal == "SIGKILL" and root.killed_by_stop


def test_supervisor_stop_signals_the_root_only_and_leaves_the_child():
    result, _ = run("parent_child.py", "supervisor-stop", profiles={"grace": 2}, stop_timeout=1)
    stop, root, child = result.stop, proc(result, "root"), proc(result, "child")

    assert signalled_pids(result) == [root.pid]
    assert root.signal == "SIGTERM"
    # supervisord waits for its own process only: done at once, no kill
    assert stop.final_kill is False and stop.cleanup_s is not None and stop.cleanup_s < 1
    assert [k["pid"] for k in stop.left_running] == [child.pid]
    # the child never got a signal from the stopper; the harness found it orphaned
    assert printed_pids(result, "child: finally") == []
    assert [o.pid for o in result.orphans] == [child.pid]
    assert result.orphans[0].killed_by_harness
    assert child.killed_by_harness and not child.killed_by_stop
    assert child.signal == "SIGKILL"


def test_supervisor_stop_group_signals_the_whole_group():
    result, _ = run("parent_child.py", "supervisor-stop-group", profiles={"grace": 2}, stop_timeout=2)
    stop, root, child = result.stop, proc(result, "root"), proc(result, "child")

    assert stop.signalled == [{"pgid": root.pid, "role": "process group", "delivered": True}]
    assert root.signal == "SIGTERM" and child.signal == "SIGTERM"
    assert stop.left_running == [] and result.orphans == []
    assert stop.final_kill is False and result.escalations == []


@pytest.mark.parametrize("path", ["supervisor-stop", "supervisor-stop-group"])
def test_supervisor_kills_whom_it_stops(path):
    """The root waits for a stopped child that never ends: the grace runs out.
    supervisord kills its own process only; with stopasgroup, the whole group."""
    grace = 1
    result, _ = run("profile_stopped_child.py", path, profiles={"grace": grace}, stop_timeout=2)
    stop, root, child = result.stop, proc(result, "root"), proc(result, "child")
    assert_killed_at_grace(result, grace)
    assert root.signal == "SIGKILL" and root.killed_by_stop
    if path == "supervisor-stop":
        assert [k["pid"] for k in stop.killed] == [root.pid]
        assert [k["pid"] for k in stop.left_running] == [child.pid]
        assert [o.pid for o in result.orphans] == [child.pid]
        assert child.killed_by_harness and not child.killed_by_stop
    else:
        assert {k["pid"] for k in stop.killed} == {root.pid, child.pid}
        assert stop.left_running == [] and result.orphans == []
        assert child.killed_by_stop and not child.killed_by_harness
    assert child.signal == "SIGKILL"


# ----------------------------------------------------------------------- Kubernetes preStop


def _sleep_cmd(seconds: float, stamp=None) -> list[str]:
    """A preStop command that sleeps; with ``stamp``, it first writes time.time() there."""
    if stamp is None:
        return ["{python}", "-c", f"import time; time.sleep({seconds})"]
    code = f"import sys, time; open(sys.argv[1], 'w').write(repr(time.time())); time.sleep({seconds})"
    return ["{python}", "-c", code, str(stamp)]


@needs_pidns
@pytest.mark.timeout(60)
def test_k8s_prestop_counts_inside_the_grace(tmp_path):
    grace, pre = 1.0, 0.5
    stamp = tmp_path / "prestop-started"
    result, _ = run("plain.py", "k8s-delete", hooks=PLAIN_HOOKS,
                    profiles={"k8s-delete": {"grace": grace, "pre_stop": {"command": _sleep_cmd(pre, stamp)}}})
    ended = time.time()
    stop, root = result.stop, proc(result, "root")

    assert stop.pre_stop["returncode"] == 0
    assert pre <= stop.pre_stop["duration_s"] < grace
    assert "overran" not in stop.pre_stop
    # SIGTERM only after the preStop, and still dropped by PID 1 (no handler)
    assert stop.signal_at_s >= stop.pre_stop["duration_s"]
    assert root.ns_pid == 1 and stop.pid1_handles_signal is False
    # the grace counts from the preStop's start: the kill comes at grace, not grace + preStop
    assert_killed_at_grace(result, grace)
    assert stop.kill_at_s < grace + pre
    assert root.killed_by_stop and root.signal == "SIGKILL"
    # and by the wall clock: from the preStop's first line of Python (written after
    # its interpreter started, so a little after the stop began) to the case's end
    since_prestop = ended - float(stamp.read_text())
    assert grace - 0.3 < since_prestop < grace + pre


@needs_pidns
def test_k8s_prestop_then_a_handler_that_exits():
    result, wall = run("sigterm_handler.py", "k8s-delete", "{workdir}/released",
                       hooks={"released": {"file": "{workdir}/released"}},
                       profiles={"k8s-delete": {"grace": 60, "pre_stop": {"command": _sleep_cmd(0.3)}}})
    stop = result.stop
    assert declared_ran(result) == {"released"}
    assert stop.pre_stop["duration_s"] >= 0.3
    assert stop.cleanup_s >= stop.signal_at_s >= stop.pre_stop["duration_s"]
    # not before the SIGTERM; a file's mtime comes from the kernel's coarse clock (one
    # tick, up to 4 ms, behind), so the sentinel may look written a few ms early
    assert result.hooks["released"].at_s >= stop.pre_stop["duration_s"] - 0.005
    assert stop.final_kill is False
    assert wall < 5


@needs_pidns
@pytest.mark.timeout(60)
def test_k8s_http_prestop_reaches_the_live_app():
    grace = 1.0
    result, _ = run("http_app.py", "k8s-delete", "{port}", ready={"http": "http://127.0.0.1:{port}/"},
                    profiles={"k8s-delete": {"grace": grace, "pre_stop": {"http": "http://127.0.0.1:{port}/"}}})
    stop, root = result.stop, proc(result, "root")
    # the app (PID 1, serving) answered the preStop request
    assert printed_pid(result, "serving on") == 1 and root.ns_pid == 1
    assert stop.pre_stop["status"] == 200
    assert 0 <= stop.pre_stop["duration_s"] <= stop.signal_at_s < grace
    # http_app has no SIGTERM handler: dropped, killed when the grace runs out
    assert stop.pid1_handles_signal is False
    assert_killed_at_grace(result, grace)
    assert root.killed_by_stop


@needs_pidns
@pytest.mark.timeout(60)
def test_k8s_prestop_longer_than_the_grace_gets_two_more_seconds():
    grace, pre = 1.0, 1.5
    result, wall = run("plain.py", "k8s-delete",
                       profiles={"k8s-delete": {"grace": grace, "pre_stop": {"command": _sleep_cmd(pre)}}})
    stop = result.stop
    assert stop.pre_stop["returncode"] == 0  # it was allowed to finish
    assert stop.pre_stop["duration_s"] >= pre
    assert stop.pre_stop.get("overran") is True
    assert stop.signal_at_s >= pre
    # one-off extension of 2 s (Kubernetes Pod Lifecycle): kill at grace + 2
    assert_killed_at_grace(result, grace + 2)
    assert grace + 2 <= wall < grace + 2 + 1.5


# ----------------------------------------------------------------------- double Ctrl-C

SLOW_HOOKS = {"start": pid_line("cleanup start"), "end": pid_line("cleanup end")}


@pytest.mark.parametrize("settings", [{"when": "start"}, {"after": 0.2}, {"when": "atexit"}],
                         ids=["when-declared-hook", "after", "when-probe-atexit"])
def test_second_ctrl_c_lands_inside_the_slow_atexit_hook(settings):
    result, wall = run("profile_slow_atexit.py", "double-ctrl-c", hooks=SLOW_HOOKS,
                       profiles={"double-ctrl-c": settings}, stop_timeout=5)
    stop, root = result.stop, proc(result, "root")
    second = stop.second_signal

    assert result.outcome == "exited", (result.error, result.output_tail)
    assert stop.signalled == [{"pgid": root.pid, "role": "process group", "delivered": True}]
    assert stop.grace_s is None and stop.final_kill is False
    # the first Ctrl-C was handled, the atexit hook started...
    assert printed_pid(result, "first Ctrl-C handled") == root.pid
    assert result.hooks["start"].ran
    # ...and the second one arrived while it ran: the hook never finished
    assert second["sent"] is True
    assert not result.hooks["end"].ran
    assert "cleanup end" not in result.output_tail
    assert "Exception ignored in atexit callback" in result.output_tail
    assert re.search(r"^\[stderr\] KeyboardInterrupt", result.output_tail, re.M), result.output_tail
    # CPython ignores an exception in an atexit callback: the exit status stays 0
    assert result.exit == {"returncode": 0, "signal": None}
    # The hook's start as seen by what triggered the second Ctrl-C: a log line is
    # timed when the harness reads it, the probe's event by the probe's own clock,
    # which can come first (the two clocks are never compared).
    started = result.hooks["atexit:slow_cleanup" if settings.get("when") == "atexit" else "start"]
    assert started.at_s <= second["at_s"] < 1.0
    if "after" in settings:
        assert second["at_s"] >= settings["after"]
    probe_hook = result.hooks.get("atexit:slow_cleanup")
    assert probe_hook is not None and probe_hook.ran
    assert any("KeyboardInterrupt" in e for e in probe_hook.errors)
    assert wall < 3


def test_no_second_ctrl_c_when_everything_ended_first():
    result, wall = run("plain.py", "double-ctrl-c", hooks=PLAIN_HOOKS,
                       profiles={"double-ctrl-c": {"after": 1.0}}, stop_timeout=5)
    root = proc(result, "root")
    second = result.stop.second_signal
    assert second["sent"] is False
    assert "every process had ended" in second["why"]
    assert "at_s" not in second
    # one KeyboardInterrupt: the first Ctrl-C ran the whole cleanup
    assert printed_pids(result, "KeyboardInterrupt") == [root.pid]
    assert declared_ran(result) == {"keyboard_interrupt", "finally", "atexit"}
    assert result.exit == {"returncode": None, "signal": "SIGINT"}
    # the harness did not sit out the operator's pause
    assert wall < 1.0


# ----------------------------------------------------------------------- a grandchild in the namespace


@needs_pidns
def test_pid1_exit_takes_a_grandchild_that_ignores_sigterm_with_it():
    result, _ = run("profile_grandchild.py", "docker-stop", hooks={"atexit": pid_line("atexit ran")},
                    profiles={"grace": 2})
    stop, root = result.stop, proc(result, "root")
    others = [p for p in result.processes if p.role not in ("root", "launcher")]

    assert result.outcome == "exited", (result.error, result.output_tail)
    assert root.ns_pid == 1 and result.exit == {"returncode": 0, "signal": None}
    # the grandchild is on record, with the pid it printed inside the namespace
    gc_ns_pid = printed_pid(result, "grandchild ignoring SIGTERM")
    assert [p.ns_pid for p in others] == [gc_ns_pid]
    grandchild = others[0]
    assert "SIGTERM" in grandchild.signals_ignored
    # PID 1 exited: the kernel killed the rest of the namespace; neither the stopper
    # nor the harness had to
    assert grandchild.signal == "SIGKILL"
    assert not grandchild.killed_by_stop and not grandchild.killed_by_harness
    assert stop.final_kill is False and result.orphans == [] and result.escalations == []
    # the app's atexit hook, seen in the log and by the probe, is the root's host pid
    assert printed_pid(result, "atexit ran") == 1
    assert result.hooks["atexit"].pids == [root.pid]
    assert result.hooks["atexit:<lambda>"].pids == [root.pid]


def test_outside_a_namespace_the_same_grandchild_is_an_orphan():
    """The control for the test above: without PID 1's rule the grandchild survives."""
    result, _ = run("profile_grandchild.py", "supervisor-stop", profiles={"grace": 2}, stop_timeout=1)
    root = proc(result, "root")
    others = [p for p in result.processes if p.role != "root"]
    gc_pid = printed_pid(result, "grandchild ignoring SIGTERM")
    assert [p.pid for p in others] == [gc_pid]
    assert others[0].ns_pid is None
    assert [k["pid"] for k in result.stop.left_running] == [gc_pid]
    assert [o.pid for o in result.orphans] == [gc_pid] and result.orphans[0].killed_by_harness
    assert result.exit == {"returncode": 0, "signal": None} and root.ns_pid is None


@needs_pidns
@pytest.mark.timeout(60)
def test_docker_stop_kills_a_double_forked_daemon_with_pid1():
    grace = 1
    result, _ = run("double_fork.py", "docker-stop", "{port}", profiles={"grace": grace})
    root = proc(result, "root")
    daemon_ns_pid = printed_pid(result, "daemon listening on")
    daemon = [p for p in result.processes if p.role not in ("root", "launcher")]
    assert [p.ns_pid for p in daemon] == [daemon_ns_pid]
    assert_killed_at_grace(result, grace)
    assert {k["pid"] for k in result.stop.killed} == {root.pid, daemon[0].pid}
    assert daemon[0].signal == "SIGKILL" and daemon[0].killed_by_stop
    assert result.orphans == [] and result.escalations == []


# ----------------------------------------------------------------------- no PID namespace allowed

NO_PIDNS = ('echo 0 > /proc/sys/user/max_pid_namespaces; echo 0 > /proc/sys/user/max_user_namespaces; '
            'exec "$@"')


@pytest.mark.timeout(60)
def test_pid1_profiles_are_skipped_with_the_reason_when_namespaces_are_refused(tmp_path):
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("util-linux unshare is not installed")
    probe = subprocess.run([unshare, "--user", "--map-root-user", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"this machine does not allow an unprivileged user namespace: {probe.stderr.strip()}")

    argv = ["{python}", str(TARGETS / "sigterm_handler.py"), "{workdir}", "{workdir}/released"]
    toml = write_scenario(tmp_path, "\n".join([
        'name = "no-pidns"',
        'paths = ["docker-stop", "docker-stop-init", "k8s-delete", "supervisor-stop"]',
        "[app]",
        f"command = {json.dumps(argv)}",
        'ready = { file = "{workdir}/ready" }',
        "stop_timeout = 5",
        "[hooks.released]",
        'file = "{workdir}/released"',
        "[profiles]",
        "grace = 2",
    ]) + "\n")
    out = tmp_path / "results.json"
    # the session tag (SHUTDOWN_PROBE_SESSION) is inherited, so the leak check sees
    # whatever this run starts
    done = subprocess.run([unshare, "--user", "--map-root-user", "sh", "-c", NO_PIDNS, "sh",
                           sys.executable, "-m", "shutdown_probe", "run", str(toml), "--json", str(out), "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=50, stdin=subprocess.DEVNULL)
    assert out.exists(), (done.returncode, done.stdout, done.stderr)
    cases = {c["path"]: c for c in json.loads(out.read_text())["cases"]}
    assert set(cases) == {"docker-stop", "docker-stop-init", "k8s-delete", "supervisor-stop"}

    for name in ("docker-stop", "docker-stop-init", "k8s-delete"):
        c = cases[name]
        assert c["outcome"] == "skipped", c
        assert c["error"].startswith("skipped:"), c["error"]
        assert "PID namespace" in c["error"] and "No space left on device" in c["error"], c["error"]
        # never a false result: nothing was launched, nothing is claimed
        assert c["processes"] == [] and c["hooks"] == {}
        assert c["exit"] == {"returncode": None, "signal": None}
    # a profile that needs no namespace still runs, in the same run
    sup = cases["supervisor-stop"]
    assert sup["outcome"] == "exited", sup
    assert sup["hooks"]["released"]["ran"] is True
    assert sup["exit"] == {"returncode": 0, "signal": None}
    # skipped cases do not fail the run
    assert done.returncode == 0, (done.stdout, done.stderr)
