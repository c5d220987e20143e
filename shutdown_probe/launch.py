"""The first phase of a case: start its app, tagged and watched, with its output read.

:func:`launch` fills in the scenario for the case (port, folder), decides whether
the Python probe goes in, puts the PID-1 launcher in front for a profile that runs
the app as PID 1, and starts the app in a session of its own: a :class:`Launched`
(the live case every later phase acts on), or a :class:`NotLaunched` that says why
nothing started.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, replace


from . import adoption, watchdog
from .busyline import BusyWatch
from .case import Case
from .evidence import FileHookDetector, LogHookDetector
from .handles import TAG_ENV
from .namespaces import choose_init, pid_namespace
from .output import OutputCapture
from .paths import Path
from .probe import probe_env, runs_python
from .processes import CaseProcesses
from .readiness import LogWatcher, QuietWatch
from .results import CaseOutcome, ProbeInfo, StopRecord, Stray
from .scenario import ProfileSettings, Resolved
from .stops import new_record


@dataclass
class Launched:
    """A case whose app was started: what the later phases act on."""

    resolved: Resolved
    env: dict[str, str]  # the app's environment (the probe's and the tag included)
    events: str | None  # the probe's events file, when the probe went in
    probe: ProbeInfo
    settings: ProfileSettings | None  # a stop profile's settings, for a profile path
    stop: StopRecord | None  # a stop profile's record, filled as the stop runs
    log_hooks: dict[str, LogHookDetector]
    file_hooks: dict[str, FileHookDetector]
    tree: CaseProcesses
    capture: OutputCapture
    ready_watch: LogWatcher | None
    window: adoption.Window
    strays: list[Stray]  # where adoption records the strays this case may own
    # [app] busy: the latest line naming the busy process (None: not declared)
    busy_watch: BusyWatch | None = None
    # [app] ready quiet (or listening with quiet): when the latest line came
    quiet_watch: QuietWatch | None = None
    # [app] ready listening: HOST:PORT the app was found serving on (the alive check's)
    served: str | None = None


@dataclass(frozen=True)
class NotLaunched:
    """Nothing started: why (a skip, or a command that could not start)."""

    outcome: CaseOutcome
    error: str
    probe: ProbeInfo
    stop: StopRecord | None
    skip_reason: str | None = None  # outcome "skipped": why the path does not apply


@dataclass(frozen=True)
class _Plan:
    """What will be started: the argv (behind the PID-1 launcher, if any) and env."""

    argv: list[str]
    env: dict[str, str]
    events: str | None
    probe: ProbeInfo
    settings: ProfileSettings | None
    stop: StopRecord | None


def launch(case: Case, workdir: str, port: int, tag: str,
           services: dict[str, int] | None = None) -> Launched | NotLaunched:
    """Start the app of ``case`` (its processes tagged ``tag``); ``services`` are the
    ports of the scenario's running services, by name."""
    scenario, path = case.scenario, case.path
    resolved = scenario.resolve(port=port, workdir=workdir, services=services)
    plan = _plan(case, resolved, workdir, tag)
    if isinstance(plan, NotLaunched):
        return plan
    log_hooks = {n: LogHookDetector(h) for n, h in scenario.hooks.items() if h.log is not None}
    file_hooks = {n: FileHookDetector(h, resolved.hook_files[n]) for n, h in scenario.hooks.items()
                  if h.file is not None}
    strays: list[Stray] = []
    started = _start(case.id, plan, resolved, tag, strays)
    if isinstance(started, str):
        return NotLaunched("error", started, plan.probe, plan.stop)
    popen, window, out_r, err_r = started
    pid1 = path.profile.pid1 if path.profile is not None else None
    tree = CaseProcesses(popen, tag, launcher=pid1 is not None, init=pid1 == "init", window=window)
    capture = OutputCapture({"stdout": out_r, "stderr": err_r})
    for det in log_hooks.values():
        capture.subscribe(det, det.spec.log)  # the regex: lines it cannot match are skipped
    app = scenario.app
    busy_watch = None
    if app.busy_log is not None:
        # before the ready check: each line goes to the subscribers in order, so a ready
        # line that also names the busy process is seen here before the case is ready
        busy_watch = BusyWatch(app.busy_log)
        capture.subscribe(busy_watch, app.busy_log)
    ready_watch = None
    if app.ready is not None and app.ready.kind == "log":
        ready_watch = LogWatcher(app.ready.regex, app.ready.count)
        capture.subscribe(ready_watch, app.ready.regex)
    quiet_watch = None
    if app.ready is not None and (app.ready.kind == "quiet" or app.ready.quiet is not None):
        quiet_watch = QuietWatch()
        capture.subscribe(quiet_watch)
    capture.start()
    return Launched(resolved, plan.env, plan.events, plan.probe, plan.settings, plan.stop, log_hooks,
                    file_hooks, tree, capture, ready_watch, window, strays, busy_watch, quiet_watch)


