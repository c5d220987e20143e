"""The [hooks] and [triggers] tables, the actions a trigger or a preStop hook runs,
a signal trigger's signal and target, and ``paths``, which names built-in paths and
triggers."""

from __future__ import annotations

import re
import signal
from typing import Any

from ..paths import BUILTIN_PATHS, SIGNAL_PATHS, Path, aimed_path, trigger_path
from ..patterns import shown
from .checks import Checker, did_you_mean, is_signal_name, seg, signal_hint, value_kind
from .specs import AIM_KEYS, AIM_TARGETS, HOOK_KEYS, TRIGGER_KEYS, AimSpec, HookSpec, TriggerSpec


def parse_hooks(c: Checker, hooks: dict[str, Any]) -> dict[str, HookSpec]:
    """``[hooks]``: a table per hook with ``log`` (a regex) or ``file`` (a sentinel);
    a plain string is a log regex (``atexit = 'atexit ran'``), in a file as in code."""
    out: dict[str, HookSpec] = {}
    for name, raw in hooks.items():
        where = f"hooks.{seg(name)}"
        if isinstance(raw, str):
            out[name] = HookSpec(name, log=c.regex(raw, where))
            continue
        if not isinstance(raw, dict):
            raise c.fail(where, "expected a log regex (a string) or a table with log or file, "
                                f"got {value_kind(raw)}", value=raw)
        table = c.table(raw, where)
        c.keys(table, HOOK_KEYS, where)
        if len(table) != 1:
            raise c.fail(where, "expected exactly one of log (a regex) or file (a sentinel path)")
        if "log" in table:
            out[name] = HookSpec(name, log=c.regex(table["log"], f"{where}.log"))
        else:
            out[name] = HookSpec(name, file=c.template(table["file"], f"{where}.file"))
    return out


def parse_triggers(c: Checker, triggers: dict[str, Any]) -> dict[str, TriggerSpec]:
    out: dict[str, TriggerSpec] = {}
    for name, raw in triggers.items():
        where = f"triggers.{seg(name)}"
        if not name or "/" in name or not name.isprintable() or len(name.encode("utf-8", "replace")) > 100:
            # the name of a path: a case's private folder is named after it
            raise c.fail(where, "expected a trigger name of 1 to 100 bytes of printable characters, without '/'",
                         value=name)
        if name in BUILTIN_PATHS and not BUILTIN_PATHS[name].needs_trigger:
            # The built-in signal path would win and the trigger would never fire.
            raise c.fail(where, f"'{name}' is a built-in signal path; give the trigger another name "
                                "and list that name in paths", value=name)
        table = c.table(raw, where)
        c.keys(table, TRIGGER_KEYS, where)
        if "signal" in table:
            out[name] = parse_signal_trigger(c, table, where, name)
            continue
        stray = [k for k in AIM_KEYS if k in table]
        if stray:
            raise c.fail(f"{where}.{stray[0]}", "only a signal trigger (signal = ...) has a target; an http or "
                                                "command trigger acts on the app by itself", value=stray[0])
        timeout = c.seconds(table.get("timeout", 5.0), f"{where}.timeout")
        out[name] = parse_action(c, table, where, name, timeout=timeout)
    return out


def parse_signal_trigger(c: Checker, table: dict[str, Any], where: str, name: str) -> TriggerSpec:
    """``signal = ...`` and whom it goes to (see :class:`AimSpec`); keys already checked."""
    other = [k for k in ("http", "command", "method", "timeout") if k in table]
    if other:
        raise c.fail(f"{where}.{other[0]}", "expected exactly one of http (a URL), command (an argv list) or "
                                            "signal (a signal sent by the harness); this trigger has signal",
                     value=other[0])
    signum = parse_signal(c, table["signal"], f"{where}.signal")
    return TriggerSpec(name, signal=signum, aim=parse_aim(c, table, where))


def parse_signal(c: Checker, value: Any, key: str) -> int:
    """A signal name ('SIGKILL', 'SIGRTMIN+3') or number (9) this machine has."""
    valid = {int(s) for s in signal.valid_signals()}
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in valid:
            raise c.fail(key, f"expected a signal number this machine has (1 to {max(valid)}, "
                              f"except {', '.join(str(n) for n in range(1, max(valid)) if n not in valid)}), "
                              f"got {value}", value=value)
        return value
    if not isinstance(value, str):
        raise c.fail(key, f"expected a signal name such as 'SIGKILL' or a whole signal number such as 9, got "
                          f"{value_kind(value)}",
                     value=value)
    if is_signal_name(value):
        return int(signal.Signals[value])
    rt = re.fullmatch(r"SIGRT(MIN\+|MAX-)([0-9]{1,3})", value)
    if rt is not None:
        n = signal.SIGRTMIN + int(rt.group(2)) if rt.group(1) == "MIN+" else signal.SIGRTMAX - int(rt.group(2))
        if signal.SIGRTMIN <= n <= signal.SIGRTMAX:
            return int(n)
    raise c.fail(key, f"unknown signal {shown(value)}{signal_hint(value)} (expected a signal name such as "
                      f"'SIGKILL', 'SIGUSR1' or 'SIGRTMIN+2', or a number)", value=value)


