"""The results model: what one case observed, and the JSON form (version 2).

Every report is rendered from these objects; nothing else is a source of truth.
``to_dict``/``from_dict`` round-trip, so ``shutdown-probe report`` can render saved
JSON exactly as ``run`` rendered it live.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Literal, TypedDict, TypeVar, Union

from ._version import __version__
from .errors import ResultsError

if TYPE_CHECKING:  # annotations only: neither module exists to be imported at run time
    from _typeshed import DataclassInstance
    from typing_extensions import Unpack

RESULTS_VERSION = 2
# Every version this tool reads. Version 2 added outcomes that version 1 could not
# tell apart (ignored within hung; reloaded and unresponsive within hung and survived),
# [verify] checks, orphans followed to their end, the services, the port held to the
# end; a version 1 file reads with those keys at their defaults and keeps its number.
READ_VERSIONS = (1, 2)


def older_results_note(version: int) -> str | None:
    """What a file of an older results version could not say, or None."""
    if version >= RESULTS_VERSION:
        return None
    return (f"results version {version}: written before the outcomes ignored, reloaded and unresponsive "
            "(its hung cases may have ignored the signal or reloaded, its survived ones may have stopped "
            "answering), before [verify] checks, and before orphans were followed to their end")
# A results file is at most this big: 100,000 cases (the most a run may have) of the
# bundled scenarios are about 0.9 GB (tests/data/results.json: 8.9 KB a case on
# average, 14 KB at most), so a smaller bound would make `report` refuse what `run`
# wrote. Reading takes about five times the file's size in memory (84 MB of cases:
# 422 MB at the peak); a machine without it gets one line, not a MemoryError.
MAX_RESULTS_BYTES = 1 << 30


# The fixed value sets of the model, as Literal types: the reader (_Reader) refuses any
# other value, so no report meets an outcome it has no words for.
RequestKind = Literal["in-flight", "queued", "new"]
RequestOutcome = Literal["completed", "error-status", "cut", "refused", "timed-out", "failed", "unfinished"]
ClaimVerdict = Literal["confirmed", "refuted", "untested"]
# the outcomes a scenario's expectation may name (scenario.OUTCOMES, which must match)
CaseOutcome = Literal["exited", "hung", "ignored", "survived", "reloaded", "unresponsive", "not-ready", "error",
                      "interrupted", "skipped"]
# What each outcome means, in the words every face uses: the matrices' legends and the
# generated reference (docs/reference/outcomes.md, shutdown_probe/docgen.py) read it.
OUTCOME_MEANINGS: dict[CaseOutcome, str] = {
    "exited": "the root process ended after the path (processes it left running are its orphans)",
    "hung": "still running after the stop timeout (the harness killed it)",
    "ignored": "still running after the stop timeout, with the path's signal ignored or blocked "
               "(the harness killed it)",
    "survived": "the root lived on after the path ended its worker, or its processes changed and nothing "
                "could check that the app still answers (the harness ended it)",
    "reloaded": "the root stayed, its processes changed and the app still answered (the harness ended it)",
    "unresponsive": "the root outlived the path but the app no longer answered or progressed",
    "not-ready": "the app never got ready that time",
    "error": "the case could not run (see `report --markdown`)",
    "interrupted": "the harness was stopped (SIGINT or SIGTERM) while the case ran",
    "skipped": "the path did not apply (e.g. no child process to signal)",
}
# The outcomes of a case whose root outlived its path (the harness ended it afterwards,
# as cleanup): "survived" (a worker the path ended was replaced; or the root's
# processes changed and no alive check could be made), "reloaded" (the root's
# processes changed and the app still answers), "unresponsive" (the root lived on
# but the app no longer answers or progresses).
STAYED: tuple[str, ...] = ("survived", "reloaded", "unresponsive")
AliveKind = Literal["http", "tcp", "log"]
AliveSource = Literal["alive", "ready"]
ProbeNoteKind = Literal["unreadable", "truncated", "malformed", "not-loaded"]
ServiceScope = Literal["run", "case"]
# a service at the end of a case: still running (scope "run"), stopped by the harness
# after the case (scope "case"), ended by itself or by someone else while the case
# needed it ("died"), never ready, or never started
ServiceState = Literal["running", "stopped", "died", "not-ready", "not-started"]


# The free-form tables of a case, with the keys the reports read back and their types
# (and only those: the rest can hold what a target wrote). Other keys, such as a newer
# harness's, are kept as they are.


class ExitInfo(TypedDict, total=False):
    returncode: int | None
    signal: str | None


class TriggerInfo(TypedDict, total=False):
    """How the path fired: a signal (``signal``, ``to``, ``pid``/``pgid``,
    ``delivered``, ``inject``), a stop profile (``profile``), or a trigger action
    (``trigger`` and what :func:`~shutdown_probe.actions.perform` records). A signal
    trigger has ``trigger``, the signal's fields, ``aim`` (its selector as written:
    "busy", "role='worker' nth=2"), ``chosen`` (how the processes were chosen, in
    words) and ``signalled`` (each process, for every selector but the group)."""

    signal: str | None
    to: str | None
    pid: int | None
    pgid: int | None
    delivered: bool | None
    inject: str | None
    profile: str | None
    trigger: str | None
    http: str | None
    method: str | None
    status: int | None
    location: str | None  # a 3xx's Location (never followed)
    started: bool | None  # False: a command asked for after its case had ended
    error: str | None
    command: list[str]
    returncode: int | None
    aim: str | None
    chosen: str | None
    signalled: list[SignalledInfo]
    touched: str | None  # touch-reload: the watched file whose mtime was set


class ActionInfo(TypedDict, total=False):
    """A preStop action, as :func:`~shutdown_probe.actions.perform` records it."""

    http: str | None
    method: str | None
    status: int | None
    location: str | None
    error: str | None
    command: list[str]
    returncode: int | None
    pid: int | None
    duration_s: float | None
    overran: bool | None


class SecondSignalInfo(TypedDict, total=False):
    """The stop signal a second time: double-ctrl-c's second Ctrl-C (to the group),
    or systemd KillMode=control-group's final SIGTERM to every process left once the
    main process had exited (``signalled``: to whom)."""

    sent: bool | None
    at_s: float | None
    why: str | None
    signalled: list[SignalledInfo]


class SignalledInfo(TypedDict, total=False):
    """One process (or group) a stopper or a signal trigger signalled; ``kind``: the
    probe's name for it, when the probe named it (signal triggers)."""

    pid: int | None
    pgid: int | None
    role: str | None
    delivered: bool | None
    kind: str | None


