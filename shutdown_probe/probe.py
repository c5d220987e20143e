"""The harness's half of the Python probe: switch it on, then read what it saw.

The other half, ``_probe_site/sitecustomize.py``, runs inside every Python process of
a case (its loader's folder, ``_probe_site/loader``, is put first on ``PYTHONPATH``, so
``site`` imports it at start-up, and the loader runs it from the run's compiled code,
:mod:`~shutdown_probe.probecode`), in the reloader child, gunicorn workers and multiprocessing children alike). Each
process appends JSON lines to one events file; this module turns them into:

* the Python processes of the case, with a framework role each
  (``reloader-parent``/``reloader-child``, ``master``/``worker``, ``mp-child``...);
* one hook per atexit callable the app registered, ``atexit:<qualified name>``, with
  the processes that ran it, those that started it and never finished, how long it
  took and what it raised.

Every timestamp is CLOCK_MONOTONIC, which the harness's ``time.monotonic`` reads too.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path as FsPath
from typing import Any

from .paths import INJECT_SIGNAL, signal_name
from .probecode import CODE_ENV, code_prefix
from .reading import Unreadable, read_regular, size_words
from .roles import framework_roles
from .results import INCOMPLETE, MAX_NUMBER, PID_LIMIT, UNOBSERVED, HookResult, ProbeNote, ProcessRecord
from .scenario import PROBE_HOOK_PREFIX

PROBE_DIR = FsPath(__file__).resolve().parent / "_probe_site" / "loader"  # what goes on PYTHONPATH
EVENTS_ENV = "SHUTDOWN_PROBE_EVENTS"
INJECT_ENV = "SHUTDOWN_PROBE_INJECT"
INJECT_SIGNAL_ENV = "SHUTDOWN_PROBE_INJECT_SIGNAL"
INJECTED_MESSAGE = "shutdown-probe injected exception"  # the probe's RuntimeError (sitecustomize)

_PYTHON_NAME = re.compile(r"^(python|pypy)[0-9.]*$")


def runs_python(argv: list[str], env: dict[str, str], cwd: str) -> bool:
    """Whether the command starts a Python interpreter: ``python...`` itself, or a
    script whose ``#!`` line names one (``gunicorn``, ``flask``, ``uvicorn``)."""
    if not argv:
        return False
    program = argv[0]
    if os.path.basename(program) == "sh" and len(argv) >= 3 and argv[1] == "-c":
        return True  # a shell command: cannot tell, and PYTHONPATH is harmless to others
    if _PYTHON_NAME.match(os.path.basename(program)):
        return True
    if "/" in program:
        full = program if os.path.isabs(program) else os.path.join(cwd, program)
    else:
        full = shutil.which(program, path=env.get("PATH", os.defpath)) or ""
    try:
        # the command is followed like exec follows it; a FIFO or device is not read
        head, _ = read_regular(full, 256, truncate=True)
    except OSError:
        return False
    first = head.split(b"\n", 1)[0]
    return first.startswith(b"#!") and b"python" in first


# processes the harness or an action started, not the app: the probe is not theirs
_NOT_THE_APP = ("launcher", "init", "trigger", "pre-stop", "exec-stop")


def unprobed_pythons(processes: Sequence[ProcessRecord], report: ProbeReport) -> ProbeNote | None:
    """A note when a process of the app ran a Python interpreter (its argv[0] is one)
    and no process at all told the probe it started: the probe was on but nothing
    loaded it (a Python older than 3.8, ``python -S`` or ``-I``, a PYTHONPATH the app
    reset), so a hook it would have found is unknown, not absent."""
    if report.starts or report.notes:  # it loaded, or what it wrote could not be read: said already
        return None
    pythons = [p.cmdline for p in processes if p.cmdline.split() and not p.role.startswith(_NOT_THE_APP)
               and _PYTHON_NAME.match(os.path.basename(p.cmdline.split()[0]))]
    if not pythons:
        return None
    return ProbeNote("not-loaded", f"no process loaded it, though {len(pythons)} ran Python "
                                   f"(e.g. {pythons[0][:80]!r}: older than 3.8, -S or -I, or PYTHONPATH reset)")


