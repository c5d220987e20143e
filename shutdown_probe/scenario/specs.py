"""The schema of a scenario file: the keys each table takes, the defaults, and the
frozen values the tables become (:class:`AppSpec`, :class:`HookSpec`,
:class:`Expectation`...). :class:`~shutdown_probe.scenario.model.Scenario` holds them.

Nothing here validates: the parsers (``parse_*.py``) build these values only from
checked input, so the runner can trust them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - regex is imported by the first log regex (patterns.py)
    from regex import Pattern

from ..paths import BUILTIN_PATHS, PROFILE_PATHS
from ..patterns import quoted

READY_KINDS = ("http", "tcp", "log", "file", "delay", "listening", "quiet")
# a ready table: one kind, and `count` with `log` (`quiet` beside `listening` is a kind too)
READY_KEYS = READY_KINDS + ("count",)
# the ready kinds that watch the app's own processes or output: [app] ready only
APP_ONLY_READY_KINDS = ("listening", "quiet")
OUTCOMES = ("exited", "hung", "ignored", "survived", "reloaded", "unresponsive", "not-ready", "error", "interrupted",
            "skipped")
# [app] alive: how to tell the app still answers (http, tcp) or progresses (log)
ALIVE_KINDS = ("http", "tcp", "log")
ALIVE_KEYS = ALIVE_KINDS + ("within",)
DEFAULT_ALIVE_WITHIN = 5.0

DEFAULT_READY_TIMEOUT = 15.0
DEFAULT_STOP_TIMEOUT = 5.0
DEFAULT_SURVIVE_AFTER = 1.0
# After stop_timeout, how long the processes left running once the root ended
# (orphans) are watched before the harness kills them
DEFAULT_ORPHAN_WATCH = 2.0
# Every duration in a scenario is at most this: longer ones are mistakes, and past
# about 24 days they no longer fit the poll() and socket timeouts the harness uses.
MAX_SECONDS = 86400.0

TOP_KEYS = ("name", "description", "paths", "app", "hooks", "triggers", "expect", "profiles", "traffic",
            "services", "verify")
APP_KEYS = ("command", "cwd", "env", "ready", "ready_timeout", "stop_timeout", "shell",
            "unbuffered", "probe", "survive_after", "busy", "orphan_watch", "alive", "watch")
BUSY_KEYS = ("log",)
TRAFFIC_KEYS = ("url", "in_flight", "queued", "new_url", "concurrency", "interval", "max_new", "window",
                "timeout", "accept_timeout", "method", "paths")
# [services.NAME]: a process the app needs beside it (a broker, a database)
SERVICE_KEYS = ("command", "cwd", "env", "ready", "ready_timeout", "stop_timeout", "scope")
# "run": one for every case of the scenario in a run; "case": one per case
SERVICE_SCOPES = ("run", "case")
DEFAULT_SERVICE_READY_TIMEOUT = 15.0
DEFAULT_SERVICE_STOP_TIMEOUT = 5.0
# [verify.NAME]: a command run after the case, against the state the app left
VERIFY_KEYS = ("command", "cwd", "env", "timeout")
DEFAULT_VERIFY_TIMEOUT = 10.0
# Hooks the Python probe finds by itself are named "atexit:<qualified name>"; a
# scenario may expect them without declaring them under [hooks].
PROBE_HOOK_PREFIX = "atexit:"
HOOK_KEYS = ("log", "file")
TRIGGER_KEYS = ("http", "method", "command", "timeout", "signal", "to", "role", "cmdline", "nth")
# a signal trigger's keys beside `signal`; and the processes `to` names
AIM_KEYS = ("to", "role", "cmdline", "nth")
AIM_TARGETS = ("root", "group", "busy", "idle", "every-worker")
EXPECT_KEYS = ("claim", "ran", "not_ran", "ran_in", "order", "outcome", "exit", "orphans", "grace_kill", "drained",
               "dropped", "verified", "not_verified", "within_grace")
# [expect.all]: what holds on every path unless the path's own table says otherwise.
# The other keys are a path's alone: claim (a sentence about one path), ran_in and
# order (where and in which order, which differ by path), grace_kill (stop profiles
# only), drained and dropped (only where [traffic] sends requests).
EXPECT_ALL = "all"
EXPECT_ALL_KEYS = ("ran", "not_ran", "outcome", "exit", "orphans", "within_grace", "verified", "not_verified")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")
PRE_STOP_KEYS = ("http", "method", "command")
# [profiles.NAME]: the keys every profile with a grace takes, and those of one profile
PROFILE_COMMON_KEYS = ("grace", "signal")
PROFILE_OWN_KEYS = {"docker-stop-init": ("init",), "docker-stop-tini-group": ("init",),
                    "k8s-delete": ("pre_stop",), "double-ctrl-c": ("after", "when"),
                    "systemd-stop": ("exec_stop",), "systemd-stop-mixed": ("exec_stop",),
                    "systemd-stop-process": ("exec_stop",)}
# `init` of docker-stop-init and docker-stop-tini-group: tini, or the built-in
# forwarding init (with --group for tini-group); auto = tini when installed
INIT_KINDS = ("auto", "tini", "builtin")
# double-ctrl-c's `when`: the first atexit hook any process starts (the probe's view)
ANY_ATEXIT = "atexit"
# [profiles]: a grace for every profile, or a stop profile's own table
PROFILES_KEYS = ("grace",) + PROFILE_PATHS


def profile_keys(name: str) -> tuple[str, ...]:
    """The keys [profiles.NAME] takes: grace and signal for a profile with a grace
    period, and the profile's own (:data:`PROFILE_OWN_KEYS`)."""
    profile = BUILTIN_PATHS[name].profile
    common = PROFILE_COMMON_KEYS if profile is not None and profile.grace is not None else ()
    return common + PROFILE_OWN_KEYS.get(name, ())


