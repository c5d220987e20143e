"""A run's scenario services: started when a case first needs them, stopped after.

:class:`ServicePool` is what the one place that runs cases
(:func:`~shutdown_probe.pipeline.run_case`) asks for a case's services. A service of
scope "run" is started by the first case of its scenario that needs it (the other
cases of that scenario wait for it to be ready, not start another), shared by every
later one, and stopped when the pool is closed (the end of ``run_cases``: the CLI's
``run`` and ``articles``; for the pytest plugin, after the scenario's last item) or
:meth:`ServicePool.release`d. A service of scope "case" is started for one case and
stopped right after it. Each start leases a port of its own
(:func:`~shutdown_probe.ports.lease_port`, held until it is stopped) and gets a
private folder (``{workdir}`` in its strings, removed after it, or by the watchdog).

What goes wrong is the case's result, in a sentence, never the run's error: a service
that cannot start or never gets ready makes each case that needs it an ``error``
(a run-scoped one is tried once: its failure is every later case's too); one that
ends while a case needs it makes that case an ``error`` that says which and how.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, field

from . import watchdog
from .case import Case, tag_prefix
from .errors import HarnessError
from .phases import join_error
from .ports import PortLease, lease_port
from .readiness import Interrupted
from .results import STAYED, CaseOutcome, CaseResult, ServiceRecord, ServiceScope
from .scenario import Scenario
from .services import KILL_WAIT, Service, service_tag, start_service
from .waiting import Flag


@dataclass
class _Started:
    """Services started together (a scenario's run-scoped ones, or a case's own)."""

    services: list[Service] = field(default_factory=list)
    leases: list[PortLease] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    failure: str | None = None  # why they are not all running, in a sentence
    outcome: CaseOutcome = "error"  # of a case that needs them, when they failed
    records: list[ServiceRecord] = field(default_factory=list)  # the failed one's record

    def stop(self, scenario: Scenario) -> None:
        """Stop every one of them (last started first) and give back their ports."""
        for service in reversed(self.services):
            _stop(service, scenario.services[service.name].stop_timeout)
        self.services.clear()
        for lease in self.leases:
            lease.release()
        self.leases.clear()


def _stop(service: Service, timeout: float) -> None:
    try:
        service.stop(timeout)
    finally:
        shutil.rmtree(service.folder, ignore_errors=True)
        watchdog.forget_dir(service.folder)


def _start(scenario: Scenario, scope: ServiceScope, known: dict[str, int], cancel: Flag | None) -> _Started:
    """Start ``scenario``'s services of ``scope`` in file order, each ready before the
    next starts; ``known`` holds the ports of those already running. On a failure the
    ones started are stopped again and ``failure`` says why."""
    started = _Started()
    names = [n for n, s in scenario.services.items() if s.scope == scope]
    try:
        for name in names:
            started.leases.append(lease_port())
            started.ports[name] = started.leases[-1].port
    except HarnessError as exc:
        started.failure = f"service '{names[len(started.leases)]}' got no port: {exc}"
        started.stop(scenario)
        return started
    ports = {**known, **started.ports}
    for name in names:
        if cancel is not None and cancel.is_set():
            started.outcome, started.failure = "interrupted", "interrupted: the harness was asked to stop"
            break
        problem = _start_one(scenario, name, scope, ports, cancel, started)
        if problem is not None:
            break
    if started.failure is not None:
        started.stop(scenario)
    return started


def _start_one(scenario: Scenario, name: str, scope: ServiceScope, ports: dict[str, int], cancel: Flag | None,
               started: _Started) -> str | None:
    """Start service ``name`` and wait until it is ready (appended to ``started``);
    the failure sentence (also in ``started``), or None."""
    spec = scenario.services[name]
    folder = tempfile.mkdtemp(prefix=f"shutdown-probe-service-{name}-")
    watchdog.watch_dir(folder)
    plan = scenario.resolve_service(name, workdir=folder, services=ports)
    service = start_service(plan, scope, ports[name], service_tag(tag_prefix(), name), folder)
    if isinstance(service, str):
        shutil.rmtree(folder, ignore_errors=True)
        watchdog.forget_dir(folder)
        started.failure = f"service '{name}' could not start: {service}"
        started.records.append(ServiceRecord(name=name, scope=scope, state="not-started", port=ports[name],
                                             command=" ".join(plan.argv), error=started.failure))
        return started.failure
    started.services.append(service)
    try:
        ready = service.wait_ready(spec.ready_timeout, cancel)
    except Interrupted:
        started.outcome = "interrupted"
        started.failure = f"interrupted: the harness was asked to stop while service '{name}' was starting"
        return started.failure
    if ready.ready:
        return None
    ended = f" ({service.how_ended()})" if not service.alive() else ""
    started.services.remove(service)
    # stopped first: its output is then read to the end (a service that exited at
    # once may have written its last line still unread in the pipe; seen under load)
    _stop(service, spec.stop_timeout)
    last = service.last_line()
    started.failure = (f"service '{name}' never got ready: {ready.detail}{ended}"
                       + (f"; its last output line: {last}" if last else "; it printed nothing"))
    started.records.append(service.record(None, state="not-ready", error=started.failure, evidence=True))
    return started.failure


class _RunGroup:
    """The run-scoped services of one scenario, started once."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.lock = threading.Lock()
        self.started: _Started | None = None