def probe_env(env: dict[str, str], events: str, inject: str | None) -> dict[str, str]:
    """``env`` with the probe switched on (its folder first on PYTHONPATH)."""
    out = dict(env)
    rest = out.get("PYTHONPATH", "")
    out["PYTHONPATH"] = str(PROBE_DIR) + (os.pathsep + rest if rest else "")
    out[EVENTS_ENV] = events
    out.pop(CODE_ENV, None)
    prefix = code_prefix()
    if prefix is not None:
        out[CODE_ENV] = prefix
    out.pop(INJECT_ENV, None)
    out.pop(INJECT_SIGNAL_ENV, None)
    if inject:
        out[INJECT_ENV] = inject
        out[INJECT_SIGNAL_ENV] = str(int(INJECT_SIGNAL))
    return out


def without_probe(env: dict[str, str]) -> dict[str, str]:
    """``env`` (made by :func:`probe_env`) with the probe switched off again: for the
    commands the harness runs itself (triggers, preStop), whose atexit callables and
    events are not the app's."""
    out = {k: v for k, v in env.items() if k not in (EVENTS_ENV, CODE_ENV, INJECT_ENV, INJECT_SIGNAL_ENV)}
    if "PYTHONPATH" in out:
        rest = [p for p in out["PYTHONPATH"].split(os.pathsep) if p != str(PROBE_DIR)]
        if any(rest):
            out["PYTHONPATH"] = os.pathsep.join(rest)
        else:
            del out["PYTHONPATH"]
    return out


# The events file lies in the case's folder, where the app can replace it (a FIFO, a
# link to /dev/zero) or append to it without end. 8 MiB is 550 times what a gunicorn
# case with four workers writes (15 KB, about 3 KB per Python process) and 1,500 times
# a Flask reloader case with an injected exit (5.6 KB); reading that much takes about
# a second and 100 MB. Beyond it nothing is read, and the case says its evidence is
# incomplete.
EVENTS_LIMIT = 8 << 20


# The bounds are the results reader's (results.MAX_NUMBER, PID_LIMIT): an event past
# them would make a case whose results JSON does not load back. A time is a
# CLOCK_MONOTONIC reading (seconds since boot); the harness subtracts one from another,
# so they are held a thousand times inside the reader's bound, still 31,000 years.
MAX_EVENT_TIME = MAX_NUMBER / 1000


def _is_int(v: Any) -> bool:
    return type(v) is int and abs(v) <= MAX_NUMBER  # not bool, which JSON's true would give


def _is_pid(v: Any) -> bool:
    return type(v) is int and 0 < v <= PID_LIMIT


def _is_ppid(v: Any) -> bool:
    return type(v) is int and 0 <= v <= PID_LIMIT  # 0: the parent of PID 1 is outside its namespace


def _is_time(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v) and abs(v) <= MAX_EVENT_TIME


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_strs(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)


def _or_null(check: Any) -> Any:
    def either(v: Any) -> bool:
        return v is None or check(v)

    either.__name__ = check.__name__
    return either


_WORDS = {"_is_int": "an integer within +-1e15", "_is_pid": f"a pid (1 to {PID_LIMIT})",
          "_is_ppid": f"a pid or 0 (0 to {PID_LIMIT})", "_is_time": "a finite number within +-1e12",
          "_is_str": "a string", "_is_bool": "true or false", "_is_strs": "a list of strings"}