class ProcessInfo(TypedDict, total=False):
    """A process a stopper killed or left running."""

    pid: int | None
    role: str | None
    cmdline: str | None


class InjectedInfo(TypedDict, total=False):
    pid: int | None
    action: str | None
    stack: list[str]
    caught: bool | None


class ProbeInfo(TypedDict, total=False):
    """The Python probe: whether it ran and why, and what it saw (probe.summary; the
    rest of it, e.g. ``processes``, is kept as written: no report reads it back)."""

    enabled: bool | None
    why: str | None
    injected: list[InjectedInfo]


class ShardInfo(TypedDict):
    """``run --shard K/N``: which part of the run this is (shards.py owns the rule)."""

    index: int  # K, 1..N
    total: int  # N
    run: str  # a digest of every case id of the unsharded run: its shards share it
    of: int  # how many cases (scenario x path, without repeats) the unsharded run has
    repeat: int  # --repeat: how many runs of each case
    cases: list[str]  # this shard's SCENARIO::PATH ids, in run order
    positions: list[int]  # where each stands in the unsharded run (0-based)


class EnvironmentInfo(TypedDict, total=False):
    python: str | None
    implementation: str | None
    platform: str | None
    kernel: str | None
    packages: dict[str, str]
    capabilities: dict[str, str]
    jobs: int | None
    runner: str | None
    workers: int | None
    interrupted_by: str | None
    # run --with: the spec the environment was built from, its Python, the installer;
    # ``unavailable``: why the spec could not be installed (its cases are skipped)
    spec: str | None
    interpreter: str | None
    installer: str | None
    unavailable: str | None
    shard: ShardInfo


