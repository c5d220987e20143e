"""Scenario files: TOML in, a validated :class:`Scenario` out.

Validation happens once, here, so that the runner can trust what it gets. Every
mistake becomes a :class:`ScenarioError` whose message is one line naming the file,
the key and what was expected.

Placeholders (``{python}``, ``{port}``, ``{workdir}``, ``{scenario_dir}``) stay in the
loaded strings; :meth:`Scenario.resolve` fills them per case, because ``{port}`` and
``{workdir}`` differ between cases. Log regexes are never templated, so ``\\d{3}`` in a
regex means what it says.

Log regexes (``app.ready.log``, ``hooks.*.log``) are Python ``re`` syntax, checked by
``re`` when the file loads and compiled once, there; they run on every output line on
the ``regex`` module (see :func:`compile_regex`), which stops a match that takes longer
than :data:`REGEX_TIMEOUT` and does not hold the GIL while it matches.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import functools
import math
import os
import re
import shlex
import shutil
import signal
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Callable
from urllib.parse import urlsplit

import regex

if sys.version_info >= (3, 11):
    import tomllib
    from re import _parser as _re_parser  # re's own parser, to size a pattern (below)
else:  # pragma: no cover - exercised on 3.10 only
    import sre_parse as _re_parser
    import tomli as tomllib

from .errors import ScenarioError
from .paths import BUILTIN_PATHS, PROFILE_PATHS, SIGNAL_PATHS, Path, signal_name, trigger_path
from .reading import Unreadable, read_regular, size_words

PLACEHOLDERS = ("python", "port", "workdir", "scenario_dir")
READY_KINDS = ("http", "tcp", "log", "file", "delay")
OUTCOMES = ("exited", "hung", "survived", "not-ready", "error", "interrupted", "skipped")

DEFAULT_READY_TIMEOUT = 15.0
DEFAULT_STOP_TIMEOUT = 5.0
DEFAULT_SURVIVE_AFTER = 1.0
# Every duration in a scenario is at most this: longer ones are mistakes, and past
# about 24 days they no longer fit the poll() and socket timeouts the harness uses.
MAX_SECONDS = 86400.0

# A log regex runs on each output line with this budget; past it, the match is stopped
# and that regex is turned off for the rest of the case (a note says so). Catastrophic
# backtracking, e.g. (a+)+$ on a long line of "a"s, is the usual cause.
REGEX_TIMEOUT = 1.0
# The regex module expands counted repeats when it compiles (a{1000000} is a million
# nodes, seconds and hundreds of MB): a pattern is at most this many nodes, expanded.
REGEX_MAX_SIZE = 20_000

# A scenario file is at most this big: the bundled ones are under 8 KiB, and a file of
# megabytes is a mistake (the wrong file, or /dev/zero behind a link), not a scenario.
MAX_FILE_BYTES = 1 << 20

_PLACEHOLDER_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def substitute(template: str, values: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders; ``{{`` and ``}}`` are literal braces."""

    def repl(m: re.Match[str]) -> str:
        text = m.group(0)
        if text in ("{{", "}}"):
            return text[0]
        return values[m.group(1)]

    return _PLACEHOLDER_RE.sub(repl, template)


# --------------------------------------------------------------------------- shell = true

# With shell = true the command is one /bin/sh script, and a placeholder's value (a
# folder name, the interpreter's path) is text the user did not write: a scenario folder
# named  x';touch $MARK;'y  must not run touch. Each value is quoted for the place in the
# script where it lands: outside quotes as a single-quoted word, inside '...' by closing
# the quote around an escaped one, inside "..." with \ before $ ` " and \. Where the
# shell's rules are too rich to follow here (command substitution, ${...} with an
# operator, here-documents, $'...', comments), no placeholder may follow: the file is
# refused and says to pass the value through app.env instead.
_SHELL_SIMPLE_PARAM = re.compile(r"\$\{(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])\}")


class ShellQuoting(ValueError):
    """Why a placeholder cannot be quoted where it stands in a shell command."""


def _shell_pieces(template: str) -> list[tuple[str, str | None]]:
    """``template`` as (literal shell text, placeholder name or None) pairs: the text
    before each placeholder with {{ and }} already made single braces."""
    out: list[tuple[str, str | None]] = []
    text: list[str] = []
    last = 0
    for m in _PLACEHOLDER_RE.finditer(template):
        text.append(template[last:m.start()])
        last = m.end()
        if m.group(0) in ("{{", "}}"):
            text.append(m.group(0)[0])
        else:
            out.append(("".join(text), m.group(1)))
            text = []
    text.append(template[last:])
    out.append(("".join(text), None))
    return out


def shell_contexts(template: str) -> list[str]:
    """Where each placeholder of shell command ``template`` stands: ``"plain"``,
    ``"single"`` (inside '...') or ``"double"`` (inside "..."), in order; raises
    :class:`ShellQuoting` for a placeholder this cannot quote safely."""
    state = "plain"
    word_start = True
    unsafe: str | None = None  # the construct after which no placeholder is safe
    contexts: list[str] = []
    for text, name in _shell_pieces(template):
        i = 0
        escaped = False
        # the last character was an unescaped $ outside '...': the value would start an
        # expansion ($name, ${...}) or, in bash, a $'...' string whose backslash
        # escapes make any quoting of it run as code
        bare_dollar = False
        while i < len(text):
            ch = text[i]
            nxt = text[i:i + 2]
            bare_dollar = ch == "$" and not escaped and state in ("plain", "double")
            if state == "single":
                if ch == "'":
                    state = "plain"
            elif state == "comment":
                if ch == "\n":
                    state, word_start = "plain", True
            elif escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif state == "double":
                if ch == '"':
                    state = "plain"
                elif ch == "`" or nxt == "$(":
                    unsafe = unsafe or "a command substitution"
                elif nxt == "${" and not _SHELL_SIMPLE_PARAM.match(text, i):
                    unsafe = unsafe or "a ${...} expansion"
            else:  # plain
                if ch == "'":
                    state = "single"
                elif ch == '"':
                    state = "double"
                elif nxt == "$'":
                    unsafe = unsafe or "a $'...' string"
                elif ch == "`" or nxt == "$(":
                    unsafe = unsafe or "a command substitution"
                elif nxt == "${" and not _SHELL_SIMPLE_PARAM.match(text, i):
                    unsafe = unsafe or "a ${...} expansion"
                elif nxt == "<<":
                    unsafe = unsafe or "a here-document"
                elif ch == "#" and word_start:
                    state = "comment"
            word_start = state == "plain" and not escaped and (ch.isspace() or ch in ";&|()<>")
            i += 1
        if name is None:
            break
        where = f"{{{name}}}"
        if state == "comment":
            raise ShellQuoting(f"{where} stands in a shell comment")
        if escaped:
            raise ShellQuoting(f"{where} follows a backslash")
        if bare_dollar:
            raise ShellQuoting(f"{where} follows a bare $, which would make it part of an expansion "
                               f"(or, in bash, of a $'...' string)")
        if unsafe:
            raise ShellQuoting(f"{where} comes after {unsafe}, where the shell's quoting rules are "
                               f"too rich to quote it safely")
        contexts.append(state)
        word_start = False
    return contexts


def shell_quote(value: str, context: str) -> str:
    """``value`` written so that the shell reads it back exactly, in ``context``."""
    if context == "single":
        return value.replace("'", "'\\''")
    if context == "double":
        return re.sub(r'([\\$`"])', r"\\\1", value)
    return shlex.quote(value)