# Each kind of event the probe writes (sitecustomize.py), with the keys the harness
# reads from it and what each must be. One place: every reader of the file gets only
# events of these shapes, so no code downstream meets a list where it wants a pid.
_COMMON = {"pid": _is_pid, "t": _is_time}
EVENT_SCHEMA: dict[str, dict[str, Any]] = {
    "start": {"ppid": _is_ppid, "argv": _or_null(_is_strs), "how": _or_null(_is_str),
              "werkzeug_run_main": _or_null(_is_str), "run_main": _or_null(_is_str),
              "executable": _or_null(_is_str)},
    "register": {"id": _is_int, "name": _is_str, "where": _or_null(_is_str), "stdlib": _is_bool},
    "unregister": {"id": _is_int, "name": _is_str, "where": _or_null(_is_str)},
    "hook-start": {"id": _is_int, "name": _is_str},
    "hook-end": {"id": _is_int, "name": _is_str, "error": _or_null(_is_str), "dur": _is_time},
    "signal": {"signum": _is_int, "signal": _or_null(_is_str), "handler": _or_null(_is_str),
               "where": _or_null(_is_str), "stdlib": _is_bool, "error": _or_null(_is_str)},
    "finalize": {"caller": _or_null(_is_str)},
    "atexit-done": {},
    "atexit-clear": {"where": _or_null(_is_str), "stdlib": _is_bool},
    "excepthook": {"type": _is_str, "message": _is_str},
    "inject": {"action": _is_str, "signum": _is_int, "stack": _is_strs},
}


