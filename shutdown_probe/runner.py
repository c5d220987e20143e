"""Running cases: one scenario x one path, from launch to the last process gone.

``run_case`` is the whole life of one case:

    launch (own session, tagged env, pipes drained)  ->  wait until ready
      ->  arm the hook detectors and fire the path  ->  wait for the root, then for
      every other process, up to stop_timeout  ->  hung / orphans: record, then kill
      ->  collect evidence, exit statuses, output tail  ->  CaseResult

``run_cases`` schedules many cases on a thread pool. Every live case is registered so
that an interrupted harness can kill everything it started (:func:`abort_all`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from .actions import perform
from .evidence import FileHookDetector, LogHookDetector, observed_order
from .expect import evaluate
from .output import OutputCapture
from . import adoption, namespaces, watchdog
from .namespaces import choose_init, pid_namespace
from .paths import Path, signal_name
from .ports import lease_port
from .procnet import listening_ports
from .probe import ProbeReport, loaded_in, probe_env, runs_python, without_probe
from .processes import (
    TAG_ENV,
    CaseProcesses,
    ProcessHandle,
    action_of,
    capabilities,
    describe_status,
    signal_dispositions,
    sweep_strays,
)
from .readiness import Interrupted, LogWatcher, wait_ready
from .environment import environment_info
from .results import CaseResult, Escalation, Orphan, ProcessRecord, Results, StopRecord
from .scenario import Scenario
from .stops import StopContext, StopSequence, cleanup_watch, new_record
from .waiting import Backoff, Flag, wait_readable

if TYPE_CHECKING:  # imported when a scenario has [traffic]: it brings in requests
    from .traffic import Traffic

# Every tag is "SESSION/RUN/CASE". RUN identifies this harness process; SESSION is
# inherited from the environment (a test session sets it for every harness it starts,
# CLI subprocesses included), so a leak check can look for its own processes without
# touching those of another run on the same machine.
SESSION_ENV = "SHUTDOWN_PROBE_SESSION"
RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def tag_prefix() -> str:
    return f"{os.environ.get(SESSION_ENV, '-')}/{RUN_ID}/"

# How long to wait, after the harness's own SIGKILLs, for the processes to be gone.
KILL_GRACE = 5.0
# How long to wait for the output pipes to reach EOF once every process is gone.
OUTPUT_GRACE = 3.0


@dataclass(frozen=True)
class Case:
    scenario: Scenario
    path: Path
    attempt: int | None = None  # which run of a repeated case (1..N), else None

    @property
    def id(self) -> str:
        run = f" #{self.attempt}" if self.attempt is not None else ""
        return f"{self.scenario.name}::{self.path.name}{run}"


# A run keeps every case's result until its reports are written (a few KB to a few
# hundred KB each), so it has at most this many cases; `run --repeat 1000000000` is a
# typo, not a plan. 100,000 cases of the bundled scenarios are about 0.9 GB of JSON.
MAX_CASES = 100_000


class TooManyCases(ValueError):
    """More cases were asked for than :data:`MAX_CASES`; the message is one line."""


class CaseList(Sequence[Case]):
    """The cases of a run, made when asked for: scenario x path x attempt, in file
    order, the runs of one path next to each other. ``--repeat`` multiplies the cases,
    and a list would hold every one of them before the first could start."""

    def __init__(self, pairs: list[tuple[Scenario, Path]], repeat: int = 1) -> None:
        self._pairs = pairs
        self._repeat = max(repeat, 1)
        self._where = {(id(s), p.name): n for n, (s, p) in enumerate(pairs)}

    def __len__(self) -> int:
        return len(self._pairs) * self._repeat

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[n] for n in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("case index out of range")
        scenario, path = self._pairs[i // self._repeat]
        return Case(scenario, path, i % self._repeat + 1 if self._repeat > 1 else None)

    def index(self, case: Case, *_: object) -> int:  # type: ignore[override]
        """Where ``case`` stands in the run, without walking the list."""
        n = self._where.get((id(case.scenario), case.path.name))
        if n is None or (case.attempt or 1) > self._repeat:
            raise ValueError(f"{case.id} is not a case of this run")
        return n * self._repeat + (case.attempt or 1) - 1

    def distinct(self) -> list[Case]:
        """One case per scenario x path (the first run of each)."""
        return [Case(s, p, 1 if self._repeat > 1 else None) for s, p in self._pairs]

    def __repr__(self) -> str:
        return f"<CaseList {len(self._pairs)} paths x {self._repeat} runs>"


def expand_cases(scenarios: Iterable[Scenario], only: Iterable[str] = (), *, repeat: int = 1) -> CaseList:
    """Scenario x path, in file order; ``only`` keeps just the named paths: a path
    name (``sigkill``) for every scenario, ``SCENARIO::PATH`` for one.

    With ``repeat`` > 1 every case is run that many times, the runs of one path next
    to each other (attempt 1..N): shutdown races show up as runs that disagree. The
    cases are made as they are needed; more than :data:`MAX_CASES` in all raises
    :class:`TooManyCases`.
    """
    keep = set(only)
    pairs = [(s, p) for s in scenarios for p in s.paths
             if not keep or p.name in keep or f"{s.name}::{p.name}" in keep]
    total = len(pairs) * max(repeat, 1)
    if total > MAX_CASES:
        raise TooManyCases(f"{len(pairs)} path(s) x {repeat} run(s) = {total} cases, more than the {MAX_CASES} "
                           "one run may have (every result is kept until the reports are written); "
                           "ask for fewer runs or paths, or split the run")
    return CaseList(pairs, repeat)


def _distinct(cases: Sequence[Case]) -> list[Case]:
    """One case per scenario x path of ``cases``, without walking a long CaseList."""
    if isinstance(cases, CaseList):
        return cases.distinct()
    seen: dict[tuple[int, str], Case] = {}
    for case in cases:
        seen.setdefault((id(case.scenario), case.path.name), case)
    return list(seen.values())


# ------------------------------------------------------------------ live-case registry

_active: set[CaseProcesses] = set()
_active_lock = threading.Lock()


def abort_all() -> int:
    """SIGKILL every process of every running case; return how many were signalled.

    For an interrupted harness: the cases' own threads also clean up when they see the
    cancel flag, this is the backstop that does not depend on them.
    """
    with _active_lock:
        trees = list(_active)
    n = 0
    reason = "the harness was interrupted"
    for tree in trees:
        n += len(tree.kill_all(reason))
    for tree in trees:
        tree.wait_gone(KILL_GRACE, reason)
    return n


# ------------------------------------------------------------------ one case


def _target_env(case: Case, resolved_env: dict[str, str], tag: str) -> dict[str, str]:
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


def _inherited_ignores() -> list[int]:
    """Stop signals the harness itself ignores: exec would pass SIG_IGN on to targets.

    ``cmd &`` in a non-interactive shell ignores SIGINT and SIGQUIT; a target that
    inherits that never sees KeyboardInterrupt, and the matrix would lie.
    """
    return [s for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP)
            if signal.getsignal(s) == signal.SIG_IGN]


def run_case(case: Case, *, cancel: Flag | None = None, keep_workdir: bool = False) -> CaseResult:
    """Run one case and return what was observed. Never leaves a process behind."""
    scenario, path = case.scenario, case.path
    began = time.monotonic()
    result = CaseResult(scenario=scenario.name, path=path.name, outcome="error",
                        scenario_file=str(scenario.file), attempt=case.attempt)
    capabilities()  # become a subreaper before the first child exists
    watchdog.ensure(RUN_ID)  # and have someone who outlives a SIGKILLed harness
    workdir = tempfile.mkdtemp(prefix=f"shutdown-probe-{path.name}-")
    if not keep_workdir:  # a harness killed by SIGKILL leaves it to the watchdog
        watchdog.watch_dir(workdir)
    try:
        _run(case, result, workdir, cancel)
    finally:
        if keep_workdir:
            result.workdir = workdir
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            watchdog.forget_dir(workdir)
        result.wall_s = round(time.monotonic() - began, 4)
    return result


def _run(case: Case, result: CaseResult, workdir: str, cancel: Flag | None) -> None:
    lease = lease_port()
    try:
        _run_leased(case, result, workdir, cancel, lease.port)
    finally:
        lease.release()


def _run_leased(case: Case, result: CaseResult, workdir: str, cancel: Flag | None, port: int) -> None:
    scenario, path, app = case.scenario, case.path, case.scenario.app
    resolved = scenario.resolve(port=port, workdir=workdir)
    tag = tag_prefix() + uuid.uuid4().hex[:12]
    env = _target_env(case, resolved.env, tag)
    events = _switch_probe(case, result, resolved.argv, resolved.cwd, env, workdir)
    if events is not None:
        env = probe_env(env, events, path.inject)

    settings = scenario.profile_settings(path.name) if path.profile is not None else None
    launch_argv = resolved.argv
    if path.profile is not None and settings is not None:
        result.stop = new_record(path, settings)
        prefix, skip = _pid1_prefix(path, settings, result.stop)
        if skip is not None:
            result.outcome, result.error = "skipped", f"skipped: {skip}"
            return
        launch_argv = prefix + resolved.argv

    log_hooks = {n: LogHookDetector(h) for n, h in scenario.hooks.items() if h.log is not None}
    file_hooks = {n: FileHookDetector(h, resolved.hook_files[n]) for n, h in scenario.hooks.items()
                  if h.file is not None}

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ignores = _inherited_ignores()

    def reset_signals() -> None:  # runs in the child, between fork and exec
        for s in ignores:
            signal.signal(s, signal.SIG_DFL)

    # The case's window opens before its root exists, and the root is registered as
    # the harness's own child before anyone can list the harness's children: a
    # process re-parented to the harness can then be told apart (see adoption.py).
    with adoption.spawning():
        window = adoption.open_window(case.id, tag, frozenset(os.fstat(fd).st_ino for fd in (out_r, err_r)),
                                      result.strays)
        try:
            popen = subprocess.Popen(
                launch_argv, cwd=resolved.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=out_w, stderr=err_w, start_new_session=True,
                preexec_fn=reset_signals if ignores else None,
            )
        except OSError as exc:
            adoption.close_window(window)
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            result.error = f"cannot start {resolved.argv[0]!r}: {exc.strerror or exc}"
            return
        adoption.own(popen.pid)
    watchdog.cases()
    os.close(out_w)
    os.close(err_w)

    pid1 = path.profile.pid1 if path.profile is not None else None
    tree = CaseProcesses(popen, tag, launcher=pid1 is not None, init=pid1 == "init", window=window)
    with _active_lock:
        _active.add(tree)
    capture = OutputCapture({"stdout": out_r, "stderr": err_r})
    for det in log_hooks.values():
        capture.subscribe(det, det.spec.log)  # the regex: lines it cannot match are skipped
    ready_watch = None
    if app.ready is not None and app.ready.kind == "log":
        ready_watch = LogWatcher(app.ready.regex, app.ready.count)
        capture.subscribe(ready_watch, app.ready.regex)
    capture.start()

    trigger_thread: threading.Thread | None = None
    t0: float | None = None
    traffic: Traffic | None = None

    def escalate(reason: str, **kw) -> None:
        """The harness ends what is left; requests still waiting were cut by it."""
        if traffic is not None:
            traffic.harness_kill(reason)
        _escalate(tree, result, reason, **kw)

    try:
        ready = wait_ready(resolved.ready, timeout=app.ready_timeout, root_fd=tree.root.pidfd,
                           root_alive=lambda: tree.root.alive, capture=capture,
                           log_watch=ready_watch, cancel=cancel)
        result.ready_s = round(ready.elapsed, 4)
        if not ready.ready:
            result.outcome = "not-ready"
            result.error = ready.detail
            _escalate(tree, result, "the app never got ready")
            return

        missing = _find_root(tree, app.ready_timeout, cancel)
        if missing is not None:
            result.error = f"the app's PID 1 could not be found: {missing}"
            _escalate(tree, result, "the app's PID 1 could not be found")
            return
        tree.discover()
        tree.settle_roles()
        for h in tree.handles.values():
            h.signals_ignored, h.signals_caught = signal_dispositions(h.pid)

        target: ProcessHandle | None = None
        skip = None
        if path.target == "child":
            target = tree.worker
            if target is None:
                skip = "skipped: the root has no child process to signal"
        elif path.target == "worker":
            target = tree.worker or tree.root
        elif path.target == "root":
            target = tree.root
        if path.inject and skip is None:
            assert target is not None
            if events is None:
                skip = f"skipped: {path.name} is performed by the Python probe, which is {result.probe['why']}"
            elif not loaded_in(events, target.pid):
                skip = (f"skipped: the Python probe is not loaded in the serving process ({target.role}, "
                        f"pid {target.pid}: {target.cmdline[:80]}); is it a Python process?")
        if skip is not None:
            result.outcome = "skipped"
            result.error = skip
            _escalate(tree, result, "ending a skipped case", record=False)
            return

        if resolved.traffic is not None and scenario.traffic.covers(path.name):  # type: ignore[union-attr]
            from .traffic import Traffic

            traffic = Traffic(resolved.traffic, port, lambda: {h.pid: h.role for h in tree.live()})
            problem = traffic.prime(lambda: tree.root.alive, cancel)
            if cancel is not None and cancel.is_set():
                raise Interrupted()
            if problem is not None:
                result.error = f"traffic: {problem}"
                escalate("the traffic could not be set up")
                return

        # What the app wrote up to now may still sit unread in the pipes: the byte
        # position, not the reading time, says which lines came before the trigger.
        t0, mark = time.monotonic(), capture.position()
        result.trigger_clock = t0
        for det in (*log_hooks.values(), *file_hooks.values()):
            det.arm(t0, mark)
        if traffic is not None:
            traffic.fire(t0)
        # the app's environment without the probe (a Python trigger would load it and
        # write its own atexit callables into the app's events) and without the case's
        # tag: spawn_action tags it as the action's
        trigger_env = {k: v for k, v in without_probe(env).items() if k != TAG_ENV}
        if path.profile is not None:
            assert settings is not None and result.stop is not None
            ctx = StopContext(path, settings, tree, result, t0, app.stop_timeout, cancel,
                              resolved.pre_stop.get(path.name), resolved.cwd, trigger_env,
                              cleanup_watch(settings, {**log_hooks, **file_hooks}, events)
                              if path.profile.repeat else None)
            StopSequence(ctx, result.stop).run()
        elif path.needs_trigger:
            trigger_thread = _fire_trigger(resolved.triggers[path.name], result, resolved.cwd, trigger_env, tree)
        elif path.target == "group":
            delivered = tree.signal_group(path.signal)
            result.trigger = {"signal": path.signal.name, "to": "process group", "pgid": tree.started.pid,
                              "delivered": delivered}
        else:
            assert target is not None and path.signal is not None
            delivered = target.send(path.signal)
            result.trigger = {"signal": signal_name(path.signal), "to": target.role, "pid": target.pid,
                              "delivered": delivered}
            if path.inject:
                result.trigger["inject"] = path.inject

        deadline = t0 + app.stop_timeout
        if path.profile is not None:
            # A stop sequence may outlast stop_timeout (its grace); what it leaves
            # (a supervisord stop waits for its own process only, the PID-1 launcher
            # exits just after PID 1) gets stop_timeout from the sequence's end.
            deadline = max(deadline, time.monotonic() + app.stop_timeout)
        wake = [cancel.fileno()] if cancel is not None else []
        if target is not None and target is not tree.root:
            root_done = tree.wait_until(_survival_check(tree, target, t0, app.survive_after, traffic),
                                        deadline, wake)
        else:
            root_done = tree.wait_root(deadline, wake)
        if cancel is not None and cancel.is_set():
            raise Interrupted()
        replaced = tree.started_since(t0) if target is not None and target is not tree.root else []
        if replaced and tree.root.alive and not target.alive:
            result.outcome = "survived"
            assert target is not None and target.ended_at is not None
            new = ", ".join(f"{h.role} pid {h.pid}" for h in replaced)
            escalate(f"survived: the root replaced its {target.role} (the path's target) with {new} and was still "
                     f"running {time.monotonic() - target.ended_at:.1f} s later; the harness ended the case")
        elif not root_done:
            result.outcome = "hung"
            result.error = f"the root did not exit within stop_timeout ({app.stop_timeout:g} s)"
            escalate(f"hung: the root was still running {app.stop_timeout:g} s after the trigger")
        else:
            result.outcome = "exited"
            result.root_exit_s = round(tree.root.ended_at - t0, 4)
            all_done = tree.wait_all(deadline, wake)
            if cancel is not None and cancel.is_set():
                raise Interrupted()
            if not all_done:
                left = tree.live()
                ports = listening_ports([h.pid for h in left])
                for h in left:
                    result.orphans.append(Orphan(h.pid, h.cmdline, h.role, ports[h.pid], killed_by_harness=False))
                escalate("orphan: alive after the root ended and stop_timeout passed")
                killed = {h.pid for h in tree.handles.values() if h.killed_by_harness}
                for o in result.orphans:
                    o.killed_by_harness = o.pid in killed
            elif traffic is not None:
                traffic.case_over()
        # the app's processes: a trigger's command is the harness acting, and what it
        # left running is reported (an orphan), not counted in the app's shutdown
        app_procs = [h for h in tree.handles.values() if not action_of(h.role)]
        ended = [h.ended_at for h in app_procs if h.ended_at is not None]
        if ended and not any(h.killed_by_harness or h.killed_by_stop for h in app_procs):
            result.duration_s = round(max(ended) - t0, 4)
            if result.stop is not None and result.stop.cleanup_s is None:
                result.stop.cleanup_s = result.duration_s  # a stopper that never kills
    except Interrupted:
        result.outcome = "interrupted"
        result.error = "interrupted: the harness was asked to stop"
        escalate("the harness was interrupted")
    except BaseException:
        escalate("the harness failed while running the case")
        raise
    finally:
        tree.close()  # no trigger starts from now on: the last look below sees them all

        def last_look() -> None:
            tree.discover()  # a process re-parented to the harness just now is the case's too
            if tree.live():  # belt and braces: nothing of a case outlives it
                escalate("cleanup at the end of the case")

        def forget() -> None:
            with _active_lock:
                _active.discard(tree)

        def close_traffic() -> None:
            if traffic is not None:
                result.traffic = traffic.close()

        def close_capture() -> None:
            capture.finish(OUTPUT_GRACE)
            if ready_watch is not None:  # the capture has stopped calling it
                ready_watch.close()

        def join_trigger() -> None:
            if trigger_thread is not None:
                trigger_thread.join(10)

        # Each step runs even if one before it failed: a window left open, or pidfds
        # left unclosed, would outlast the case (for every later case of the run).
        # sweep_strays: one of this case's re-parented too late for its last look;
        # then watchdog.cases(): after the last sweep, so a "cases 0" look comes last.
        _each(last_look, forget, close_traffic, close_capture, join_trigger, tree.finish,
              lambda: adoption.close_window(window), sweep_strays, watchdog.cases)
        t0_kill = result.trigger_clock
        result.escalations = [
            Escalation(k.handle.pid, k.handle.role, "SIGKILL", k.reason,
                       round(k.at - t0_kill, 4) if t0_kill is not None and k.at >= t0_kill else None)
            for k in tree.sigkills if k.record]
        result.output_tail = capture.tail()
        _record(result, tree, t0, popen)
        roles = {h.pid: h.role for h in tree.handles.values()}
        # inside a PID namespace the app sees its own numbers: map them to ours
        pid_map = {h.ns_pid: h.pid for h in tree.handles.values() if h.ns_pid is not None}
        report = ProbeReport.load(events, pid_map) if events is not None else None
        if report is not None:
            result.probe.update(report.summary())
            result.probe_notes = report.notes
            kinds = report.kinds
            for rec in result.processes:
                rec.kind = kinds.get(rec.pid)
        if result.outcome in ("exited", "hung", "survived"):
            hooks = {n: d.result(roles, pid_map) for n, d in log_hooks.items()}
            hooks.update({n: d.result(roles) for n, d in file_hooks.items()})
            for n in hooks:
                hooks[n].source = "log" if n in log_hooks else "file"
            result.hooks = {n: hooks[n] for n in scenario.hooks}
            detectors = {**log_hooks, **file_hooks}
            result.order = observed_order({n: detectors[n] for n in scenario.hooks if n in detectors})
            result.hook_order = result.order.hooks
            # a hook regex that took too long on a line was turned off: say so on the case
            notes = [d.note for d in log_hooks.values() if d.note]
            if notes:
                result.error = "; ".join([result.error, *notes] if result.error else notes)
            if report is not None:
                result.hooks.update(report.hook_results(t0, roles, result.processes))
                result.probe_order = report.probe_order()
        result.expect = evaluate(scenario.expect.get(path.name), result)


def _each(*steps: Callable[[], object]) -> None:
    """Run every step, whatever the ones before it raised; then raise the first error."""
    first: BaseException | None = None
    for step in steps:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - raised again below
            if first is None:
                first = exc
    if first is not None:
        raise first


def _survival_check(tree: CaseProcesses, target: ProcessHandle, t0: float, survive_after: float,
                    traffic: Traffic | None) -> Callable[[], bool]:
    """For a path that ends a child: done when the root ends too, or when the root
    has started a replacement, outlived the child by ``survive_after`` seconds, and
    the traffic has settled. A root that is merely slow to exit is not done early."""

    def done() -> bool:
        if not tree.root.alive:
            return True
        if target.alive or target.ended_at is None or not tree.started_since(t0):
            return False
        if time.monotonic() < target.ended_at + survive_after:
            return False
        return traffic is None or traffic.settled()

    return done


def _pid1_prefix(path: Path, settings, stop: StopRecord) -> tuple[list[str], str | None]:
    """The launcher (and init) that make the app PID 1, or why this machine cannot."""
    if path.profile is None or path.profile.pid1 is None:
        return [], None
    ns = pid_namespace()
    if ns.prefix is None:
        return [], f"{path.name} runs the app as PID 1 of a PID namespace, and {ns.why_not}"
    stop.namespace = ns.how
    prefix = list(ns.prefix)
    if path.profile.pid1 == "init":
        init = choose_init(settings.init)
        if init.prefix is None:
            return [], f"{path.name}: {init.why_not}"
        stop.init = init.name
        prefix += list(init.prefix)
    return prefix, None


def _find_root(tree: CaseProcesses, timeout: float, cancel: Flag | None) -> str | None:
    """Behind a launcher, the app's root appears a moment after the launcher starts."""
    deadline = time.monotonic() + timeout
    backoff = Backoff(first=0.002, cap=0.05)
    while True:
        missing = tree.find_root()
        if missing is None or not tree.started.alive or time.monotonic() >= deadline:
            return missing
        if cancel is not None and cancel.wait(backoff.next()):
            raise Interrupted()
        elif cancel is None:
            wait_readable([], backoff.next())