# How the evidence of a hook that could not be watched to the end begins, for people
# (programs read HookResult.observed). Results written before that field existed said
# it only here: the reader derives the field from this word for them.
UNOBSERVED = "unobserved"


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
    # False when the hook could not be watched to the end (a regex that timed out, a
    # sentinel that is not a regular file, probe events lost): "ran": false then means
    # "not seen", not "did not run", and the evidence starts with UNOBSERVED
    observed: bool = True

    def _fill_in(self, given: Mapping[str, object]) -> None:
        """Results written before ``observed`` existed said it in the evidence's first word."""
        if "observed" not in given:
            self.observed = not self.evidence.startswith(UNOBSERVED)


@dataclass
class OrderPair:
    """Two hooks whose first evidence one clock saw in this order."""

    first: str
    then: str
    # the clock that saw both: "stdout" or "stderr" (places in one pipe, which keeps
    # the order of writes) or "last-write times" (modification times on one file
    # system: each sentinel's last write; older results call it "file times")
    clock: str


@dataclass
class UnknownOrder:
    """Two hooks whose order no single clock saw, and why (in words, for people)."""

    hooks: list[str]
    why: str


@dataclass
class HookOrder:
    """The declared hooks' order, as far as it was observed: a partial order.

    Every pair of hooks that ran is in ``known`` or in ``unknown``. A line's place in a
    pipe and a file's modification time are different clocks (a pipe is read late, a
    file time is coarse), so a line and a sentinel are never ordered against each
    other, nor are lines of stdout against lines of stderr.
    """

    # the hooks that ran: every known pair in its order, the rest in declaration order
    # (that part of the listing is not an observation)
    hooks: list[str] = field(default_factory=list)
    known: list[OrderPair] = field(default_factory=list)
    unknown: list[UnknownOrder] = field(default_factory=list)

    def inconsistency(self) -> str | None:
        """What makes this order not one the harness could have written (the reader
        refuses it: reports index the listing by the pairs' names), or None."""
        listed = set(self.hooks)
        if len(listed) != len(self.hooks):
            return "a hook is listed twice in 'hooks'"
        for i, p in enumerate(self.known):
            for name in (p.first, p.then):
                if name not in listed:
                    return f"known[{i}] names {_shown(name)}, which is not in 'hooks'"
            if p.first == p.then:
                return f"known[{i}] orders {_shown(p.first)} against itself"
        for i, u in enumerate(self.unknown):
            if len(u.hooks) != 2 or u.hooks[0] == u.hooks[1]:
                return f"unknown[{i}].hooks is not a pair of two different hooks"
            for name in u.hooks:
                if name not in listed:
                    return f"unknown[{i}] names {_shown(name)}, which is not in 'hooks'"
        return None

    def relation(self, a: str, b: str) -> OrderPair | UnknownOrder | None:
        """What is known of ``a`` and ``b``: the pair in whichever order was seen, the
        unknown pair, or None when one of them did not run."""
        for pair in self.known:
            if {pair.first, pair.then} == {a, b}:
                return pair
        for unknown in self.unknown:
            if set(unknown.hooks) == {a, b}:
                return unknown
        return None


# how reports introduce the probe notes of a case
INCOMPLETE = "the probe's evidence is incomplete"


@dataclass
class ProbeNote:
    """Why the Python probe's evidence for a case is incomplete: its events file could
    not be read whole, or some of its lines were not events. A hook the probe did not
    see run may then have run all the same."""

    kind: ProbeNoteKind
    detail: str  # in words: "is a FIFO, not a regular file", "line 3: 'pid' is a list..."
    lines: int = 0  # "malformed": how many lines were dropped


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
    # After its exit it stayed a zombie: its parent (a PID 1 that never calls wait)
    # did not reap it. reaped_after_s: when it was seen gone from the process table
    # (seconds from the trigger), None if it was still a zombie when last looked at.
    zombie: bool = False
    reaped_after_s: float | None = None
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
class AliveRecord:
    """The alive check run after a path the root outlived: ``[app] alive``, or the
    ready check re-used (``source``), and what it saw."""

    kind: AliveKind
    target: str  # the URL, host:port or log regex
    source: AliveSource
    passed: bool
    detail: str  # what answered, or why nothing did
    within_s: float
    at_s: float | None = None  # seconds from the trigger when the check started


@dataclass
class StayRecord:
    """The root outlived the path: the processes started and ended since the trigger
    (before the harness ended the case), and the alive check (None: none could be
    made, neither ``[app] alive`` nor an http/tcp ready check)."""

    started: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    alive: AliveRecord | None = None


