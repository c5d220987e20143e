"""The runner against real processes: tiny targets in tests/targets/, real signals.

Every expected value here comes from POSIX or CPython semantics (what a signal's
default action is, when `finally` and atexit run, what a pipe's buffering loses) or
from the target itself (the pid it prints, the port the test gave it), never from the
harness output under test.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path as FsPath

import pytest

from tests.support import READY_FILE, SCENARIOS, TARGETS, exit_of, proc, run_path, target_toml, write_scenario
from shutdown_probe import BUILTIN_PATHS, CaseResult, ScenarioError, expand_cases, load_scenario
from shutdown_probe.paths import PROFILE_PATHS, RELOAD_PATHS
from shutdown_probe.render.explain import explain

# ----------------------------------------------------------------------- helpers

def log(regex: str) -> str:
    return f"log = {json.dumps(regex)}"


def file(path: str) -> str:
    return f"file = {json.dumps(path)}"


def pid_line(text: str) -> str:
    """A hook regex for a line "[pid N] TEXT" whose pid group names the process."""
    return log(r"\[pid (?P<pid>\d+)\] " + text)


def scenario(tmp_path: FsPath, target: str, *args: str, paths: list[str], **toml):
    """Write and load a scenario that runs ``tests/targets/TARGET WORKDIR ARGS``."""
    return load_scenario(write_scenario(tmp_path, target_toml(target, *args, paths=paths, **toml)))


def ran(result: CaseResult) -> set[str]:
    """The declared hooks that ran (the probe's own atexit:* hooks are tested apart)."""
    return {name for name, h in result.hooks.items() if h.ran and h.source != "probe"}


def printed_pid(result: CaseResult, text: str) -> int:
    """The pid a target printed as "[pid N] TEXT" (the target's own os.getpid())."""
    m = re.search(r"\[pid (\d+)\] " + re.escape(text), result.output_tail)
    assert m, f"{text!r} not in the output tail:\n{result.output_tail}"
    return int(m.group(1))


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_clean_exit(result: CaseResult) -> None:
    """The case ran to the end on its own: nothing hung, nothing had to be killed."""
    assert result.outcome == "exited", (result.outcome, result.error, result.output_tail)
    assert result.error is None
    assert result.orphans == []
    assert result.escalations == []
    assert not any(p.killed_by_harness for p in result.processes)
    assert result.root_exit_s is not None and result.duration_s is not None
    assert 0 <= result.root_exit_s <= result.duration_s


# The built-in paths and the target each one is tested against below. Adding a path to
# the catalogue without a test fails test_every_builtin_path_is_covered.
PLAIN_HOOKS = {
    # Declared in the reverse of the order CPython runs them, so hook_order cannot
    # simply repeat the declaration order.
    "atexit": pid_line("atexit ran"),
    "finally": pid_line("finally ran"),
    "keyboard_interrupt": pid_line("KeyboardInterrupt"),
}
ALL_PLAIN = {"atexit", "finally", "keyboard_interrupt"}

# path -> (how the root ends, hooks that run), from signal(7) default actions and
# CPython's default SIGINT handler (KeyboardInterrupt; after finalization it re-raises
# SIGINT with the default action, so the exit status still says SIGINT).
PLAIN_CASES = {
    "sigint": (signal.SIGINT, ALL_PLAIN),
    "ctrl-c": (signal.SIGINT, ALL_PLAIN),
    "sigterm": (signal.SIGTERM, set()),
    "sigterm-group": (signal.SIGTERM, set()),
    "sighup": (signal.SIGHUP, set()),
    "sigquit": (signal.SIGQUIT, set()),
    "sigkill": (signal.SIGKILL, set()),
}
CHILD_PATHS = ["sigint-child", "sigterm-child", "sigkill-child"]
TRIGGER_PATHS = ["os-exit"]

# The probe's injected exits in plain.py, from CPython's semantics: os._exit skips
# everything; SystemExit and an unhandled exception unwind through `finally` and run
# atexit (status 0 and 1); a real SIGSEGV and abort() run nothing.
INJECT_CASES = {
    "inject-os-exit": (0, set()),
    "inject-sys-exit": (0, {"atexit", "finally"}),
    "inject-exception": (1, {"atexit", "finally"}),
    "inject-segfault": (signal.SIGSEGV, set()),
    "inject-abort": (signal.SIGABRT, set()),
}


def test_every_builtin_path_is_covered():
    # the stop profiles have their own file, test_profiles.py, which checks its share;
    # the reload paths theirs, test_reloads.py
    covered = (set(PLAIN_CASES) | set(CHILD_PATHS) | set(TRIGGER_PATHS) | set(INJECT_CASES) | set(PROFILE_PATHS)
               | set(RELOAD_PATHS))
    assert covered == set(BUILTIN_PATHS)


# ----------------------------------------------------------------------- one process


@pytest.mark.parametrize("path", list(INJECT_CASES))
def test_injected_exit_in_a_plain_python_script(tmp_path, path):
    ends_with, expected_hooks = INJECT_CASES[path]
    sc = scenario(tmp_path, "plain.py", paths=[path], hooks=PLAIN_HOOKS)
    result = run_path(sc, path)

    assert_clean_exit(result)
    assert result.exit == exit_of(ends_with)
    assert ran(result) & ALL_PLAIN == expected_hooks
    target_pid = printed_pid(result, "ready")
    assert result.trigger["pid"] == target_pid and result.trigger["inject"] == path.removeprefix("inject-")
    [injected] = result.probe["injected"]
    assert (injected["pid"], injected["action"]) == (target_pid, path.removeprefix("inject-"))
    # the main thread was in plain.py's signal.pause() when the signal came
    assert injected["stack"] and injected["stack"][-1].startswith(f"{TARGETS / 'plain.py'}:")
    # an exception says whether it got away (it did: plain.py catches nothing)
    assert injected.get("caught") is (False if path == "inject-exception" else None)
    # the probe saw plain.py's own atexit lambda whatever the path, and agrees with the log
    probe_hook = result.hooks["atexit:<lambda>"]
    assert probe_hook.source == "probe" and probe_hook.registered_pids == [target_pid]
    assert probe_hook.ran is ("atexit" in expected_hooks)


@pytest.mark.timeout(60)
def test_an_injected_exception_the_app_catches_is_reported_with_where_it_landed(tmp_path):
    # probe_inject.py catch: every step of its loop runs under an `except Exception`
    sc = scenario(tmp_path, "probe_inject.py", "catch", paths=["inject-exception"], ready="log = '^ready \\d+$'",
                  stop_timeout=1)
    result = run_path(sc, "inject-exception")

    assert result.outcome == "hung" and result.exit == exit_of(signal.SIGKILL)
    assert re.search(r"^caught: shutdown-probe injected exception$", result.output_tail, re.M), result.output_tail
    [injected] = result.probe["injected"]
    assert injected["caught"] is True
    innermost = [frame.rsplit(" ", 1)[-1] for frame in injected["stack"][:2]]
    assert innermost == ["wait_a_little", "<module>"], injected["stack"]
    assert "which the app caught (raised in probe_inject.py:" in explain(result), explain(result)


def test_inject_path_refused_when_the_scenario_turns_the_probe_off(tmp_path):
    with pytest.raises(ScenarioError, match="app.probe = false"):
        scenario(tmp_path, "plain.py", paths=["inject-sys-exit"], app_extra="probe = false")


def test_inject_path_skipped_for_a_target_that_is_not_python(tmp_path):
    sc = load_scenario(write_scenario(tmp_path, """
paths = ["inject-os-exit", "sigterm"]
[app]
command = ["sleep", "60"]
ready = { delay = 0.1 }
"""))
    inject, sigterm = (run_path(sc, p) for p in ("inject-os-exit", "sigterm"))
    assert inject.outcome == "skipped"
    assert "Python probe" in inject.error and "does not run Python" in inject.error
    assert inject.probe["enabled"] is False
    assert sigterm.exit == exit_of(signal.SIGTERM)  # the same app is fine on other paths



@pytest.mark.parametrize("path", list(PLAIN_CASES))
def test_plain_python_script(tmp_path, path):
    ends_with, expected_hooks = PLAIN_CASES[path]
    sc = scenario(tmp_path, "plain.py", paths=[path], hooks=PLAIN_HOOKS)
    result = run_path(sc, path)

    assert_clean_exit(result)
    assert result.exit == exit_of(ends_with)
    assert ran(result) == expected_hooks
    root = proc(result, "root")
    assert len(result.processes) == 1
    assert (root.returncode, root.signal) == (None, ends_with.name)
    target_pid = printed_pid(result, "ready")
    assert root.pid == target_pid
    for name in expected_hooks:
        assert result.hooks[name].pids == [target_pid]
        assert result.hooks[name].roles == ["root"]
    for name in ALL_PLAIN - expected_hooks:
        assert result.hooks[name].pids == [] and result.hooks[name].at_s is None


def test_hook_order_follows_cpython_shutdown_order(tmp_path):
    """except -> finally -> atexit (at finalization), whatever the declaration order."""
    sc = scenario(tmp_path, "plain.py", paths=["sigint"], hooks=PLAIN_HOOKS)
    result = run_path(sc, "sigint")
    assert_clean_exit(result)
    assert result.hook_order == ["keyboard_interrupt", "finally", "atexit"]
    at = [result.hooks[n].at_s for n in result.hook_order]
    assert at == sorted(at)


def test_a_line_printed_before_the_trigger_is_not_evidence(tmp_path):
    """plain.py prints "[pid N] ready" at start-up: that is not shutdown work."""
    sc = scenario(tmp_path, "plain.py", paths=["sigterm"], hooks={"startup": pid_line("ready")})
    result = run_path(sc, "sigterm")
    assert_clean_exit(result)
    assert result.hooks["startup"].ran is False
    assert "before" in result.hooks["startup"].evidence


@pytest.mark.parametrize("path", CHILD_PATHS)
def test_child_paths_are_skipped_without_a_child(tmp_path, path):
    sc = scenario(tmp_path, "plain.py", paths=[path], hooks=PLAIN_HOOKS)
    result = run_path(sc, path)
    assert result.outcome == "skipped"
    assert "no child" in result.error
    assert result.hooks == {}
    # The root was never sent the path's signal: the harness ended it afterwards.
    root = proc(result, "root")
    assert root.killed_by_harness is True
    assert result.exit == exit_of(signal.SIGKILL)
    assert "KeyboardInterrupt" not in result.output_tail


# ----------------------------------------------------------------------- a handler


@pytest.mark.parametrize(
    "path, ends_with, released, finally_ran",
    [
        # the handler writes the sentinel, then sys.exit(0) unwinds through finally
        pytest.param("sigterm", 0, True, True, id="sigterm"),
        pytest.param("sigterm-group", 0, True, True, id="sigterm-group"),
        # SIGKILL cannot be handled
        pytest.param("sigkill", signal.SIGKILL, False, False, id="sigkill"),
        # no SIGINT handler: KeyboardInterrupt, finally runs, the sentinel does not
        pytest.param("sigint", signal.SIGINT, False, True, id="sigint"),
    ],
)
def test_sigterm_handler_writes_sentinel(tmp_path, path, ends_with, released, finally_ran):
    sentinel = tmp_path / "released"
    sc = scenario(tmp_path, "sigterm_handler.py", str(sentinel), paths=[path],
                  hooks={"finally": pid_line("finally ran"), "released": file(str(sentinel))})
    result = run_path(sc, path)

    assert_clean_exit(result)
    assert result.exit == exit_of(ends_with)
    assert result.hooks["released"].ran is released
    assert result.hooks["finally"].ran is finally_ran
    assert sentinel.exists() is released
    if released:
        assert sentinel.read_text() == f"released by pid {proc(result, 'root').pid}\n"
        # The handler writes the sentinel before sys.exit() reaches finally, but a file's
        # time and a line's place in a pipe are two clocks: the order is not claimed.
        assert [u.hooks for u in result.order.unknown] == [["finally", "released"]]
        assert result.order.known == []


def test_file_hook_touched_before_the_trigger_does_not_count(tmp_path):
    """A sentinel that already exists and is not modified after the trigger is no proof."""
    sentinel = tmp_path / "released"
    sentinel.write_text("left over from an earlier run\n")
    other = tmp_path / "other"
    sc = scenario(tmp_path, "sigterm_handler.py", str(other), paths=["sigterm"],
                  hooks={"stale": file(str(sentinel)), "released": file(str(other))})
    result = run_path(sc, "sigterm")
    assert_clean_exit(result)
    assert result.hooks["released"].ran is True
    assert result.hooks["stale"].ran is False


# ----------------------------------------------------------------------- parent + child


PC_HOOKS = {
    "child_interrupted": pid_line("child: KeyboardInterrupt"),
    "child_finally": pid_line("child: finally"),
    "parent_saw_child_end": pid_line("parent: child ended with"),
    "parent_finally": pid_line("parent: finally"),
}


@pytest.mark.parametrize(
    "path, root_ends, child_ends, hooks_ran",
    [
        # The child alone is signalled; the parent's wait() returns and it exits 0.
        pytest.param("sigint-child", 0, signal.SIGINT,
                     {"child_interrupted": ["child"], "child_finally": ["child"],
                      "parent_saw_child_end": ["root"], "parent_finally": ["root"]},
                     id="sigint-child"),
        pytest.param("sigterm-child", 0, signal.SIGTERM,
                     {"parent_saw_child_end": ["root"], "parent_finally": ["root"]},
                     id="sigterm-child"),
        pytest.param("sigkill-child", 0, signal.SIGKILL,
                     {"parent_saw_child_end": ["root"], "parent_finally": ["root"]},
                     id="sigkill-child"),
        # Both get SIGINT; the parent's Popen.wait() re-raises KeyboardInterrupt (after
        # waiting briefly for the child), so it never prints "child ended with".
        pytest.param("ctrl-c", signal.SIGINT, signal.SIGINT,
                     {"child_interrupted": ["child"], "child_finally": ["child"],
                      "parent_finally": ["root"]},
                     id="ctrl-c"),
        pytest.param("sigterm-group", signal.SIGTERM, signal.SIGTERM, {}, id="sigterm-group"),
    ],
)
def test_parent_and_child(tmp_path, path, root_ends, child_ends, hooks_ran):
    sc = scenario(tmp_path, "parent_child.py", paths=[path], hooks=PC_HOOKS)
    result = run_path(sc, path)

    assert_clean_exit(result)
    assert result.exit == exit_of(root_ends)
    root, child = proc(result, "root"), proc(result, "child")
    assert len(result.processes) == 2
    # Pids as the processes themselves reported them.
    parent_pid = printed_pid(result, "parent: started child")
    child_pid = int(re.search(r"parent: started child (\d+)", result.output_tail).group(1))
    assert (root.pid, child.pid) == (parent_pid, child_pid)
    assert (child.returncode, child.signal) == (None, child_ends.name)
    assert child.exit_known

    assert {n: h.roles for n, h in result.hooks.items() if h.ran} == hooks_ran
    for name, roles in hooks_ran.items():
        assert result.hooks[name].pids == [parent_pid if roles == ["root"] else child_pid]
    if "parent_saw_child_end" in hooks_ran:
        # Popen's view of the child's end, printed by the parent itself.
        assert f"child ended with {-child_ends.value}" in result.output_tail


@pytest.mark.parametrize(
    "path, parent_finally",
    [
        # the reloader's classic: kill -9 on the parent
        pytest.param("sigkill", False, id="sigkill"),
        # Popen.wait() gives the child 0.25 s after KeyboardInterrupt, then the parent
        # exits (finally runs); the child, which got no signal, keeps running.
        pytest.param("sigint", True, id="sigint"),
    ],
)
def test_child_orphaned_when_only_the_parent_ends(tmp_path, path, parent_finally):
    sc = scenario(tmp_path, "parent_child.py", paths=[path], hooks=PC_HOOKS, stop_timeout=1.5)
    start = time.monotonic()
    result = run_path(sc, path)
    elapsed = time.monotonic() - start

    assert result.outcome == "exited"
    assert result.exit == exit_of(BUILTIN_PATHS[path].signal)
    assert result.hooks["parent_finally"].ran is parent_finally
    assert result.hooks["child_finally"].ran is False  # killed by the harness: SIGKILL
    child_pid = int(re.search(r"parent: started child (\d+)", result.output_tail).group(1))
    assert [(o.pid, o.role, o.killed_by_harness) for o in result.orphans] == [(child_pid, "child", True)]
    assert [(e.pid, e.signal) for e in result.escalations] == [(child_pid, "SIGKILL")]
    child = proc(result, "child")
    assert child.killed_by_harness and child.signal == "SIGKILL"
    assert result.duration_s is None  # not everything ended by itself
    assert elapsed >= 1.5  # an orphan is only one once stop_timeout has passed


# ----------------------------------------------------------------------- hung


@pytest.mark.parametrize("path", ["sigint", "sigterm", "sighup", "sigquit", "ctrl-c", "sigterm-group"])
def test_ignoring_every_signal_is_ignored(tmp_path, path):
    sc = scenario(tmp_path, "ignore_all.py", paths=[path], stop_timeout=1,
                  hooks={"anything": log("ignoring")})
    start = time.monotonic()
    result = run_path(sc, path)
    elapsed = time.monotonic() - start

    sent = signal.Signals(BUILTIN_PATHS[path].signal).name
    assert result.outcome == "ignored"
    assert result.hang is not None and {i.signal for i in result.hang.ignored} == {sent}
    assert "stop_timeout" in result.error
    assert elapsed >= 1.0
    root = proc(result, "root")
    assert sent in root.signals_ignored  # as /proc saw it when the app was ready
    assert root.killed_by_harness
    assert result.exit == exit_of(signal.SIGKILL)
    assert [(e.pid, e.role, e.signal) for e in result.escalations] == [(root.pid, "root", "SIGKILL")]
    assert "ignored" in result.escalations[0].reason
    assert result.root_exit_s is None and result.duration_s is None
    assert result.hooks["anything"].ran is False  # the line came before the trigger


# ----------------------------------------------------------------------- orphans


@pytest.mark.parametrize("path", ["sigterm", "sigterm-group"])
def test_double_forked_daemon_is_an_orphan(tmp_path, path):
    """setsid() takes the daemon out of the process group, so even a group SIGTERM
    misses it; it keeps listening after the root is gone."""
    port = unused_port()
    sc = scenario(tmp_path, "double_fork.py", str(port), paths=[path], stop_timeout=1.5,
                  hooks={"daemon_started": pid_line("daemon listening")})
    result = run_path(sc, path)

    assert result.outcome == "exited"
    assert result.exit == exit_of(signal.SIGTERM)
    daemon_pid = printed_pid(result, "daemon listening on")
    assert [(o.pid, o.listening, o.killed_by_harness) for o in result.orphans] == [(daemon_pid, [port], True)]
    assert result.orphans[0].role != "root"
    assert daemon_pid in [e.pid for e in result.escalations]
    # killed once stop_timeout (1.5 s) after the trigger had passed, not before
    assert all(e.at_s is not None and 1.5 <= e.at_s < 5 for e in result.escalations), result.escalations
    daemon = [p for p in result.processes if p.pid == daemon_pid]
    assert len(daemon) == 1 and daemon[0].signal == "SIGKILL" and daemon[0].listening == [port]
    # Really gone: nothing accepts on the port any more.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# ----------------------------------------------------------------------- output


@pytest.mark.parametrize(
    "before, after, kind",
    [(50, 0, "lines"), (0, 50, "lines"), (0, 50, "raw")],
    ids=["50MB-lines-before-ready", "50MB-lines-during-shutdown", "50MB-no-newlines-during-shutdown"],
)
def test_output_flood_does_not_block(tmp_path, before, after, kind):
    sc = scenario(tmp_path, "flood.py", str(before), str(after), kind, paths=["sigterm"],
                  stop_timeout=30, ready_timeout=30, hooks={"marker": log(r"^FLOOD DONE (\d+)$")})
    start = time.monotonic()
    result = run_path(sc, "sigterm")
    elapsed = time.monotonic() - start

    assert elapsed < 60
    assert_clean_exit(result)
    assert result.exit == exit_of(0)
    assert result.hooks["marker"].ran is True
    total = (before + after) * 1024 * 1024
    tail_lines = result.output_tail.splitlines()
    assert tail_lines[-1] == f"FLOOD DONE {total}"
    # Bounded: a tail, not the half million lines (or 50 MB line) that were written.
    assert len(tail_lines) < 1000
    assert len(result.output_tail) < 64 * 1024


# ----------------------------------------------------------------------- not ready


@pytest.mark.parametrize(
    "ready",
    [READY_FILE, 'log = "never printed"', 'tcp = "{port}"', 'http = "http://127.0.0.1:{port}/"'],
    ids=["file", "log", "tcp", "http"],
)
def test_exit_before_ready_is_not_ready_at_once(tmp_path, ready):
    sc = scenario(tmp_path, "exit_early.py", paths=["sigterm"], ready=ready, ready_timeout=20,
                  hooks={"anything": log("fatal")})
    start = time.monotonic()
    result = run_path(sc, "sigterm")
    elapsed = time.monotonic() - start

    assert result.outcome == "not-ready"
    assert elapsed < 5, "an app that died must not be waited for until ready_timeout"
    assert "exited" in result.error
    assert "cannot read config.ini" in result.output_tail
    assert result.exit == exit_of(2)
    assert result.escalations == []
    assert not proc(result, "root").killed_by_harness


@pytest.mark.parametrize("ready", [
    'file = "{workdir}/never"', 'log = "never printed"'], ids=["file", "log"])
def test_never_ready_times_out(tmp_path, ready):
    sc = scenario(tmp_path, "plain.py", paths=["sigint"], ready=ready, ready_timeout=1.5,
                  hooks=PLAIN_HOOKS)
    start = time.monotonic()
    result = run_path(sc, "sigint")
    elapsed = time.monotonic() - start

    assert result.outcome == "not-ready"
    assert 1.5 <= elapsed < 10
    assert "1.5 s" in result.error
    root = proc(result, "root")
    assert root.killed_by_harness
    assert result.exit == exit_of(signal.SIGKILL)
    assert [(e.pid, e.signal) for e in result.escalations] == [(root.pid, "SIGKILL")]
    assert "KeyboardInterrupt" not in result.output_tail  # no SIGINT was ever sent


# ----------------------------------------------------------------------- triggers


HTTP_HOOKS = {"finally": pid_line("finally ran")}
HTTP_READY = 'http = "http://127.0.0.1:{port}/"'


@pytest.mark.parametrize(
    "path, trigger, ends_with, finally_ran",
    [
        ("os-exit", 'http = "http://127.0.0.1:{port}/exit/3"', 3, False),
        ("crash", 'http = "http://127.0.0.1:{port}/exit/7"', 7, False),
        ("graceful", 'command = ["/bin/sh", "-c", "kill -USR1 $(cat {workdir}/pid)"]', 0, True),
    ],
    ids=["builtin-os-exit-http", "custom-http", "custom-command"],
)
def test_trigger_paths(tmp_path, path, trigger, ends_with, finally_ran):
    sc = scenario(tmp_path, "http_app.py", "{port}", paths=[path], ready=HTTP_READY,
                  hooks=HTTP_HOOKS, tables=f"[triggers.{path}]\n{trigger}\n")
    result = run_path(sc, path)

    assert_clean_exit(result)
    assert result.exit == exit_of(ends_with)
    assert result.hooks["finally"].ran is finally_ran
    assert result.trigger.get("trigger") == path
    if finally_ran:
        assert result.hooks["finally"].roles == ["root"]


# ----------------------------------------------------------------------- buffering


@pytest.mark.parametrize(
    "app_extra, ambient, seen",
    [
        ("", None, True),  # the harness pins PYTHONUNBUFFERED=1 by default
        ("unbuffered = false", "1", False),  # ...and removes it when asked
    ],
    ids=["unbuffered-default", "unbuffered-false"],
)
def test_stdout_buffering(tmp_path, monkeypatch, app_extra, ambient, seen):
    """A line printed right before SIGKILL-to-self survives only unbuffered stdout.

    The harness's own environment is set to the opposite, so only the harness's
    handling of PYTHONUNBUFFERED can make the test pass.
    """
    if ambient is None:
        monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    else:
        monkeypatch.setenv("PYTHONUNBUFFERED", ambient)
    sc = scenario(tmp_path, "last_words.py", paths=["sigterm"], app_extra=app_extra,
                  hooks={"last_words": pid_line("last words")})
    result = run_path(sc, "sigterm")

    assert_clean_exit(result)
    assert result.exit == exit_of(signal.SIGKILL)
    assert result.hooks["last_words"].ran is seen
    assert ("last words" in result.output_tail) is seen


# ----------------------------------------------------------------------- inherited SIG_IGN


HARNESS_WITH_IGNORED_SIGNAL = textwrap.dedent("""
    import json, signal, subprocess, sys
    sig = signal.Signals[sys.argv[2]]
    signal.signal(sig, signal.SIG_IGN)
    # Control: a plain child of this process inherits the SIG_IGN.
    control = subprocess.run(
        [sys.executable, "-c",
         f"import signal; print(signal.getsignal({int(sig)}) == signal.SIG_IGN)"],
        capture_output=True, text=True, check=True).stdout.strip()
    import shutdown_probe
    sc = shutdown_probe.load_scenario(sys.argv[1])
    [case] = shutdown_probe.expand_cases([sc], [sys.argv[3]])
    result = shutdown_probe.run_case(case)
    print(json.dumps({"control": control, "result": result.to_dict()}))
""")


@pytest.mark.parametrize(
    "ignored, path, ends_with, expected_hooks",
    [
        pytest.param("SIGINT", "sigint", signal.SIGINT, ALL_PLAIN, id="SIGINT-ignored"),
        pytest.param("SIGTERM", "sigterm", signal.SIGTERM, set(), id="SIGTERM-ignored"),
    ],
)
def test_inherited_sig_ign_is_reset(tmp_path, ignored, path, ends_with, expected_hooks):
    sc_file = write_scenario(tmp_path, "\n".join([
        f"paths = [{json.dumps(path)}]",
        "[app]",
        f"command = {json.dumps(['{python}', str(TARGETS / 'plain.py'), '{workdir}'])}",
        f"ready = {{ {READY_FILE} }}",
        "stop_timeout = 3",
        *(f"[hooks.{n}]\n{spec}" for n, spec in PLAIN_HOOKS.items()),
    ]) + "\n")
    done = subprocess.run([sys.executable, "-c", HARNESS_WITH_IGNORED_SIGNAL, str(sc_file), ignored, path],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["control"] == "True"  # the premise: SIG_IGN is inherited through exec
    result = CaseResult.from_dict(report["result"])

    assert_clean_exit(result)
    assert result.exit == exit_of(ends_with)
    assert ran(result) == expected_hooks
    assert ignored not in proc(result, "root").signals_ignored


# ----------------------------------------------------------------------- the harness's own HTTP


def test_log_ready_regex_is_not_templated(tmp_path):
    """``\\d{1,10}`` in a log ready regex is a quantifier, not a placeholder."""
    sc = scenario(tmp_path, "plain.py", paths=["sigint"], hooks=PLAIN_HOOKS,
                  ready=log(r"^\[pid \d{1,10}\] ready$"))
    result = run_path(sc, "sigint")
    assert_clean_exit(result)
    assert result.exit == exit_of(signal.SIGINT)
    assert ran(result) == ALL_PLAIN


def test_http_ready_and_trigger_ignore_proxy_settings(tmp_path, monkeypatch):
    """The app the harness launched is on 127.0.0.1: its ready check and its HTTP
    trigger must reach it directly, not through the user's HTTP proxy (here: a port
    nothing listens on, so any proxied request fails)."""
    dead_proxy = f"http://127.0.0.1:{unused_port()}"
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, dead_proxy)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    sc = scenario(tmp_path, "http_app.py", "{port}", paths=["os-exit"], ready=HTTP_READY,
                  ready_timeout=3, hooks=HTTP_HOOKS,
                  tables='[triggers.os-exit]\nhttp = "http://127.0.0.1:{port}/exit/3"\n')
    result = run_path(sc, "os-exit")
    assert result.outcome == "exited", (result.outcome, result.error)
    assert result.exit == exit_of(3)
    assert "status" not in result.trigger and "error" in result.trigger  # os._exit: no answer


# ----------------------------------------------------------------------- evidence timing


def test_startup_line_never_counts_as_shutdown_evidence(tmp_path):
    # The harness reads the pipe in a thread; when it lags, lines written at startup
    # are *read* after the trigger. They must still not prove a shutdown hook. The
    # burst fills a 1 MB pipe, so at the trigger most of it is still unread.
    hooks = {"startup": log(r"^startup done$"), "bye": log(r"^\[stop\] bye$")}
    hooks.update({f"busy{n}": log(rf"never matches {n} (a|b)+c$") for n in range(8)})
    sc = scenario(tmp_path, "startup_burst.py", "400000", paths=["sigterm"], hooks=hooks,
                  app_extra="unbuffered = false")
    for _ in range(2):
        res = run_path(sc, "sigterm")
        assert res.hooks["bye"].ran, res.hooks["bye"].evidence
        assert not res.hooks["startup"].ran, res.hooks["startup"].evidence
        assert "only before" in res.hooks["startup"].evidence


# ----------------------------------------------------------------------- degraded machines


@pytest.fixture
def without_pidfds():
    """Run as on a machine with no pidfds, no subreaper and no PIDFD_INFO_EXIT.

    Only the harness's choice of mechanism is switched; the processes, signals and
    sockets stay real. (The kernel's subreaper bit stays set: orphans still come back
    to this process, but the harness no longer relies on it to find them.)
    """
    from shutdown_probe import capabilities as processes

    saved = processes.capabilities()
    processes._caps = processes.Capabilities(pidfd="forced off by the test",
                                             subreaper="forced off by the test",
                                             pidfd_exit_info="forced off by the test")
    try:
        yield
    finally:
        processes._caps = saved


def test_fallback_signals_by_pid_and_still_sees_the_hooks(tmp_path, without_pidfds):
    sc = scenario(tmp_path, "sigterm_handler.py", "{workdir}/sigterm-handled", paths=["sigterm", "sigkill"],
                  hooks={"sentinel": file("{workdir}/sigterm-handled")})
    term, kill = run_path(sc, "sigterm"), run_path(sc, "sigkill")
    assert term.outcome == "exited" and term.exit == {"returncode": 0, "signal": None}
    assert term.hooks["sentinel"].ran
    assert kill.exit == exit_of(signal.SIGKILL) and not kill.hooks["sentinel"].ran


def test_fallback_still_finds_and_kills_a_double_forked_daemon(tmp_path, without_pidfds):
    port = unused_port()
    sc = scenario(tmp_path, "double_fork.py", str(port), paths=["sigterm"], stop_timeout=1.5,
                  hooks={"daemon_started": pid_line("daemon listening")})
    result = run_path(sc, "sigterm")
    daemon_pid = printed_pid(result, "daemon listening on")
    assert [(o.pid, o.listening, o.killed_by_harness) for o in result.orphans] == [(daemon_pid, [port], True)]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# ------------------------------------------------------------------ the probe, through the harness


def test_a_process_killed_inside_an_atexit_hook_shows_it_cut_short(tmp_path):
    # probe_hooks.py hang: registers hook_a then hook_hang, and exits at once; LIFO runs
    # hook_hang first, which makes the ready file and sleeps. SIGTERM (no handler)
    # lands inside it. No [hooks] table: the probe finds both callables itself.
    sc = load_scenario(write_scenario(tmp_path, f"""
paths = ["sigterm"]
[app]
command = ["{{python}}", {json.dumps(str(TARGETS / "probe_hooks.py"))}, "hang", "{{workdir}}/ready"]
ready = {{ file = "{{workdir}}/ready" }}
"""))
    result = run_path(sc, "sigterm")
    assert_clean_exit(result)
    assert result.exit == exit_of(signal.SIGTERM)
    pid = result.processes[0].pid
    hang, first = result.hooks["atexit:hook_hang"], result.hooks["atexit:hook_a"]
    assert (hang.ran, hang.interrupted_pids, hang.registered_pids) == (False, [pid], [pid])
    assert (first.ran, first.interrupted_pids, first.registered_pids) == (False, [], [pid])
    assert result.probe_order == ["atexit:hook_hang"]
    from shutdown_probe.render.cells import hook_cell
    from shutdown_probe.render.explain import explain
    assert hook_cell(result, "atexit:hook_hang") == "◐ cut short"
    assert hook_cell(result, "atexit:hook_a") == "✗"
    assert "was inside atexit:hook_hang when it died, never ran atexit:hook_a" in explain(result)


def test_the_probe_stays_out_of_a_target_that_is_not_python(tmp_path):
    sc = load_scenario(write_scenario(tmp_path, """
paths = ["sigterm"]
[app]
command = ["sleep", "60"]
ready = { delay = 0.1 }
"""))
    result = run_path(sc, "sigterm")
    assert result.probe == {"enabled": False, "why": result.probe["why"]}
    assert "does not run Python" in result.probe["why"]
    assert result.hooks == {}


def test_an_orphan_that_dies_before_discovery_is_reaped_like_an_init_would(monkeypatch):
    """The job runner's job (JOB_SECONDS=0) is orphaned and gone before the harness
    looks: a zombie of the harness, whose tag cannot be read. Unless the harness reaps
    it by its session, kill(pid, 0) keeps answering and the runner's cleanup hangs."""
    monkeypatch.setenv("JOB_SECONDS", "0")
    sc = load_scenario(SCENARIOS / "pid1_job_runner.toml")
    result = run_path(sc, "sigterm")
    assert result.outcome == "exited", (result.error, result.output_tail)
    assert result.hooks["released"].ran and result.exit == {"returncode": 0, "signal": None}


# ----------------------------------------------------------------------- timing


def test_an_exit_is_noticed_within_milliseconds(tmp_path):
    """The root's exit wakes the harness through its pidfd: ended_after_s is the
    target's last moment plus the kernel's teardown, not the next tick of a poll loop
    (the peers' 100 ms; the harness's own rescans of the tree are 20-200 ms apart)."""
    sc = scenario(tmp_path, "exit_stamp.py", paths=["sigterm"], app_extra="probe = false")
    lags = []
    for _ in range(5):
        result = run_path(sc, "sigterm")
        assert_clean_exit(result)
        stamp = float(re.search(r"exiting at (\S+)", result.output_tail).group(1))
        root = proc(result, "root")
        assert root.returncode == 0
        noticed = result.trigger_clock + root.ended_after_s
        lags.append(noticed - stamp)
        # the harness took its own clock reading at the trigger, before the target's stamp
        assert result.trigger_clock < stamp
        assert result.wall_s > result.duration_s > 0
    # 0.1 ms rounding of ended_after_s can make the lag look a little negative
    assert all(lag > -0.0002 for lag in lags), lags
    assert sorted(lags)[2] < 0.01, lags  # the median; 2 ms p95 on an idle 2-core machine


def test_a_started_process_seen_ended_is_still_waited_for():
    """Noticing an exit through the pidfd (``alive``) does not reap the process; the
    end of the case must, or its status is lost and the zombie stays until the
    harness exits (a race a PID-1 launcher could hit: it ends a moment after PID 1)."""
    from shutdown_probe.processes import CaseProcesses
    from shutdown_probe.waiting import wait_readable

    popen = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    try:
        tree = CaseProcesses(popen, "test-tag")
        if tree.started.pidfd is None:
            pytest.skip("no pidfds on this machine: an exit is only seen by reaping it")
        assert wait_readable([tree.started.pidfd], 10)
        assert tree.live() == []  # seen ended, not reaped
        assert popen.returncode is None
        tree.finish()
        assert popen.returncode == 3
    finally:
        popen.wait()


def test_expand_cases_keeps_a_path_for_every_scenario_or_a_qualified_one_for_one():
    from shutdown_probe.scenario import make_scenario

    one = make_scenario("one", command=["true"], paths=["sigterm", "sigkill"])
    two = make_scenario("two", command=["true"], paths=["sigterm", "sigkill"])
    ids = [c.id for c in expand_cases([one, two], ["sigterm", "two::sigkill"])]
    assert ids == ["one::sigterm", "two::sigterm", "two::sigkill"]
    assert [c.id for c in expand_cases([one, two], ["one::sigkill"])] == ["one::sigkill"]