def _switch_probe(case: Case, result: CaseResult, argv: list[str], cwd: str, env: dict[str, str],
                  workdir: str) -> str | None:
    """Decide whether the Python probe goes in; return its events file if so."""
    wanted = case.scenario.app.probe
    if wanted is False:
        result.probe = {"enabled": False, "why": "off (app.probe = false)"}
        return None
    if wanted is None and not runs_python(argv, env, cwd):
        result.probe = {"enabled": False, "why": "off (the command does not run Python; set app.probe = true "
                                                  "if it starts Python further down)"}
        return None
    folder = os.path.join(workdir, ".shutdown-probe")
    os.makedirs(folder, exist_ok=True)
    result.probe = {"enabled": True, "why": "on (app.probe = true)" if wanted else "on (the command runs Python)"}
    return os.path.join(folder, "events.jsonl")


def _escalate(tree: CaseProcesses, result: CaseResult, reason: str, *, record: bool = True) -> None:
    """SIGKILL what is left of the case and wait until it is gone; every kill is kept
    by the tree (``tree.sigkills``) and becomes one of the case's escalations, unless
    ``record`` is False (a case that never ran its path)."""
    tree.kill_all(reason, record=record)
    gone = tree.wait_gone(KILL_GRACE, reason, record=record)
    if not gone:
        left = ", ".join(str(h.pid) for h in tree.live())
        result.error = (result.error + "; " if result.error else "") + f"processes survived SIGKILL: {left}"