@dataclass
class Orphan:
    """A process of the case still running after the root ended and stop_timeout
    passed. The harness then watched it for ``watched_s`` more seconds (the orphan
    watch) before killing what was left: ``fate`` says what it did meanwhile."""

    pid: int
    cmdline: str
    role: str
    listening: list[int]
    killed_by_harness: bool
    # "exited": it ended by itself within the watch; "running": still running at its
    # end (then killed by the harness). None in results written before the watch.
    fate: str | None = None
    watched_s: float | None = None  # how long the harness watched it after stop_timeout
    ended_after_s: float | None = None  # trigger -> its own end, when it ended in the watch
    # its exit, when it ended in the watch: known when the harness could reap it (an
    # orphan is re-parented to the harness, a subreaper) or read it from its pidfd;
    # else exit_known is false and exit_note says why (its parent took the status)
    returncode: int | None = None
    signal: str | None = None
    exit_known: bool = False
    exit_note: str | None = None


# Orphan.fate values
ORPHAN_EXITED = "exited"
ORPHAN_RUNNING = "running"


@dataclass
class IgnoredSignal:
    """A process the path's signal reached that was still running at the deadline
    with that signal ignored (SIG_IGN: /proc/PID/status SigIgn) or blocked (still
    pending for the process: ShdPnd)."""

    pid: int
    role: str
    signal: str  # its name, "SIGTERM"
    how: str  # "ignored" | "blocked"


@dataclass
class UnservedPort:
    """A port still bound and listening at the deadline, held by processes of the
    case, with nothing accepting: the kernel completed a connection the harness made
    (the handshake needs no process), and no process took it off the accept queue
    within ``waited_s``."""

    port: int
    pids: list[int]  # the processes holding the listening socket
    roles: list[str]
    accept_queue: int  # connections waiting to be accepted, the harness's included
    waited_s: float


@dataclass
class StuckAt:
    """Where a process still running at the deadline was in its shutdown, as the
    Python probe saw it. ``stage``: "atexit" (an atexit callable started and never
    returned: ``hook``, ``where`` it was registered), "threads" (finalization began,
    threading._shutdown, joining non-daemon threads, and no atexit callable started),
    "finalizing" (every atexit callable returned: stuck in the interpreter's last
    steps), "running" (the probe saw no finalization begin: the process never started to
    shut down, or it hangs in its own code, a signal handler or a finally block)."""

    pid: int
    role: str
    stage: str
    hook: str | None = None  # "atexit:NAME"
    where: str | None = None  # where the hook was registered, "app.py:12"
    since_s: float | None = None  # trigger -> the stage began (null: before it, or unknown)


@dataclass
class Hang:
    """Why processes of the case were still running at the deadline (stop_timeout),
    read before the harness killed them: a hung or ignored root, or orphans."""

    ignored: list[IgnoredSignal] = field(default_factory=list)
    unserved: list[UnservedPort] = field(default_factory=list)
    stuck: list[StuckAt] = field(default_factory=list)


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
class ServiceRecord:
    """A scenario service ([services.NAME]) as one case saw it. Not one of the app's
    processes: never in ``processes`` nor ``orphans``, never a path's target."""

    name: str
    scope: ServiceScope
    state: ServiceState
    command: str = ""
    port: int | None = None
    pid: int | None = None
    ready_s: float | None = None  # its start -> ready
    ready_detail: str = ""  # what made it ready, or why it never was
    returncode: int | None = None  # once it ended: how
    signal: str | None = None
    # seconds from the case's trigger to its end, when it ended while the case needed
    # it (negative: before the trigger); None otherwise
    ended_after_s: float | None = None
    stopped_by_harness: bool = False  # the harness stopped it (SIGTERM to its group)
    killed_by_harness: bool = False  # ...and it needed the SIGKILL after its stop_timeout
    error: str | None = None  # what went wrong with it, in a sentence
    # its last output lines (stderr's after STDERR_MARK), kept when it failed
    output_tail: str = ""


