"""The matrix over specs (``run --with SPEC``...): the same cases run once per built
environment, each run's results labelled with its environment, and one compatibility
table (:func:`~shutdown_probe.render.compat.format_compat`) with a column per spec.

This module decides what a spec's results say about where they ran (the environment
block) and what stands in for the cases of a spec that could not be installed; the
environments themselves are :mod:`shutdown_probe.envs`' and printing is the CLI's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from .envs import BuiltEnv, EnvFailure
from .results import CaseResult, EnvironmentInfo, Results
from .runner import CaseList

__all__ = ["environment_of", "spec_slug", "spec_targets", "unavailable_results"]

NOT_INSTALLED = "not installed"


def environment_of(env: BuiltEnv) -> EnvironmentInfo:
    """What a run in ``env`` adds to its results' environment block: the spec, the
    environment's Python version and interpreter, and the versions installed there
    (replacing the harness's own: the app did not run with those)."""
    return {"spec": env.spec, "interpreter": env.python, "python": env.python_version or None,
            "packages": dict(env.packages), "installer": env.installer}


def unavailable_results(failure: EnvFailure, cases: CaseList, base: EnvironmentInfo) -> Results:
    """The results of a spec that could not be installed: each case it would have run,
    skipped for that reason, under an environment that says why (``unavailable``), so
    the compatibility table gives the spec a column saying so."""
    why = f"{NOT_INSTALLED}: {failure.reason}"
    out: list[CaseResult] = []
    seen: set[str] = set()
    scenarios: dict[str, str] = {}
    for case in cases.distinct():
        if case.id in seen:
            continue
        seen.add(case.id)
        result = CaseResult(scenario=case.scenario.name, path=case.path.name, outcome="skipped",
                            scenario_file=str(case.scenario.file))
        result.skip(why)
        out.append(result)
        scenarios.setdefault(case.scenario.name, case.scenario.description)
    environment: EnvironmentInfo = {**base, "spec": failure.spec, "unavailable": failure.reason, "packages": {}}
    return Results(cases=out, environment=environment, scenarios=scenarios)


_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]+")


def spec_slug(spec: str) -> str:
    """A spec as a piece of a file name: ``uvicorn==0.30.0`` -> ``uvicorn-0.30.0``."""
    slug = _UNSAFE.sub("-", spec.replace("==", "-")).strip("-.")
    return slug[:80] or "spec"


def spec_targets(targets: Mapping[str, str | None], spec: str, specs: Iterable[str]) -> dict[str, str | None]:
    """The report files of one spec's run: each asked-for file with the spec's slug
    before its extension (``out.json`` -> ``out.uvicorn-0.30.0.json``); two specs
    whose slugs clash get their place in the list added. ``compat`` is the matrix's
    own (one table for every spec), not a spec's."""
    listed = list(specs)
    slugs = [spec_slug(s) for s in listed]
    slug = spec_slug(spec)
    if slugs.count(slug) > 1:
        slug = f"{slug}-{listed.index(spec) + 1}"
    out: dict[str, str | None] = {}
    for kind, target in targets.items():
        if kind == "compat" or not target:
            out[kind] = None
            continue
        stem, ext = os.path.splitext(target)
        out[kind] = f"{stem}.{slug}{ext}"
    return out
