"""The [profiles] table: a table-wide ``grace`` and one [profiles.NAME] per stop
profile path (its grace, its signal, docker's init, the k8s preStop action, when
double-ctrl-c sends its second Ctrl-C)."""

from __future__ import annotations

import re
import signal
from typing import Any

from ..paths import BUILTIN_PATHS, PROFILE_PATHS, Path
from .checks import Checker, did_you_mean, is_signal_name, seg, signal_hint, value_kind
from .parse_triggers import parse_action
from .specs import (ANY_ATEXIT, INIT_KINDS, PRE_STOP_KEYS, PROBE_HOOK_PREFIX, PROFILE_COMMON_KEYS,
                    PROFILE_OWN_KEYS, PROFILES_KEYS, TOP_KEYS, HookSpec, ProfileSettings, TriggerSpec,
                    profile_keys)


def parse_profiles(
    c: Checker, profiles: dict[str, Any], paths: tuple[Path, ...], hooks: dict[str, HookSpec],
    triggers: dict[str, TriggerSpec], *, probe: bool = True,
) -> dict[str, ProfileSettings]:
    """[profiles]: a table-wide ``grace`` and one [profiles.NAME] per stop profile.

    Returns merged settings (the table-wide grace filled in) for every profile path
    of the scenario that anything is configured for.
    """
    names = [p.name for p in paths]
    own_keys = _owners()
    for key in profiles:
        if key == "grace" or key in PROFILE_PATHS:
            continue
        full = f"profiles.{seg(key)}"
        if key in PROFILE_COMMON_KEYS or key in own_keys:
            hint = (f"; '{key}' is set per profile: write it under [profiles.NAME], e.g. "
                    f"[profiles.{own_keys[key][0] if key in own_keys else 'docker-stop'}]")
        elif key in BUILTIN_PATHS or key in triggers:
            hint = f"; path '{key}' is not a stop profile, only stop profiles take settings"
        else:
            hint = did_you_mean(key, PROFILES_KEYS)
        raise c.fail(full, f"unknown key{hint} (allowed here: grace, or a stop profile's name: "
                           f"{', '.join(PROFILE_PATHS)})", value=key, allowed=PROFILES_KEYS)

    with_grace = [n for n in names if _has_grace(n)]
    default_grace = None
    if "grace" in profiles:
        default_grace = c.seconds(profiles["grace"], "profiles.grace", zero_ok=True)
        if not with_grace:
            raise c.fail("profiles.grace", "applies to no path: none of this scenario's paths is a stop "
                                           "profile with a grace period (such as docker-stop); add one to "
                                           f"paths, or remove it (paths: {', '.join(names)})")

    out: dict[str, ProfileSettings] = {}
    for name, raw in profiles.items():
        if name == "grace":
            continue
        where = f"profiles.{seg(name)}"
        if isinstance(raw, dict) and any(k in TOP_KEYS for k in raw):
            # `paths = [...]` written below [profiles.NAME] lands in that table (and is
            # then missing from the top level): say so before anything else.
            c.keys(raw, profile_keys(name), where)
        if name not in names:
            raise c.fail(where, f"path '{name}' is not one of this scenario's paths; add it to paths, "
                                f"or remove [{where}] (paths: {', '.join(names)})", value=name, allowed=names)
        out[name] = _parse_profile(c, name, c.table(raw, where), where, own_keys, hooks,
                                   default_grace, probe=probe)
    if default_grace is not None:
        for name in with_grace:
            if name not in out:
                out[name] = ProfileSettings(grace=default_grace, grace_from="scenario")
    return out


def _owners() -> dict[str, list[str]]:
    """Each profile-own key -> the profiles that take it, in catalogue order."""
    out: dict[str, list[str]] = {}
    for owner, keys in PROFILE_OWN_KEYS.items():
        for key in keys:
            out.setdefault(key, []).append(owner)
    return out