def _plan(case: Case, resolved: Resolved, workdir: str, tag: str) -> _Plan | NotLaunched:
    path = case.path
    env = target_env(case, resolved.env, tag)
    events, probe = _switch_probe(case, resolved.argv, resolved.cwd, env, workdir)
    if events is not None:
        env = probe_env(env, events, path.inject)
    if path.profile is None:
        return _Plan(resolved.argv, env, events, probe, None, None)
    settings = case.scenario.profile_settings(path.name)
    if settings.exec_stop:  # the commands with this case's port and workdir filled in
        settings = replace(settings, exec_stop=resolved.exec_stop.get(path.name, ()))
    stop = new_record(path, settings)
    prefix, skip = _pid1_prefix(path, settings, stop)
    if skip is not None:
        return NotLaunched("skipped", f"skipped: {skip}", probe, stop, skip_reason=skip)
    if path.profile.init == "dumb-init":
        env.pop("DUMB_INIT_SETSID", None)  # "0" would be --single-child: not this path's dumb-init
    return _Plan(prefix + resolved.argv, env, events, probe, settings, stop)


def _start(case_id: str, plan: _Plan, resolved: Resolved, tag: str,
           strays: list[Stray]) -> tuple[subprocess.Popen[bytes], adoption.Window, int, int] | str:
    """Start the app; its Popen, the case's window and the read ends of its output
    pipes, or why it could not start."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    # The case's window opens before its root exists, and the root is registered as
    # the harness's own child before anyone can list the harness's children: a
    # process re-parented to the harness can then be told apart (see adoption.py).
    with adoption.spawning():
        window = adoption.open_window(case_id, tag, frozenset(os.fstat(fd).st_ino for fd in (out_r, err_r)),
                                      strays)
        try:
            popen = subprocess.Popen(
                plan.argv, cwd=resolved.cwd, env=plan.env, stdin=subprocess.DEVNULL,
                stdout=out_w, stderr=err_w, start_new_session=True,
                preexec_fn=adoption.stop_signal_reset(),
            )
        except OSError as exc:
            adoption.close_window(window)
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            return f"cannot start {resolved.argv[0]!r}: {exc.strerror or exc}"
        adoption.own(popen.pid)
    watchdog.cases()
    os.close(out_w)
    os.close(err_w)
    return popen, window, out_r, err_r


def target_env(case: Case, resolved_env: dict[str, str], tag: str) -> dict[str, str]:
    """The app's environment: the harness's, the scenario's, and the case's tag."""
    env = dict(os.environ)
    # A harness started from a Werkzeug reloader would otherwise make the target
    # believe it is already the reloader's child.
    for leftover in ("WERKZEUG_RUN_MAIN", "WERKZEUG_SERVER_FD", TAG_ENV):
        env.pop(leftover, None)
    if case.scenario.app.unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    else:
        env.pop("PYTHONUNBUFFERED", None)
    env.update(resolved_env)
    env[TAG_ENV] = tag
    return env


def _pid1_prefix(path: Path, settings: ProfileSettings, stop: StopRecord) -> tuple[list[str], str | None]:
    """The launcher (and init) that make the app PID 1, or why this machine cannot."""
    if path.profile is None or path.profile.pid1 is None:
        return [], None
    ns = pid_namespace()
    if ns.prefix is None:
        return [], f"{path.name} runs the app as PID 1 of a PID namespace, and {ns.why_not}"
    stop.namespace = ns.how
    prefix = list(ns.prefix)
    if path.profile.pid1 == "init":
        init = choose_init(settings.init, path.profile.init or "tini")
        if init.prefix is None:
            return [], f"{path.name}: {init.why_not}"
        stop.init = init.name
        prefix += list(init.prefix)
    return prefix, None


def _switch_probe(case: Case, argv: list[str], cwd: str, env: dict[str, str],
                  workdir: str) -> tuple[str | None, ProbeInfo]:
    """Decide whether the Python probe goes in: its events file if so, and why."""
    wanted = case.scenario.app.probe
    if wanted is False:
        return None, {"enabled": False, "why": "off (app.probe = false)"}
    if wanted is None and not runs_python(argv, env, cwd):
        return None, {"enabled": False, "why": "off (the command does not run Python; set app.probe = true "
                                                "if it starts Python further down)"}
    folder = os.path.join(workdir, ".shutdown-probe")
    os.makedirs(folder, exist_ok=True)
    probe: ProbeInfo = {"enabled": True, "why": "on (app.probe = true)" if wanted else "on (the command runs Python)"}
    return os.path.join(folder, "events.jsonl"), probe
