"""The harness's half of the Python probe: switch it on, then read what it saw.

The other half, ``_probe_site/sitecustomize.py``, runs inside every Python process of
a case (the folder is put first on ``PYTHONPATH``, so ``site`` imports it at start-up
in the reloader child, gunicorn workers and multiprocessing children alike). Each
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
import os
import re
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path as FsPath
from typing import Any

from .paths import INJECT_SIGNAL, signal_name
from .results import HookResult
from .scenario import PROBE_HOOK_PREFIX

PROBE_DIR = FsPath(__file__).resolve().parent / "_probe_site"
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
        with open(full, "rb") as fh:
            first = fh.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def probe_env(env: dict[str, str], events: str, inject: str | None) -> dict[str, str]:
    """``env`` with the probe switched on (its folder first on PYTHONPATH)."""
    out = dict(env)
    rest = out.get("PYTHONPATH", "")
    out["PYTHONPATH"] = str(PROBE_DIR) + (os.pathsep + rest if rest else "")
    out[EVENTS_ENV] = events
    out.pop(INJECT_ENV, None)
    out.pop(INJECT_SIGNAL_ENV, None)
    if inject:
        out[INJECT_ENV] = inject
        out[INJECT_SIGNAL_ENV] = str(int(INJECT_SIGNAL))
    return out


def read_events(path: str) -> list[dict[str, Any]]:
    """Every complete JSON line of the events file (a torn last line is skipped)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return []
    events = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            event = json.loads(raw)
        except ValueError:
            continue  # a write cut short by SIGKILL
        if isinstance(event, dict) and "ev" in event and "pid" in event:
            events.append(event)
    return events


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


@dataclass
class ProbeReport:
    events: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str, pid_map: dict[int, int] | None = None) -> "ProbeReport":
        """``pid_map``: in a PID namespace the probe sees its own numbers (1, 2...);
        the map turns them into the harness's."""
        events = read_events(path)
        if pid_map:
            for e in events:
                for key in ("pid", "ppid"):
                    if e.get(key) in pid_map:
                        e[key] = pid_map[e[key]]
        return cls(events)

    # ------------------------------------------------------------ processes

    @cached_property
    def starts(self) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for e in self.events:
            if e["ev"] == "start":
                out.setdefault(e["pid"], e)
        return out

    @cached_property
    def kinds(self) -> dict[int, str]:
        """pid -> the framework role the probe can recognise, when it can."""
        starts = self.starts
        children: dict[int, list[dict[str, Any]]] = {}
        for e in starts.values():
            children.setdefault(e.get("ppid"), []).append(e)
        out: dict[int, str] = {}
        for pid, e in starts.items():
            argv = " ".join(e.get("argv") or [])
            parent = starts.get(e.get("ppid"))
            parent_argv = " ".join(parent.get("argv") or []) if parent else ""
            if e.get("werkzeug_run_main") == "true":
                out[pid] = "reloader-child"
            elif any(c.get("werkzeug_run_main") == "true" for c in children.get(pid, [])):
                out[pid] = "reloader-parent"
            elif "gunicorn" in argv and parent is not None and "gunicorn" in parent_argv:
                out[pid] = "worker"
            elif "gunicorn" in argv:
                out[pid] = "master"
            elif "multiprocessing" in argv and ("spawn_main" in argv or "forkserver" in argv):
                out[pid] = "mp-child"
            elif e.get("how") == "fork":
                out[pid] = "fork-child"
        return out

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
        runs: dict[tuple[int, Any], _Run] = {}
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

    def hook_results(self, t0: float | None, roles: dict[int, str]) -> dict[str, HookResult]:
        """``atexit:<name>`` -> what happened to it, for the app's own callables.

        Callables registered by the standard library (logging.shutdown and the like)
        stay in the JSON's ``probe`` section but get no matrix column.
        """
        kinds = self.kinds
        by_name: dict[str, list[_Run]] = {}
        for run in self._runs:
            if not run.stdlib:
                by_name.setdefault(PROBE_HOOK_PREFIX + run.name, []).append(run)
        out: dict[str, HookResult] = {}
        for name, runs in by_name.items():
            done = [r for r in runs if r.ended_t is not None]
            cut = [r for r in runs if r.started_t is not None and r.ended_t is None]
            started = [r for r in runs if r.started_t is not None]
            first = min((r.started_t for r in started), default=None)
            hook = HookResult(
                ran=bool(done),
                evidence=_evidence(runs, done, cut, roles),
                pids=[r.pid for r in done],
                roles=[roles.get(r.pid, "descendant") for r in done],
                at_s=round(first - t0, 4) if first is not None and t0 is not None else None,
                matches=len(started),
                source="probe",
                kinds=[kinds.get(r.pid, "") for r in done],
                interrupted_pids=[r.pid for r in cut],
                interrupted_roles=[roles.get(r.pid, "descendant") for r in cut],
                registered_pids=sorted({r.pid for r in runs if not r.unregistered}),
                duration_s=round(max(r.ended_t - r.started_t for r in done), 4) if done else None,
                errors=[f"pid {r.pid}: {r.error}" for r in done if r.error],
                where=runs[0].where,
            )
            out[name] = hook
        return out

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


def _evidence(runs: list[_Run], done: list[_Run], cut: list[_Run], roles: dict[int, str]) -> str:
    def who(r: _Run) -> str:
        return f"{roles.get(r.pid, 'descendant')} {r.pid}"

    parts = []
    if done:
        parts.append("ran in " + ", ".join(
            f"{who(r)} ({(r.ended_t - r.started_t) * 1000:.0f} ms{', raised ' + r.error if r.error else ''})"
            for r in done))
    if cut:
        parts.append("started but never finished in " + ", ".join(who(r) for r in cut))
    if not parts:
        registered = sorted({who(r) for r in runs})
        parts.append("registered in " + ", ".join(registered) + "; never called")
    return "probe: " + "; ".join(parts)