def _parse_profile(
    c: Checker, name: str, table: dict[str, Any], where: str, own_keys: dict[str, list[str]],
    hooks: dict[str, HookSpec], default_grace: float | None, *, probe: bool,
) -> ProfileSettings:
    profile = BUILTIN_PATHS[name].profile
    assert profile is not None
    has_grace = profile.grace is not None
    allowed = profile_keys(name)
    for key in table:
        if key in allowed:
            continue
        full = f"{where}.{seg(key)}"
        if key == "grace" and not has_grace:
            raise c.fail(full, f"{name} never kills, so it has no grace period; how long the harness "
                               "waits for the app to end is app.stop_timeout")
        if key == "signal" and not has_grace:
            raise c.fail(full, f"{name} sends SIGINT, as a terminal's Ctrl-C does; its signal cannot be "
                               f"changed (allowed here: {', '.join(allowed)})")
        if key in own_keys:
            owners = " or ".join(f"[profiles.{o}]" for o in own_keys[key])
            raise c.fail(full, f"'{key}' is a setting of {owners} only "
                               f"(allowed here: {', '.join(allowed)})")
        c.keys({key: None}, allowed, where)  # unknown: did you mean...

    grace, grace_from = (default_grace, "scenario") if has_grace and default_grace is not None else (None, "default")
    if "grace" in table:
        grace, grace_from = c.seconds(table["grace"], f"{where}.grace", zero_ok=True), "scenario"
    signum = _parse_stop_signal(c, table["signal"], f"{where}.signal") if "signal" in table else None

    init = "auto"
    if "init" in table:
        init = c.string(table["init"], f"{where}.init")
        if init not in INIT_KINDS:
            own_path = {"dumb-init": "docker-stop-dumb-init", "tini-group": "docker-stop-tini-group",
                        "tini -g": "docker-stop-tini-group"}.get(init)
            hint = (f"; {init} forwards signals differently, so it is a path of its own: add "
                    f"'{own_path}' to paths" if own_path else did_you_mean(init, INIT_KINDS))
            raise c.fail(f"{where}.init", f"expected one of {', '.join(INIT_KINDS)}, got {init!r}{hint}",
                         value=init, allowed=INIT_KINDS)

    pre_stop = None
    if "pre_stop" in table:
        key = f"{where}.pre_stop"
        action = c.table(table["pre_stop"], key)
        if "timeout" in action:
            raise c.fail(f"{key}.timeout", "the preStop action's timeout is not configurable: it runs "
                                           f"inside the grace period, which bounds it (set {where}.grace)")
        c.keys(action, PRE_STOP_KEYS, key)
        effective = grace if grace is not None else profile.grace
        assert effective is not None  # pre_stop is k8s-delete's, a profile with a grace period
        pre_stop = parse_action(c, action, key, "pre-stop", timeout=effective)

    after = None
    if "after" in table:
        after = c.seconds(table["after"], f"{where}.after", zero_ok=True)
    when = None
    if "when" in table:
        when = _parse_when(c, table["when"], f"{where}.when", hooks, probe=probe)
    if after is not None and when is not None:
        raise c.fail(where, "expected at most one of after (seconds after the first Ctrl-C) or when "
                            "(a hook whose start sends the second), got both")
    exec_stop: tuple[TriggerSpec, ...] = ()
    if "exec_stop" in table:
        effective = grace if grace is not None else profile.grace
        assert effective is not None  # exec_stop is the systemd paths', which have a grace
        exec_stop = _parse_exec_stop(c, table["exec_stop"], f"{where}.exec_stop", effective)
    return ProfileSettings(grace, grace_from, signum, init, pre_stop, after, when, exec_stop)


def _parse_exec_stop(c: Checker, value: Any, key: str, timeout: float) -> tuple[TriggerSpec, ...]:
    """ExecStop=: one command (an argv list) or several (a list of argv lists), run in order."""
    if not isinstance(value, list) or not value:
        got = "an empty list" if value == [] else value_kind(value)
        raise c.fail(key, "expected a command as an argv list, such as ['{python}', 'stop.py'], or a list "
                          f"of such commands, run in order; got {got}", value=value)
    several = all(isinstance(v, list) for v in value)
    commands = value if several else [value]
    out = []
    for n, raw in enumerate(commands):
        where = f"{key}[{n}]" if several else key
        argv = tuple(c.template(a, where) for a in c.string_list(raw, where))
        if not argv:
            raise c.fail(where, "is empty: expected a command as an argv list")
        out.append(TriggerSpec("exec-stop", command=argv, timeout=timeout))
    return tuple(out)


def _has_grace(name: str) -> bool:
    """Whether path ``name`` is a stop profile with a grace period to set."""
    path = BUILTIN_PATHS.get(name)
    return path is not None and path.profile is not None and path.profile.grace is not None


def _parse_stop_signal(c: Checker, value: Any, key: str) -> int:
    if not isinstance(value, str):
        raise c.fail(key, f"expected a signal name such as 'SIGTERM' or 'SIGQUIT', got {value_kind(value)}",
                     value=value)
    if not is_signal_name(value):
        hint = signal_hint(value)
        if re.fullmatch(r"SIGRT(MIN|MAX)[+-]\d+", value):
            hint = "; real-time signals are named here only as SIGRTMIN or SIGRTMAX, without an offset"
        raise c.fail(key, f"unknown signal name {value!r}{hint} "
                          "(expected a signal name such as 'SIGTERM' or 'SIGQUIT')", value=value)
    if value == "SIGKILL":
        raise c.fail(key, "SIGKILL is not a stop signal: it cannot be caught, so no cleanup can run; the "
                          "profile sends SIGKILL itself when the grace runs out (grace = 0 kills at once)",
                     value=value)
    if value == "SIGSTOP":
        raise c.fail(key, "SIGSTOP is not a stop signal: it cannot be caught and only pauses the process "
                          "(expected a signal the app can handle, such as 'SIGTERM' or 'SIGQUIT')",
                     value=value)
    return int(signal.Signals[value])


def _parse_when(c: Checker, value: Any, key: str, hooks: dict[str, HookSpec], *, probe: bool) -> str:
    when = c.string(value, key)
    if when in hooks:
        return when
    is_probe_hook = when.startswith(PROBE_HOOK_PREFIX) and len(when) > len(PROBE_HOOK_PREFIX)
    if when == ANY_ATEXIT or is_probe_hook:
        if not probe:
            what = ("'atexit' (the first atexit hook any process starts)" if when == ANY_ATEXIT
                    else f"'{when}'")
            raise c.fail(key, f"{what} is a hook the Python probe finds, which app.probe = false turns "
                              "off; name a hook declared under [hooks]")
        return when
    hint = did_you_mean(when, list(hooks) + [ANY_ATEXIT])
    have = ", ".join(hooks) if hooks else "none"
    raise c.fail(key, f"unknown hook '{when}'{hint} (expected a hook declared under [hooks] (defined: "
                      f"{have}), 'atexit:NAME' for a probe hook, or 'atexit' for the first atexit hook "
                      "any process starts)", value=when, allowed=[*hooks, ANY_ATEXIT])

