"""The ways in: :func:`load_scenario` (a TOML file), :func:`parse_scenario` (a mapping
already read) and :func:`make_scenario` (keyword arguments in code), all validated
the same way; and :func:`read_toml`, which turns every way a file can fail to be TOML
into one :class:`~shutdown_probe.errors.ScenarioError` line."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path as FsPath
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    # tomli is installed only where it is needed (Python 3.10), and mypy checks as 3.10
    # from whatever interpreter runs it: without tomli there, it cannot see the stub
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from ..errors import ScenarioError, UsageError
from ..reading import Unreadable, read_regular, size_words
from .checks import Checker, one_line
from .model import Scenario
from .parse_app import parse_app
from .parse_expect import parse_expect
from .parse_profiles import parse_profiles
from .parse_services import parse_services, service_names
from .parse_traffic import parse_traffic
from .parse_triggers import parse_hooks, parse_paths, parse_triggers
from .parse_verify import parse_verify
from .specs import TOP_KEYS

# A scenario file is at most this big: the bundled ones are under 8 KiB, and a file of
# megabytes is a mistake (the wrong file, or /dev/zero behind a link), not a scenario.
MAX_FILE_BYTES = 1 << 20
# Arrays and inline tables nested deeper than this are refused before tomllib sees
# them. tomllib (3.11) recurses a few frames per level and hits the recursion limit
# at about 400 levels; a collection of the garbage collector that happens down there
# runs finalizers with no stack left, and they fail as "Exception ignored in ..."
# lines written to stderr (or break pytest's unraisable hook). A scenario nests 3.
MAX_NESTING = 64
# What can open or close a level, or hide brackets: strings, comments.
_NESTING_TOKENS = re.compile(r"""""\"|'''|["'#\[\]{}]""")
# From just after a string's opening quotes, through its closing ones.
_STRING_ENDS = {
    '"""': re.compile(r'(?:[^\\]|\\.)*?"""', re.S),  # multi-line basic: escapes
    "'''": re.compile(r".*?'''", re.S),  # multi-line literal: no escapes
    '"': re.compile(r'(?:[^\\"\n]|\\.)*"'),
    "'": re.compile(r"[^'\n]*'"),
}


def load_scenario(file: str | os.PathLike[str], *, shown: str | None = None) -> Scenario:
    """Read and validate one scenario file; raise :class:`ScenarioError` on any mistake.

    ``shown`` is how error messages name the file (default: ``file`` as given).
    """
    path = FsPath(file)
    shown = one_line(shown if shown is not None else str(file))
    return parse_scenario(read_toml(path, shown), file=path.resolve(), shown=shown)