def _record(result: CaseResult, tree: CaseProcesses, t0: float | None, popen: subprocess.Popen) -> None:
    launcher_only = tree.init is None and tree.root is not tree.started
    for h in tree.handles.values():
        rec = ProcessRecord(pid=h.pid, role=h.role, cmdline=h.cmdline, listening=list(h.listening),
                            signals_ignored=h.signals_ignored, signals_caught=h.signals_caught,
                            killed_by_harness=h.killed_by_harness, killed_by_stop=h.killed_by_stop,
                            ns_pid=h.ns_pid, attributed_by=h.attributed_by)
        status = h.status
        if h.popen is not None and h.popen.returncode is not None:
            status = _wait_status(h.popen.returncode)
        elif h is tree.root and status is None and launcher_only and popen.returncode is not None:
            # The PID-1 launcher ends exactly as PID 1 did (same code, same signal).
            status = _wait_status(popen.returncode)
            h.exit_note = "as passed on by the PID-1 launcher"
        if status is not None:
            rec.returncode, rec.signal = describe_status(status)
            rec.exit_known = True
        if not rec.exit_known or h.killed_by_harness or h.killed_by_stop or h.exit_note:
            rec.exit_note = h.exit_note
        if h.ended_at is not None and t0 is not None:
            rec.ended_after_s = round(h.ended_at - t0, 4)
        if t0 is not None and h.found_at is not None and h.found_at > t0 and h.started_at is not None:
            rec.started_after_s = round(max(0.0, h.started_at - t0), 2)
        if h is tree.root:
            result.exit = {"returncode": rec.returncode, "signal": rec.signal}
        result.processes.append(rec)


