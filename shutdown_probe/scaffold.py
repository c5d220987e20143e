"""``shutdown-probe init``: a commented scenario file written from one watched run.

The app is run once along ``sigterm`` with the command line's ready check (by default:
any TCP port a process of it listens on, or else a pause in its output); what that
case recorded (its processes and their roles, the ports they listened on, the signals
they catch, the atexit callables the Python probe found, how long it took to get
ready) becomes a scenario file: the ready check that worked, the hooks, the paths
that fit the processes seen (``-child`` paths only when the root had a child), the
stop profiles as comments, and expectations, commented out, for the user to confirm.
Pure text from a :class:`~shutdown_probe.results.CaseResult`: nothing runs here.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from collections.abc import Iterable
from typing import Any

from .paths import BUILTIN_PATHS, INJECT_PATHS, PROFILE_PATHS, SIGNAL_PATHS
from .results import CaseResult, ProcessRecord

WATCHED_PATH = "sigterm"  # the one path init runs
CHILD_PATHS = tuple(p for p in SIGNAL_PATHS if BUILTIN_PATHS[p].target == "child")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_string(text: str) -> str:
    """``text`` as a TOML string: a literal '...' when it can be one (regexes read as
    written), else a basic string with every control character escaped."""
    if "'" not in text and "\n" not in text and not any(ord(ch) < 32 or ord(ch) == 127 for ch in text) \
            and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return f"'{text}'"
    return json.dumps(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), ensure_ascii=True)


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def has_children(case: CaseResult) -> bool:
    """Whether the root had a working child (what the ``-child`` paths signal)."""
    return any(p.role == "child" for p in case.processes)


def fitting_paths(case: CaseResult) -> list[str]:
    """The default signal paths, the ``-child`` ones only when the root had a child."""
    children = has_children(case)
    return [p for p in SIGNAL_PATHS if children or p not in CHILD_PATHS]


def scaffold(table: dict[str, Any], case: CaseResult, *, file_dir: str, app_dir: str) -> str:
    """The scenario file for ``table`` (the command line's TOML-equivalent mapping)
    after ``case`` watched it; ``file_dir`` is the folder the file goes to, ``app_dir``
    the folder the app ran in (the file's ``cwd`` is the way from one to the other)."""
    app = dict(table["app"])
    lines = ["# shutdown-probe scenario",
             "# Written by `shutdown-probe init` from one run of the app along sigterm; every",
             "# line below is a starting point: read it, change it, and uncomment what you mean.",
             f"# Command: {_comment(_command_text(app['command']))}", "#", "# What that run saw:"]
    lines += [f"#   {_comment(line)}" for line in observed(case)]
    lines += ["", f"name = {toml_string(str(table['name']))}",
              f"description = {toml_string('shutdown paths of ' + _command_text(app['command']))}",
              f"paths = {toml_value(fitting_paths(case))}"]
    if not has_children(case):
        lines.append(f"# (no {', '.join(CHILD_PATHS)}: the root had no child process in that run)")
    lines += _opt_in_paths(case)
    lines += ["", "[app]", f"command = {toml_value(app['command'])}"]
    if app.get("shell"):
        lines.append("shell = true")
    folder = os.path.normpath(os.path.join(app_dir, str(app.get("cwd", "."))))
    rel = os.path.relpath(folder, file_dir)
    if rel == ".." or rel.startswith("../"):  # outside the file's folder: where it is
        lines.append(f"cwd = {toml_string(folder)}")
    else:
        lines.append(f"cwd = {toml_string(rel)}   # relative to this file's folder")
    if "env" in app:
        lines.append(f"env = {toml_value(app['env'])}")
    lines += _ready_lines(app, case)
    for key in ("stop_timeout", "orphan_watch"):
        if key in app:
            lines.append(f"{key} = {toml_value(app[key])}")
    if app.get("probe") is False:
        lines.append("probe = false")
    lines += _hook_lines(table.get("hooks", {}), case)
    lines += _expect_lines(case, fitting_paths(case))
    return "\n".join(lines) + "\n"


def observed(case: CaseResult) -> list[str]:
    """What the watched run showed, a line each: readiness, processes, probe hooks."""
    out = []
    if case.outcome == "not-ready" or case.ready_s is None:
        out.append(f"the app never got ready: {case.error or 'no detail'}")
    else:
        out.append(f"ready after {case.ready_s:.2f} s")
    for p in case.processes:
        out.append(_process_line(p))
    probe = case.probe or {}
    if not probe.get("enabled"):
        out.append(f"Python probe: off ({probe.get('why') or 'not a Python app'}): atexit callables unseen")
    for name, hook in case.hooks.items():
        if hook.source == "probe":
            where = f" registered at {hook.where}" if hook.where else ""
            out.append(f"{name}{where}: {'ran' if hook.ran else 'did not run'} on sigterm")
    if case.outcome in ("not-ready", "error", "skipped", "interrupted"):
        return out  # no SIGTERM was sent
    end = case.exit.get("signal") or case.exit.get("returncode")
    out.append(f"on sigterm: outcome {case.outcome}" + (f", the root ended by {end}" if end is not None else "")
               + (f", orphans: {len(case.orphans)}" if case.orphans else ""))
    return out


def _process_line(p: ProcessRecord) -> str:
    parts = [f"pid {p.pid} {p.role}" + (f" ({p.kind})" if p.kind else "")]
    if p.listening:
        parts.append("listening on " + ", ".join(f":{port}" for port in p.listening))
    if p.signals_caught:
        parts.append("handles " + ", ".join(p.signals_caught))
    if p.signals_ignored:
        parts.append("ignores " + ", ".join(p.signals_ignored))
    return "; ".join(parts) + f": {p.cmdline[:100]}"


def _ready_lines(app: dict[str, Any], case: CaseResult) -> list[str]:
    ready = dict(app.get("ready", {}))
    ports = sorted({port for p in case.processes for port in p.listening})
    timeout = app.get("ready_timeout")
    if timeout is None and case.ready_s is not None:
        timeout = max(15, math.ceil(case.ready_s * 4))  # room for a loaded machine
    out = []
    if ready.get("listening") and "quiet" in ready:
        # keep only the half of the default check that worked in the watched run
        del ready["quiet" if ports else "listening"]
    why = f"   # it listened on :{ports[0]}" if ports and ready.get("listening") else ""
    out.append(f"ready = {toml_value(ready)}{why}")
    if ports and "http" not in ready:
        out.append(f"# or, asking it over HTTP: ready = {{ http = \"http://127.0.0.1:{ports[0]}/\" }}")
    if ports and not _mentions_port(app):
        out.append(f"# It listened on port {ports[0]}, a port it chose itself (not the harness's {{port}}): if")
        out.append("# that number is fixed in the app, two cases at once would both want it, so")
        out.append("# `shutdown-probe run` runs such a scenario's cases one at a time. To run them in")
        out.append("# parallel, give the app the harness's free port, e.g. env = { PORT = \"{port}\" }.")
    if timeout is not None:
        out.append(f"ready_timeout = {toml_value(timeout)}")
    return out


def _mentions_port(app: dict[str, Any]) -> bool:
    texts = [str(app.get("command"))] + [str(v) for v in dict(app.get("env", {})).values()]
    return any("{port}" in t for t in texts)


def _hook_lines(hooks: dict[str, Any], case: CaseResult) -> list[str]:
    out: list[str] = []
    for name, spec in hooks.items():
        out += ["", f"[hooks.{toml_key(name)}]"] + [f"{k} = {toml_value(v)}" for k, v in spec.items()]
    found = [name for name, hook in case.hooks.items() if hook.source == "probe"]
    out += ["", "# Hooks: a [hooks.NAME] table is proof that some cleanup ran, a line it prints"]
    out.append("# (log = 'REGEX') or a file it creates (file = \"{workdir}/flushed\").")
    if found:
        out.append("# The Python probe finds atexit callables by itself, a column each: " + ", ".join(found))
    else:
        out.append("# The Python probe found no atexit callable in that run.")
    if not hooks:
        out += ["# [hooks.cleanup]", "# log = 'cleanup done'"]
    return out


def _opt_in_paths(case: CaseResult) -> list[str]:
    python = bool((case.probe or {}).get("enabled"))
    out = ["# More paths, opt-in (add their names to paths above; `shutdown-probe paths` lists them):",
           f"#   stop profiles: {', '.join(PROFILE_PATHS)}"]
    if python:
        out.append(f"#   from inside (the Python probe): {', '.join(INJECT_PATHS)}")
    out.append("#   reloads: sighup-reload, touch-reload (with [app] watch)")
    return out


def _expect_lines(case: CaseResult, paths: Iterable[str]) -> list[str]:
    """Expectations, commented out: what the watched sigterm run did, for the user to
    confirm, and a suggestion for the rest."""
    probe_hooks = [name for name, hook in case.hooks.items() if hook.source == "probe"]
    ran = [name for name in probe_hooks if case.hooks[name].ran]
    out = ["", "# Expectations turn the matrix into assertions (exit status 1 when one fails).",
           "# What the sigterm run did is below, commented out: uncomment what you mean to keep."]
    out += ["# [expect.sigterm]", f"# outcome = {toml_value(case.outcome)}"]
    end = case.exit.get("signal") or case.exit.get("returncode")
    if end is not None:
        out.append(f"# exit = {toml_value(end)}")
    if ran:
        out.append(f"# ran = {toml_value(ran)}")
    not_ran = [name for name in probe_hooks if name not in ran]
    if not_ran:
        out.append(f"# not_ran = {toml_value(not_ran)}   # did you mean them to run on SIGTERM?")
    out.append(f"# orphans = {toml_value(bool(case.orphans))}")
    if "sigkill" in paths:
        out += ["# [expect.sigkill]", "# exit = \"SIGKILL\"   # nothing runs after SIGKILL"]
        if probe_hooks:
            out.append(f"# not_ran = {toml_value(probe_hooks)}")
    return out


def _command_text(command: Any) -> str:
    return command if isinstance(command, str) else shlex.join(command)


def _comment(text: str) -> str:
    """One line fit for a TOML comment (no newline or control character)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)
