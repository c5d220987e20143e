"""The path catalogue: its names and meanings are a contract (design.md)."""

from __future__ import annotations

import signal

import pytest

from shutdown_probe.paths import BUILTIN_PATHS, RELOAD_PATHS, SIGNAL_PATHS, signal_name, trigger_path

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
    # issue 21: reloads, expecting the app to stay
    "sighup-reload": ("root", signal.SIGHUP),
    "touch-reload": ("touch", None),
    # issue 5: deployment stop profiles (the stop signal; the profile says the rest)
    "docker-stop": ("profile", signal.SIGTERM),
    "docker-stop-init": ("profile", signal.SIGTERM),
    # issue 20: the inits and stopper variants users deploy with
    "docker-stop-tini-group": ("profile", signal.SIGTERM),
    "docker-stop-dumb-init": ("profile", signal.SIGTERM),
    "k8s-delete": ("profile", signal.SIGTERM),
    "systemd-stop": ("profile", signal.SIGTERM),
    "systemd-stop-mixed": ("profile", signal.SIGTERM),
    "systemd-stop-process": ("profile", signal.SIGTERM),
    "supervisor-stop": ("profile", signal.SIGTERM),
    "supervisor-stop-group": ("profile", signal.SIGTERM),
    "supervisor-stop-killasgroup": ("profile", signal.SIGTERM),
    "heroku-stop": ("profile", signal.SIGTERM),
    "double-ctrl-c": ("profile", signal.SIGINT),
}

# semantics.md section C, per profile: (who gets the signal, what the stopper waits
# for, who is killed, default grace in seconds, PID 1)
PROFILES = {
    "docker-stop": ("pid1", "all", "all", 10.0, "app"),
    "docker-stop-init": ("pid1", "all", "all", 10.0, "init"),
    "docker-stop-tini-group": ("pid1", "all", "all", 10.0, "init"),
    "docker-stop-dumb-init": ("pid1", "all", "all", 10.0, "init"),
    "k8s-delete": ("pid1", "all", "all", 30.0, "app"),
    "systemd-stop": ("all", "all", "all", 90.0, None),
    # systemd.kill(5): mixed = SIGTERM to the main process, SIGKILL to all that is left;
    # process = only the main process is signalled and killed
    "systemd-stop-mixed": ("root", "all", "all", 90.0, None),
    "systemd-stop-process": ("root", "root", "root", 90.0, None),
    "supervisor-stop": ("root", "root", "root", 10.0, None),
    "supervisor-stop-group": ("group", "root", "group", 10.0, None),
    # Celery's extra/supervisord/celeryd.conf: killasgroup=true, stopasgroup unset
    "supervisor-stop-killasgroup": ("root", "root", "group", 10.0, None),
    "heroku-stop": ("all", "all", "all", 30.0, None),
    "double-ctrl-c": ("group", "all", "none", None, None),
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
    assert SIGNAL_PATHS == tuple(n for n, (target, _) in CONTRACT.items()
                                 if target not in ("trigger", "worker", "profile")
                                 and not n.endswith("-reload"))


def test_reload_paths_are_opt_in():
    assert RELOAD_PATHS == ("sighup-reload", "touch-reload")
    assert all(BUILTIN_PATHS[n].reload for n in RELOAD_PATHS)
    assert not set(RELOAD_PATHS) & set(SIGNAL_PATHS)


@pytest.mark.parametrize("name", list(PROFILES))
def test_stop_profile_semantics(name):
    profile = BUILTIN_PATHS[name].profile
    assert profile is not None
    assert (profile.to, profile.waits_for, profile.kill, profile.grace, profile.pid1) == PROFILES[name]
    assert profile.sigcont is name.startswith("systemd-stop")
    assert profile.exec_stop is name.startswith("systemd-stop")
    # systemd's src/core/service.c: once the main process has exited, mixed SIGKILLs what
    # is left at once, control-group SIGTERMs it again (the final SIGTERM) first
    assert profile.after_main == {"systemd-stop-mixed": "kill", "systemd-stop": "final-sigterm"}.get(name, "wait")
    assert profile.init == {"docker-stop-init": "tini", "docker-stop-tini-group": "tini-group",
                            "docker-stop-dumb-init": "dumb-init"}.get(name)
    assert profile.pre_stop is (name == "k8s-delete")
    assert profile.repeat is (name == "double-ctrl-c")
    assert profile.source.strip() and profile.stopper.strip()


def test_only_profile_paths_have_a_profile():
    assert {n for n, p in BUILTIN_PATHS.items() if p.profile} == set(PROFILES)


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
