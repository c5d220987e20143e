"""A [triggers.NAME] table may send a signal to chosen processes (issue 20, item 1):
the TOML shape loads into the path and the spec, and every hostile value is one
ScenarioError naming its key. Also the argv test that keeps multiprocessing's helpers
from being taken for workers, checked against CPython's own command lines."""

from __future__ import annotations

import inspect
import os
import re
import signal
from multiprocessing import forkserver, resource_tracker, spawn

import pytest

from shutdown_probe.errors import ScenarioError
from shutdown_probe.mphelpers import FORKSERVER, RESOURCE_TRACKER, mp_helper
from shutdown_probe.scenario import AIM_TARGETS, load_scenario

APP = '[app]\ncommand = ["{python}", "-c", "pass"]\n'


def load(tmp_path, trigger: str, paths: str = '["poke"]'):
    path = tmp_path / "s.toml"
    path.write_text(f"paths = {paths}\n{APP}[triggers.poke]\n{trigger}\n")
    return load_scenario(path, shown="s.toml")


def error(tmp_path, trigger: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as excinfo:
        load(tmp_path, trigger)
    return excinfo.value


@pytest.mark.parametrize("text, signum, whom", [
    ('signal = "SIGKILL"\nto = "busy"', signal.SIGKILL, "busy"),
    ('signal = "SIGTTIN"\nto = "every-worker"', signal.SIGTTIN, "every-worker"),
    ('signal = "SIGUSR1"\nrole = "worker"', signal.SIGUSR1, "role='worker'"),
    ('signal = 1\ncmdline = "celery.*worker"\nnth = 2', signal.SIGHUP, "cmdline='celery.*worker' nth=2"),
    ('signal = "SIGRTMIN+2"\nnth = 3', signal.SIGRTMIN + 2, "nth=3"),
    ('signal = "SIGTTOU"\nto = "group"', signal.SIGTTOU, "group"),
])
def test_a_signal_trigger_becomes_an_aimed_path(tmp_path, text, signum, whom):
    sc = load(tmp_path, text)
    (path,) = sc.paths
    assert (path.name, path.target, path.signal, path.needs_trigger) == ("poke", "aim", signum, False)
    trigger = sc.triggers["poke"]
    assert trigger.signal == signum and trigger.http is None and trigger.command is None
    assert trigger.aim is not None and trigger.aim.describe() == whom
    assert whom in path.summary


def test_every_named_target_loads(tmp_path):
    for to in AIM_TARGETS:
        assert load(tmp_path, f'signal = "SIGTERM"\nto = "{to}"').triggers["poke"].aim.to == to


def test_a_signal_trigger_named_os_exit_is_a_signal_not_an_action(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'{APP}[triggers.os-exit]\nsignal = "SIGKILL"\nto = "root"\n')
    sc = load_scenario(path)
    assert [(p.name, p.target) for p in sc.paths if p.name == "os-exit"] == [("os-exit", "aim")]


@pytest.mark.parametrize("text, key, words", [
    ('signal = "SIGKIL"\nto = "root"', "triggers.poke.signal", "did you mean 'SIGKILL'?"),
    ('signal = "kill"\nto = "root"', "triggers.poke.signal", "did you mean 'SIGKILL'?"),
    ('signal = 0\nto = "root"', "triggers.poke.signal", "expected a signal number"),
    ('signal = 65\nto = "root"', "triggers.poke.signal", "expected a signal number"),
    ('signal = -9\nto = "root"', "triggers.poke.signal", "expected a signal number"),
    ('signal = 32\nto = "root"', "triggers.poke.signal", "except"),
    ('signal = true\nto = "root"', "triggers.poke.signal", "a boolean"),
    ('signal = 9.0\nto = "root"', "triggers.poke.signal", "whole signal number"),
    ('signal = "SIGRTMIN+99"\nto = "root"', "triggers.poke.signal", "unknown signal"),
    ('signal = "SIGKILL\\u0000"\nto = "root"', "triggers.poke.signal", "unknown signal"),
    ('signal = "SIGKILL"', "triggers.poke", "needs a target"),
    ('signal = "SIGKILL"\nto = "bussy"', "triggers.poke.to", "did you mean 'busy'?"),
    ('signal = "SIGKILL"\nto = 3', "triggers.poke.to", "expected a string"),
    ('signal = "SIGKILL"\nto = "busy"\nnth = 2', "triggers.poke.nth", "not both"),
    ('signal = "SIGKILL"\nto = "idle"\nrole = "worker"', "triggers.poke.role", "not both"),
    ('signal = "SIGKILL"\nnth = 0', "triggers.poke.nth", "from 1 to 1000"),
    ('signal = "SIGKILL"\nnth = 1001', "triggers.poke.nth", "from 1 to 1000"),
    ('signal = "SIGKILL"\nnth = "2"', "triggers.poke.nth", "a string"),
    ('signal = "SIGKILL"\nnth = true', "triggers.poke.nth", "a boolean"),
    ('signal = "SIGKILL"\nrole = ""', "triggers.poke.role", "1 to 100 printable"),
    ('signal = "SIGKILL"\nrole = "a\\nb"', "triggers.poke.role", "1 to 100 printable"),
    ('signal = "SIGKILL"\nrole = ["worker"]', "triggers.poke.role", "expected a string"),
    ('signal = "SIGKILL"\ncmdline = "(unclosed"', "triggers.poke.cmdline", "invalid regex"),
    ('signal = "SIGKILL"\ncmdline = "a{30001}"', "triggers.poke.cmdline", "too large"),
    ('signal = "SIGKILL"\nto = "root"\nhttp = "http://127.0.0.1:{port}/"', "triggers.poke.http", "exactly one of"),
    ('signal = "SIGKILL"\nto = "root"\ncommand = ["true"]', "triggers.poke.command", "exactly one of"),
    ('signal = "SIGKILL"\nto = "root"\ntimeout = 3', "triggers.poke.timeout", "exactly one of"),
    ('command = ["true"]\nto = "busy"', "triggers.poke.to", "only a signal trigger"),
    ('http = "http://127.0.0.1:{port}/"\nnth = 1', "triggers.poke.nth", "only a signal trigger"),
    ('signal = "SIGKILL"\nto = "root"\nwhom = "x"', "triggers.poke.whom", "unknown key"),
])
def test_a_hostile_value_is_one_error_on_its_key(tmp_path, text, key, words):
    err = error(tmp_path, text)
    assert err.key == key
    assert words in err.message
    assert "\n" not in str(err)


def test_the_spawn_start_methods_children_are_not_helpers():
    """spawn.get_command_line is the argv CPython gives every spawned child."""
    argv = spawn.get_command_line(tracker_fd=5, pipe_handle=7)
    assert "--multiprocessing-fork" in argv
    assert mp_helper(" ".join(os.fsdecode(a) for a in argv)) is None


def _code_literal(function: object) -> str:
    """The ``-c`` code a CPython function starts a helper with, from its own source."""
    source = inspect.getsource(function)  # type: ignore[arg-type]
    m = re.search(r"cmd = \(?'(from multiprocessing\.[a-z_]+ import main;[^']*)'", source)
    assert m, source
    return m.group(1)


def test_the_resource_tracker_and_the_forkserver_are_helpers():
    """Their argv as ensure_running builds it: ``exe [flags] -c CODE``, with CODE as
    the running CPython writes it (read from its source, filled as it fills it)."""
    tracker = _code_literal(resource_tracker.ResourceTracker.ensure_running) % 5
    assert mp_helper(f"/usr/bin/python3 -c {tracker}") == RESOURCE_TRACKER
    assert mp_helper(f"/usr/bin/python3 -X dev -W error -c {tracker}") == RESOURCE_TRACKER
    server = _code_literal(forkserver.ForkServer.ensure_running)
    assert server.startswith("from multiprocessing.forkserver import main;")
    argv = f"/usr/bin/python3 -c {server}main(3, 4, ['__main__'], **{{'sys_path': ['/app']}})"
    assert mp_helper(argv, "/usr/bin/python3 app.py") == FORKSERVER
    # the forkserver's children keep its argv: a process whose parent has it is a child
    assert mp_helper(argv, argv) is None


def test_other_command_lines_are_not_helpers():
    for cmdline in ("python app.py", "gunicorn: worker [app]", "",
                    "python -c print('from multiprocessing.resource_tracker import main;main(1)')x",
                    "python tracker.py multiprocessing.resource_tracker"):
        assert mp_helper(cmdline) is None, cmdline
