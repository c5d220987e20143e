"""The [hooks] and [triggers] tables, the actions a trigger or a preStop hook runs,
and ``paths``, which names built-in paths and triggers."""

from __future__ import annotations

import re
from typing import Any

from ..paths import BUILTIN_PATHS, SIGNAL_PATHS, Path, trigger_path
from ..patterns import shown
from .checks import Checker, did_you_mean, seg
from .specs import HOOK_KEYS, TRIGGER_KEYS, HookSpec, TriggerSpec


def parse_hooks(c: Checker, hooks: dict[str, Any]) -> dict[str, HookSpec]:
    out: dict[str, HookSpec] = {}
    for name, raw in hooks.items():
        where = f"hooks.{seg(name)}"
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
        timeout = c.seconds(table.get("timeout", 5.0), f"{where}.timeout")
        out[name] = parse_action(c, table, where, name, timeout=timeout)
    return out


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
        if name in BUILTIN_PATHS:
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