@dataclass
class Provision:
    """A case's services: the ports its templates name, or why it cannot run."""

    scenario: Scenario
    ports: dict[str, int]
    run: list[Service]
    own: _Started
    failure: str | None = None
    outcome: CaseOutcome = "error"
    failed: list[ServiceRecord] = field(default_factory=list)

    def finish(self, result: CaseResult) -> CaseResult:
        """After the case: which services it needed ended meanwhile, its own stopped,
        and ``result`` with their records (an ``error`` when one ended)."""
        t0 = result.trigger_clock
        own = list(self.own.services)
        deaths = {s.name: _death(s, t0) for s in [*self.run, *own] if not s.alive() and not s.stopping}
        try:
            self.own.stop(self.scenario)
        finally:
            records = {s.name: s.record(t0, error=deaths.get(s.name), evidence=s.name in deaths,
                                        died=s.name in deaths) for s in [*self.run, *own]}
            records.update({rec.name: rec for rec in self.failed})
            result.services = [records[n] for n in self.scenario.services if n in records]
        if deaths:
            if result.outcome in ("exited", "hung", "ignored", *STAYED):
                result.outcome = "error"
            result.error = join_error(result.error, *deaths.values())
        return result


def _death(service: Service, t0: float | None) -> str:
    """"service 'redis' (scope run) ended while the case needed it: killed by SIGKILL,
    0.52 s after the trigger; its last output line: ..."."""
    service.reaped(KILL_WAIT)  # its end is seen on the pidfd a moment before it is reaped
    when = ""
    if service.ended_at is not None and t0 is not None:
        dt = service.ended_at - t0
        when = f", {dt:.2f} s after the trigger" if dt >= 0 else ", before the trigger"
    last = service.last_line()
    return (f"service '{service.name}' (scope {service.scope}) ended while the case needed it: "
            f"{service.how_ended()}{when}" + (f"; its last output line: {last}" if last else ""))


class ServicePool:
    """The services of the cases of one run (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], _RunGroup] = {}

    @staticmethod
    def key(scenario: Scenario) -> tuple[str, str]:
        return str(scenario.file), scenario.name

    def provide(self, case: Case, cancel: Flag | None) -> Provision:
        """The services ``case`` needs, running and ready: the run's (started now if
        this is the first case that needs them) and its own (started now)."""
        scenario = case.scenario
        run = self._run_services(scenario, cancel)
        prov = Provision(scenario, dict(run.ports), list(run.services), _Started())
        if run.failure is not None:
            prov.failure, prov.outcome, prov.failed = run.failure, run.outcome, list(run.records)
            return prov
        gone = [s for s in run.services if not s.alive()]
        if gone:
            prov.failure = "; ".join(
                f"service '{s.name}' (scope run, started once for the cases of the run) had ended before this case "
                f"started: {s.how_ended()}" + (f"; its last output line: {s.last_line()}" if s.last_line() else "")
                for s in gone)
            prov.failed = [s.record(None, state="died", error=prov.failure, evidence=True) for s in gone]
            return prov
        own = _start(scenario, "case", prov.ports, cancel)
        prov.own = own
        prov.ports.update(own.ports)
        if own.failure is not None:
            prov.failure, prov.outcome, prov.failed = own.failure, own.outcome, list(own.records)
        return prov

    def _run_services(self, scenario: Scenario, cancel: Flag | None) -> _Started:
        if not any(s.scope == "run" for s in scenario.services.values()):
            return _Started()
        with self._lock:
            group = self._groups.setdefault(self.key(scenario), _RunGroup(scenario))
        with group.lock:
            if group.started is None or (group.started.failure is not None and group.started.outcome == "interrupted"):
                group.started = _start(scenario, "run", {}, cancel)
            return group.started

    def release(self, scenario: Scenario | None = None) -> None:
        """Stop the run-scoped services of ``scenario`` (of every scenario: None)."""
        with self._lock:
            if scenario is None:
                groups = list(self._groups.values())
                self._groups.clear()
            else:
                one = self._groups.pop(self.key(scenario), None)
                groups = [one] if one is not None else []
        first: BaseException | None = None
        for group in groups:
            with group.lock:
                try:
                    if group.started is not None:
                        group.started.stop(group.scenario)
                except BaseException as exc:  # noqa: BLE001 - the others are still stopped
                    first = first or exc
        if first is not None:
            raise first

    def release_except(self, keep: Scenario | None) -> None:
        """Stop the run-scoped services of every scenario but ``keep`` (the pytest
        plugin: the next item's scenario keeps its services)."""
        with self._lock:
            others = [g.scenario for k, g in self._groups.items() if keep is None or k != self.key(keep)]
        for scenario in others:
            self.release(scenario)

    close = release