def substitute_shell(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders of shell command ``template``, each value quoted for where
    it stands (:func:`shell_contexts`), so no value can run as shell code."""
    pieces = _shell_pieces(template)
    contexts = shell_contexts(template)
    out = []
    for (text, name), context in zip(pieces, contexts + [""]):
        out.append(text)
        if name is not None:
            out.append(shell_quote(values[name], context))
    return "".join(out)


def _unknown_placeholder(template: str) -> str | None:
    for m in _PLACEHOLDER_RE.finditer(template):
        if m.group(0) not in ("{{", "}}") and m.group(1) not in PLACEHOLDERS:
            return m.group(0)
    return None


# --------------------------------------------------------------------------- log regexes


class RegexProblem(ValueError):
    """Why a log regex cannot be used; the message is one phrase."""


@functools.lru_cache(maxsize=1024)
def compile_regex(text: str) -> regex.Pattern[str]:
    """A scenario's log regex, checked and compiled once; raises :class:`RegexProblem`.

    The syntax is Python's ``re``: ``re`` checks it, so the errors and what is accepted
    are ``re``'s, and a pattern ``re`` only warns about (``[[``, ``--``, ``&&`` in a set,
    whose meaning Python says will change) is refused, since the engines disagree on
    it. It then runs on the ``regex`` module (VERSION0, ``re``'s semantics), which can
    stop a match (:func:`line_matcher`); ``re`` holds the GIL for a whole match, so a
    catastrophic one would freeze every thread of the harness, timeouts included.
    Cached: the runner's detectors get the object compiled when the file loaded.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            tree = _re_parser.parse(text)
            re.compile(text)  # what only compiling finds (e.g. a look-behind's width)
        except re.error as exc:
            raise RegexProblem(str(exc)) from None
        except FutureWarning as exc:
            raise RegexProblem(f"{exc}: Python's re warns that the meaning of this will change, and the "
                               "engines read it differently; escape the character (e.g. \\[ or \\-)") from None
        except Warning as exc:  # pragma: no cover - re warns with FutureWarning only today
            raise RegexProblem(f"{type(exc).__name__}: {exc}") from None
        except OverflowError:  # a{4294967296}
            raise RegexProblem("a repeat count is too large") from None
        except RecursionError:
            raise RegexProblem("groups nested too deeply") from None
    try:
        size = _expanded_size(tree, REGEX_MAX_SIZE)
    except RecursionError:
        raise RegexProblem("groups nested too deeply") from None
    if size > REGEX_MAX_SIZE:
        raise RegexProblem(f"too large: it compiles to more than {REGEX_MAX_SIZE} elements, a counted repeat "
                           "counting as its minimum number of copies (a{30000} is 30000); a log line "
                           "pattern needs far fewer")
    try:
        return regex.compile(text, regex.VERSION0)
    except (regex.error, OverflowError, RecursionError, ValueError) as exc:
        raise RegexProblem(str(exc)) from None


_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


def _expanded_size(items, limit: int) -> int:
    """How many nodes re's parse tree ``items`` is with every counted repeat written out
    as the regex module compiles it (its minimum count times); stops once past ``limit``."""
    total = 0
    for op, av in items:
        if getattr(op, "name", None) in _REPEATS:
            low, _high, sub = av
            total += max(low, 1) * _expanded_size(sub, limit)
        else:
            total += 1 + sum(_expanded_size(sub, limit) for sub in _subpatterns(av))
        if total > limit:
            break
    return total


def _subpatterns(av):
    if isinstance(av, _re_parser.SubPattern):
        yield av
    elif isinstance(av, (tuple, list)):
        for item in av:
            yield from _subpatterns(item)


def line_matcher(pattern: regex.Pattern[str]) -> Callable[[str], list[regex.Match[str]]]:
    """A function giving every match of log regex ``pattern`` in one output line.

    It raises TimeoutError when matching takes longer than :data:`REGEX_TIMEOUT`; the
    GIL is released meanwhile, so the harness's other threads keep time. A line that
    lacks text every match contains is not searched at all: a timed match costs about
    a microsecond more than ``re``'s, and most lines of a flood match no hook. Make
    one per detector: it is called for every line.
    """
    need = _required_text(pattern.pattern) if not pattern.flags & regex.IGNORECASE else ""
    finditer = pattern.finditer

    def match(text: str) -> list[regex.Match[str]]:
        if need and need not in text:
            return []
        return list(finditer(text, timeout=REGEX_TIMEOUT, concurrent=True))

    return match


@functools.lru_cache(maxsize=1024)
def _required_text(text: str) -> str:
    """The longest run of plain characters that every match of regex ``text`` contains,
    or "" when there is none (or the pattern ignores case): from re's parse tree, its
    top-level literals and those of the plain groups among them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = _re_parser.parse(text)
    except (re.error, OverflowError, RecursionError):  # compile_regex says what is wrong
        return ""
    if tree.state.flags & re.IGNORECASE:
        return ""
    best, run = "", []

    def walk(items) -> None:
        nonlocal best
        for op, av in items:
            name = getattr(op, "name", None)
            if name == "LITERAL":
                run.append(chr(av))
            elif name == "SUBPATTERN" and not av[1] and not av[2]:  # a group without flags
                walk(av[3])  # matched exactly once, in place: the run goes on through it
            else:
                best = max(best, "".join(run), key=len)
                run.clear()

    try:
        walk(tree)
    except RecursionError:
        return ""
    return max(best, "".join(run), key=len)


def regex_timeout_note(key: str, pattern: regex.Pattern[str], line: Any) -> str:
    """The one line a case records when ``key``'s regex gave up on output ``line``."""
    return (f"{key}: the regex {_shown(pattern.pattern)} took longer than {REGEX_TIMEOUT:g} s on "
            f"{line.stream} line {line.number} ({len(line.text)} characters) and was turned off for the rest "
            "of the case (catastrophic backtracking? nested repeats such as (a+)+ cause it; make the "
            "regex more specific)")


def _shown(text: str, limit: int = 80) -> str:
    """``repr(text)``, cut to about ``limit`` characters: a message stays readable."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ReadyCheck:
    """How to tell the app is ready: ``kind`` is one of :data:`READY_KINDS`."""

    kind: str
    value: Any  # a template string, or seconds for "delay"
    count: int = 1  # log only: ready once this many lines matched (one per worker...)
    # log only: ``value`` compiled once, when the file loaded (see compile_regex)
    regex: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AppSpec:
    command: tuple[str, ...] | str  # argv templates, or one string when shell = true
    cwd: FsPath
    env: dict[str, str]
    ready: ReadyCheck | None
    ready_timeout: float
    stop_timeout: float
    shell: bool = False
    # PYTHONUNBUFFERED for the target. On by default: a target writing to a pipe is
    # block-buffered otherwise, and a line printed just before a SIGKILL would be lost,
    # unlike in the terminal where the articles' authors watched it. Set it to false
    # to see what a real deployment with a pipe or a file as stdout loses.
    unbuffered: bool = True
    # The Python probe (shutdown_probe/_probe_site): None = on when the command runs
    # Python, True/False = forced.
    probe: bool | None = None
    # After a path that ends a child (a worker), when the root starts a replacement
    # (a master respawning its workers): how long it must go on running once the
    # child is gone for the case to end, as "survived".
    survive_after: float = DEFAULT_SURVIVE_AFTER


@dataclass(frozen=True)
class TrafficSpec:
    """[traffic]: HTTP requests in flight when the path fires, and new ones after.

    URLs are templates. ``new_url`` None means the same URL as ``url``; an empty
    string sends no new requests. ``paths`` None means every path of the scenario.
    """

    url: str
    in_flight: int = 1
    queued: int = 0
    new_url: str | None = None
    concurrency: int = 10  # new requests waiting at once, at most
    interval: float = 0.05
    max_new: int = 100
    window: float = 2.0
    timeout: float = 30.0
    accept_timeout: float = 5.0
    method: str = "GET"
    paths: tuple[str, ...] | None = None

    def covers(self, path: str) -> bool:
        return self.paths is None or path in self.paths

    @property
    def sends_new(self) -> bool:
        """Whether new requests go out after the path fires."""
        return self.new_url != "" and self.concurrency > 0 and self.max_new > 0


@dataclass(frozen=True)
class HookSpec:
    """Proof that one cleanup step ran: a log line, or a sentinel file.

    A log regex may have a named group ``pid``; the pid it captures says which
    process ran the hook.
    """

    name: str
    log: regex.Pattern[str] | None = None  # compiled by compile_regex; match with line_matcher
    file: str | None = None  # template


@dataclass(frozen=True)
class TriggerSpec:
    """An app-specific action a path can fire instead of a signal."""

    name: str
    http: str | None = None  # URL template
    method: str = "GET"
    command: tuple[str, ...] | None = None  # argv templates
    timeout: float = 5.0


@dataclass(frozen=True)
class Expectation:
    ran: tuple[str, ...] = ()
    not_ran: tuple[str, ...] = ()
    outcome: str | None = None
    exit: int | str | None = None  # a return code, or a signal name such as "SIGKILL"
    orphans: bool | None = None
    # hook -> the roles of exactly the processes that must have run it, e.g.
    # {"atexit": ("root",)}: ran in the root and in no other process
    ran_in: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # stop profiles only: whether the stopper's final SIGKILL was needed (the grace
    # period ran out before cleanup finished)
    grace_kill: bool | None = None
    # [traffic] only: every request in flight completed; some new request was
    # accepted and then cut
    drained: bool | None = None
    dropped: bool | None = None
    # what these checks stand for, in a sentence ("atexit does not run on SIGKILL"):
    # reports show it as confirmed or refuted, with the observations behind it
    claim: str | None = None
    # hooks that must all run, their first runs starting in this order (the probe's
    # atexit:* hooks, or the declared hooks by when their evidence appeared)
    order: tuple[str, ...] = ()

    @property
    def checks(self) -> bool:
        """Whether anything is checked (a claim alone checks nothing)."""
        return bool(self.ran or self.not_ran or self.ran_in or self.order) or any(
            v is not None for v in (self.outcome, self.exit, self.orphans, self.grace_kill, self.drained,
                                    self.dropped))


@dataclass(frozen=True)
class ProfileSettings:
    """A scenario's settings for one stop profile ([profiles.NAME]).

    :meth:`Scenario.profile_settings` gives the effective settings of a profile path:
    ``grace`` is then always filled in, except for ``double-ctrl-c``, which never
    kills and so has none.
    """

    grace: float | None = None  # None: the profile's default (StopProfile.grace)
    grace_from: str = "default"  # "default" | "scenario" (where grace came from)
    signal: int | None = None  # None: the path's own signal (Path.signal)
    init: str = "auto"  # docker-stop-init only: "auto" | "tini" | "builtin"
    pre_stop: TriggerSpec | None = None  # k8s-delete only; named "pre-stop"
    after: float | None = None  # double-ctrl-c: seconds after the first Ctrl-C
    # double-ctrl-c: a hook whose start sends the second Ctrl-C: a declared hook, a
    # probe hook "atexit:NAME", or ANY_ATEXIT (see Scenario.hook_kind)
    when: str | None = None


@dataclass(frozen=True)
class TrafficPlan:
    """The scenario's [traffic] with its templates filled, for one case."""

    url: str
    in_flight: int
    queued: int
    new_url: str | None  # None: no new requests
    concurrency: int
    interval: float
    max_new: int
    window: float
    timeout: float
    accept_timeout: float
    method: str


@dataclass(frozen=True)
class Resolved:
    """A scenario's templates filled in for one case."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    ready: ReadyCheck | None
    hook_files: dict[str, str]
    triggers: dict[str, TriggerSpec]
    # profile name -> its preStop action (k8s-delete), templates filled
    pre_stop: dict[str, TriggerSpec] = field(default_factory=dict)
    traffic: TrafficPlan | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    file: FsPath
    paths: tuple[Path, ...]
    app: AppSpec
    hooks: dict[str, HookSpec]
    triggers: dict[str, TriggerSpec]
    expect: dict[str, Expectation] = field(default_factory=dict)
    # [profiles.NAME], already merged with the table-wide [profiles] grace; only for
    # the profile paths the scenario configures (see profile_settings)
    profiles: dict[str, ProfileSettings] = field(default_factory=dict)
    traffic: TrafficSpec | None = None

    @property
    def dir(self) -> FsPath:
        return self.file.parent

    def profile_settings(self, name: str) -> ProfileSettings:
        """The effective settings of stop profile path ``name``: what the scenario
        configured, with ``grace`` defaulting to the profile's own (``grace_from``
        "default"). ``grace`` stays None for a profile that never kills."""
        path = BUILTIN_PATHS.get(name)
        if path is None or path.profile is None:
            raise ValueError(f"'{name}' is not a stop profile path (profiles: {', '.join(PROFILE_PATHS)})")
        settings = self.profiles.get(name, ProfileSettings())
        if path.profile.grace is None:  # double-ctrl-c: nothing to run out
            return dataclasses.replace(settings, grace=None, grace_from="default")
        if settings.grace is None:
            return dataclasses.replace(settings, grace=path.profile.grace, grace_from="default")
        return settings

    def with_grace(self, seconds: float, source: str = "override") -> "Scenario":
        """A copy whose every stop profile that kills uses ``seconds`` of grace
        (``grace_from`` = ``source``): quick runs and tests, the results say so."""
        profiles = dict(self.profiles)
        for path in self.paths:
            if path.profile is not None and path.profile.grace is not None:
                current = self.profiles.get(path.name, ProfileSettings())
                profiles[path.name] = dataclasses.replace(current, grace=float(seconds), grace_from=source)
        return dataclasses.replace(self, profiles=profiles)

    def hook_kind(self, hook: str) -> str:
        """What a hook name (e.g. double-ctrl-c's ``when``) refers to: ``"declared"``
        (a [hooks] table; wins over the other meanings), ``"probe"`` (``atexit:NAME``,
        found by the Python probe) or ``"any-atexit"`` (:data:`ANY_ATEXIT`: the first
        atexit hook any process starts, as the probe sees it)."""
        if hook in self.hooks:
            return "declared"
        if hook == ANY_ATEXIT:
            return "any-atexit"
        if hook.startswith(PROBE_HOOK_PREFIX) and len(hook) > len(PROBE_HOOK_PREFIX):
            return "probe"
        raise ValueError(f"unknown hook '{hook}'")

    def resolve(self, *, port: int, workdir: str) -> Resolved:
        values = {
            "python": sys.executable,
            "port": str(port),
            "workdir": workdir,
            "scenario_dir": str(self.dir),
        }
        sub = lambda s: substitute(s, values)  # noqa: E731
        cwd = str(self.app.cwd)
        if isinstance(self.app.command, str):
            argv = ["/bin/sh", "-c", substitute_shell(self.app.command, values)]
        else:
            argv = [sub(a) for a in self.app.command]
        env = {k: sub(v) for k, v in self.app.env.items()}
        ready = self.app.ready
        # a log regex is never templated: \d{3} means three digits
        if ready is not None and ready.kind != "log" and isinstance(ready.value, str):
            ready = ReadyCheck(ready.kind, sub(ready.value), ready.count)
        hook_files = {
            name: _absolute(sub(h.file), cwd) for name, h in self.hooks.items() if h.file
        }
        triggers = {name: _fill_action(t, sub) for name, t in self.triggers.items()}
        pre_stop = {name: _fill_action(p.pre_stop, sub)
                    for name, p in self.profiles.items() if p.pre_stop is not None}
        traffic = None
        if self.traffic is not None:
            t = self.traffic
            same = {f.name: getattr(t, f.name) for f in dataclasses.fields(TrafficPlan)}
            new_url = t.url if t.new_url is None else t.new_url
            traffic = TrafficPlan(**{**same, "url": sub(t.url),
                                     "new_url": sub(new_url) if new_url else None})
        return Resolved(argv, cwd, env, ready, hook_files, triggers, pre_stop, traffic)


def _fill_action(t: TriggerSpec, sub) -> TriggerSpec:
    """A trigger or preStop action with its URL or argv templates filled."""
    return TriggerSpec(
        t.name,
        http=sub(t.http) if t.http else None,
        method=t.method,
        command=tuple(sub(a) for a in t.command) if t.command else None,
        timeout=t.timeout,
    )


def _absolute(path: str, cwd: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(cwd, path))


# --------------------------------------------------------------------------- loading


class _Checker:
    """Type and key checks that all report through one ScenarioError format."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str | None, message: str) -> ScenarioError:
        return ScenarioError(self.file, _one_line(key) if key else key, _one_line(message))

    def keys(self, table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                full = f"{where}.{_seg(key)}" if where else _seg(key)
                hint = _did_you_mean(key, allowed)
                if where and key in TOP_KEYS:
                    # `paths = [...]` written below `[app]` lands in the app table.
                    hint = (f"; '{key}' is a top-level key: TOML puts every key after a "
                            f"[table] header into that table, so move it above the first [table]")
                raise self.fail(
                    full, f"unknown key{hint} (allowed here: {', '.join(allowed)})"
                )

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_kind(value)}")
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_kind(value)}")
        return value

    def template(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if "\0" in text:  # argv, environment, paths and URLs cannot hold one
            raise self.fail(key, "contains a NUL character")
        bad = _unknown_placeholder(text)
        if bad is not None:
            hint = _did_you_mean(bad[1:-1], PLACEHOLDERS, form="{{{}}}")
            raise self.fail(
                key,
                f"unknown placeholder {bad}{hint} (allowed: "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                + "; write {{ and }} for literal braces)",
            )
        return text

    def seconds(self, value: Any, key: str, *, zero_ok: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number of seconds, got {_kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(key, f"expected a finite number of seconds, got {value}")
        if value < 0 or (value == 0 and not zero_ok):
            wanted = "zero or more seconds" if zero_ok else "a positive number of seconds"
            raise self.fail(key, f"expected {wanted}, got {_number(value)}")
        if value > MAX_SECONDS:
            raise self.fail(key, f"expected at most {MAX_SECONDS:g} seconds (a day), got {_number(value)}")
        return float(value)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_kind(value)}")
        return value

    def string_list(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(key, f"expected a list of strings, but item {i + 1} is {_kind(item)}")
        return value

    def regex(self, value: Any, key: str) -> regex.Pattern[str]:
        text = self.string(value, key)
        try:
            return compile_regex(text)
        except RegexProblem as exc:
            raise self.fail(key, f"invalid regex {_shown(text)}: {exc}") from None

    def name_in(self, value: str, known: Any, key: str, what: str) -> None:
        if value not in known:
            hint = _did_you_mean(value, known)
            have = ", ".join(known) if known else "none"
            raise self.fail(key, f"unknown {what} '{value}'{hint} (defined: {have})")


def _did_you_mean(word: str, choices, *, form: str = "'{}'") -> str:
    """"; did you mean 'X'?" for the closest of ``choices``, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {form.format(close[0])}?" if close else ""


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    for typ, name in names.items():
        if type(value) is typ:
            if typ is bool:
                return f"{name} ({str(value).lower()})"
            if typ in (int, float):
                return f"{name} ({_number(value)})"
            if typ is str and len(value) <= 40:
                return f"{name} ({value!r})"
            return name
    if isinstance(value, (datetime.date, datetime.time)):
        return f"a date/time ({value.isoformat()})"
    return type(value).__name__


def _number(value: int | float) -> str:
    """A number from the file for a message; an integer too long to be useful (or,
    past 4300 digits, to be turned into text at all) is described instead."""
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return f"{'-' if value < 0 else ''}an integer of {value.bit_length()} bits"
    return repr(value)


def _seg(name: str) -> str:
    """A user's key name as one segment of a dotted key in a message: "" is shown as
    TOML writes it, so an empty name still names something."""
    return name if name else '""'


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters: an error is always one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


TOP_KEYS = ("name", "description", "paths", "app", "hooks", "triggers", "expect", "profiles", "traffic")
APP_KEYS = ("command", "cwd", "env", "ready", "ready_timeout", "stop_timeout", "shell",
            "unbuffered", "probe", "survive_after")
TRAFFIC_KEYS = ("url", "in_flight", "queued", "new_url", "concurrency", "interval", "max_new", "window",
                "timeout", "accept_timeout", "method", "paths")
# Hooks the Python probe finds by itself are named "atexit:<qualified name>"; a
# scenario may expect them without declaring them under [hooks].
PROBE_HOOK_PREFIX = "atexit:"
HOOK_KEYS = ("log", "file")
TRIGGER_KEYS = ("http", "method", "command", "timeout")
EXPECT_KEYS = ("claim", "ran", "not_ran", "ran_in", "order", "outcome", "exit", "orphans", "grace_kill", "drained", "dropped")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")
PRE_STOP_KEYS = ("http", "method", "command")
# [profiles.NAME]: the keys every profile with a grace takes, and those of one profile
PROFILE_COMMON_KEYS = ("grace", "signal")
PROFILE_OWN_KEYS = {"docker-stop-init": ("init",), "k8s-delete": ("pre_stop",),
                    "double-ctrl-c": ("after", "when")}
INIT_KINDS = ("auto", "tini", "builtin")
# double-ctrl-c's `when`: the first atexit hook any process starts (the probe's view)
ANY_ATEXIT = "atexit"


def load_scenario(file: str | os.PathLike[str], *, shown: str | None = None) -> Scenario:
    """Read and validate one scenario file; raise :class:`ScenarioError` on any mistake.

    ``shown`` is how error messages name the file (default: ``file`` as given).
    """
    path = FsPath(file)
    shown = _one_line(shown if shown is not None else str(file))
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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(shown, None, f"TOML syntax error: {_toml_message(exc, text)}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ScenarioError(shown, None, "TOML: arrays or inline tables nested too deeply") from None
    except ValueError as exc:  # int() refuses a decimal integer of more than 4300 digits
        what = ("an integer has too many digits" if "integer string conversion" in str(exc)
                else _one_line(str(exc)))
        raise ScenarioError(shown, None, f"TOML: {what}") from None
    return data


def _toml_message(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """tomllib's message, with "at end of document" turned into a line and column."""
    message = _one_line(str(exc))
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
    c = _Checker(shown or str(file))
    c.keys(data, TOP_KEYS, "")
    if "app" not in data:
        raise c.fail("app", "missing: a scenario needs an [app] table with a command")
    name = c.string(data.get("name", file.stem), "name")
    description = c.string(data.get("description", ""), "description")

    app = _parse_app(c, c.table(data["app"], "app"), file.parent)
    hooks = _parse_hooks(c, c.table(data.get("hooks", {}), "hooks"))
    triggers = _parse_triggers(c, c.table(data.get("triggers", {}), "triggers"))
    paths = _parse_paths(c, data.get("paths"), triggers)
    if app.probe is False:
        for path in paths:
            if path.inject:
                raise c.fail("paths", f"path '{path.name}' is performed by the Python probe, "
                                      "which app.probe = false turns off")
    profiles = _parse_profiles(c, c.table(data.get("profiles", {}), "profiles"), paths, hooks, triggers,
                               probe=app.probe is not False)
    traffic = _parse_traffic(c, c.table(data["traffic"], "traffic"), paths) if "traffic" in data else None
    expect = _parse_expect(c, c.table(data.get("expect", {}), "expect"), paths, hooks, triggers,
                           probe=app.probe is not False, traffic=traffic)
    return Scenario(name, description, file, paths, app, hooks, triggers, expect, profiles, traffic)


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
    """
    data: dict[str, Any] = {"name": name, "description": description, "app": {"command": command, **app}}
    if ready is not None:
        data["app"]["ready"] = ready
    if hooks:
        data["hooks"] = {k: {"log": v} if isinstance(v, str) else v for k, v in hooks.items()}
    for key, value in (("paths", paths), ("triggers", triggers), ("expect", expect), ("profiles", profiles),
                       ("traffic", traffic)):
        if value is not None:
            data[key] = value
    base = FsPath(base_dir).resolve()
    stand_in = base / (re.sub(r"[^\w.-]", "_", name) + ".toml")  # never read; only its folder counts
    return parse_scenario(data, file=stand_in, shown=shown or f"scenario {name!r}")


def _parse_app(c: _Checker, app: dict[str, Any], base: FsPath) -> AppSpec:
    c.keys(app, APP_KEYS, "app")
    shell = c.boolean(app.get("shell", False), "app.shell")
    if "command" not in app:
        raise c.fail("app.command", "missing: expected the app's argv, e.g. [\"{python}\", \"app.py\"]")
    raw_cmd = app["command"]
    raw_cwd = c.template(app.get("cwd", "."), "app.cwd")
    try:
        cwd = (base / raw_cwd).resolve()
        if "{" not in raw_cwd:
            if not cwd.exists():
                raise c.fail("app.cwd", f"folder {cwd} does not exist")
            if not cwd.is_dir():
                raise c.fail("app.cwd", f"{cwd} is not a folder")
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop...
        raise c.fail("app.cwd", f"cannot use folder {_shown(raw_cwd)}: "
                                f"{getattr(exc, 'strerror', None) or exc}") from None

    command: tuple[str, ...] | str
    if shell:
        command = c.template(raw_cmd, "app.command") if isinstance(raw_cmd, str) else shlex.join(
            c.template(a, "app.command") for a in c.string_list(raw_cmd, "app.command"))
        try:
            shell_contexts(command)
        except ShellQuoting as exc:
            raise c.fail("app.command", f"{exc}; pass the value in app.env instead, e.g. "
                                        f"env = {{ WORKDIR = \"{{workdir}}\" }} and \"$WORKDIR\" in the "
                                        f"command") from None
    elif isinstance(raw_cmd, str):
        try:
            command = tuple(shlex.split(c.template(raw_cmd, "app.command")))
        except ValueError as exc:
            raise c.fail("app.command", f"cannot split into arguments: {exc}") from None
    else:
        if not isinstance(raw_cmd, list):
            raise c.fail("app.command", f"expected a list of strings or a string, got {_kind(raw_cmd)}")
        command = tuple(c.template(a, "app.command") for a in c.string_list(raw_cmd, "app.command"))
    if not command:
        raise c.fail("app.command", "is empty: expected the program to run and its arguments")

    env_table = c.table(app.get("env", {}), "app.env")
    env: dict[str, str] = {}
    for key, value in env_table.items():
        where = f"app.env.{_seg(key)}"
        if not key or "=" in key or "\0" in key:
            raise c.fail(where, "expected an environment variable name: not empty, with no '=' or NUL in it")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or (
                isinstance(value, int) and not -(2**63) <= value < 2**63):
            raise c.fail(where, f"expected a string, got {_kind(value)}")
        env[key] = c.template(str(value), where)

    ready = None
    if "ready" in app:
        ready = _parse_ready(c, app["ready"])
    ready_timeout = c.seconds(app.get("ready_timeout", DEFAULT_READY_TIMEOUT), "app.ready_timeout")
    stop_timeout = c.seconds(app.get("stop_timeout", DEFAULT_STOP_TIMEOUT), "app.stop_timeout")
    unbuffered = c.boolean(app.get("unbuffered", True), "app.unbuffered")
    probe = c.boolean(app["probe"], "app.probe") if "probe" in app else None
    survive_after = c.seconds(app.get("survive_after", DEFAULT_SURVIVE_AFTER), "app.survive_after")

    if not shell:
        _check_executable(c, command, cwd, env, base)  # type: ignore[arg-type]
    return AppSpec(command, cwd, env, ready, ready_timeout, stop_timeout, shell, unbuffered, probe,
                   survive_after)


def _check_executable(c: _Checker, argv: tuple[str, ...], cwd: FsPath, env: dict[str, str],
                      scenario_dir: FsPath) -> None:
    probe = {"python": sys.executable, "port": "0", "workdir": "/nonexistent",
             "scenario_dir": str(scenario_dir.resolve())}
    program = argv[0]
    if "{port}" in program or "{workdir}" in program:
        return  # only known per case
    program = substitute(program, probe)
    if not program:
        raise c.fail("app.command", "the program (the first item) is an empty string")
    if "\0" in program:
        raise c.fail("app.command", "the program contains a NUL character")
    if "/" in program:
        full = program if os.path.isabs(program) else str(cwd / program)
        if not os.path.exists(full):
            raise c.fail("app.command", f"executable {program!r} does not exist (looked in {cwd})")
        if os.path.isdir(full) or not os.access(full, os.X_OK):
            raise c.fail("app.command", f"{program!r} is not an executable file")
    else:
        search = env.get("PATH", os.environ.get("PATH", os.defpath))
        if shutil.which(program, path=search) is None:
            raise c.fail("app.command", f"executable {program!r} not found on PATH")
    # A Python script that does not exist would only show up as "not ready" after
    # the ready timeout; say it now.
    name = os.path.basename(program)
    if name.startswith("python") and len(argv) > 1:
        script = argv[1]
        if "{port}" not in script and "{workdir}" not in script:
            script = substitute(script, probe)
        if script.endswith(".py") and "{" not in script and "\0" not in script:
            full = script if os.path.isabs(script) else str(cwd / script)
            if not os.path.isfile(full):
                raise c.fail("app.command", f"script {script!r} does not exist (looked in {cwd})")


def _parse_ready(c: _Checker, value: Any) -> ReadyCheck:
    table = dict(c.table(value, "app.ready"))
    c.keys(table, READY_KINDS + ("count",), "app.ready")
    count = table.pop("count", None)
    if len(table) != 1:
        raise c.fail("app.ready", f"expected exactly one of {', '.join(READY_KINDS)}, got {len(table)}")
    kind, raw = next(iter(table.items()))
    if count is not None:
        if kind != "log":
            raise c.fail("app.ready.count", "goes with ready.log only (how many matching lines mean ready)")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise c.fail("app.ready.count", f"expected a whole number from 1 up, got {_kind(count)}")
    key = f"app.ready.{kind}"
    if kind == "delay":
        return ReadyCheck(kind, c.seconds(raw, key, zero_ok=True))
    if kind == "tcp" and isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= 65535:
            raise c.fail(key, f"expected a port from 1 to 65535, got {_number(raw)}")
        raw = str(raw)
    if kind == "log":
        return ReadyCheck(kind, raw, count or 1, regex=c.regex(raw, key))
    text = c.template(raw, key)
    if kind == "http" and not re.match(r"https?://", text):
        raise c.fail(key, f"expected an http:// or https:// URL, got {_shown(text)}")
    if kind == "http":
        _check_url(c, text, key)
    m = re.fullmatch(r"(?a)(?:\[?([\w.:-]+)\]?:)?(\d+|\{port\})", text) if kind == "tcp" else None
    if kind == "tcp" and m is None:
        raise c.fail(key, f"expected a port or host:port, got {_shown(text)}")
    if m is not None:
        if m.group(1) is not None:
            _check_host(c, m.group(1), key)
        port = m.group(2)
        if port != "{port}" and not (len(port) <= 5 and 1 <= int(port) <= 65535):
            shown = port if len(port) <= 20 else _shown(port, 20)
            raise c.fail(key, f"expected a port from 1 to 65535, got {shown}")
    return ReadyCheck(kind, text)


def _check_url(c: _Checker, text: str, key: str) -> None:
    """A URL template the harness can take apart, whatever its placeholders become."""
    probe = substitute(text, {"python": "python", "port": "1", "workdir": "/w", "scenario_dir": "/s"})
    try:
        parts = urlsplit(probe)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:
        raise c.fail(key, f"not a usable URL {_shown(text)}: {exc}") from None
    if not parts.hostname:
        raise c.fail(key, f"expected a host name after the scheme, got {_shown(text)}")
    _check_host(c, parts.hostname, key)


def _check_host(c: _Checker, host: str, key: str) -> None:
    """A host name the socket layer accepts (it encodes names with IDNA)."""
    try:
        host.encode("idna")
    except UnicodeError:
        raise c.fail(key, f"invalid host name {_shown(host)} (each dot-separated part 1 to 63 characters, "
                          "no empty part)") from None


def _parse_hooks(c: _Checker, hooks: dict[str, Any]) -> dict[str, HookSpec]:
    out: dict[str, HookSpec] = {}
    for name, raw in hooks.items():
        where = f"hooks.{_seg(name)}"
        table = c.table(raw, where)
        c.keys(table, HOOK_KEYS, where)
        if len(table) != 1:
            raise c.fail(where, "expected exactly one of log (a regex) or file (a sentinel path)")
        if "log" in table:
            out[name] = HookSpec(name, log=c.regex(table["log"], f"{where}.log"))
        else:
            out[name] = HookSpec(name, file=c.template(table["file"], f"{where}.file"))
    return out


def _parse_triggers(c: _Checker, triggers: dict[str, Any]) -> dict[str, TriggerSpec]:
    out: dict[str, TriggerSpec] = {}
    for name, raw in triggers.items():
        where = f"triggers.{_seg(name)}"
        if not name or "/" in name or not name.isprintable() or len(name.encode("utf-8", "replace")) > 100:
            # the name of a path: a case's private folder is named after it
            raise c.fail(where, "expected a trigger name of 1 to 100 bytes of printable characters, without '/'")
        if name in BUILTIN_PATHS and not BUILTIN_PATHS[name].needs_trigger:
            # The built-in signal path would win and the trigger would never fire.
            raise c.fail(where, f"'{name}' is a built-in signal path; give the trigger another name "
                                "and list that name in paths")
        table = c.table(raw, where)
        c.keys(table, TRIGGER_KEYS, where)
        timeout = c.seconds(table.get("timeout", 5.0), f"{where}.timeout")
        out[name] = _parse_action(c, table, where, name, timeout=timeout)
    return out


def _parse_action(c: _Checker, table: dict[str, Any], where: str, name: str, *,
                  timeout: float) -> TriggerSpec:
    """An HTTP request or a command (a trigger, a preStop action); keys already checked."""
    if ("http" in table) == ("command" in table):
        raise c.fail(where, "expected exactly one of http (a URL) or command (an argv list)")
    method = _parse_method(c, table, where)
    if "http" in table:
        url = c.template(table["http"], f"{where}.http")
        if not re.match(r"https?://", url):
            raise c.fail(f"{where}.http", f"expected an http:// or https:// URL, got {_shown(url)}")
        _check_url(c, url, f"{where}.http")
        return TriggerSpec(name, http=url, method=method, timeout=timeout)
    argv = tuple(c.template(a, f"{where}.command")
                 for a in c.string_list(table["command"], f"{where}.command"))
    if not argv:
        raise c.fail(f"{where}.command", "is empty")
    return TriggerSpec(name, command=argv, timeout=timeout)


def _parse_method(c: _Checker, table: dict[str, Any], where: str) -> str:
    method = c.string(table.get("method", "GET"), f"{where}.method").upper()
    if method not in HTTP_METHODS:
        raise c.fail(f"{where}.method", f"expected one of {', '.join(HTTP_METHODS)}, got {method!r}")
    return method


def _parse_paths(c: _Checker, raw: Any, triggers: dict[str, TriggerSpec]) -> tuple[Path, ...]:
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
            raise c.fail("paths", f"path '{name}' is listed twice")
        seen.add(name)
        if name in BUILTIN_PATHS:
            path = BUILTIN_PATHS[name]
            if path.needs_trigger and name not in triggers:
                raise c.fail("paths", f"path '{name}' needs a [triggers.{name}] table, which is not defined")
            out.append(path)
        elif name in triggers:
            out.append(trigger_path(name))
        else:
            known = list(BUILTIN_PATHS) + [t for t in triggers if t not in BUILTIN_PATHS]
            hint = _did_you_mean(name, known)
            raise c.fail(
                "paths",
                f"unknown path '{name}'{hint} (built-in paths: {', '.join(BUILTIN_PATHS)}; "
                "or the name of a [triggers.NAME] table)",
            )
    return tuple(out)


def _parse_profiles(
    c: _Checker, profiles: dict[str, Any], paths: tuple[Path, ...], hooks: dict[str, HookSpec],
    triggers: dict[str, TriggerSpec], *, probe: bool = True,
) -> dict[str, ProfileSettings]:
    """[profiles]: a table-wide ``grace`` and one [profiles.NAME] per stop profile.

    Returns merged settings (the table-wide grace filled in) for every profile path
    of the scenario that anything is configured for.
    """
    names = [p.name for p in paths]
    own_keys = {key: owner for owner, keys in PROFILE_OWN_KEYS.items() for key in keys}
    for key in profiles:
        if key == "grace" or key in PROFILE_PATHS:
            continue
        full = f"profiles.{_seg(key)}"
        if key in PROFILE_COMMON_KEYS or key in own_keys:
            hint = (f"; '{key}' is set per profile: write it under [profiles.NAME], e.g. "
                    f"[profiles.{own_keys.get(key, 'docker-stop')}]")
        elif key in BUILTIN_PATHS or key in triggers:
            hint = f"; path '{key}' is not a stop profile, only stop profiles take settings"
        else:
            hint = _did_you_mean(key, ("grace",) + PROFILE_PATHS)
        raise c.fail(full, f"unknown key{hint} (allowed here: grace, or a stop profile's name: "
                           f"{', '.join(PROFILE_PATHS)})")

    with_grace = [n for n in names if BUILTIN_PATHS.get(n) is not None
                  and BUILTIN_PATHS[n].profile is not None and BUILTIN_PATHS[n].profile.grace is not None]
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
        where = f"profiles.{_seg(name)}"
        if isinstance(raw, dict) and any(k in TOP_KEYS for k in raw):
            # `paths = [...]` written below [profiles.NAME] lands in that table (and is
            # then missing from the top level): say so before anything else.
            c.keys(raw, _profile_keys(name), where)
        if name not in names:
            raise c.fail(where, f"path '{name}' is not one of this scenario's paths; add it to paths, "
                                f"or remove [{where}] (paths: {', '.join(names)})")
        out[name] = _parse_profile(c, name, c.table(raw, where), where, own_keys, hooks,
                                   default_grace, probe=probe)
    if default_grace is not None:
        for name in with_grace:
            if name not in out:
                out[name] = ProfileSettings(grace=default_grace, grace_from="scenario")
    return out


def _parse_profile(
    c: _Checker, name: str, table: dict[str, Any], where: str, own_keys: dict[str, str],
    hooks: dict[str, HookSpec], default_grace: float | None, *, probe: bool,
) -> ProfileSettings:
    profile = BUILTIN_PATHS[name].profile
    assert profile is not None
    has_grace = profile.grace is not None
    allowed = _profile_keys(name)
    for key in table:
        if key in allowed:
            continue
        full = f"{where}.{_seg(key)}"
        if key == "grace" and not has_grace:
            raise c.fail(full, f"{name} never kills, so it has no grace period; how long the harness "
                               "waits for the app to end is app.stop_timeout")
        if key == "signal" and not has_grace:
            raise c.fail(full, f"{name} sends SIGINT, as a terminal's Ctrl-C does; its signal cannot be "
                               f"changed (allowed here: {', '.join(allowed)})")
        if key in own_keys:
            raise c.fail(full, f"'{key}' is a setting of [profiles.{own_keys[key]}] only "
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
            raise c.fail(f"{where}.init", f"expected one of {', '.join(INIT_KINDS)}, got {init!r}"
                                          f"{_did_you_mean(init, INIT_KINDS)}")

    pre_stop = None
    if "pre_stop" in table:
        key = f"{where}.pre_stop"
        action = c.table(table["pre_stop"], key)
        if "timeout" in action:
            raise c.fail(f"{key}.timeout", "the preStop action's timeout is not configurable: it runs "
                                           f"inside the grace period, which bounds it (set {where}.grace)")
        c.keys(action, PRE_STOP_KEYS, key)
        effective = grace if grace is not None else profile.grace
        pre_stop = _parse_action(c, action, key, "pre-stop", timeout=effective)  # type: ignore[arg-type]

    after = None
    if "after" in table:
        after = c.seconds(table["after"], f"{where}.after", zero_ok=True)
    when = None
    if "when" in table:
        when = _parse_when(c, table["when"], f"{where}.when", hooks, probe=probe)
    if after is not None and when is not None:
        raise c.fail(where, "expected at most one of after (seconds after the first Ctrl-C) or when "
                            "(a hook whose start sends the second), got both")
    return ProfileSettings(grace, grace_from, signum, init, pre_stop, after, when)


def _profile_keys(name: str) -> tuple[str, ...]:
    profile = BUILTIN_PATHS[name].profile
    common = PROFILE_COMMON_KEYS if profile is not None and profile.grace is not None else ()
    return common + PROFILE_OWN_KEYS.get(name, ())


def _parse_stop_signal(c: _Checker, value: Any, key: str) -> int:
    if not isinstance(value, str):
        raise c.fail(key, f"expected a signal name such as 'SIGTERM' or 'SIGQUIT', got {_kind(value)}")
    if not _is_signal_name(value):
        hint = _signal_hint(value)
        if re.fullmatch(r"SIGRT(MIN|MAX)[+-]\d+", value):
            hint = "; real-time signals are named here only as SIGRTMIN or SIGRTMAX, without an offset"
        raise c.fail(key, f"unknown signal name {value!r}{hint} "
                          "(expected a signal name such as 'SIGTERM' or 'SIGQUIT')")
    if value == "SIGKILL":
        raise c.fail(key, "SIGKILL is not a stop signal: it cannot be caught, so no cleanup can run; the "
                          "profile sends SIGKILL itself when the grace runs out (grace = 0 kills at once)")
    if value == "SIGSTOP":
        raise c.fail(key, "SIGSTOP is not a stop signal: it cannot be caught and only pauses the process "
                          "(expected a signal the app can handle, such as 'SIGTERM' or 'SIGQUIT')")
    return int(signal.Signals[value])


def _parse_when(c: _Checker, value: Any, key: str, hooks: dict[str, HookSpec], *, probe: bool) -> str:
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
    hint = _did_you_mean(when, list(hooks) + [ANY_ATEXIT])
    have = ", ".join(hooks) if hooks else "none"
    raise c.fail(key, f"unknown hook '{when}'{hint} (expected a hook declared under [hooks] (defined: "
                      f"{have}), 'atexit:NAME' for a probe hook, or 'atexit' for the first atexit hook "
                      "any process starts)")


def _parse_traffic(c: _Checker, table: dict[str, Any], paths: tuple[Path, ...]) -> TrafficSpec:
    c.keys(table, TRAFFIC_KEYS, "traffic")
    if "url" not in table:
        raise c.fail("traffic.url", "missing: expected the URL of a slow endpoint, "
                                    "e.g. \"http://127.0.0.1:{port}/slow\"")

    def url(key: str) -> str:
        text = c.template(table[key], f"traffic.{key}")
        if not re.match(r"http://", text):
            raise c.fail(f"traffic.{key}",
                         f"expected an http:// URL (the traffic speaks plain HTTP), got {_shown(text)}")
        _check_url(c, text, f"traffic.{key}")
        return text

    defaults = TrafficSpec(url="")  # the field defaults, stated once, in TrafficSpec

    def count(key: str) -> int:
        value = table.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int):
            raise c.fail(f"traffic.{key}", f"expected a whole number, got {_kind(value)}")
        if not 0 <= value <= 1000:
            raise c.fail(f"traffic.{key}", f"expected a whole number from 0 to 1000, got {_number(value)}")
        return value

    new_url: str | None = None
    if "new_url" in table:
        new_url = "" if table["new_url"] == "" else url("new_url")
    def seconds(key: str, **kw: bool) -> float:
        return c.seconds(table.get(key, getattr(defaults, key)), f"traffic.{key}", **kw)

    spec = TrafficSpec(
        url=url("url"), in_flight=count("in_flight"), queued=count("queued"), new_url=new_url,
        concurrency=count("concurrency"), interval=seconds("interval", zero_ok=True),
        max_new=count("max_new"), window=seconds("window"), timeout=seconds("timeout"),
        accept_timeout=seconds("accept_timeout"), method=_parse_method(c, table, "traffic"),
    )
    if spec.in_flight + spec.queued == 0 and not spec.sends_new:
        raise c.fail("traffic", "sends no request at all: set in_flight, queued, or new requests "
                                "(concurrency and max_new above 0)")
    if "paths" in table:
        names = [p.name for p in paths]
        chosen = c.string_list(table["paths"], "traffic.paths")
        if not chosen:
            raise c.fail("traffic.paths", "is empty: leave it out to send traffic on every path")
        for name in chosen:
            c.name_in(name, names, "traffic.paths", "path")
        spec = dataclasses.replace(spec, paths=tuple(chosen))
    return spec


def _parse_expect(
    c: _Checker, expect: dict[str, Any], paths: tuple[Path, ...], hooks: dict[str, HookSpec],
    triggers: dict[str, TriggerSpec], *, probe: bool = True, traffic: TrafficSpec | None = None,
) -> dict[str, Expectation]:
    names = [p.name for p in paths]
    out: dict[str, Expectation] = {}
    for path_name, raw in expect.items():
        where = f"expect.{_seg(path_name)}"
        if path_name not in names:
            if path_name in BUILTIN_PATHS or path_name in triggers:
                hint = f"; add it to paths, or remove [{where}]"
            else:
                hint = _did_you_mean(path_name, names)
            raise c.fail(where, f"path '{path_name}' is not one of this scenario's paths{hint} "
                                f"(paths: {', '.join(names)})")
        out[path_name] = parse_expectation(c, raw, where, path_name, hooks, probe=probe, traffic=traffic)
    return out


def parse_expectation(
    c: _Checker, raw: Any, where: str, path_name: str, hooks: dict[str, HookSpec], *, probe: bool = True,
    traffic: TrafficSpec | None = None,
) -> Expectation:
    """One expectation table (``[expect.PATH]``, or any table with its keys) for path
    ``path_name``; ``where`` prefixes the keys in error messages."""

    def hook_name(hook: str, key: str) -> None:
        if hook.startswith(PROBE_HOOK_PREFIX) and len(hook) > len(PROBE_HOOK_PREFIX):
            if not probe:
                raise c.fail(key, f"'{hook}' is a hook the Python probe finds, which app.probe = false turns off")
            return
        c.name_in(hook, hooks, key, "hook")

    table = c.table(raw, where)
    c.keys(table, EXPECT_KEYS, where)
    ran = c.string_list(table.get("ran", []), f"{where}.ran")
    not_ran = c.string_list(table.get("not_ran", []), f"{where}.not_ran")
    for hook in ran:
        hook_name(hook, f"{where}.ran")
    for hook in not_ran:
        hook_name(hook, f"{where}.not_ran")
    both = sorted(set(ran) & set(not_ran))
    if both:
        raise c.fail(where, f"hook '{both[0]}' is in both ran and not_ran")
    outcome = None
    if "outcome" in table:
        outcome = c.string(table["outcome"], f"{where}.outcome")
        if outcome not in OUTCOMES:
            raise c.fail(f"{where}.outcome", f"expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
    exit_: int | str | None = None
    if "exit" in table:
        exit_ = table["exit"]
        if isinstance(exit_, bool) or not isinstance(exit_, (int, str)):
            raise c.fail(f"{where}.exit", f"expected a return code or a signal name, got {_kind(exit_)}")
        if isinstance(exit_, str) and not _is_signal_name(exit_):
            raise c.fail(f"{where}.exit", f"unknown signal name {exit_!r}{_signal_hint(exit_)} "
                                          "(expected a return code, or a signal name such as 'SIGKILL')")
        if isinstance(exit_, int) and not 0 <= exit_ <= 255:
            raise c.fail(f"{where}.exit", f"expected a return code from 0 to 255, got {_number(exit_)} "
                                          "(for a death by signal write its name, e.g. 'SIGKILL')")
    orphans = None
    if "orphans" in table:
        orphans = c.boolean(table["orphans"], f"{where}.orphans")
    grace_kill = None
    if "grace_kill" in table:
        key = f"{where}.grace_kill"
        profile = BUILTIN_PATHS[path_name].profile if path_name in BUILTIN_PATHS else None
        if profile is None:
            killing = [n for n in PROFILE_PATHS if BUILTIN_PATHS[n].profile.kill != "none"]  # type: ignore[union-attr]
            raise c.fail(key, f"path '{path_name}' is not a stop profile, so it has no grace period to run "
                              f"out (grace_kill is for: {', '.join(killing)})")
        if profile.kill == "none":
            raise c.fail(key, f"{path_name} never kills, so there is no grace period to run out and no "
                              "final SIGKILL (expect exit or outcome instead)")
        grace_kill = c.boolean(table["grace_kill"], key)
    ran_in: dict[str, tuple[str, ...]] = {}
    for hook, raw_roles in c.table(table.get("ran_in", {}), f"{where}.ran_in").items():
        key = f"{where}.ran_in.{_seg(hook)}"
        hook_name(hook, key)
        if hook in not_ran:
            raise c.fail(key, f"hook '{hook}' is also in not_ran")
        roles = [raw_roles] if isinstance(raw_roles, str) else c.string_list(raw_roles, key)
        if not roles:
            raise c.fail(key, "is empty: list the roles that run it, e.g. [\"root\"]")
        ran_in[hook] = tuple(roles)
    verdicts: dict[str, bool | None] = {"drained": None, "dropped": None}
    for key in verdicts:
        if key not in table:
            continue
        if traffic is None:
            raise c.fail(f"{where}.{key}", f"{key} is about requests, and the scenario has no [traffic] table")
        if not traffic.covers(path_name):
            raise c.fail(f"{where}.{key}", f"path '{path_name}' is not in traffic.paths, so it sends no requests")
        if key == "drained" and traffic.in_flight + traffic.queued == 0:
            raise c.fail(f"{where}.{key}", "traffic.in_flight is 0: no request is in flight to drain")
        verdicts[key] = c.boolean(table[key], f"{where}.{key}")
    order = c.string_list(table.get("order", []), f"{where}.order")
    for hook in order:
        hook_name(hook, f"{where}.order")
    if order:
        kinds = {hook.startswith(PROBE_HOOK_PREFIX) and hook not in hooks for hook in order}
        if len(order) < 2 or len(set(order)) != len(order):
            raise c.fail(f"{where}.order", "expected two or more different hooks, in the order they must start")
        if len(kinds) > 1:
            raise c.fail(f"{where}.order", "expected hooks of one kind: the probe's atexit:* hooks (ordered by "
                                           "when they started) or declared hooks (by when their evidence appeared)")
        bad = [hook for hook in order if hook in not_ran]
        if bad:
            raise c.fail(f"{where}.order", f"hook '{bad[0]}' is also in not_ran")
    claim = None
    if "claim" in table:
        claim = " ".join(c.string(table["claim"], f"{where}.claim").split())
        if not claim:
            raise c.fail(f"{where}.claim", "is empty: expected a sentence saying what the checks show")
    expectation = Expectation(tuple(ran), tuple(not_ran), outcome, exit_, orphans, ran_in, grace_kill,
                              verdicts["drained"], verdicts["dropped"], claim, tuple(order))
    if claim is not None and not expectation.checks:
        raise c.fail(f"{where}.claim", "a claim needs something to check it against: add ran, not_ran, "
                                       "ran_in, order, outcome, exit, orphans, grace_kill, drained or dropped")
    return expectation


def _is_signal_name(name: str) -> bool:
    return name in signal.Signals.__members__


def _signal_hint(name: str) -> str:
    names = list(signal.Signals.__members__)
    guess = name.upper()
    if not guess.startswith("SIG"):
        guess = "SIG" + guess
    if guess in names:
        return f"; did you mean '{guess}'?"
    return _did_you_mean(guess, names)


# The loader is the only place that knows the schema; the CLI's `check` uses this to
# describe a scenario without running it.
def describe(scenario: Scenario) -> list[str]:
    lines = [f"{scenario.name}: {scenario.description}".rstrip(": ")]
    cmd = scenario.app.command
    lines.append("  command: " + (cmd if isinstance(cmd, str) else shlex.join(cmd)))
    ready = scenario.app.ready
    lines.append((f"  ready:   {ready.kind} {ready.value}" + (f" ({ready.count} lines)" if ready.count > 1 else ""))
                 if ready else "  ready:   as soon as started")
    if scenario.traffic is not None:
        t = scenario.traffic
        lines.append(f"  traffic: {t.in_flight} in flight" + (f" + {t.queued} queued" if t.queued else "")
                     + f" to {t.url}; "
                     + (f"new requests for {t.window:g} s" if t.sends_new else "no new requests")
                     + (f" on {', '.join(t.paths)}" if t.paths is not None else ""))
    lines.append(f"  hooks:   {', '.join(scenario.hooks) or 'none'}")
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

