"""The in-target probe (shutdown_probe/_probe_site/sitecustomize.py) in real interpreters.

Every test runs a target script as a real Python subprocess with the probe folder first
on PYTHONPATH and reads the JSON lines it appended to the events file.
SHUTDOWN_PROBE_TEST_PYTHON runs the targets with another interpreter (3.8+).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shutdown_probe.probe import ProbeReport
from tests.support import ROOT, TARGETS
from tests.support.interpreters import imports_threading_at_start

PROBE_DIR = ROOT / "shutdown_probe" / "_probe_site"
PYTHON = os.environ.get("SHUTDOWN_PROBE_TEST_PYTHON", sys.executable)
PY_VERSION = tuple(int(x) for x in subprocess.run(
    [PYTHON, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True,
    check=True).stdout.split())
INJECT_SIGNAL = signal.SIGRTMIN + 7
PROBE_VARS = ("PYTHONPATH", "SHUTDOWN_PROBE_EVENTS", "SHUTDOWN_PROBE_INJECT", "SHUTDOWN_PROBE_INJECT_SIGNAL")


def make_env(events: Path | None, *, probe: bool = True, after: list[Path] = (), inject: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PROBE_VARS}
    path = ([str(PROBE_DIR)] if probe else []) + [str(p) for p in after]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    if path:
        env["PYTHONPATH"] = os.pathsep.join(path)
    if events is not None:
        env["SHUTDOWN_PROBE_EVENTS"] = str(events)
    if inject:
        env["SHUTDOWN_PROBE_INJECT"] = inject
        env["SHUTDOWN_PROBE_INJECT_SIGNAL"] = str(int(INJECT_SIGNAL))
    return env


def run(target: str, *args: str, env: dict, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(TARGETS / target), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def events_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def of(events: list[dict], ev: str, pid: int | None = None) -> list[dict]:
    return [e for e in events if e["ev"] == ev and (pid is None or e["pid"] == pid)]


def pid_line(stdout: str, word: str) -> int:
    m = re.search(rf"^{word} (\d+)", stdout, re.M)
    assert m, f"no '{word} PID' line in {stdout!r}"
    return int(m.group(1))


def line_of(target: str, text: str, after: str = "") -> str:
    """``path:line`` of the first line of ``target`` holding ``text`` after the first line holding ``after``."""
    path = TARGETS / target
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    hit = next(i for i, line in enumerate(lines) if i >= start and text in line)
    return f"{path}:{hit + 1}"


def without_addresses(text: str) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x?", text)


# ---------------------------------------------------------------- atexit


def test_hooks_registered_in_order_run_lifo_between_finalize_and_atexit_done(tmp_path):
    events_path = tmp_path / "events.jsonl"
    proc = run("probe_hooks.py", "order", env=make_env(events_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    pid = pid_line(proc.stdout, "pid")
    assert proc.stdout.splitlines()[-3:] == ["hook_c ran", "hook_b ran", "hook_a ran"]
    events = events_of(events_path)
    assert {e["pid"] for e in events} == {pid}

    (start,) = of(events, "start")
    assert start["how"] == "exec" and start["ppid"] == os.getpid()
    assert start["argv"] == [PYTHON, str(TARGETS / "probe_hooks.py"), "order"]
    assert start["executable"] and start["werkzeug_run_main"] is None

    mine = {f"__main__.hook_{x}" for x in "abc"}
    registered = [e for e in of(events, "register") if e["name"] in mine]
    assert [e["name"] for e in registered] == ["__main__.hook_a", "__main__.hook_b", "__main__.hook_c"]
    for e in registered:
        x = e["name"][-1]
        assert e["where"] == line_of("probe_hooks.py", f"atexit.register(hook_{x})", after='mode == "order"')
        assert e["stdlib"] is False
    assert len({e["id"] for e in of(events, "register")}) == len(of(events, "register"))
    (logging_reg,) = [e for e in of(events, "register") if e["name"] == "logging.shutdown"]
    assert logging_reg["stdlib"] is True and "logging" in logging_reg["where"]

    ids = {e["name"]: e["id"] for e in registered}
    starts = [e for e in of(events, "hook-start") if e["name"] in mine]
    ends = [e for e in of(events, "hook-end") if e["name"] in mine]
    order = ["__main__.hook_c", "__main__.hook_b", "__main__.hook_a"]
    assert [e["name"] for e in starts] == order
    assert [e["name"] for e in ends] == order
    for s, e in zip(starts, ends):
        assert s["id"] == e["id"] == ids[s["name"]]
        assert e["error"] is None
        assert e["t"] - s["t"] >= 0.002 and e["dur"] >= 0.002  # each hook sleeps 2 ms

    seq = [e["ev"] for e in events]
    (finalize,) = of(events, "finalize")
    assert finalize["caller"] is None  # the interpreter, not Python code, called it
    assert seq.index("finalize") < seq.index("hook-start")
    assert seq[-1] == "atexit-done"
    assert max(e["t"] for e in of(events, "hook-end")) <= events[-1]["t"]
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)


def test_a_raising_hook_reports_its_error_and_python_still_prints_it(tmp_path):
    events_path = tmp_path / "events.jsonl"
    proc = run("probe_hooks.py", "raise", env=make_env(events_path))
    plain = run("probe_hooks.py", "raise", env=make_env(None, probe=False))
    assert proc.returncode == plain.returncode == 0
    # CPython's own words: "Error in atexit._run_exitfuncs:" up to 3.9, then "Exception
    # ignored in atexit callback: <function ...>", "callback <function ...>:" from 3.13 on
    if PY_VERSION < (3, 10):
        assert proc.stderr.startswith("Error in atexit._run_exitfuncs:\n")
    else:
        assert re.search(r"Exception ignored in atexit callback:? <function hook_bad at 0x", proc.stderr)
    assert "ValueError: bad hook" in proc.stderr
    if PY_VERSION >= (3, 11):  # 3.10 re-raises with the probe's frame still in the traceback
        assert without_addresses(proc.stderr) == without_addresses(plain.stderr)
    assert proc.stdout.splitlines()[1:] == plain.stdout.splitlines()[1:]
    assert "hook_a ran" in proc.stdout and "hook_c ran" in proc.stdout

    events = events_of(events_path)
    ends = {e["name"]: e for e in of(events, "hook-end")}
    assert ends["__main__.hook_bad"]["error"] == "ValueError: bad hook"
    assert ends["__main__.hook_a"]["error"] is None and ends["__main__.hook_c"]["error"] is None
    assert events[-1]["ev"] == "atexit-done"


def test_a_hook_killed_midway_has_a_start_and_no_end(tmp_path):
    events_path, ready = tmp_path / "events.jsonl", tmp_path / "ready"
    proc = subprocess.Popen([PYTHON, str(TARGETS / "probe_hooks.py"), "hang", str(ready)],
                            env=make_env(events_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, "the target ended before its hook hung"
            assert time.monotonic() < deadline, "the hanging hook never created its ready file"
            time.sleep(0.01)
        proc.kill()
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    pid = pid_line(out, "pid")
    events = events_of(events_path)
    assert {e["pid"] for e in events} == {pid}
    (hang_start,) = [e for e in of(events, "hook-start") if e["name"] == "__main__.hook_hang"]
    assert not [e for e in of(events, "hook-end") if e["id"] == hang_start["id"]]
    assert not [e for e in of(events, "hook-start") if e["name"] == "__main__.hook_a"]  # due after hook_hang
    # the "hang" mode never imports threading: no threading shutdown to report (the
    # probe patches threading only when something imports it), unless the interpreter
    # itself imported it at start-up (a .pth file): then the interpreter's own
    # threading shutdown, which comes before the atexit stage
    assert [e["caller"] for e in of(events, "finalize")] == ([None] if imports_threading_at_start(PYTHON) else [])
    assert not of(events, "atexit-done")


def test_unregister_removes_the_hook_and_the_decorator_returns_the_function(tmp_path):
    events_path = tmp_path / "events.jsonl"
    proc = run("probe_hooks.py", "unregister", env=make_env(events_path))
    assert proc.returncode == 0, proc.stderr
    assert "decorator returned the function: True" in proc.stdout
    assert "hook_gone ran" not in proc.stdout
    assert proc.stdout.splitlines()[-2:] == ["hook_decorated ran", "hook_a ran"]
    events = events_of(events_path)
    (gone,) = [e for e in of(events, "register") if e["name"] == "__main__.hook_gone"]
    (unreg,) = of(events, "unregister")
    assert unreg["id"] == gone["id"] and unreg["name"] == "__main__.hook_gone"
    assert unreg["where"] == line_of("probe_hooks.py", "atexit.unregister(hook_gone)")
    started = [e["name"] for e in of(events, "hook-start")]
    assert "__main__.hook_gone" not in started
    assert started == ["__main__.hook_decorated", "__main__.hook_a"]


def test_a_descriptor_closed_and_reused_by_the_app_is_never_written(tmp_path):
    events_path, app_file = tmp_path / "events.jsonl", tmp_path / "app.log"
    proc = run("probe_hooks.py", "closefds", str(app_file), env=make_env(events_path))
    assert proc.returncode == 0, proc.stderr
    assert "app fd 3" in proc.stdout  # the number the probe's descriptor had
    assert "app file bytes 0" in proc.stdout and app_file.stat().st_size == 0
    events = events_of(events_path)
    assert [e["name"] for e in of(events, "register")] == ["__main__.hook_a"]  # reopened
    assert events[-1]["ev"] == "atexit-done"


def test_names_of_partials_bound_methods_lambdas_and_callable_objects(tmp_path):
    events_path = tmp_path / "events.jsonl"
    proc = run("probe_hooks.py", "names", env=make_env(events_path))
    assert proc.returncode == 0, proc.stderr
    assert "hook_args ran (1, 2) {'key': 'v'}" in proc.stdout  # args and kwargs still reach it
    names = [e["name"] for e in of(events_of(events_path), "register")]
    assert names == ["functools.partial(__main__.hook_args)", "__main__.Server.close", "__main__.<lambda>",
                     "__main__.Closer.__call__"]
    assert [e["name"] for e in of(events_of(events_path), "hook-end")] == names[::-1]


# ---------------------------------------------------------------- signals


def test_signal_installs_are_recorded_and_nothing_else_changes(tmp_path):
    events_path = tmp_path / "events.jsonl"
    probed = run("probe_signals.py", env=make_env(events_path))
    plain = run("probe_signals.py", env=make_env(None, probe=False))
    assert probed.returncode == plain.returncode == 0, probed.stderr
    assert (probed.stdout, probed.stderr) == (plain.stdout, plain.stderr)
    assert "returned on_term" in probed.stdout  # signal.signal still returns the old handler
    assert "before SigCgt:" in probed.stdout and "before active threads 1" in probed.stdout

    sigs = of(events_of(events_path), "signal")
    got = [(e["signum"], e["signal"], e["handler"], e["error"]) for e in sigs]
    assert got == [
        (signal.SIGTERM, "SIGTERM", "__main__.on_term", None),
        (signal.SIGHUP, "SIGHUP", "SIG_IGN", None),
        (signal.SIGTERM, "SIGTERM", "SIG_DFL", None),
        (4242, None, "SIG_DFL", "ValueError: signal number out of range"),
    ]
    assert sigs[0]["where"] == line_of("probe_signals.py", "signal.signal(signal.SIGTERM, on_term)")
    assert sigs[3]["where"] == line_of("probe_signals.py", "signal.signal(4242, signal.SIG_DFL)")
    assert not any(e["stdlib"] for e in sigs)


# ---------------------------------------------------------------- processes


def test_a_forked_child_reports_its_start_and_runs_inherited_hooks_under_its_pid(tmp_path):
    events_path = tmp_path / "events.jsonl"
    proc = run("probe_fork.py", env=make_env(events_path))
    assert proc.returncode == 0, proc.stderr
    parent, child = pid_line(proc.stdout, "parent"), pid_line(proc.stdout, "child")
    events = events_of(events_path)
    (fork_start,) = [e for e in of(events, "start") if e["how"] == "fork"]
    assert (fork_start["pid"], fork_start["ppid"]) == (child, parent)
    # the child's argv is its parent's: the probe leaves it out (a fork stays cheap) and
    # the harness's reading fills it in
    assert fork_start["argv"] is None and fork_start["executable"] is None
    argv = of(events, "start", parent)[0]["argv"]
    assert argv == [PYTHON, str(TARGETS / "probe_fork.py")]
    assert ProbeReport.load(str(events_path)).starts[child]["argv"] == argv
    (reg,) = of(events, "register")
    assert reg["pid"] == parent
    for pid in (parent, child):
        (start,) = [e for e in of(events, "hook-start", pid) if e["name"] == "__main__.inherited_hook"]
        assert start["id"] == reg["id"]
        assert of(events, "hook-end", pid) and of(events, "atexit-done", pid)


def _run_mp(tmp_path, method: str):
    """probe_mp.py with one start method: its output, the two pids and the events."""
    events_path = tmp_path / "events.jsonl"
    proc = run("probe_mp.py", method, env=make_env(events_path))
    assert proc.returncode == 0, proc.stderr
    parent = pid_line(proc.stdout, "parent")
    m = re.search(r"^child (\d+) 0$", proc.stdout, re.M)
    assert m, proc.stdout
    return proc, parent, int(m.group(1)), events_of(events_path)


def test_a_spawned_multiprocessing_child_is_probed_and_runs_its_hooks(tmp_path):
    proc, parent, child, events = _run_mp(tmp_path, "spawn")
    (start,) = of(events, "start", child)
    assert start["how"] == "exec" and start["ppid"] == parent
    assert "--multiprocessing-fork" in start["argv"]
    names = [e["name"] for e in of(events, "hook-start", child)]
    assert "__mp_main__.child_hook" in names
    assert "__main__.main_hook" not in names  # registered under `if __name__ == "__main__"`
    assert f"child_hook ran in {child}" in proc.stdout
    assert of(events, "atexit-done", child)


def test_a_forked_multiprocessing_child_never_runs_the_hooks_it_inherited(tmp_path):
    proc, parent, child, events = _run_mp(tmp_path, "fork")
    (start,) = of(events, "start", child)
    assert start["how"] == "fork" and start["ppid"] == parent
    # (3.13's child also registers multiprocessing.util._exit_function itself)
    assert [e["name"] for e in of(events, "register", child) if not e["stdlib"]] == ["__main__.child_hook"]
    started = [e["name"] for e in of(events, "hook-start", child)]
    assert "__main__.main_hook" not in started  # inherited, never run: the child ends with os._exit
    assert "__main__.main_hook" in [e["name"] for e in of(events, "hook-start", parent)]
    if PY_VERSION >= (3, 13):
        # 3.13: the child clears what it inherited, then runs its own callables itself
        (clear,) = of(events, "atexit-clear", child)
        assert "multiprocessing" in clear["where"] and clear["stdlib"]
        assert started == ["__main__.child_hook", "multiprocessing.util._exit_function"]
        assert f"child_hook ran in {child}" in proc.stdout
        assert of(events, "atexit-done", child)  # the probe's sentinel survives the clear
    else:
        assert started == [] and not of(events, "atexit-clear") and not of(events, "atexit-done", child)
        assert "child_hook ran" not in proc.stdout
    # multiprocessing calls threading._shutdown() itself in the child: a finalize
    # event with a Python caller, though the interpreter never finalizes there
    (fin,) = of(events, "finalize", child)
    assert "multiprocessing" in fin["caller"]


# ---------------------------------------------------------------- sitecustomize chaining


def app_sitecustomize(tmp_path: Path) -> Path:
    folder = tmp_path / "app_site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import os\nprint('APP SITECUSTOMIZE RAN')\nAPP_MARKER = 'app'\nos.environ['APP_SITECUSTOMIZE'] = '1'\n")
    return folder


def test_the_apps_own_sitecustomize_still_runs_once_and_is_the_module(tmp_path):
    events_path, folder = tmp_path / "events.jsonl", app_sitecustomize(tmp_path)
    proc = run("probe_chain.py", "--import-sitecustomize", env=make_env(events_path, after=[folder]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.count("APP SITECUSTOMIZE RAN") == 1
    assert f"sitecustomize {folder / 'sitecustomize.py'}" in proc.stdout
    assert "marker app 1" in proc.stdout
    events = events_of(events_path)
    assert of(events, "start") and [e["name"] for e in of(events, "hook-start")] == ["__main__.hook"]


def test_an_error_in_the_apps_sitecustomize_is_reported_as_site_does(tmp_path):
    folder = tmp_path / "app_site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text("raise RuntimeError('app site broken')\n")
    probed = run("probe_chain.py", env=make_env(tmp_path / "events.jsonl", after=[folder]))
    plain = run("probe_chain.py", env=make_env(None, probe=False, after=[folder]))
    assert probed.returncode == plain.returncode == 0
    assert probed.stderr == plain.stderr == (
        "Error in sitecustomize; set PYTHONVERBOSE for traceback:\nRuntimeError: app site broken\n")
    assert of(events_of(tmp_path / "events.jsonl"), "hook-end")  # the probe itself stayed on


def test_the_probe_without_an_events_file_does_nothing_but_chain(tmp_path):
    folder = app_sitecustomize(tmp_path)
    before = set(tmp_path.rglob("*"))
    proc = run("probe_chain.py", "--import-sitecustomize", env=make_env(None, after=[folder]), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.count("APP SITECUSTOMIZE RAN") == 1
    assert "marker app 1" in proc.stdout
    assert "atexit.register is builtin_function_or_method" in proc.stdout  # not patched
    assert "sys.excepthook is builtin_function_or_method" in proc.stdout
    assert set(tmp_path.rglob("*")) - before <= set(folder.rglob("*"))  # at most its __pycache__


def test_an_unwritable_events_file_switches_the_probe_off_silently(tmp_path):
    events_path = tmp_path / "missing" / "dir" / "events.jsonl"
    probed = run("probe_chain.py", env=make_env(events_path))
    plain = run("probe_chain.py", env=make_env(None, probe=False))
    assert probed.returncode == plain.returncode == 0
    assert (probed.stdout, probed.stderr) == (plain.stdout, plain.stderr)
    assert "atexit.register is builtin_function_or_method" in probed.stdout
    assert not events_path.parent.exists()


# ---------------------------------------------------------------- injected exits


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0, f"no line within {timeout} s (got {buf!r})"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            assert chunk, f"the target closed stdout early (got {buf!r})"
            buf += chunk
    return buf.decode()


@pytest.mark.parametrize("action, returncode, hooks_ran", [
    ("os-exit", 0, False),
    ("sys-exit", 0, True),
    ("exception", 1, True),
    ("segfault", -signal.SIGSEGV, False),
    ("abort", -signal.SIGABRT, False),
])
def test_injected_exits(tmp_path, action, returncode, hooks_ran):
    events_path = tmp_path / "events.jsonl"
    proc = subprocess.Popen([PYTHON, str(TARGETS / "probe_inject.py")], env=make_env(events_path, inject=action),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        line = read_line(proc, 20)
        assert line.startswith("ready "), line
        pid = int(line.split()[1])
        os.kill(proc.pid, INJECT_SIGNAL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out, err = out.decode(), err.decode()
    assert proc.returncode == returncode, (out, err)
    assert "not signalled" not in out
    events = events_of(events_path)
    assert {e["pid"] for e in events} == {pid}
    (inject,) = of(events, "inject")
    assert inject["action"] == action and inject["signum"] == INJECT_SIGNAL
    started = [e["name"] for e in of(events, "hook-start")]
    if hooks_ran:
        assert started == ["__main__.hook_a"] and "hook_a ran" in out
        # the target never imports threading: its atexit stage is the first sign of the
        # end (unless the interpreter imported threading at start-up on its own)
        assert [e["caller"] for e in of(events, "finalize")] == ([None] if imports_threading_at_start(PYTHON) else [])
        assert events[-1]["ev"] == "atexit-done"
    else:
        assert started == [] and "hook_a ran" not in out
        assert not of(events, "finalize") and not of(events, "atexit-done")
    excepthook = of(events, "excepthook")
    if action == "exception":
        assert [(e["type"], e["message"]) for e in excepthook] == [
            ("RuntimeError", "shutdown-probe injected exception")]
        assert "RuntimeError: shutdown-probe injected exception" in err
    else:
        assert excepthook == []
    assert not of(events, "signal")  # the probe's own handler is not an app install


def test_the_start_event_names_the_werkzeug_reloader_child(tmp_path):
    env = {**make_env(tmp_path / "events.jsonl"), "WERKZEUG_RUN_MAIN": "true"}
    proc = subprocess.run([PYTHON, "-c", "pass"], env=env, capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    (start,) = of(events_of(tmp_path / "events.jsonl"), "start")
    assert start["werkzeug_run_main"] == "true" and start["argv"] == [PYTHON, "-c", "pass"]


def test_the_inject_handler_is_only_installed_when_asked(tmp_path):
    code = "import signal; h = signal.getsignal(signal.SIGRTMIN + 7); print(h == signal.SIG_DFL, h)"
    env_off = make_env(tmp_path / "off.jsonl")
    env_on = make_env(tmp_path / "on.jsonl", inject="os-exit")
    off = subprocess.run([PYTHON, "-c", code], env=env_off, capture_output=True, text=True, timeout=30)
    on = subprocess.run([PYTHON, "-c", code], env=env_on, capture_output=True, text=True, timeout=30)
    assert off.stdout.startswith("True ")
    assert on.stdout.startswith("False <function _inject at")