@dataclass
class VerifyRecord:
    """A [verify.NAME] check, run once every process of the case was gone (before the
    case's services stopped), against the state the app left.

    It passed when its command exited 0 (``passed``); it failed when it exited with
    another code; it gave no answer (``error``, in a sentence) when it could not start,
    ran out of time (killed, with everything it started) or was ended by a signal."""

    name: str
    passed: bool
    command: str = ""
    returncode: int | None = None  # its exit code, when it exited
    signal: str | None = None  # the signal that ended it, when one did
    duration_s: float | None = None  # its start -> its end
    # its last output lines (stderr's after STDERR_MARK), long lines shortened
    output: str = ""
    error: str | None = None

    @property
    def verdict(self) -> str:
        """"passed", "failed" (it answered: not 0) or "error" (no answer)."""
        if self.passed:
            return "passed"
        return "error" if self.error is not None else "failed"

    def last_line(self) -> str:
        """Its last non-empty output line ("" when it printed nothing)."""
        lines = [ln for ln in self.output.splitlines() if ln.strip()]
        return lines[-1] if lines else ""


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
    signalled: list[SignalledInfo] = field(default_factory=list)  # [{pid, role, delivered}]
    signal_at_s: float = 0.0  # after the preStop action, else 0
    # PID 1: how the namespace was made ("unshare --pid ..."), which init ran
    namespace: str | None = None
    init: str | None = None
    # whether PID 1 had a handler for the signal (the kernel drops it otherwise)
    pid1_handles_signal: bool | None = None
    pre_stop: ActionInfo | None = None  # the action, its result, duration_s
    # double-ctrl-c: {sent, at_s, why}; systemd-stop's final SIGTERM: also signalled
    second_signal: SecondSignalInfo | None = None
    # stop start -> the stopper's processes all gone, when they went by themselves
    cleanup_s: float | None = None
    final_kill: bool = False  # the stopper sent its SIGKILL (why: kill_cause)
    kill_at_s: float | None = None
    # why the final SIGKILL came: "grace" (it ran out) or "main-exited" (systemd
    # KillMode=mixed kills what is left the moment the main process has exited)
    kill_cause: str | None = None
    # systemd ExecStop=: each command, its exit and duration_s, in the order run
    exec_stop: list[ActionInfo] = field(default_factory=list)
    killed: list[ProcessInfo] = field(default_factory=list)  # [{pid, role, cmdline}]
    # processes still running when the stopper considered the stop done
    # (supervisord waits for its own process only)
    left_running: list[ProcessInfo] = field(default_factory=list)


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
    kind: RequestKind
    outcome: RequestOutcome
    detail: str = ""  # "connection reset", "closed without a response", "200"...
    status: int | None = None
    sent_s: float | None = None  # seconds from the trigger; negative before it
    ended_s: float | None = None
    pid: int | None = None  # the app process that held the connection, when seen
    role: str | None = None


# Request outcomes, in the order reports list them.
REQUEST_OUTCOMES: tuple[str, ...] = typing.get_args(RequestOutcome)


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
    # the app's port (the one watched for ``released_s``), and the app's processes
    # still listening on it when the harness had to end the case (a hung root, an
    # orphan): they held it to the end. None / empty in older results: not recorded.
    port: int | None = None
    held_by: list[int] = field(default_factory=list)

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

CLAIM_VERDICTS: tuple[str, ...] = typing.get_args(ClaimVerdict)


@dataclass
class FailedKey:
    """Where the scenario stated an expectation that did not hold: its [expect] table
    (``all`` for [expect.all], else the path's name) and the key in it."""

    table: str
    key: str


@dataclass
class ExpectResult:
    passed: bool = True
    failures: list[str] = field(default_factory=list)
    # the key behind each failure, in the same order (empty in files written before it)
    failed_keys: list[FailedKey] = field(default_factory=list)
    declared: bool = False  # False when the scenario states nothing for this path
    # what was observed for each check that held, one line each (failures has the rest)
    evidence: list[str] = field(default_factory=list)
    # the expectation's claim, and whether this case confirmed it, refuted it, or could
    # not test it (skipped, or the case did not run to the end)
    claim: str | None = None
    verdict: ClaimVerdict | None = None


@dataclass
class PolicyFailure:
    """A finding that fails the case under the run's ``--fail-on`` (policy.FINDINGS:
    hung, orphans, ignored, unresponsive, killed, refuted), and what was seen."""

    finding: str
    detail: str

    @property
    def line(self) -> str:
        return f"--fail-on {self.finding}: {self.detail}"