def parse_aim(c: Checker, table: dict[str, Any], where: str) -> AimSpec:
    """``to``, or ``role``/``cmdline``/``nth``: exactly one way of choosing."""
    if "to" in table:
        both = [k for k in ("role", "cmdline", "nth") if k in table]
        if both:
            raise c.fail(f"{where}.{both[0]}", f"a signal trigger chooses its target with to, or with role, "
                                               f"cmdline and nth, not both (to = {table['to']!r} is given)",
                         value=both[0])
        return AimSpec(to=c.one_of(table["to"], AIM_TARGETS, f"{where}.to", hint=True))
    if not any(k in table for k in AIM_KEYS):
        raise c.fail(where, f"a signal trigger needs a target: to (one of {', '.join(AIM_TARGETS)}), or role "
                            "(a process role such as 'worker'), cmdline (a regex over the command line), "
                            "nth (the N-th worker by start time)")
    role = None
    if "role" in table:
        role = c.string(table["role"], f"{where}.role")
        if not role or not role.isprintable() or len(role) > 100:
            raise c.fail(f"{where}.role", "expected a role name of 1 to 100 printable characters, such as "
                                          "'worker', 'reloader-child' or 'child-2'", value=role)
    cmdline = c.regex(table["cmdline"], f"{where}.cmdline") if "cmdline" in table else None
    nth = None
    if "nth" in table:
        raw = table["nth"]
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 1000:
            raise c.fail(f"{where}.nth", f"expected a whole number from 1 to 1000 (1: the oldest), got "
                                         f"{value_kind(raw)}",
                         value=raw)
        nth = raw
    return AimSpec(role=role, cmdline=cmdline, nth=nth)


def parse_action(c: Checker, table: dict[str, Any], where: str, name: str, *,
                  timeout: float) -> TriggerSpec:
    """An HTTP request or a command (a trigger, a preStop action); keys already checked."""
    if ("http" in table) == ("command" in table):
        raise c.fail(where, "expected exactly one of http (a URL) or command (an argv list)")
    method = c.method(table, where)
    if "http" in table:
        url = c.template(table["http"], f"{where}.http")
        if not re.match(r"https?://", url):
            raise c.fail(f"{where}.http", f"expected an http:// or https:// URL, got {shown(url)}",
                         value=url)
        c.url(url, f"{where}.http")
        return TriggerSpec(name, http=url, method=method, timeout=timeout)
    argv = tuple(c.template(a, f"{where}.command")
                 for a in c.string_list(table["command"], f"{where}.command"))
    if not argv:
        raise c.fail(f"{where}.command", "is empty")
    return TriggerSpec(name, command=argv, timeout=timeout)


def parse_paths(c: Checker, raw: Any, triggers: dict[str, TriggerSpec]) -> tuple[Path, ...]:
    if raw is None:
        names = list(SIGNAL_PATHS) + (["os-exit"] if "os-exit" in triggers else [])
    else:
        names = c.string_list(raw, "paths")
        if not names:
            raise c.fail("paths", "is empty: list at least one path (see `shutdown-probe paths`)")
    out: list[Path] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise c.fail("paths", f"path '{name}' is listed twice", value=name)
        seen.add(name)
        trigger = triggers.get(name)
        if trigger is not None and trigger.signal is not None and trigger.aim is not None:
            out.append(aimed_path(name, trigger.signal, trigger.aim.describe()))
        elif name in BUILTIN_PATHS:
            path = BUILTIN_PATHS[name]
            if path.needs_trigger and name not in triggers:
                raise c.fail("paths", f"path '{name}' needs a [triggers.{name}] table, which is not defined",
                             value=name)
            out.append(path)
        elif name in triggers:
            out.append(trigger_path(name))
        else:
            known = list(BUILTIN_PATHS) + [t for t in triggers if t not in BUILTIN_PATHS]
            hint = did_you_mean(name, known)
            raise c.fail(
                "paths",
                f"unknown path '{name}'{hint} (built-in paths: {', '.join(BUILTIN_PATHS)}; "
                "or the name of a [triggers.NAME] table)",
                value=name, allowed=known,
            )
    return tuple(out)