@dataclass(frozen=True)
class KeyTable:
    """One table of a scenario file and the keys its parser accepts there (the parser
    checks each table against the same tuple: ``Checker.keys``)."""

    table: str  # as written in a file: "[app]", "[hooks.NAME]"
    keys: tuple[str, ...]
    what: str


def key_tables() -> tuple[KeyTable, ...]:
    """Every table a scenario file may hold, in the order a file usually has them: the
    one list of the keys the parser knows (the generated reference,
    docs/reference/scenario-keys.md, is written from it)."""
    own = tuple(KeyTable(f"[profiles.{name}]", profile_keys(name), f"the {name} stop profile")
                for name in PROFILE_PATHS if name in PROFILE_OWN_KEYS)
    return (
        KeyTable("(top level)", TOP_KEYS, "the file's own keys and its tables"),
        KeyTable("[app]", APP_KEYS, "the app: how to start it, when it is ready, how long it may take"),
        KeyTable("[app.ready]", READY_KEYS, "how to tell the app is ready: exactly one kind (count with log, "
                                            "quiet beside listening); [services.NAME.ready] too, without "
                                            "listening and quiet"),
        KeyTable("[app.busy]", BUSY_KEYS, "the app's line naming the process doing the work"),
        KeyTable("[app.alive]", ALIVE_KEYS, "after a path the root outlived: how to tell the app still answers"),
        KeyTable("[hooks.NAME]", HOOK_KEYS, "a cleanup hook: a log line or a sentinel file"),
        KeyTable("[triggers.NAME]", TRIGGER_KEYS, "an action that ends the app (http, command) or a signal "
                                                  "to the processes it aims at"),
        KeyTable("[profiles]", PROFILES_KEYS, "a grace period for every stop profile, or one profile's table"),
        KeyTable("[profiles.NAME]", PROFILE_COMMON_KEYS, "any stop profile with a grace period"),
        *own,
        KeyTable("[profiles.k8s-delete.pre_stop]", PRE_STOP_KEYS, "the preStop action, run inside the grace"),
        KeyTable("[expect.all]", EXPECT_ALL_KEYS, "what must hold on every path, unless the path's table says "
                                                  "otherwise"),
        KeyTable("[expect.PATH]", EXPECT_KEYS, "what must hold on one path"),
        KeyTable("[traffic]", TRAFFIC_KEYS, "HTTP requests in flight when the path fires, and new ones after"),
        KeyTable("[services.NAME]", SERVICE_KEYS, "a process the app needs beside it (a broker, a database)"),
        KeyTable("[verify.NAME]", VERIFY_KEYS, "a command run after the case against the state the app left"),
    )


@dataclass(frozen=True)
class AliveCheck:
    """[app] alive: ``check`` is an http or tcp check (passes once it answers within
    ``within`` seconds) or a log regex (passes when a new line matches within
    ``within`` seconds of the check's start)."""

    check: ReadyCheck
    within: float = DEFAULT_ALIVE_WITHIN


@dataclass(frozen=True)
class ReadyCheck:
    """How to tell the app is ready: ``kind`` is one of :data:`READY_KINDS`."""

    kind: str
    value: str | float  # a template string; seconds for "delay" and "quiet"; "any" for
    # "listening" (a TCP socket any process of the case listens on)
    count: int = 1  # log only: ready once this many lines matched (one per worker...)
    # listening only: or else ready once the output was silent this many seconds
    quiet: float | None = None
    # log only: ``value`` compiled once, when the file loaded (see patterns.compile_regex)
    regex: Pattern[str] | None = field(default=None, compare=False, repr=False)


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
    # [app] busy = { log = REGEX }: the app's own line naming the process doing the
    # work (the regex's ``pid`` group); the latest such line before a signal trigger
    # says whom ``to = "busy"`` means, and ``"idle"`` a worker other than it
    busy_log: Pattern[str] | None = field(default=None, compare=False)
    # Once the root ended and stop_timeout passed: how long the processes still
    # running (orphans) are watched, each exit seen on its pidfd, before the harness
    # kills what is left; each orphan's ``fate`` says which it was.
    orphan_watch: float = DEFAULT_ORPHAN_WATCH
    # After a path the root outlives: how to tell the app still answers or
    # progresses (None: the ready check when it is http or tcp, else unknown).
    alive: AliveCheck | None = None
    # touch-reload: the source file (relative to cwd) whose mtime the path updates.
    watch: str | None = None


