"""A scenario from a command line: ``shutdown-probe run -- python app.py``.

The options become the mapping a TOML file would hold, and that mapping goes through
the one loader (:func:`~shutdown_probe.scenario.loading.parse_scenario`), so a value
is checked exactly as in a file; a mistake is one line naming the option it came from
(``--stop-timeout``), not the TOML key.

With no ``--ready``, the app is ready once any of its processes listens on a TCP port,
or else once its output was silent :data:`DEFAULT_QUIET` seconds (a worker that
serves no port). The hooks are what the Python probe finds (``atexit:NAME``), plus
``--hook NAME=REGEX`` and ``--sentinel [NAME=]PATH``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from ..errors import ScenarioError
from .loading import parse_scenario
from .model import Scenario

# Without --ready: seconds without output that mean a non-listening app is ready
DEFAULT_QUIET = 3.0

READY_FORMS = ("http://URL", "https://URL", "PORT", "tcp:[HOST:]PORT", "log:REGEX", "file:PATH",
               "delay:SECONDS", "quiet:SECONDS", "listening")

# where the command line's values land, and the option each came from
_FLAGS = (("app.command", "the command after --"), ("app.ready_timeout", "--ready-timeout"),
          ("app.ready", "--ready"), ("app.stop_timeout", "--stop-timeout"), ("app.cwd", "--cwd"),
          ("app.env", "--env"), ("app.probe", "--no-probe"), ("app.shell", "--shell"),
          ("app.orphan_watch", "--orphan-watch"), ("paths", "--path"), ("name", "--name"))


@dataclass
class CommandOptions:
    """What ``run -- CMD`` and ``init -- CMD`` were given, as text (the loader checks it)."""

    command: list[str]
    ready: str | None = None
    ready_timeout: str | None = None
    stop_timeout: str | None = None
    cwd: str | None = None
    env: list[str] = field(default_factory=list)  # K=V
    hooks: list[str] = field(default_factory=list)  # NAME=REGEX
    sentinels: list[str] = field(default_factory=list)  # [NAME=]PATH
    paths: list[str] = field(default_factory=list)
    name: str | None = None
    shell: bool = False
    probe: bool = True


def command_scenario(opts: CommandOptions, *, base: str | os.PathLike[str] | None = None,
                     shown: str = "shutdown-probe run") -> Scenario:
    """The scenario ``opts`` describe, validated as a file would be; ``base`` stands for
    the folder a file would be in (``--cwd`` is relative to it; default: the current one)."""
    data = command_table(opts, shown)
    folder = FsPath(base if base is not None else os.getcwd()).resolve()
    stand_in = folder / (re.sub(r"[^\w.-]", "_", str(data["name"])) + ".toml")  # never read
    try:
        return parse_scenario(data, file=stand_in, shown=shown)
    except ScenarioError as exc:
        raise _named(exc, opts, shown) from None


def command_table(opts: CommandOptions, shown: str = "shutdown-probe run") -> dict[str, Any]:
    """The TOML-equivalent mapping of ``opts`` (what ``init`` starts from too)."""
    if not opts.command:
        raise ScenarioError(shown, None, "no command: give it after --, e.g. -- python app.py")
    command: str | list[str] = " ".join(opts.command) if opts.shell else list(opts.command)
    app: dict[str, Any] = {"command": command}
    if opts.shell:
        app["shell"] = True
    app["ready"] = ready_table(opts.ready, shown) if opts.ready is not None else {
        "listening": True, "quiet": DEFAULT_QUIET}
    for key, text in (("ready_timeout", opts.ready_timeout), ("stop_timeout", opts.stop_timeout)):
        if text is not None:
            app[key] = _number(text)
    if opts.cwd is not None:
        app["cwd"] = opts.cwd
    if opts.env:
        app["env"] = dict(_pair(item, "--env", "K=V", shown) for item in opts.env)
    if not opts.probe:
        app["probe"] = False
    data: dict[str, Any] = {"name": opts.name or command_name(opts.command), "app": app}
    hooks: dict[str, Any] = {}
    for item in opts.hooks:
        name, regex = _pair(item, "--hook", "NAME=REGEX", shown)
        hooks[name] = {"log": regex}
    for item in opts.sentinels:
        name, path = _pair(item, "--sentinel", "[NAME=]PATH", shown) if "=" in item else (
            _sentinel_name(item), item)
        if name in hooks:
            raise ScenarioError(shown, f"--sentinel {name}", "a hook of that name is already given")
        hooks[name] = {"file": path}
    if hooks:
        data["hooks"] = hooks
    if opts.paths:
        data["paths"] = list(dict.fromkeys(opts.paths))
    return data


def ready_table(text: str, shown: str = "shutdown-probe run") -> dict[str, Any]:
    """``--ready``'s forms as the ``[app] ready`` table they stand for."""
    if re.match(r"https?://", text):
        return {"http": text}
    if text.isdigit():
        return {"tcp": int(text) if len(text) <= 6 else text}
    if text == "listening":
        return {"listening": True}
    kind, sep, value = text.partition(":")
    if sep and kind in ("tcp", "log", "file"):
        return {kind: value}
    if sep and kind in ("delay", "quiet"):
        return {kind: _number(value)}
    raise ScenarioError(shown, "--ready", f"expected one of {', '.join(READY_FORMS)}, got {text[:60]!r}",
                        value=text, allowed=READY_FORMS)


def command_name(command: list[str]) -> str:
    """A name for the scenario of ``command``: its script's stem (``app`` for
    ``python app.py``), its module (``-m uvicorn``), else its program's name."""
    for n, arg in enumerate(command):
        if arg == "-m" and n + 1 < len(command):
            return _clean_name(command[n + 1])
        if arg.endswith(".py") and not arg.startswith("-"):
            return _clean_name(FsPath(arg).stem)
    return _clean_name(FsPath(command[0]).name) if command else "app"


def _clean_name(text: str) -> str:
    return re.sub(r"[^\w.-]", "_", text)[:50] or "app"


def _sentinel_name(path: str) -> str:
    stem = FsPath(path).stem
    return re.sub(r"[^\w-]", "_", stem)[:50] or "sentinel"


def _number(text: str) -> Any:
    """A number given as text, as the loader wants it; text that is none stays text,
    for the loader to refuse under the option's name."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _pair(item: str, flag: str, form: str, shown: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ScenarioError(shown, flag, f"expected {form}, got {item[:60]!r}", value=item)
    return key, value


def _named(exc: ScenarioError, opts: CommandOptions, shown: str) -> ScenarioError:
    """``exc`` with the TOML key replaced by the option the value came from."""
    key = exc.key or ""
    flag = None
    if key.startswith("hooks."):
        name = key.split(".")[1] if key.count(".") >= 1 else ""
        sentinel = any(s == name or s.startswith(f"{name}=") or _sentinel_name(s) == name for s in opts.sentinels)
        flag = f"--sentinel {name}" if sentinel else f"--hook {name}"
    elif key.startswith("app.env."):
        flag = f"--env {key.removeprefix('app.env.')}"
    else:
        flag = next((f for k, f in _FLAGS if key == k or key.startswith(k + ".")), None)
    if flag is None:
        return exc
    return ScenarioError(shown, flag, exc.message, value=exc.value, allowed=exc.allowed)
