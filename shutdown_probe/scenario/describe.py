"""The text ``shutdown-probe check`` prints: what a scenario will do, without running it."""

from __future__ import annotations

import shlex

from ..paths import Path, signal_name
from .model import Scenario
from .specs import ANY_ATEXIT, ReadyCheck


def ready_words(ready: ReadyCheck) -> str:
    """A ready check in a few words, as `check` prints it."""
    if ready.kind == "listening":
        return "a TCP port a process of the app listens on and accepts on" + (
            f", or else {ready.quiet:g} s without output" if ready.quiet is not None else "")
    if ready.kind == "quiet":
        return f"{ready.value:g} s without output" if isinstance(ready.value, float) else f"quiet {ready.value}"
    return f"{ready.kind} {ready.value}" + (f" ({ready.count} lines)" if ready.count > 1 else "")


def describe(scenario: Scenario) -> list[str]:
    """The lines `check` prints for ``scenario``: its command, readiness, traffic,
    hooks, probe, and one line per case."""
    lines = [f"{scenario.name}: {scenario.description}".rstrip(": ")]
    cmd = scenario.app.command
    lines.append("  command: " + (cmd if isinstance(cmd, str) else shlex.join(cmd)))
    ready = scenario.app.ready
    lines.append(f"  ready:   {ready_words(ready)}" if ready else "  ready:   as soon as started")
    for svc in scenario.services.values():
        check = f"ready {svc.ready.kind} {svc.ready.value}" if svc.ready else "ready as soon as started"
        lines.append(f"  service: {svc.name} (scope {svc.scope}): {shlex.join(svc.command)}; {check}")
    if scenario.traffic is not None:
        t = scenario.traffic
        lines.append(f"  traffic: {t.in_flight} in flight" + (f" + {t.queued} queued" if t.queued else "")
                     + f" to {t.url}; "
                     + (f"new requests for {t.window:g} s" if t.sends_new else "no new requests")
                     + (f" on {', '.join(t.paths)}" if t.paths is not None else ""))
    lines.append(f"  hooks:   {', '.join(scenario.hooks) or 'none'}")
    for spec in scenario.verify.values():
        lines.append(f"  check:   {spec.name} (after each case, within {spec.timeout:g} s): {shlex.join(spec.command)}")
    probe = {None: "on when the command runs Python (finds atexit:* hooks by itself)",
             True: "on", False: "off"}[scenario.app.probe]
    lines.append(f"  probe:   {probe}")
    for path in scenario.paths:
        exp = scenario.expect.get(path.name)
        line = f"  case {path.name:<14} {path.summary}"
        if path.profile is not None:
            line += f"  [{_describe_profile(scenario, path)}]"
        lines.append(line + ("  [expectations]" if exp else ""))
    return lines


def _describe_profile(scenario: Scenario, path: Path) -> str:
    """``grace 2 s, scenario; SIGQUIT; init tini`` - what this scenario makes of a profile."""
    s = scenario.profile_settings(path.name)
    parts = []
    if s.grace is not None:
        parts.append(f"grace {s.grace:g} s" + (", scenario" if s.grace_from == "scenario" else ""))
    if s.signal is not None:
        parts.append(signal_name(s.signal) or str(s.signal))
    if s.init != "auto":
        parts.append(f"init {s.init}")
    if s.pre_stop is not None:
        action = s.pre_stop.http if s.pre_stop.http else shlex.join(s.pre_stop.command or ())
        parts.append("preStop " + (f"{s.pre_stop.method} {action}" if s.pre_stop.http else action))
    if path.profile is not None and path.profile.repeat:
        if s.after is not None:
            parts.append(f"second Ctrl-C after {s.after:g} s")
        elif s.when == ANY_ATEXIT and s.when not in scenario.hooks:
            parts.append("second Ctrl-C when the first atexit hook starts")
        elif s.when is not None:
            parts.append(f"second Ctrl-C when {s.when} starts")
        else:
            parts.append("second Ctrl-C: default")
    return "; ".join(parts)