@dataclass(frozen=True)
class ServiceSpec:
    """[services.NAME]: a real process the harness starts before the app and stops
    after it, with a TCP port of its own (``{port}`` in its strings,
    ``{services.NAME.port}`` everywhere). Its templates are filled per start:
    ``{workdir}`` is a private folder of its own."""

    name: str
    command: tuple[str, ...]  # argv templates
    cwd: FsPath
    env: dict[str, str]
    ready: ReadyCheck | None
    ready_timeout: float = DEFAULT_SERVICE_READY_TIMEOUT
    # after SIGTERM to its process group, how long it has before the SIGKILL
    stop_timeout: float = DEFAULT_SERVICE_STOP_TIMEOUT
    scope: str = "run"  # one of SERVICE_SCOPES


@dataclass(frozen=True)
class VerifySpec:
    """[verify.NAME]: a command the harness runs once the case's every process is gone
    (its services still running), against the state the app left: a database, a
    file, a key in a broker. It passes when it exits 0; its output is the evidence."""

    name: str
    command: tuple[str, ...]  # argv templates
    cwd: FsPath
    env: dict[str, str]
    # how long it may run; then it is killed (with every process it started) and the
    # check is an error, neither passed nor failed
    timeout: float = DEFAULT_VERIFY_TIMEOUT


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
    log: Pattern[str] | None = None  # compiled by compile_regex; match with line_matcher
    file: str | None = None  # template


@dataclass(frozen=True)
class AimSpec:
    """Whom a signal trigger signals: ``to`` one of :data:`AIM_TARGETS`, or the
    processes whose probe or harness role is ``role`` and whose command line matches
    ``cmdline``, the ``nth`` of them by start time (alone: the ``nth`` worker)."""

    to: str | None = None
    role: str | None = None
    cmdline: Pattern[str] | None = field(default=None, compare=False)
    nth: int | None = None

    def describe(self, *, nth: bool = True) -> str:
        """The selector as the scenario wrote it: 'busy', "role='worker' nth=2"
        (without ``nth=`` when ``nth`` is false)."""
        if self.to is not None:
            return self.to
        parts = [f"role={self.role!r}"] if self.role is not None else []
        if self.cmdline is not None:
            parts.append(f"cmdline={quoted(self.cmdline.pattern)}")
        if self.nth is not None and nth:
            parts.append(f"nth={self.nth}")
        return " ".join(parts)


@dataclass(frozen=True)
class TriggerSpec:
    """An app-specific action a path can fire: an HTTP request, a command, or a
    signal (``signal``, to the processes ``aim`` chooses)."""

    name: str
    http: str | None = None  # URL template
    method: str = "GET"
    command: tuple[str, ...] | None = None  # argv templates
    timeout: float = 5.0
    signal: int | None = None
    aim: AimSpec | None = None


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
    # [verify.NAME] checks that must pass (exit 0), and that must run and fail
    verified: tuple[str, ...] = ()
    not_verified: tuple[str, ...] = ()
    # the root ended by itself before the stop timeout (a stop profile: before its
    # grace ran out) and neither the harness nor the stopper killed any process
    within_grace: bool | None = None
    # the keys this expectation took from [expect.all] (EXPECT_ALL_KEYS), so a
    # failure can name the table that stated it
    from_all: tuple[str, ...] = ()

    @property
    def checks(self) -> bool:
        """Whether anything is checked (a claim alone checks nothing)."""
        return bool(self.ran or self.not_ran or self.ran_in or self.order or self.verified
                    or self.not_verified) or any(
            v is not None for v in (self.outcome, self.exit, self.orphans, self.grace_kill, self.drained,
                                    self.dropped, self.within_grace))

    def table_of(self, key: str, path: str) -> str:
        """The [expect] table that stated ``key`` for ``path``: ``all`` or the path."""
        return EXPECT_ALL if key in self.from_all else path


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
    init: str = "auto"  # docker-stop-init, docker-stop-tini-group: "auto" | "tini" | "builtin"
    pre_stop: TriggerSpec | None = None  # k8s-delete only; named "pre-stop"
    after: float | None = None  # double-ctrl-c: seconds after the first Ctrl-C
    # double-ctrl-c: a hook whose start sends the second Ctrl-C: a declared hook, a
    # probe hook "atexit:NAME", or ANY_ATEXIT (see Scenario.hook_kind)
    when: str | None = None
    # the systemd paths: ExecStop= commands, run in order before the stop signal
    exec_stop: tuple[TriggerSpec, ...] = ()