def read_scenario_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a scenario (or write-up) file, read the one safe way
    (:func:`~shutdown_probe.reading.read_regular`): a FIFO would block ``open`` until a
    writer came, ``/dev/zero`` would never end. A symlink to a regular file is followed:
    a scenario linked from another folder is an ordinary thing to have. Raises
    :class:`~shutdown_probe.reading.Unreadable` (an OSError) for anything else."""
    return read_regular(path, MAX_FILE_BYTES)[0]


def read_toml(path: FsPath, shown: str) -> dict[str, Any]:
    """A TOML file's tables; every way of failing is one :class:`ScenarioError` line."""
    try:
        raw = read_scenario_bytes(path)
    except FileNotFoundError:
        raise ScenarioError(shown, None, "no such file") from None
    except Unreadable as exc:  # a FIFO, a device, a folder, a file over the bound
        raise ScenarioError(shown, None, f"{exc} (a scenario file is a regular file of at most "
                                         f"{size_words(MAX_FILE_BYTES)})") from None
    except OSError as exc:
        raise ScenarioError(shown, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # a BOM, as some Windows editors write, is fine
    except UnicodeDecodeError as exc:
        raise ScenarioError(shown, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if _nesting(text) > MAX_NESTING:
        raise ScenarioError(shown, None, f"TOML: arrays or inline tables nested more than {MAX_NESTING} deep")
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(shown, None, f"TOML syntax error: {_toml_message(exc, text)}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ScenarioError(shown, None, "TOML: arrays or inline tables nested too deeply") from None
    except ValueError as exc:  # int() refuses a decimal integer of more than 4300 digits
        what = ("an integer has too many digits" if "integer string conversion" in str(exc)
                else one_line(str(exc)))
        raise ScenarioError(shown, None, f"TOML: {what}") from None
    return data


def _nesting(text: str) -> int:
    """How deep brackets and braces nest in a TOML text, outside strings and
    comments (a table header counts its own brackets: an overestimate by one or two)."""
    depth = deepest = pos = 0
    while (m := _NESTING_TOKENS.search(text, pos)) is not None:
        token, pos = m.group(), m.end()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth = max(depth - 1, 0)
        elif token == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        else:  # a string: skip to its end (an unterminated one is tomllib's to report)
            end_m = _STRING_ENDS[token].match(text, pos)
            if end_m is None:
                end = text.find("\n", pos)
                pos = len(text) if end < 0 else end
            else:
                pos = end_m.end()
    return deepest


def _toml_message(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """tomllib's message, with "at end of document" turned into a line and column."""
    message = one_line(str(exc))
    if message.endswith("(at end of document)"):
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        message = message[: -len("(at end of document)")] + f"(at line {line}, column {column}: the end of the file)"
    if message.startswith("Unescaped '\\' in a string"):
        # tomllib points just past the two-character escape; point at the backslash,
        # and say how to write a regex, the usual reason for a backslash here.
        m = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        if m:
            line, column = int(m.group(1)), int(m.group(2))
            lines = text.split("\n")
            if column > 2 and line <= len(lines) and lines[line - 1][column - 3: column - 2] == "\\":
                message = message[: m.start()] + f"(at line {line}, column {column - 2})"
        message += "; in \"...\" strings write \\\\, or use a '...' literal string for a regex"
    return message


def parse_scenario(data: dict[str, Any], *, file: FsPath, shown: str | None = None) -> Scenario:
    """Validate an already-parsed scenario mapping (from TOML, or built in code)."""
    c = Checker(shown or str(file))
    c.keys(data, TOP_KEYS, "")
    if "app" not in data:
        raise c.fail("app", "missing: a scenario needs an [app] table with a command")
    name = c.string(data.get("name", file.stem), "name")
    description = c.string(data.get("description", ""), "description")

    # first: every table may name a service's port
    raw_services = c.table(data.get("services", {}), "services")
    c.services = service_names(c, raw_services)
    services = parse_services(c, raw_services, file.parent)
    app = parse_app(c, c.table(data["app"], "app"), file.parent)
    hooks = parse_hooks(c, c.table(data.get("hooks", {}), "hooks"))
    triggers = parse_triggers(c, c.table(data.get("triggers", {}), "triggers"))
    paths = parse_paths(c, data.get("paths"), triggers)
    if app.probe is False:
        for path in paths:
            if path.inject:
                raise c.fail("paths", f"path '{path.name}' is performed by the Python probe, "
                                      "which app.probe = false turns off", value=path.name)
    profiles = parse_profiles(c, c.table(data.get("profiles", {}), "profiles"), paths, hooks, triggers,
                               probe=app.probe is not False)
    traffic = parse_traffic(c, c.table(data["traffic"], "traffic"), paths) if "traffic" in data else None
    verify = parse_verify(c, c.table(data.get("verify", {}), "verify"), file.parent)
    expect = parse_expect(c, c.table(data.get("expect", {}), "expect"), paths, hooks, triggers,
                           probe=app.probe is not False, traffic=traffic, checks=tuple(verify))
    return Scenario(name, description, file, paths, app, hooks, triggers, expect, profiles, traffic, services,
                    verify)


def make_scenario(
    name: str,
    *,
    command: str | list[str],
    ready: dict[str, Any] | None = None,
    hooks: dict[str, Any] | None = None,
    paths: list[str] | None = None,
    triggers: dict[str, Any] | None = None,
    expect: dict[str, Any] | None = None,
    profiles: dict[str, Any] | None = None,
    traffic: dict[str, Any] | None = None,
    services: dict[str, Any] | None = None,
    verify: dict[str, Any] | None = None,
    description: str = "",
    base_dir: str | os.PathLike[str] = ".",
    shown: str | None = None,
    **app: Any,
) -> Scenario:
    """A scenario built in code, validated exactly like a file.

    Keyword arguments mirror the TOML tables; ``app`` takes the other ``[app]`` keys
    (``env``, ``cwd``, ``stop_timeout``...). A hook given as a plain string is a log
    regex: ``hooks={"atexit": r"atexit ran"}``. ``base_dir`` stands for the folder
    of the file a TOML scenario would live in: ``cwd`` and ``{scenario_dir}`` are
    relative to it. ``shown`` names the scenario in error messages.

    A mistake in a table is a :class:`~shutdown_probe.errors.ScenarioError`, as in a
    file; a ``name`` that is not a string is the calling code's mistake, a
    :class:`~shutdown_probe.errors.UsageError`.
    """
    given: object = name  # the annotation binds no untyped caller: check what came
    if not isinstance(given, str):
        raise UsageError(f"make_scenario: name must be a string, got {type(name).__name__} {name!r}")
    data: dict[str, Any] = {"name": name, "description": description, "app": {"command": command, **app}}
    if ready is not None:
        data["app"]["ready"] = ready
    if hooks:
        data["hooks"] = hooks  # a plain string is a log regex here as in a file (parse_hooks)
    for key, value in (("paths", paths), ("triggers", triggers), ("expect", expect), ("profiles", profiles),
                       ("traffic", traffic), ("services", services), ("verify", verify)):
        if value is not None:
            data[key] = value
    base = FsPath(base_dir).resolve()
    stand_in = base / (re.sub(r"[^\w.-]", "_", name) + ".toml")  # never read; only its folder counts
    return parse_scenario(data, file=stand_in, shown=shown or f"scenario {name!r}")
