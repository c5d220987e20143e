"""Per-case resolution: a scenario's templates filled for one case.

``{port}`` and ``{workdir}`` differ between cases, so the loaded scenario keeps its
placeholders and each case gets a :class:`Resolved` of its own
(:meth:`~shutdown_probe.scenario.model.Scenario.resolve`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Callable

from .specs import (AliveCheck, AppSpec, HookSpec, ProfileSettings, ReadyCheck, ServiceSpec, TrafficSpec, TriggerSpec,
                    VerifySpec)
from .templates import service_port, substitute, substitute_shell


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
class Interpreter:
    """Another Python for a scenario's processes (``run --with``: a built environment):
    ``{python}`` is ``python``, and ``bin_dir`` comes first on their ``PATH``, so the
    environment's console scripts (``uvicorn``) are the ones found."""

    python: str
    bin_dir: str

    def path(self, env: dict[str, str]) -> str:
        """The ``PATH`` of a process whose scenario environment is ``env``."""
        rest = env.get("PATH", os.environ.get("PATH", os.defpath))
        return f"{self.bin_dir}{os.pathsep}{rest}" if rest else self.bin_dir


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
    # profile name -> its ExecStop= commands (the systemd paths), templates filled
    exec_stop: dict[str, tuple[TriggerSpec, ...]] = field(default_factory=dict)
    # [app] alive with its URL or port filled (a log regex is never templated)
    alive: AliveCheck | None = None



def resolve(app: AppSpec, hooks: dict[str, HookSpec], triggers: dict[str, TriggerSpec],
            profiles: dict[str, ProfileSettings], traffic: TrafficSpec | None, *, scenario_dir: FsPath,
            port: int, workdir: str, services: dict[str, int], interpreter: Interpreter | None = None) -> Resolved:
    """The tables of a scenario in ``scenario_dir`` with their templates filled for
    the case that runs on ``port`` in ``workdir``, its services on ``services``' ports."""
    values = _values(scenario_dir, port, workdir, services, interpreter)

    def sub(text: str) -> str:
        return substitute(text, values)

    cwd = str(app.cwd)
    if isinstance(app.command, str):
        argv = ["/bin/sh", "-c", substitute_shell(app.command, values)]
    else:
        argv = [sub(a) for a in app.command]
    env = _with_interpreter({k: sub(v) for k, v in app.env.items()}, interpreter)
    ready = app.ready
    # a log regex is never templated: \d{3} means three digits
    if ready is not None and ready.kind not in ("log", "listening") and isinstance(ready.value, str):
        ready = ReadyCheck(ready.kind, sub(ready.value), ready.count)
    hook_files = {
        name: _absolute(sub(h.file), cwd) for name, h in hooks.items() if h.file
    }
    filled = {name: _fill_action(t, sub) for name, t in triggers.items()}
    pre_stop = {name: _fill_action(p.pre_stop, sub)
                for name, p in profiles.items() if p.pre_stop is not None}
    exec_stop = {name: tuple(_fill_action(t, sub) for t in p.exec_stop)
                 for name, p in profiles.items() if p.exec_stop}
    alive = app.alive
    if alive is not None and alive.check.kind != "log":
        alive = AliveCheck(ReadyCheck(alive.check.kind, sub(str(alive.check.value))), alive.within)
    return Resolved(argv, cwd, env, ready, hook_files, filled, pre_stop, _plan(traffic, sub), exec_stop, alive)


@dataclass(frozen=True)
class ResolvedService:
    """A service's templates filled for one start of it."""

    name: str
    argv: list[str]
    cwd: str
    env: dict[str, str]
    ready: ReadyCheck | None


def resolve_service(spec: ServiceSpec, *, scenario_dir: FsPath, workdir: str,
                    services: dict[str, int], interpreter: Interpreter | None = None) -> ResolvedService:
    """Service ``spec`` filled in: ``{port}`` is its own (``services[spec.name]``),
    ``{workdir}`` its own folder."""
    values = _values(scenario_dir, services[spec.name], workdir, services, interpreter)

    def sub(text: str) -> str:
        return substitute(text, values)

    ready = spec.ready
    if ready is not None and ready.kind not in ("log", "listening") and isinstance(ready.value, str):
        ready = ReadyCheck(ready.kind, sub(ready.value), ready.count)
    return ResolvedService(spec.name, [sub(a) for a in spec.command], str(spec.cwd),
                           _with_interpreter({k: sub(v) for k, v in spec.env.items()}, interpreter), ready)


@dataclass(frozen=True)
class ResolvedVerify:
    """A [verify] check's templates filled for one case."""

    name: str
    argv: list[str]
    cwd: str
    env: dict[str, str]
    timeout: float


def resolve_verify(spec: VerifySpec, *, scenario_dir: FsPath, port: int, workdir: str,
                   services: dict[str, int], interpreter: Interpreter | None = None) -> ResolvedVerify:
    """Check ``spec`` filled in with the case's placeholders: ``{port}`` the app's,
    ``{workdir}`` the case's folder (still there: the check runs before it is removed)."""
    values = _values(scenario_dir, port, workdir, services, interpreter)
    return ResolvedVerify(spec.name, [substitute(a, values) for a in spec.command],
                          str(spec.cwd),
                          _with_interpreter({k: substitute(v, values) for k, v in spec.env.items()}, interpreter),
                          spec.timeout)


def _with_interpreter(env: dict[str, str], interpreter: Interpreter | None) -> dict[str, str]:
    """A process's environment table, with ``interpreter``'s bin folder first on PATH."""
    if interpreter is None:
        return env
    return {**env, "PATH": interpreter.path(env)}


def _values(scenario_dir: FsPath, port: int, workdir: str, services: dict[str, int],
            interpreter: Interpreter | None = None) -> dict[str, str]:
    values = {
        "python": sys.executable if interpreter is None else interpreter.python,
        "port": str(port),
        "workdir": workdir,
        "scenario_dir": str(scenario_dir),
    }
    values.update({service_port(name): str(p) for name, p in services.items()})
    return values


def _plan(traffic: TrafficSpec | None, sub: Callable[[str], str]) -> TrafficPlan | None:
    """[traffic] with its URLs filled; None without a [traffic] table."""
    if traffic is None:
        return None
    same = {f.name: getattr(traffic, f.name) for f in dataclasses.fields(TrafficPlan)}
    new_url = traffic.url if traffic.new_url is None else traffic.new_url
    return TrafficPlan(**{**same, "url": sub(traffic.url), "new_url": sub(new_url) if new_url else None})


def _fill_action(t: TriggerSpec, sub: Callable[[str], str]) -> TriggerSpec:
    """A trigger or preStop action with its URL or argv templates filled."""
    return TriggerSpec(
        t.name,
        http=sub(t.http) if t.http else None,
        method=t.method,
        command=tuple(sub(a) for a in t.command) if t.command else None,
        timeout=t.timeout,
        signal=t.signal,
        aim=t.aim,
    )


def _absolute(path: str, cwd: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(cwd, path))

