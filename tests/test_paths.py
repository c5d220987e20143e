"""The path catalogue: its names and meanings are a contract (design.md)."""

from __future__ import annotations

import signal

import pytest

from shutdown_probe.paths import BUILTIN_PATHS, SIGNAL_PATHS, signal_name, trigger_path

# design.md, "Built-in termination paths": name -> (who receives it, what it sends)
CONTRACT = {
    "sigint": ("root", signal.SIGINT),
    "sigterm": ("root", signal.SIGTERM),
    "sighup": ("root", signal.SIGHUP),
    "sigquit": ("root", signal.SIGQUIT),
    "sigkill": ("root", signal.SIGKILL),
    "sigint-child": ("child", signal.SIGINT),
    "sigterm-child": ("child", signal.SIGTERM),
    "sigkill-child": ("child", signal.SIGKILL),
    "ctrl-c": ("group", signal.SIGINT),
    "sigterm-group": ("group", signal.SIGTERM),
    "os-exit": ("trigger", None),
    # issue 4: exits the Python probe performs inside the serving process
    "inject-os-exit": ("worker", signal.SIGRTMIN + 7),
    "inject-sys-exit": ("worker", signal.SIGRTMIN + 7),
    "inject-exception": ("worker", signal.SIGRTMIN + 7),
    "inject-segfault": ("worker", signal.SIGRTMIN + 7),
    "inject-abort": ("worker", signal.SIGRTMIN + 7),
}


def test_builtin_names_are_the_documented_ones():
    assert list(BUILTIN_PATHS) == list(CONTRACT)


@pytest.mark.parametrize("name", list(CONTRACT))
def test_builtin_path_meaning(name):
    path = BUILTIN_PATHS[name]
    assert path.name == name
    assert (path.target, path.signal) == CONTRACT[name]
    assert path.needs_trigger is (CONTRACT[name][0] == "trigger")
    assert path.summary.strip()


def test_default_paths_are_every_signal_path_in_catalogue_order():
    assert SIGNAL_PATHS == tuple(n for n, (target, _) in CONTRACT.items() if target not in ("trigger", "worker"))


def test_inject_paths_name_their_action():
    for name, (target, _) in CONTRACT.items():
        assert (BUILTIN_PATHS[name].inject == name.removeprefix("inject-")) is (target == "worker")


def test_trigger_path_from_a_scenario_table():
    path = trigger_path("reload")
    assert (path.name, path.target, path.signal, path.needs_trigger) == ("reload", "trigger", None, True)
    assert "reload" in path.summary


@pytest.mark.parametrize(
    "signum, name",
    [(9, "SIGKILL"), (15, "SIGTERM"), (2, "SIGINT"), (None, None), (200, "signal 200"),
     (signal.SIGRTMIN + 7, "SIGRTMIN+7")],
    ids=["9", "15", "2", "none", "unknown-number", "realtime"],
)
def test_signal_name(signum, name):
    assert signal_name(signum) == name