@dataclass
class CaseResult:
    scenario: str
    path: str
    # exited | hung | ignored | survived | reloaded | unresponsive | not-ready | error |
    # skipped. "ignored": the root was still running at stop_timeout and a process the
    # path's signal reached had it ignored or blocked (hang.ignored). "survived": the
    # path ended a child (a worker) and the root lived on (a master respawns workers);
    # "reloaded": the root stayed, its processes changed and the app still answers;
    # "unresponsive": the root stayed but the app no longer answers or progresses. In
    # those three the harness then ended the case (see STAYED).
    outcome: CaseOutcome
    exit: ExitInfo = field(default_factory=lambda: ExitInfo(returncode=None, signal=None))
    duration_s: float | None = None  # trigger -> every process gone by itself
    root_exit_s: float | None = None  # trigger -> the root process ended
    ready_s: float | None = None  # launch -> ready
    hooks: dict[str, HookResult] = field(default_factory=dict)
    # the declared hooks that ran, listed as ``order.hooks`` (only the pairs in
    # ``order.known`` are observations), and the probe's atexit:* hooks in the order
    # they started (its own clock, CLOCK_MONOTONIC, exact across processes). Kept
    # apart: a pipe is read a little late, so mixing the clocks would misplace a line
    # printed just before a hook started.
    hook_order: list[str] = field(default_factory=list)
    probe_order: list[str] = field(default_factory=list)
    # what is known of the declared hooks' order, pair by pair; None in results
    # written before it existed (their hook_order may mix clocks, and is not shown)
    order: HookOrder | None = None
    processes: list[ProcessRecord] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    # processes that may be this case's, as they may be another's (see Stray)
    strays: list[Stray] = field(default_factory=list)
    trigger: TriggerInfo = field(default_factory=TriggerInfo)
    expect: ExpectResult = field(default_factory=ExpectResult)
    error: str | None = None
    # the last lines of each stream in the order read, stderr's after STDERR_MARK
    output_tail: str = ""
    scenario_file: str = ""
    workdir: str | None = None  # the case's private folder, when it was kept
    # the Python probe: {"enabled": bool, "why": str, ...what it saw (probe.summary)}
    probe: ProbeInfo = field(default_factory=ProbeInfo)
    # why the probe's evidence is incomplete, when it is (empty: nothing was lost)
    probe_notes: list[ProbeNote] = field(default_factory=list)
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
    # outcome "skipped": why the path did not apply ("the root has no child process to
    # signal"); ``error`` says the same as "skipped: <reason>", as results version 1 did
    skip_reason: str | None = None
    # the scenario's services ([services.NAME]) as this case saw them, in file order
    services: list[ServiceRecord] = field(default_factory=list)
    # the scenario's [verify] checks, in file order, when the case ran its path to the
    # end (empty otherwise: nothing was checked)
    verify: list[VerifyRecord] = field(default_factory=list)
    # what was still running at the deadline, and why (hung, ignored, orphans); None
    # when nothing was, and in results written before it existed
    hang: Hang | None = None
    # outcomes in STAYED: what changed after the trigger, and the alive check
    stayed: StayRecord | None = None
    # findings the run's --fail-on (or the plugin's) made failures (policy.py)
    fail_on: list[PolicyFailure] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        """Mark the case skipped: the path does not apply, for ``reason``."""
        self.outcome = "skipped"
        self.skip_reason = reason
        self.error = f"skipped: {reason}"

    def _fill_in(self, given: Mapping[str, object]) -> None:
        """Results written before ``skip_reason`` existed gave the reason in ``error``
        only, after "skipped: "."""
        if "skip_reason" not in given and self.outcome == "skipped" and self.error is not None:
            self.skip_reason = self.error.removeprefix("skipped: ")

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
        return self.errored or not self.expect.passed or bool(self.fail_on)

    @property
    def failure_lines(self) -> list[str]:
        """Every reason the case failed that is not an error: the expectations that
        did not hold, then the findings --fail-on names."""
        return [*self.expect.failures, *(f.line for f in self.fail_on)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, file: str = "results", key: str = "case") -> "CaseResult":
        """A case from its JSON form, every value's type checked (see :func:`load_results`);
        raises :class:`ResultsError` naming ``file`` and the key, under ``key``."""
        return _Reader(file).record(cls, data, key)


