"""The [app] table: the command and its environment, the folder it runs in, how to
tell it is ready, and its timeouts. A program or script that does not exist is
refused here, not found out after the ready timeout."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - regex is imported by the first log regex (patterns.py)
    from regex import Pattern

from ..patterns import shown
from .checks import Checker, number, seg, value_kind
from .specs import (ALIVE_KEYS, ALIVE_KINDS, APP_KEYS, APP_ONLY_READY_KINDS, BUSY_KEYS, DEFAULT_ALIVE_WITHIN,
                    DEFAULT_ORPHAN_WATCH, DEFAULT_READY_TIMEOUT, DEFAULT_STOP_TIMEOUT, DEFAULT_SURVIVE_AFTER,
                    READY_KEYS, READY_KINDS, AliveCheck, AppSpec, ReadyCheck)
from .templates import ShellQuoting, sample_values, shell_contexts, substitute


def parse_app(c: Checker, app: dict[str, Any], base: FsPath) -> AppSpec:
    """[app], for a scenario file in folder ``base``."""
    c.keys(app, APP_KEYS, "app")
    shell = c.boolean(app.get("shell", False), "app.shell")
    if "command" not in app:
        raise c.fail("app.command", "missing: expected the app's argv, e.g. [\"{python}\", \"app.py\"]")
    cwd = parse_cwd(c, c.template(app.get("cwd", "."), "app.cwd"), base)
    command = parse_command(c, app["command"], shell=shell)
    env = parse_env(c, c.table(app.get("env", {}), "app.env"))
    ready = None
    if "ready" in app:
        ready = parse_ready(c, app["ready"])
    ready_timeout = c.seconds(app.get("ready_timeout", DEFAULT_READY_TIMEOUT), "app.ready_timeout")
    stop_timeout = c.seconds(app.get("stop_timeout", DEFAULT_STOP_TIMEOUT), "app.stop_timeout")
    unbuffered = c.boolean(app.get("unbuffered", True), "app.unbuffered")
    probe = c.boolean(app["probe"], "app.probe") if "probe" in app else None
    survive_after = c.seconds(app.get("survive_after", DEFAULT_SURVIVE_AFTER), "app.survive_after")
    busy_log = parse_busy(c, app["busy"]) if "busy" in app else None
    orphan_watch = c.seconds(app.get("orphan_watch", DEFAULT_ORPHAN_WATCH), "app.orphan_watch", zero_ok=True)
    alive = parse_alive(c, app["alive"]) if "alive" in app else None
    watch = parse_watch(c, app["watch"], cwd) if "watch" in app else None

    if not isinstance(command, str):
        check_executable(c, command, cwd, env, base)
    return AppSpec(command, cwd, env, ready, ready_timeout, stop_timeout, shell, unbuffered, probe,
                   survive_after, busy_log, orphan_watch, alive, watch)


def parse_busy(c: Checker, value: Any) -> Pattern[str]:
    """``app.busy``: ``{ log = REGEX }``, a regex with a named group ``pid``."""
    table = c.table(value, "app.busy")
    c.keys(table, BUSY_KEYS, "app.busy")
    if "log" not in table:
        raise c.fail("app.busy", "expected log = a regex over the app's output whose named group pid captures "
                                 "the pid of the process doing the work, e.g. 'task accepted by pid (?P<pid>\\d+)'")
    pattern = c.regex(table["log"], "app.busy.log")
    if "pid" not in pattern.groupindex:
        raise c.fail("app.busy.log", f"expected a named group pid, (?P<pid>\\d+), in {shown(pattern.pattern)}: "
                                     "it says which process the line names as busy", value=pattern.pattern)
    return pattern


def parse_alive(c: Checker, value: Any) -> AliveCheck:
    """app.alive: one of http, tcp, log (as app.ready's), and ``within`` seconds."""
    table = dict(c.table(value, "app.alive"))
    c.keys(table, ALIVE_KEYS, "app.alive")
    within = c.seconds(table.pop("within", DEFAULT_ALIVE_WITHIN), "app.alive.within")
    if len(table) != 1:
        raise c.fail("app.alive", f"expected exactly one of {', '.join(ALIVE_KINDS)}, got {len(table)}",
                     allowed=ALIVE_KINDS)
    return AliveCheck(parse_ready(c, table, "app.alive"), within)


def parse_watch(c: Checker, value: Any, cwd: FsPath) -> str:
    """app.watch: an existing file under the app's folder, whose mtime touch-reload
    updates (never its content, never a file elsewhere)."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise c.fail("app.watch", f"expected a file name relative to app.cwd, got {value_kind(value)}",
                     value=value)
    if os.path.isabs(value) or ".." in FsPath(value).parts:
        raise c.fail("app.watch", f"expected a file inside app.cwd ({cwd}), got {shown(value)}", value=value)
    if "{" not in str(cwd) and not (cwd / value).is_file():
        raise c.fail("app.watch", f"file {shown(value)} does not exist in {cwd}", value=value)
    return value


def parse_cwd(c: Checker, raw_cwd: str, base: FsPath, where: str = "app") -> FsPath:
    """``where``.cwd: a folder relative to the scenario file's."""
    try:
        cwd = (base / raw_cwd).resolve()
        if "{" not in raw_cwd:
            if not cwd.exists():
                raise c.fail(f"{where}.cwd", f"folder {cwd} does not exist", value=raw_cwd)
            if not cwd.is_dir():
                raise c.fail(f"{where}.cwd", f"{cwd} is not a folder", value=raw_cwd)
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop...
        raise c.fail(f"{where}.cwd", f"cannot use folder {shown(raw_cwd)}: "
                                f"{getattr(exc, 'strerror', None) or exc}", value=raw_cwd) from None
    return cwd


def parse_command(c: Checker, raw_cmd: Any, *, shell: bool, where: str = "app") -> tuple[str, ...] | str:
    """``where``.command: argv templates, or with ``shell`` one script (a list is joined)."""
    command: tuple[str, ...] | str
    key = f"{where}.command"
    if shell:
        command = c.template(raw_cmd, key) if isinstance(raw_cmd, str) else shlex.join(
            c.template(a, key) for a in c.string_list(raw_cmd, key))
        try:
            shell_contexts(command)
        except ShellQuoting as exc:
            raise c.fail(key, f"{exc}; pass the value in {where}.env instead, e.g. "
                                        f"env = {{ WORKDIR = \"{{workdir}}\" }} and \"$WORKDIR\" in the "
                                        f"command", value=command) from None
    elif isinstance(raw_cmd, str):
        try:
            command = tuple(shlex.split(c.template(raw_cmd, key)))
        except ValueError as exc:
            raise c.fail(key, f"cannot split into arguments: {exc}", value=raw_cmd) from None
    else:
        if not isinstance(raw_cmd, list):
            raise c.fail(key, f"expected a list of strings or a string, got {value_kind(raw_cmd)}",
                         value=raw_cmd)
        command = tuple(c.template(a, key) for a in c.string_list(raw_cmd, key))
    if not command:
        raise c.fail(key, "is empty: expected the program to run and its arguments", value=raw_cmd)
    return command


def parse_side_process(c: Checker, table: dict[str, Any], where: str, what: str, example: str,
                       base: FsPath) -> tuple[tuple[str, ...], FsPath, dict[str, str]]:
    """``where``.command (an argv, never a shell script), .cwd and .env of a process the
    harness starts beside the app (a service, a [verify] check); ``what`` and
    ``example`` word the error for a missing command."""
    if "command" not in table:
        raise c.fail(f"{where}.command", f"missing: expected the {what}'s argv, e.g. {example}")
    command = parse_command(c, table["command"], shell=False, where=where)
    assert isinstance(command, tuple)  # shell=False: argv
    cwd = parse_cwd(c, c.template(table.get("cwd", "."), f"{where}.cwd"), base, where)
    env = parse_env(c, c.table(table.get("env", {}), f"{where}.env"), where)
    return command, cwd, env


def parse_env(c: Checker, env_table: dict[str, Any], table: str = "app") -> dict[str, str]:
    """``table``.env: variable name -> value template."""
    env: dict[str, str] = {}
    for key, value in env_table.items():
        where = f"{table}.env.{seg(key)}"
        if not key or "=" in key or "\0" in key:
            raise c.fail(where, "expected an environment variable name: not empty, with no '=' or NUL in it",
                         value=key)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or (
                isinstance(value, int) and not -(2**63) <= value < 2**63):
            raise c.fail(where, f"expected a string, got {value_kind(value)}", value=value)
        env[key] = c.template(str(value), where)
    return env


def check_executable(c: Checker, argv: tuple[str, ...], cwd: FsPath, env: dict[str, str],
                     scenario_dir: FsPath, where: str = "app") -> None:
    """The program of ``where``.command exists and can run (a script given to Python too)."""
    probe = {**sample_values(c.services), "python": sys.executable, "port": "0", "workdir": "/nonexistent",
             "scenario_dir": str(scenario_dir.resolve())}
    key = f"{where}.command"
    program = argv[0]
    if "{port}" in program or "{workdir}" in program or "{services." in program:
        return  # only known per case
    program = substitute(program, probe)
    if not program:
        raise c.fail(key, "the program (the first item) is an empty string", value=program)
    if "\0" in program:
        raise c.fail(key, "the program contains a NUL character", value=program)
    if "/" in program:
        full = program if os.path.isabs(program) else str(cwd / program)
        if not os.path.exists(full):
            raise c.fail(key, f"executable {program!r} does not exist (looked in {cwd})", value=program)
        if os.path.isdir(full) or not os.access(full, os.X_OK):
            raise c.fail(key, f"{program!r} is not an executable file", value=program)
    else:
        search = env.get("PATH", os.environ.get("PATH", os.defpath))
        if shutil.which(program, path=search) is None:
            raise c.fail(key, f"executable {program!r} not found on PATH", value=program)
    # A Python script that does not exist would only show up as "not ready" after
    # the ready timeout; say it now.
    name = os.path.basename(program)
    if name.startswith("python") and len(argv) > 1:
        script = argv[1]
        if "{port}" not in script and "{workdir}" not in script and "{services." not in script:
            script = substitute(script, probe)
        if script.endswith(".py") and "{" not in script and "\0" not in script:
            full = script if os.path.isabs(script) else str(cwd / script)
            if not os.path.isfile(full):
                raise c.fail(key, f"script {script!r} does not exist (looked in {cwd})", value=script)


def parse_ready(c: Checker, value: Any, where: str = "app.ready") -> ReadyCheck:
    """``where`` (app.ready): exactly one of :data:`READY_KINDS` (and ``count`` with ``log``)."""
    table = dict(c.table(value, where))
    c.keys(table, READY_KEYS, where)
    count = table.pop("count", None)
    for kind in APP_ONLY_READY_KINDS:
        if kind in table and where != "app.ready":
            raise c.fail(f"{where}.{kind}", "watches the app's own processes or output: [app] ready only",
                         value=table[kind])
    if "listening" in table:
        return _parse_listening(c, table, count, where)
    if len(table) != 1:
        raise c.fail(where, f"expected exactly one of {', '.join(READY_KINDS)}, got {len(table)}",
                     allowed=READY_KINDS)
    kind, raw = next(iter(table.items()))
    if count is not None:
        if kind != "log":
            raise c.fail(f"{where}.count", "goes with ready.log only (how many matching lines mean ready)",
                         value=count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise c.fail(f"{where}.count", f"expected a whole number from 1 up, got {value_kind(count)}",
                         value=count)
    key = f"{where}.{kind}"
    if kind == "delay":
        return ReadyCheck(kind, c.seconds(raw, key, zero_ok=True))
    if kind == "quiet":
        return ReadyCheck(kind, c.seconds(raw, key))
    if kind == "tcp" and isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= 65535:
            raise c.fail(key, f"expected a port from 1 to 65535, got {number(raw)}", value=raw)
        raw = str(raw)
    if kind == "log":
        pattern = c.regex(raw, key)
        return ReadyCheck(kind, pattern.pattern, count or 1, regex=pattern)
    text = c.template(raw, key)
    if kind == "http" and not re.match(r"https?://", text):
        raise c.fail(key, f"expected an http:// or https:// URL, got {shown(text)}", value=text)
    if kind == "http":
        c.url(text, key)
    m = re.fullmatch(r"(?a)(?:\[?([\w.:-]+)\]?:)?(\d+|\{port\}|\{services\.[\w-]+\.port\})", text) \
        if kind == "tcp" else None
    if kind == "tcp" and m is None:
        raise c.fail(key, f"expected a port or host:port, got {shown(text)}", value=text)
    if m is not None:
        if m.group(1) is not None:
            c.host(m.group(1), key)
        port = m.group(2)
        if not port.startswith("{") and not (len(port) <= 5 and 1 <= int(port) <= 65535):
            got = port if len(port) <= 20 else shown(port, 20)
            raise c.fail(key, f"expected a port from 1 to 65535, got {got}", value=port)
    return ReadyCheck(kind, text)


def _parse_listening(c: Checker, table: dict[str, Any], count: Any, where: str) -> ReadyCheck:
    """``listening = true``: ready once a process of the case listens on a TCP port and one
    takes a connection to it;
    with ``quiet = SECONDS``, or else once the output was silent that long."""
    if count is not None:
        raise c.fail(f"{where}.count", "goes with ready.log only (how many matching lines mean ready)",
                     value=count)
    others = sorted(set(table) - {"listening", "quiet"})
    if others:
        raise c.fail(where, f"listening goes with quiet only, got {', '.join(others)} too",
                     allowed=("listening", "quiet"))
    if table["listening"] is not True:
        raise c.fail(f"{where}.listening", f"expected true (any TCP port a process of the app listens on), "
                                           f"got {value_kind(table['listening'])}", value=table["listening"])
    quiet = c.seconds(table["quiet"], f"{where}.quiet") if "quiet" in table else None
    return ReadyCheck("listening", "any", quiet=quiet)
