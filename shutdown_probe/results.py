"""The results model: what one case observed, and the JSON form (version 1).

Every report is rendered from these objects; nothing else is a source of truth.
``to_dict``/``from_dict`` round-trip, so ``shutdown-probe report`` can render saved
JSON exactly as ``run`` rendered it live.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from . import __version__

RESULTS_VERSION = 1


@dataclass
class HookResult:
    ran: bool
    evidence: str
    pids: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    # seconds from the trigger to the first evidence; None when it did not run
    at_s: float | None = None
    matches: int = 0
    # "log" / "file" for the scenario's [hooks]; "probe" for an atexit callable the
    # Python probe found (named "atexit:<qualified name>"). The fields below are the
    # probe's: it sees each process call, finish, or be cut short in, the hook.
    source: str = ""
    kinds: list[str] = field(default_factory=list)  # framework role per pid, e.g. "reloader-child"
    interrupted_pids: list[int] = field(default_factory=list)  # started, never finished
    interrupted_roles: list[str] = field(default_factory=list)
    registered_pids: list[int] = field(default_factory=list)
    duration_s: float | None = None  # the longest finished run
    errors: list[str] = field(default_factory=list)  # what it raised, per pid
    where: str = ""  # file:line of the atexit.register call


@dataclass
class ProcessRecord:
    pid: int
    role: str
    cmdline: str = ""
    returncode: int | None = None  # set when it exited normally
    signal: str | None = None  # set when a signal ended it, e.g. "SIGKILL"
    # how the exit was learned: "waited" (the harness's child), "pidfd-info" (kernel
    # PIDFD_INFO_EXIT), or "unknown" with the reason in ``exit_note``
    exit_known: bool = False
    exit_note: str | None = None
    ended_after_s: float | None = None  # seconds from the trigger; None if never ended
    killed_by_harness: bool = False
    # the stop profile's own SIGKILL, when the grace ran out (the stopper, not the harness)
    killed_by_stop: bool = False
    kind: str | None = None  # framework role the probe recognised, e.g. "reloader-parent"
    # seconds from the trigger to its start, for a process started after the path
    # fired (a respawned worker); None for the others
    started_after_s: float | None = None
    ns_pid: int | None = None  # its PID inside the case's PID namespace (1 for PID 1), if any
    listening: list[int] = field(default_factory=list)  # TCP ports when it was ready
    signals_ignored: list[str] = field(default_factory=list)
    signals_caught: list[str] = field(default_factory=list)
    # a process re-parented to the harness without the case's tag (role "adopted"):
    # what tied it to this case ("session", "output pipe", "start time: ...")
    attributed_by: str | None = None


@dataclass
class Orphan:
    pid: int
    cmdline: str
    role: str
    listening: list[int]
    killed_by_harness: bool


@dataclass
class Stray:
    """A process re-parented to the harness whose case could not be known (several
    cases were running when it started), or whose case had already ended when it was
    found. The harness killed it at once; it is listed on every case in ``cases``,
    one of which started it."""

    pid: int
    cmdline: str
    cases: list[str]  # the ids of the cases that may have started it
    why: str  # why no single running case could take it
    listening: list[int] = field(default_factory=list)
    killed_by_harness: bool = False


@dataclass
class Escalation:
    """A signal the harness itself had to send to clean up, and why."""

    pid: int
    role: str
    signal: str
    reason: str
    at_s: float | None = None  # seconds from the trigger; None when it came before it


@dataclass
class StopRecord:
    """What a deployment stop profile did, and how its grace period was used.

    Times are seconds from the start of the stop (the preStop action, if any, else
    the first signal).
    """

    profile: str
    stopper: str  # "Docker", "systemd"...
    signal: str  # the stop signal's name
    to: str  # who was signalled, in words: "PID 1 (the app)", "every process (3)"...
    grace_s: float | None  # None: the stopper never kills (double-ctrl-c)
    grace_from: str = "default"  # "default" or "scenario"
    source: str = ""  # where the profile's behaviour is documented
    signalled: list[dict[str, Any]] = field(default_factory=list)  # [{pid, role, delivered}]
    signal_at_s: float = 0.0  # after the preStop action, else 0
    # PID 1: how the namespace was made ("unshare --pid ..."), which init ran
    namespace: str | None = None
    init: str | None = None
    # whether PID 1 had a handler for the signal (the kernel drops it otherwise)
    pid1_handles_signal: bool | None = None
    pre_stop: dict[str, Any] | None = None  # the action, its result, duration_s
    second_signal: dict[str, Any] | None = None  # double-ctrl-c: {sent, at_s, why}
    # stop start -> the stopper's processes all gone, when they went by themselves
    cleanup_s: float | None = None
    final_kill: bool = False  # the grace ran out and the stopper sent SIGKILL
    kill_at_s: float | None = None
    killed: list[dict[str, Any]] = field(default_factory=list)  # [{pid, role, cmdline}]
    # processes still running when the stopper considered the stop done
    # (supervisord waits for its own process only)
    left_running: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RequestRecord:
    """One HTTP request the traffic sent: when, on which server process, and its fate.

    ``kind``: ``in-flight`` (accepted by the app, its request read, no answer yet when
    the path fired), ``queued`` (connected, still in the listen backlog when the path
    fired) or ``new`` (sent after the path fired). ``outcome``: ``completed`` (a whole
    response, status below 500), ``error-status`` (a whole response, 500 or more),
    ``cut`` (connected, then reset or closed before a whole response), ``refused``
    (no listener: connection refused), ``timed-out`` (no answer within the timeout),
    ``failed`` (could not connect for another reason, given in ``detail``),
    ``unfinished`` (still waiting when the harness itself ended the case).
    """

    n: int
    kind: str
    outcome: str
    detail: str = ""  # "connection reset", "closed without a response", "200"...
    status: int | None = None
    sent_s: float | None = None  # seconds from the trigger; negative before it
    ended_s: float | None = None
    pid: int | None = None  # the app process that held the connection, when seen
    role: str | None = None


# Request outcomes, in the order reports list them.
REQUEST_OUTCOMES = ("completed", "error-status", "cut", "refused", "timed-out", "failed", "unfinished")


@dataclass
class TrafficRecord:
    """What happened to HTTP traffic while the path ended the app.

    Times are seconds from the trigger. ``drained``: every request in flight when the
    path fired got a whole, non-5xx response (None when none was in flight).
    ``dropped``: how many new requests were accepted by the kernel and then cut.
    ``stopped_accepting_s``: when the first new request that was not served was sent,
    counting only failures after which no new request was served again, or when the
    port was released if that came first (None: the port kept serving).
    ``refused_from_s``: the first refused connection. ``released_s``: when no socket
    listened on the port any more (polled every 20 ms at most).
    """

    url: str
    new_url: str | None
    in_flight: int  # how many the scenario asked for
    queued: int = 0
    window_s: float = 0.0
    requests: list[RequestRecord] = field(default_factory=list)
    drained: bool | None = None
    dropped: int = 0
    stopped_accepting_s: float | None = None
    refused_from_s: float | None = None
    released_s: float | None = None
    last_served_s: float | None = None
    # why new requests stopped: "window", "cap", "case ended"
    stopped_by: str = ""
    notes: list[str] = field(default_factory=list)

    def counts(self, kind: str) -> dict[str, int]:
        """Outcome -> number of requests of ``kind`` (in-flight, queued, new)."""
        out: dict[str, int] = {}
        for r in self.requests:
            if r.kind == kind:
                out[r.outcome] = out.get(r.outcome, 0) + 1
        return {k: out[k] for k in REQUEST_OUTCOMES if k in out}


STDERR_MARK = "[stderr] "  # starts each stderr line of CaseResult.output_tail

# outcomes of a case that did not run to the end: it says nothing about the app's
# shutdown (never ready, the harness failed, or the harness was asked to stop)
UNFINISHED = ("not-ready", "error", "interrupted")
# ...and with the cases that never started (the path did not apply): no observation
NOT_OBSERVED = ("skipped", *UNFINISHED)

CLAIM_VERDICTS = ("confirmed", "refuted", "untested")


@dataclass
class ExpectResult:
    passed: bool = True
    failures: list[str] = field(default_factory=list)
    declared: bool = False  # False when the scenario states nothing for this path
    # what was observed for each check that held, one line each (failures has the rest)
    evidence: list[str] = field(default_factory=list)
    # the expectation's claim, and whether this case confirmed it, refuted it, or could
    # not test it (skipped, or the case did not run to the end)
    claim: str | None = None
    verdict: str | None = None


@dataclass
class CaseResult:
    scenario: str
    path: str
    # exited | hung | survived | not-ready | error | skipped. "survived": the path
    # ended a child (a worker) and the root lived on (a master respawns workers);
    # the harness then ended the case.
    outcome: str
    exit: dict[str, Any] = field(default_factory=lambda: {"returncode": None, "signal": None})
    duration_s: float | None = None  # trigger -> every process gone by itself
    root_exit_s: float | None = None  # trigger -> the root process ended
    ready_s: float | None = None  # launch -> ready
    hooks: dict[str, HookResult] = field(default_factory=dict)
    # the declared hooks in the order their evidence appeared (pipe reads and file
    # times), and the probe's atexit:* hooks in the order they started (its own clock,
    # exact across processes). Two lists: a pipe is read a little late, so mixing the
    # two clocks would misplace a line printed just before a hook started.
    hook_order: list[str] = field(default_factory=list)
    probe_order: list[str] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    # processes that may be this case's, as they may be another's (see Stray)
    strays: list[Stray] = field(default_factory=list)
    trigger: dict[str, Any] = field(default_factory=dict)
    expect: ExpectResult = field(default_factory=ExpectResult)
    error: str | None = None
    # the last lines of each stream in the order read, stderr's after STDERR_MARK
    output_tail: str = ""
    scenario_file: str = ""
    workdir: str | None = None  # the case's private folder, when it was kept
    # the Python probe: {"enabled": bool, "why": str, ...what it saw (probe.summary)}
    probe: dict[str, Any] = field(default_factory=dict)
    # a deployment stop profile's sequence and grace accounting; None for other paths
    stop: StopRecord | None = None
    # requests in flight and new requests during the shutdown; None without [traffic]
    traffic: TrafficRecord | None = None
    # with `run --repeat N`: which run of this scenario x path (1..N); None otherwise
    attempt: int | None = None
    # the case's whole life in the harness, from taking a port to the last cleanup
    wall_s: float | None = None
    # CLOCK_MONOTONIC (seconds) at the trigger: lines the case up with timestamps the
    # app takes itself (time.monotonic() in any process on the machine)
    trigger_clock: float | None = None

    @property
    def label(self) -> str:
        """The path, and which run of it when the case was repeated."""
        return self.path if self.attempt is None else f"{self.path} #{self.attempt}"

    @property
    def errored(self) -> bool:
        return self.outcome in UNFINISHED

    @property
    def failed(self) -> bool:
        """True when the case counts against the run's exit status."""
        return self.errored or not self.expect.passed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CaseResult":
        data = dict(data)
        data["hooks"] = {k: HookResult(**v) for k, v in data.get("hooks", {}).items()}
        data["processes"] = [ProcessRecord(**p) for p in data.get("processes", [])]
        data["orphans"] = [Orphan(**o) for o in data.get("orphans", [])]
        data["escalations"] = [Escalation(**e) for e in data.get("escalations", [])]
        data["strays"] = [Stray(**s) for s in data.get("strays", [])]
        data["expect"] = ExpectResult(**data.get("expect", {}))
        if data.get("stop") is not None:
            data["stop"] = StopRecord(**data["stop"])
        if data.get("traffic") is not None:
            traffic = dict(data["traffic"])
            traffic["requests"] = [RequestRecord(**r) for r in traffic.get("requests", [])]
            data["traffic"] = TrafficRecord(**traffic)
        return cls(**data)