def _wait_status(returncode: int) -> int:
    """A Popen return code (negative for a signal) as a wait status."""
    return -returncode & 0x7F if returncode < 0 else (returncode & 0xFF) << 8


def _fire_trigger(trigger, result: CaseResult, cwd: str, env: dict[str, str],
                  tree: CaseProcesses) -> threading.Thread:
    """Fire an app trigger in the background, so the stop wait starts at once.

    A command trigger runs in the app's folder with the app's environment, so the
    same relative paths and variables work in both. Its processes are the case's
    (role ``trigger``, and ``trigger-child`` for what it starts): tracked, reported
    and killed like the app's, but not counted in the app's shutdown time.
    """
    result.trigger = {"trigger": trigger.name}

    def fire() -> None:
        perform(trigger, result.trigger, cwd, env, tree=tree, action="trigger")

    thread = threading.Thread(target=fire, name="shutdown-probe-trigger", daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------ many cases


def run_cases(
    cases: Sequence[Case],
    *,
    jobs: int = 1,
    cancel: Flag | None = None,
    on_start: Callable[[Case], None] | None = None,
    on_done: Callable[[Case, CaseResult], None] | None = None,
    keep_workdirs: bool = False,
) -> Results:
    """Run ``cases`` (``jobs`` at a time) and collect their results in case order.

    Each of ``jobs`` workers takes the next case when it is free, so a long
    :class:`CaseList` is never turned into a list, nor into one queued task per case.
    """
    caps = capabilities()
    watchdog.ensure(RUN_ID)
    info = caps.as_dict()
    distinct = _distinct(cases)
    if any(c.path.profile is not None and c.path.profile.pid1 for c in distinct):
        info.update(namespaces.environment())  # which PID namespace and init the run had
    results = Results(environment=environment_info(jobs=jobs, capabilities=info))
    for case in distinct:
        results.scenarios.setdefault(case.scenario.name, case.scenario.description)
    done: dict[int, CaseResult] = {}  # case index -> its result
    taken = iter(range(len(cases)))
    taking = threading.Lock()

    def one(i: int) -> None:
        case = cases[i]
        if cancel is not None and cancel.is_set():
            return
        if on_start:
            on_start(case)
        res = run_case(case, cancel=cancel, keep_workdir=keep_workdirs)
        done[i] = res
        if on_done:
            on_done(case, res)

    def worker() -> None:
        while True:
            with taking:
                i = next(taken, None)
            if i is None:
                return
            one(i)

    if jobs <= 1:
        worker()
    else:
        workers = min(jobs, len(cases))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shutdown-probe-case") as pool:
            futures = [pool.submit(worker) for _ in range(workers)]
            for f in futures:
                f.result()
    results.cases = [done[i] for i in sorted(done)]
    return results
