"""The model: a validated :class:`Scenario`, what the runner gets from the loader."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from ..errors import UsageError
from ..paths import BUILTIN_PATHS, PROFILE_PATHS, Path
from .checks import did_you_mean
from .resolution import (Interpreter, Resolved, ResolvedService, ResolvedVerify, resolve, resolve_service,
                         resolve_verify)
from .specs import (ANY_ATEXIT, PROBE_HOOK_PREFIX, AppSpec, Expectation, HookSpec, ProfileSettings, ServiceSpec,
                    TrafficSpec, TriggerSpec, VerifySpec)


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
    # [services.NAME], in file order
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    # [verify.NAME]: checks run after each case, in file order
    verify: dict[str, VerifySpec] = field(default_factory=dict)
    # another Python for every process of the scenario (``run --with``); None: this one
    interpreter: Interpreter | None = None

    @property
    def dir(self) -> FsPath:
        return self.file.parent

    def profile_settings(self, name: str) -> ProfileSettings:
        """The effective settings of stop profile path ``name``: what the scenario
        configured, with ``grace`` defaulting to the profile's own (``grace_from``
        "default"). ``grace`` stays None for a profile that never kills."""
        path = BUILTIN_PATHS.get(name)
        if path is None or path.profile is None:
            raise UsageError(f"'{name}' is not a stop profile path (profiles: {', '.join(PROFILE_PATHS)})")
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

    def path_named(self, name: str) -> Path:
        """Path ``name``, asked for by name (``--path``, the fixture's ``run``): one the
        scenario lists, else any built-in path that needs no trigger of the scenario's,
        listed or not (the scenario's ``paths`` is what runs when none is named). A
        UsageError naming the closest name otherwise."""
        for p in self.paths:
            if p.name == name:
                return p
        builtin = BUILTIN_PATHS.get(name)
        if builtin is not None and not builtin.needs_trigger:
            return builtin
        names = [p.name for p in self.paths]
        known = names + [n for n, p in BUILTIN_PATHS.items() if not p.needs_trigger and n not in names]
        raise UsageError(f"scenario {self.name!r} has no path {name!r}{did_you_mean(name, known)} "
                         f"(its paths: {', '.join(names)}; any built-in path may be named too: "
                         "`shutdown-probe paths` lists them)")

    def with_paths(self, names: list[str]) -> "Scenario":
        """A copy that also has the paths ``names`` (:meth:`path_named`: listed, or built in)."""
        extra = [self.path_named(n) for n in dict.fromkeys(names) if n not in {p.name for p in self.paths}]
        return dataclasses.replace(self, paths=(*self.paths, *extra)) if extra else self

    def with_orphan_watch(self, seconds: float) -> "Scenario":
        """A copy whose app's orphans are watched ``seconds`` (``run --orphan-watch``)."""
        return dataclasses.replace(self, app=dataclasses.replace(self.app, orphan_watch=float(seconds)))

    def with_interpreter(self, interpreter: Interpreter | None) -> "Scenario":
        """A copy whose processes run under ``interpreter`` (``{python}`` and ``PATH``)."""
        return dataclasses.replace(self, interpreter=interpreter)

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
        raise UsageError(f"unknown hook '{hook}'")


    def resolve(self, *, port: int, workdir: str, services: dict[str, int] | None = None) -> Resolved:
        """The templates filled for the case that runs on ``port`` in ``workdir``, its
        services on the ports ``services`` gives (name -> port): every one of them."""
        missing = [n for n in self.services if n not in (services or {})]
        if missing:
            raise UsageError(f"resolve: scenario {self.name!r} needs the ports of its services "
                             f"({', '.join(missing)}): pass services={{name: port}}")
        return resolve(self.app, self.hooks, self.triggers, self.profiles, self.traffic, scenario_dir=self.dir,
                       port=port, workdir=workdir, services=services or {}, interpreter=self.interpreter)

    def resolve_service(self, name: str, *, workdir: str, services: dict[str, int]) -> ResolvedService:
        """Service ``name``'s templates filled for one start of it, in its own folder
        ``workdir``; ``services`` holds its port and those of the services it names."""
        return resolve_service(self.services[name], scenario_dir=self.dir, workdir=workdir, services=services,
                               interpreter=self.interpreter)

    def resolve_verify(self, *, port: int, workdir: str, services: dict[str, int]) -> list[ResolvedVerify]:
        """The [verify] checks with their templates filled for the case that ran on
        ``port`` in ``workdir``, its services on ``services``' ports; in file order."""
        return [resolve_verify(spec, scenario_dir=self.dir, port=port, workdir=workdir, services=services,
                               interpreter=self.interpreter)
                for spec in self.verify.values()]