@dataclass
class Results:
    cases: list[CaseResult] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    tool: str = f"shutdown-probe {__version__}"
    version: int = RESULTS_VERSION
    # scenario name -> its description, for report titles
    scenarios: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(c.failed for c in self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tool": self.tool,
            "environment": self.environment,
            "scenarios": self.scenarios,
            "cases": [c.to_dict() for c in self.cases],
        }

    def to_json(self) -> str:
        buf = io.StringIO()
        self.write_json(buf)
        return buf.getvalue()

    def write_json(self, out: IO[str]) -> None:
        """Write the JSON form one case at a time: a run of thousands of cases never
        holds the whole document in memory. The text is json.dumps(to_dict(), indent=2)."""

        def value(obj: Any, depth: int) -> str:
            text = json.dumps(obj, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * depth)
            # A lone surrogate (undecodable bytes that slipped through) cannot be
            # written as UTF-8; its JSON escape, \udcff, can, and reads back the same.
            return text.encode("utf-8", "backslashreplace").decode("utf-8")

        out.write("{\n")
        for key in ("version", "tool", "environment", "scenarios"):
            out.write(f'  "{key}": {value(getattr(self, key), 1)},\n')
        if not self.cases:
            out.write('  "cases": []\n}\n')
            return
        out.write('  "cases": [\n')
        for n, case in enumerate(self.cases):
            out.write(("" if n == 0 else ",\n") + "    " + value(case.to_dict(), 2))
        out.write("\n  ]\n}\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Results":
        if data.get("version") != RESULTS_VERSION:
            raise ValueError(f"unsupported results version {data.get('version')!r}, expected {RESULTS_VERSION}")
        return cls(
            cases=[CaseResult.from_dict(c) for c in data.get("cases", [])],
            environment=data.get("environment", {}),
            tool=data.get("tool", ""),
            version=data["version"],
            scenarios=data.get("scenarios", {}),
        )


def _platform() -> str:
    """platform.platform()'s text ("Linux-6.1.0-x86_64-with-glibc2.36") without its
    cost: it finds the C library by reading the Python binary (8 ms a run)."""
    try:
        libc, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return platform.platform()
    u = os.uname()
    return f"{u.sysname}-{u.release}-{u.machine}-with-{libc}{version}"


# Servers and web frameworks whose version decides how an app shuts down (who handles
# SIGTERM, whether a reloader forks). Their versions go into the results, so `report`
# can put runs against different versions side by side.
FRAMEWORKS = frozenset({"aiohttp", "celery", "daphne", "django", "fastapi", "flask", "gunicorn", "hypercorn",
                        "quart", "sanic", "starlette", "tornado", "uvicorn", "waitress", "werkzeug"})

_NOT_NAME = re.compile(r"[-_.]+")


def installed_frameworks() -> dict[str, str]:
    """Name -> version of the :data:`FRAMEWORKS` installed for this interpreter (the
    one ``{python}`` runs targets with), sorted by name.

    This reads what importlib.metadata reads, the ``NAME-VERSION.dist-info`` (or
    ``.egg-info``) folders on ``sys.path`` and the ``Version:`` line of their
    metadata, without importing it: importing importlib.metadata alone costs 11 ms
    (email, zipfile, csv), and looking the names up 3 ms more, on every run; this
    costs well under 1 ms. Zipped ``sys.path`` entries are not searched; as in
    importlib.metadata, the first folder on ``sys.path`` wins.
    """
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, or a folder that does not exist
            continue
        for folder in names:
            stem, dot, kind = folder.rpartition(".")
            if not dot or kind not in ("dist-info", "egg-info"):
                continue
            name = _NOT_NAME.sub("-", stem.partition("-")[0]).lower()
            if name in FRAMEWORKS and name not in found:
                path = os.path.join(entry or ".", folder)
                # an old distutils install's .egg-info is the metadata file itself
                if not os.path.isfile(path):
                    path = os.path.join(path, "METADATA" if kind == "dist-info" else "PKG-INFO")
                version = _metadata_version(path)
                if version:
                    found[name] = version
    return dict(sorted(found.items()))


def _metadata_version(file: str) -> str | None:
    """The ``Version:`` header of a core metadata file; None when it has none."""
    try:
        with open(file, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():  # the headers end at the first blank line
                    break
                if line.startswith("Version:"):
                    return line[len("Version:"):].strip()
    except OSError:
        pass
    return None


def environment_info(**extra: Any) -> dict[str, Any]:
    """Where the run happened, for the results JSON. ``packages`` is always there
    (``{}`` when none of the frameworks is installed); JSON written before it existed
    has no such key, which readers take as "not recorded"."""
    info = {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": _platform(),
        "kernel": platform.release(),
        "packages": installed_frameworks(),
    }
    info.update(extra)
    return info