@dataclass
class Results:
    cases: list[CaseResult] = field(default_factory=list)
    environment: EnvironmentInfo = field(default_factory=EnvironmentInfo)
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
    def from_dict(cls, data: Any, *, file: str = "results") -> "Results":
        """Results from their JSON form, every value's type checked as it is read; keys
        this version does not know are ignored. Raises :class:`ResultsError` naming
        ``file`` and the key path (``cases[3].hooks``)."""
        reader = _Reader(file)
        if not isinstance(data, dict):
            raise reader.fail(None, f"expected a JSON object at the top, got {_json_kind(data)}")
        if "version" not in data:
            raise reader.fail("version", "missing: not shutdown-probe results JSON")
        if isinstance(data["version"], bool) or data["version"] not in READ_VERSIONS:
            raise reader.fail("version", "not shutdown-probe results JSON version "
                                         f"{' or '.join(map(str, READ_VERSIONS))} "
                                         f"(unsupported results version {_shown(data['version'])})")
        return reader.record(cls, data, "")


def load_results(file: str | os.PathLike[str], *, shown: str | None = None) -> Results:
    """Read and check one results JSON file; every way of failing is one
    :class:`ResultsError` line naming the file (``shown``, default ``file``) and,
    where there is one, the key.

    The file is read the one safe way (:func:`~shutdown_probe.reading.read_regular`:
    no FIFO, no device, at most :data:`MAX_RESULTS_BYTES`); a link to a regular file
    is followed.
    """
    name = _one_line(str(file) if shown is None else shown)
    try:
        return _load(file, name)
    except MemoryError:
        pass
    # outside the handler: the half-built results it holds are freed by now
    raise ResultsError(name, None, "too large to read in the memory available")