def _problem(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The event on one line, or None and what is wrong with it (never the line's own
    text: it is the app's to choose)."""
    try:
        event = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return None, "not JSON"
    if type(event) is not dict:
        return None, "not a JSON object"
    ev = event.get("ev")
    schema = EVENT_SCHEMA.get(ev) if type(ev) is str else None
    if schema is None:
        return None, "no known event kind in 'ev'"
    for key, check in (*_COMMON.items(), *schema.items()):
        if key not in event:
            return None, f"a {ev} event without '{key}'"
        if not check(event[key]):
            return None, f"'{key}' of a {ev} event is not {_WORDS[check.__name__]}"
    return event, ""


# what a forked child's start event leaves to its parent's
_INHERITED = ("argv", "werkzeug_run_main", "run_main", "executable")


@dataclass
class EventsRead:
    """The valid events of the file, and why the probe's evidence is incomplete, if it is."""

    events: list[dict[str, Any]]
    notes: list[ProbeNote]


def load_events(path: str, *, finished: bool = True) -> EventsRead:
    """Every valid event of the events file, read without following a link, without
    blocking and up to :data:`EVENTS_LIMIT`; every line that is not one becomes a count
    in a note. ``finished``: every process of the case has ended, so a last line
    without its newline was cut short (while they run, it is still being written)."""
    try:
        data, cut = read_regular(path, EVENTS_LIMIT, follow_links=False, truncate=True)
    except Unreadable as exc:
        return EventsRead([], [ProbeNote("unreadable", f"its events file {exc.reason}")])
    except FileNotFoundError:
        return EventsRead([], [])  # no Python process of the case loaded the probe
    except OSError as exc:
        return EventsRead([], [ProbeNote("unreadable", f"its events file cannot be read: {exc.strerror or exc}")])
    notes = []
    lines = data.split(b"\n")
    last = lines.pop()  # after the last newline: b"" when the file ends with one
    if cut:
        notes.append(ProbeNote("truncated", f"its events file is larger than {size_words(EVENTS_LIMIT)}; "
                                            "the events after that were not read"))
    elif last.strip() and finished:
        lines.append(last)  # a write cut short (or garbage): reported below
    events = []
    bad, first = 0, ""
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        event, problem = _problem(raw)
        if event is None:
            bad += 1
            first = first or f"line {number}: {problem}"
        else:
            events.append(event)
    if bad:
        lines_word = "line was" if bad == 1 else "lines were"
        notes.append(ProbeNote("malformed", f"{bad} {lines_word} not an event of the probe's and "
                                            f"dropped (the first, {first})", bad))
    return EventsRead(events, notes)


def read_events(path: str) -> list[dict[str, Any]]:
    """The valid events written so far, while the case runs (see :func:`load_events`)."""
    return load_events(path, finished=False).events


def loaded_in(path: str, pid: int) -> bool:
    """Whether the probe reported the start of process ``pid``."""
    return any(e["ev"] == "start" and e["pid"] == pid for e in read_events(path))


@dataclass
class _Run:
    """One atexit callable in one process: registered, maybe started, maybe ended."""

    pid: int
    name: str
    where: str
    stdlib: bool
    registered_t: float
    started_t: float | None = None
    ended_t: float | None = None
    error: str | None = None
    unregistered: bool = False


@dataclass(frozen=True)
class ShutdownStage:
    """Where one process was in its shutdown (see :meth:`ProbeReport.shutdown_stage`)."""

    stage: str  # "atexit" | "threads" | "finalizing" | "running"
    hook: str | None = None
    where: str | None = None
    t: float | None = None  # CLOCK_MONOTONIC when the stage began


@dataclass
class ProbeReport:
    events: list[dict[str, Any]] = field(default_factory=list)
    # why the evidence is incomplete (lines dropped, the file unreadable or cut)
    notes: list[ProbeNote] = field(default_factory=list)

    @classmethod
    def load(cls, path: str, pid_map: dict[int, int] | None = None) -> "ProbeReport":
        """Read once every process of the case has ended. ``pid_map``: in a PID
        namespace the probe sees its own numbers (1, 2...); the map turns them into
        the harness's."""
        read = load_events(path)
        events = read.events
        if pid_map:
            for e in events:
                for key in ("pid", "ppid"):
                    if e.get(key) in pid_map:
                        e[key] = pid_map[e[key]]
        return cls(events, read.notes)

    # ------------------------------------------------------------ processes

    @cached_property
    def starts(self) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for e in self.events:
            if e["ev"] == "start" and e["pid"] not in out:
                parent = out.get(e["ppid"])
                if e.get("how") == "fork" and e.get("argv") is None and parent is not None:
                    # a forked child's argv, executable and environment are its parent's
                    # (the probe does not read them again in the child: it keeps a fork cheap)
                    e = {**e, **{k: parent.get(k) for k in _INHERITED}}
                out[e["pid"]] = e
        return out

    @cached_property
    def kinds(self) -> dict[int, str]:
        """pid -> the framework role the probe can recognise, when it can (see :mod:`.roles`)."""
        handlers: dict[int, list[str]] = {}
        for e in self.events:
            if e["ev"] == "signal" and e.get("handler"):
                handlers.setdefault(e["pid"], []).append(e["handler"])
        return framework_roles(self.starts, handlers)

    def summary(self) -> dict[str, Any]:
        """What goes into the results JSON under ``probe``."""
        kinds = self.kinds
        processes = [
            {"pid": pid, "ppid": e.get("ppid"), "how": e.get("how"), "kind": kinds.get(pid),
             "argv": e.get("argv")}
            for pid, e in self.starts.items()
        ]
        signals = [
            {"pid": e["pid"], "signal": e.get("signal") or signal_name(e.get("signum")),
             "handler": e.get("handler"), "where": e.get("where")}
            for e in self.events if e["ev"] == "signal"
        ]
        registered = [
            {"pid": r.pid, "hook": PROBE_HOOK_PREFIX + r.name, "where": r.where, "stdlib": r.stdlib,
             "unregistered": r.unregistered}
            for r in self._runs
        ]
        unhandled = [{"pid": e["pid"], "type": e.get("type"), "message": e.get("message")}
                     for e in self.events if e["ev"] == "excepthook"]
        # multiprocessing calls threading._shutdown itself in its children; only a
        # call from the interpreter (no Python caller) is the real finalization
        finalized = sorted({e["pid"] for e in self.events if e["ev"] == "finalize" and not e.get("caller")})
        injected = [self._injected(e, unhandled) for e in self.events if e["ev"] == "inject"]
        return {"processes": processes, "atexit_registered": registered, "signal_handlers": signals,
                "unhandled_exceptions": unhandled, "finalized": finalized, "injected": injected}

    @staticmethod
    def _injected(event: dict[str, Any], unhandled: list[dict[str, Any]]) -> dict[str, Any]:
        """The probe's injected exit: where it landed and, for an exception, whether it
        got away (reached ``sys.excepthook``) or the app caught it."""
        out = {"pid": event["pid"], "action": event.get("action"), "stack": event.get("stack") or []}
        if out["action"] == "exception":
            out["caught"] = not any(u["pid"] == event["pid"] and u["type"] == "RuntimeError"
                                    and u["message"] == INJECTED_MESSAGE for u in unhandled)
        return out

    # ------------------------------------------------------------ hooks

    @cached_property
    def _runs(self) -> list[_Run]:
        runs: dict[tuple[int | None, Any], _Run] = {}
        # a forked child inherits its parent's registry: its runs carry its own pid
        # but the parent's ids, so a run is found by (pid, id) and else by (ppid, id)
        starts = self.starts
        for e in self.events:
            ev, pid = e["ev"], e["pid"]
            if ev == "register":
                runs[(pid, e.get("id"))] = _Run(pid, _short(e.get("name", "?")), e.get("where", ""),
                                                bool(e.get("stdlib")), e["t"])
                continue
            if ev not in ("hook-start", "hook-end", "unregister"):
                continue
            key = (pid, e.get("id"))
            if key not in runs:
                parent = runs.get((starts.get(pid, {}).get("ppid"), e.get("id")))
                name = _short(e.get("name", parent.name if parent else "?"))
                runs[key] = _Run(pid, name, parent.where if parent else "", parent.stdlib if parent else False,
                                 parent.registered_t if parent else e["t"])
            run = runs[key]
            if ev == "hook-start":
                run.started_t = e["t"]
            elif ev == "hook-end":
                run.ended_t = e["t"]
                run.error = e.get("error")
            else:
                run.unregistered = True
        return list(runs.values())

    def hook_results(self, t0: float | None, roles: dict[int, str],
                     processes: list[ProcessRecord] | None = None) -> dict[str, HookResult]:
        """``atexit:<name>`` -> what happened to it, for the app's own callables.

        Callables registered by the standard library (logging.shutdown and the like)
        stay in the JSON's ``probe`` section but get no matrix column.

        A run that started and never finished was cut short, unless the events file
        was not read whole (``notes``): then its end may merely be lost, and it counts
        as cut short only when ``processes`` (the case's records) show that its
        process was ended by a signal; else it is not observed either way.
        """
        kinds = self.kinds
        killed = {p.pid for p in processes or () if p.signal is not None}
        by_name: dict[str, list[_Run]] = {}
        for run in self._runs:
            if not run.stdlib:
                by_name.setdefault(PROBE_HOOK_PREFIX + run.name, []).append(run)
        out: dict[str, HookResult] = {}
        for name, runs in by_name.items():
            done = [r for r in runs if r.ended_t is not None]
            cut = [r for r in runs if r.started_t is not None and r.ended_t is None]
            lost: list[_Run] = []
            if self.notes:
                lost = [r for r in cut if r.pid not in killed]
                cut = [r for r in cut if r.pid in killed]
            started = [r for r in runs if r.started_t is not None]
            first = min((r.started_t for r in started if r.started_t is not None), default=None)
            evidence = _evidence(runs, done, cut, roles, lost)
            # the line that would show it ran may be one of those lost
            observed = bool(done) or not self.notes
            if not observed:
                evidence = f"{UNOBSERVED}: {INCOMPLETE} ({'; '.join(n.detail for n in self.notes)}); {evidence}"
            hook = HookResult(
                ran=bool(done),
                evidence=evidence,
                pids=[r.pid for r in done],
                roles=[roles.get(r.pid, "descendant") for r in done],
                at_s=round(first - t0, 4) if first is not None and t0 is not None else None,
                matches=len(started),
                source="probe",
                kinds=[kinds.get(r.pid, "") for r in done],
                interrupted_pids=[r.pid for r in cut],
                interrupted_roles=[roles.get(r.pid, "descendant") for r in cut],
                registered_pids=sorted({r.pid for r in runs if not r.unregistered}),
                duration_s=round(max(_duration(r) for r in done), 4) if done else None,
                errors=[f"pid {r.pid}: {r.error}" for r in done if r.error],
                where=runs[0].where,
                observed=observed,
            )
            out[name] = hook
        return out

    def shutdown_stage(self, pid: int) -> "ShutdownStage | None":
        """How far ``pid`` got in its shutdown, as its last events say: an atexit
        callable that started and never returned (the latest such), else threading's
        shutdown begun by the interpreter with no atexit callable started after it,
        else "finalizing" (its atexit callables all returned; in a process that never
        imported threading, the probe's last callable ran), else "running" (no
        finalization seen). None when the probe never ran in ``pid``."""
        if pid not in self.starts:
            return None
        open_runs = [r for r in self._runs if r.pid == pid and r.started_t is not None and r.ended_t is None]
        if open_runs:
            run = max(open_runs, key=lambda r: r.started_t or 0.0)
            return ShutdownStage("atexit", PROBE_HOOK_PREFIX + run.name, run.where or None, run.started_t)
        finals = [e["t"] for e in self.events
                  if e["ev"] == "finalize" and e["pid"] == pid and not e.get("caller")]
        if not finals:
            # threading never imported (the probe patches it only when the app imports
            # it): no threads to wait for, so its atexit stage is finalization's first
            done = [e["t"] for e in self.events if e["ev"] == "atexit-done" and e["pid"] == pid]
            if not done:
                return ShutdownStage("running")
            starts = [r.started_t for r in self._runs if r.pid == pid and r.started_t is not None]
            return ShutdownStage("finalizing", t=min(starts + done))
        began = min(finals)
        if any(r.pid == pid and r.started_t is not None and r.started_t >= began for r in self._runs):
            return ShutdownStage("finalizing", t=began)
        return ShutdownStage("threads", t=began)

    def probe_order(self) -> list[str]:
        """The app's ``atexit:<name>`` hooks in the order their first run started."""
        first: dict[str, float] = {}
        for run in self._runs:
            if run.started_t is not None and not run.stdlib:
                name = PROBE_HOOK_PREFIX + run.name
                first[name] = min(first.get(name, run.started_t), run.started_t)
        return sorted(first, key=first.__getitem__)


def _short(name: str) -> str:
    return name.removeprefix("__main__.")


def _duration(run: _Run) -> float:
    """A finished run's duration (a run is finished when its hook-end was seen)."""
    assert run.started_t is not None and run.ended_t is not None, run
    return run.ended_t - run.started_t


def _evidence(runs: list[_Run], done: list[_Run], cut: list[_Run], roles: dict[int, str],
              lost: Sequence[_Run] = ()) -> str:
    def who(r: _Run) -> str:
        return f"{roles.get(r.pid, 'descendant')} {r.pid}"

    parts = []
    if done:
        parts.append("ran in " + ", ".join(
            f"{who(r)} ({_duration(r) * 1000:.0f} ms{', raised ' + r.error if r.error else ''})"
            for r in done))
    if cut:
        parts.append("started but never finished in " + ", ".join(who(r) for r in cut))
    if lost:
        parts.append("started in " + ", ".join(who(r) for r in lost) + ", its end not seen")
    if not parts:
        registered = sorted({who(r) for r in runs})
        parts.append("registered in " + ", ".join(registered) + "; never called")
    return "probe: " + "; ".join(parts)