def _load(file: str | os.PathLike[str], name: str) -> Results:
    from .reading import Unreadable, read_regular

    try:
        raw, _ = read_regular(file, MAX_RESULTS_BYTES)
    except FileNotFoundError:
        raise ResultsError(name, None, "no such file") from None
    except Unreadable as exc:
        raise ResultsError(name, None, str(exc)) from None
    except OSError as exc:
        raise ResultsError(name, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsError(name, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    del raw  # each copy of the file costs its size again: the bytes, the text, the parsed values
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(name, None, f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ResultsError(name, None, "not shutdown-probe results JSON: arrays or objects nested too deeply") from None
    except ValueError as exc:  # int() refuses a number of more than 4300 digits
        raise ResultsError(name, None, f"not JSON: {_one_line(str(exc))}") from None
    del text
    return Results.from_dict(data, file=name)


# --------------------------------------------------------------------------- reading JSON back

# Bounds on what a results file may hold: the harness writes nothing near them, and past
# them a report would only be slow or wrong (a duration of 1e300 s, a pid of 400 digits).
# The probe's events (probe.EVENT_SCHEMA) are held to the same bounds, so that nothing
# a target writes can make results the reader then refuses.
MAX_NUMBER = 1e15
_MAX_NUMBER = MAX_NUMBER
# Linux's PID_MAX_LIMIT on 64-bit (include/linux/threads.h): /proc/sys/kernel/pid_max
# can be raised to it and no further, so no real pid is larger.
PID_LIMIT = 1 << 22
_MAX_DEPTH = 32  # nesting of a value in a free-form table (a newer harness's key)


def _json_kind(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
             dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value[:40] + ("..." if len(value) > 40 else ""))
    if isinstance(value, (int, float, bool)) or value is None:
        return json.dumps(value)[:40]
    return _json_kind(value)


def _one_line(text: str) -> str:
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@functools.lru_cache(maxsize=None)
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_Record = TypeVar("_Record", bound="DataclassInstance")


class _Reader:
    """Builds the results model from parsed JSON, checking each value against the
    field's annotation as it goes: a dataclass or TypedDict is an object, ``list[X]``
    an array, ``dict[str, X]`` an object of X, ``X | None`` X or null. ``Any`` (and a
    key of a TypedDict it does not list) is any JSON value nested at most
    :data:`_MAX_DEPTH` deep."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str | None, message: str) -> ResultsError:
        return ResultsError(self.file, _one_line(key) if key else None, _one_line(message))

    @staticmethod
    def _at(where: str, name: str) -> str:
        return f"{where}.{name}" if where else name

    def record(self, cls: type[_Record], data: Any, where: str) -> _Record:
        """A dataclass ``cls`` from object ``data``; keys it does not have are ignored."""
        if not isinstance(data, dict):
            raise self.fail(where or None, f"expected an object, got {_json_kind(data)}")
        hints = _hints(cls)
        values = {}
        for f in fields(cls):
            key = self._at(where, f.name)
            if f.name in data:
                values[f.name] = self.value(hints[f.name], data[f.name], key)
            elif f.default is MISSING and f.default_factory is MISSING:
                raise self.fail(key, "missing")
        out = cls(**values)
        # a field added after the first release, missing from an older file, may be
        # derivable from what that file said instead
        fill_in = getattr(out, "_fill_in", None)
        if fill_in is not None:
            fill_in(data)
        # a record whose fields must agree with each other says what does not
        inconsistency = getattr(out, "inconsistency", None)
        problem = inconsistency() if inconsistency is not None else None
        if problem:
            raise self.fail(where or None, problem)
        return out

    def value(self, hint: Any, value: Any, where: str) -> Any:
        origin = typing.get_origin(hint)
        if origin in (Union, types.UnionType):
            options = typing.get_args(hint)
            if value is None and type(None) in options:
                return None
            (inner,) = [o for o in options if o is not type(None)]
            return self.value(inner, value, where)
        if hint is Any:
            self._any(value, where, 0)
            return value
        if isinstance(hint, type) and is_dataclass(hint):
            return self.record(hint, value, where)
        if typing.is_typeddict(hint):
            return self._table(hint, value, where)
        if origin is list:
            if not isinstance(value, (list, tuple)):  # a tuple: a case sent by an xdist worker
                raise self.fail(where, f"expected an array, got {_json_kind(value)}")
            (item,) = typing.get_args(hint)
            return [self.value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        if origin is dict:
            if not isinstance(value, dict):
                raise self.fail(where, f"expected an object, got {_json_kind(value)}")
            _, item = typing.get_args(hint)
            return {k: self.value(item, v, self._at(where, k)) for k, v in value.items()}
        if origin is Literal:
            allowed = typing.get_args(hint)
            if not isinstance(value, str):
                raise self.fail(where, f"expected a string, got {_shown(value)}")
            if value not in allowed:
                raise self.fail(where, f"expected one of {', '.join(allowed)}, got {_shown(value)}")
            return value
        if hint is bool:
            if not isinstance(value, bool):
                raise self.fail(where, f"expected true or false, got {_shown(value)}")
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _MAX_NUMBER:
                raise self.fail(where, f"expected a whole number, got {_shown(value)}")
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and abs(value) <= _MAX_NUMBER):
                raise self.fail(where, f"expected a number, got {_shown(value)}")
            return value
        if hint is str:
            if not isinstance(value, str):
                raise self.fail(where, f"expected a string, got {_shown(value)}")
            return value
        raise TypeError(f"no reader for {hint!r}")  # pragma: no cover - a new field's type

    def _table(self, shape: type, value: Any, where: str) -> dict[str, Any]:
        """A free-form table: the keys ``shape`` lists are checked, the others kept."""
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {_json_kind(value)}")
        hints = _hints(shape)
        out = {}
        for k, v in value.items():
            key = self._at(where, k)
            if k in hints:
                out[k] = self.value(hints[k], v, key)
            else:
                self._any(v, key, 1)
                out[k] = v
        for k in getattr(shape, "__required_keys__", ()):
            if k not in value:
                raise self.fail(self._at(where, k), "missing")
        return out

    def _any(self, value: Any, where: str, depth: int) -> None:
        """Any JSON value, nested at most :data:`_MAX_DEPTH` deep."""
        if depth > _MAX_DEPTH:
            raise self.fail(where, f"nested more than {_MAX_DEPTH} deep")
        if isinstance(value, list):
            for i, v in enumerate(value):
                self._any(v, f"{where}[{i}]", depth + 1)
        elif isinstance(value, dict):
            for k, v in value.items():
                self._any(v, self._at(where, k), depth + 1)
