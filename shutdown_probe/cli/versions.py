"""``run --with SPEC`` (the same cases in one built environment per spec, one
compatibility table) and ``bisect`` (the first release where the verdicts change).

Exit status of ``run --with``: 2 when a spec could not be installed or an app never
started (after every other spec has run and every file is written), else 1 when an
expectation did not hold in some environment, else 0. Of ``bisect``: 0 a flip was
found, 1 the ends agree (no flip) or no two versions could be decided, 2 a usage
mistake or an index that cannot be read; 128+N when interrupted by signal N.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .console import err, report_targets, said
from .parser import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Usage
from .running import chosen_cases, pick_shard, run_and_report, run_facts

if TYPE_CHECKING:  # pragma: no cover
    from ..concurrency import Jobs
    from ..bisect import BisectOutcome, Step
    from ..releases import Listing
    from ..envs import BuiltEnv, EnvFailure, IndexOptions
    from ..results import Results
    from ..scenario import Scenario


def index_options(args: argparse.Namespace) -> IndexOptions:
    from ..envs import IndexOptions

    links = tuple(os.path.abspath(f) if "://" not in f else f for f in args.find_links)
    if args.no_index and not links:
        raise Usage("--no-index: give --find-links DIR, where the packages are")
    return IndexOptions(args.index_url, links, args.no_index)


def _built(spec: str, index: IndexOptions, quiet: bool) -> BuiltEnv | EnvFailure:
    """The environment of ``spec``, with a line saying how it was had."""
    from ..envs import EnvFailure, SpecError, build_env

    started = time.monotonic()
    try:
        env = build_env(spec, index)
    except SpecError as exc:
        raise Usage(str(exc)) from None
    if isinstance(env, EnvFailure):
        err(f"--with {spec!r}: cannot install it: {env.reason}")
    elif not quiet:
        how = "cached" if env.cached else f"built with {env.installer} in {time.monotonic() - started:.1f} s"
        versions = ", ".join(f"{k} {v}" for k, v in env.packages.items())
        print(f"environment {spec!r}: {how} ({versions or 'none of its packages found'})", file=sys.stderr)
    return env


def run_with(args: argparse.Namespace, load: Callable[[], list[Scenario]], paths: list[str],
             fail_on: tuple[str, ...], jobs_for: Callable[[list[Scenario]], Jobs]) -> int:
    """``run --with``: every spec's environment first, then in each the scenarios
    (``load``, checked with its bin/ first on PATH, as they will run), its cases and
    its report files (the spec in their names); then the compatibility table (printed,
    and --compat FILE)."""
    from ..environment import environment_info
    from ..envs import EnvFailure
    from ..matrix import environment_of, spec_targets, unavailable_results
    from ..render.compat import format_compat
    from ..reports import write_reports
    from ..scenario.resolution import Interpreter

    specs = list(dict.fromkeys(args.with_specs))
    index = index_options(args)
    targets = report_targets(args)
    envs = [(spec, _built(spec, index, args.quiet)) for spec in specs]
    parts: list[Results] = []
    worst = EXIT_OK
    loaded: list[Scenario] | None = None
    jobs: Jobs = 1
    for spec, env in envs:
        if isinstance(env, EnvFailure):
            continue
        with _first_on_path(env.bin_dir):
            scenarios = load()
        if loaded is None:
            loaded, jobs = scenarios, jobs_for(scenarios)
        if not args.quiet:  # the progress lines that follow are this environment's
            print(f"running in {spec!r}:", file=sys.stderr)
        under = [s.with_interpreter(Interpreter(env.python, env.bin_dir)) for s in scenarios]
        cases, shard = pick_shard(chosen_cases(under, paths, grace=args.grace, repeat=args.repeat,
                                               orphan_watch=args.orphan_watch), args.shard)
        status, results = run_and_report(cases, jobs=jobs, quiet=args.quiet, keep_workdirs=args.keep_workdirs,
                                         targets=spec_targets(targets, spec, specs), width=args.width, show=False,
                                         fail_on=fail_on, environment=environment_of(env), shard=shard)
        if results is None:  # interrupted: the files hold what was gathered
            return status
        parts.append(results)
        worst = max(worst, status)
    for spec, env in envs:
        if isinstance(env, EnvFailure):  # a column that says why: the cases it would have run
            cases, shard = pick_shard(chosen_cases(loaded if loaded is not None else load(), paths,
                                                   repeat=args.repeat), args.shard)
            part = unavailable_results(env, cases, {**environment_info(), **run_facts(None, shard)})
            said(write_reports(part, spec_targets(targets, spec, specs)))
            parts.append(part)
            worst = EXIT_USAGE
    print(format_compat(parts), end="")
    if args.compat:
        if not said(write_reports(parts[0], {"compat": args.compat}, compat=parts)):
            return EXIT_USAGE
        print(f"wrote {args.compat} (compat)", file=sys.stderr)
    return worst


@contextmanager
def _first_on_path(folder: str) -> Iterator[None]:
    """``folder`` first on this process's PATH for a while: a scenario file is checked
    (its program looked up) as it will run, with the environment's scripts."""
    before = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join([folder, before]) if before else folder
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = before


def cmd_bisect(args: argparse.Namespace) -> int:
    """Bisect the releases of ``--package`` for the first change of verdicts."""
    from ..bisect import bisect_versions
    from ..releases import ReleasesError, list_releases
    from ..scenario import load_scenario

    scenario = load_scenario(args.scenario)
    chosen_cases([scenario], args.path, grace=args.grace)  # checks --path and --grace now
    index = index_options(args)
    try:
        listing = list_releases(args.package, index)
    except ReleasesError as exc:
        err(f"bisect: {exc}")
        return EXIT_USAGE
    versions = _between(listing.versions, args.from_version, args.to_version)
    for version, why in listing.left_out.items():
        if version in versions or _inside(version, args.from_version, args.to_version):
            print(f"left out {args.package} {version}: {why}", file=sys.stderr)
    print(f"bisect {args.package}: {len(versions)} release(s) from {versions[0]} to {versions[-1]} "
          f"({listing.source})", file=sys.stderr)
    os.makedirs(args.results, exist_ok=True)
    started = time.monotonic()
    try:
        outcome = bisect_versions(versions, lambda v: _step(args, scenario, index, v))
    except _Interrupted as stop:
        err(f"bisect: interrupted at {stop.version}: the steps before it are in {args.results}")
        return stop.status
    summary = _summary(args, listing, versions, outcome, time.monotonic() - started)
    summary_file = os.path.join(args.results, "bisect.json")
    from ..files import write_atomically

    write_atomically(summary_file, json.dumps(summary, indent=2) + "\n")
    _print_outcome(args.package, outcome)
    print(f"wrote {summary_file} and each step's results beside it", file=sys.stderr)
    return EXIT_OK if outcome.found else EXIT_FAILED


class _Interrupted(Exception):
    """A signal stopped a step's run: the bisect stops with its status (128 + N)."""

    def __init__(self, version: str, status: int) -> None:
        super().__init__(version)
        self.version, self.status = version, status


def _between(versions: list[str], low: str | None, high: str | None) -> list[str]:
    """``versions`` from ``low`` to ``high`` (each must be a listed release)."""
    for given, flag in ((low, "--from"), (high, "--to")):
        if given is not None and given not in versions:
            near = ", ".join(versions[-8:])
            raise Usage(f"bisect: {flag} {given}: not a release the index lists (latest: {near})")
    lo = versions.index(low) if low else 0
    hi = versions.index(high) if high else len(versions) - 1
    chosen = versions[lo: hi + 1]
    if len(chosen) < 2:
        raise Usage(f"bisect: fewer than two releases between {low or 'the first'} and {high or 'the last'}")
    return chosen


def _inside(version: str, low: str | None, high: str | None) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(version)
        return (low is None or v >= Version(low)) and (high is None or v <= Version(high))
    except InvalidVersion:
        return False


def _step(args: argparse.Namespace, scenario: Scenario, index: IndexOptions, version: str) -> Step:
    """Try one version: install it (with --also), run the cases quietly, and judge."""
    from ..bisect import Step, path_verdicts
    from ..envs import EnvFailure, build_env
    from ..matrix import environment_of, spec_slug
    from ..scenario.resolution import Interpreter

    started = time.monotonic()
    spec = " ".join([f"{args.package}=={version}", *args.also])
    env = build_env(spec, index)
    if isinstance(env, EnvFailure):
        print(f"{version}: skipped: cannot install it: {env.reason}", file=sys.stderr)
        return Step(version, "skipped", reason=f"cannot install: {env.reason}")
    under = scenario.with_interpreter(Interpreter(env.python, env.bin_dir))
    cases = chosen_cases([under], args.path, grace=args.grace, repeat=args.repeat)
    file = os.path.join(args.results, f"step-{spec_slug(f'{args.package}=={version}')}.json")
    jobs = args.jobs or 1
    status, results = run_and_report(cases, jobs=jobs, quiet=True, keep_workdirs=False, targets={"json": file},
                                     width=None, show=False, environment=environment_of(env))
    seconds = round(time.monotonic() - started, 2)
    if results is None:
        raise _Interrupted(version, status)
    verdicts, split = path_verdicts(results)
    if split:
        why = "; ".join(f"{p}: {' / '.join(v)}" for p, v in split.items())
        print(f"{version}: flaky, skipped: its {args.repeat} runs disagree: {why}", file=sys.stderr)
        return Step(version, "flaky", verdicts, f"runs disagree: {why}", file, seconds)
    print(f"{version}: " + "; ".join(f"{p}: {v}" for p, v in verdicts.items()), file=sys.stderr)
    return Step(version, "decided", verdicts, results_file=file, seconds=seconds)


def _summary(args: argparse.Namespace, listing: Listing, versions: list[str], outcome: BisectOutcome,
             seconds: float) -> dict[str, object]:
    return {
        "package": args.package, "scenario": os.path.abspath(args.scenario), "paths": args.path,
        "repeat": args.repeat, "also": args.also, "grace": args.grace,
        "index_url": args.index_url, "find_links": args.find_links, "no_index": args.no_index, "source": listing.source,
        "versions": versions, "left_out": listing.left_out,
        "steps": [s.to_dict() for s in outcome.steps],
        "last_same": outcome.last_same.version if outcome.last_same else None,
        "first_changed": outcome.first_changed.version if outcome.first_changed else None,
        "skipped_between": outcome.skipped_between, "why": outcome.why, "seconds": round(seconds, 1),
    }


def _print_outcome(package: str, outcome: BisectOutcome) -> None:
    if not outcome.found:
        print(f"bisect {package}: {outcome.why}")
        return
    low, high = outcome.last_same, outcome.first_changed
    assert low is not None and high is not None
    print(f"bisect {package}: the verdicts change between {low.version} and {high.version}")
    if outcome.skipped_between:
        print(f"  (undecided between them, skipped: {', '.join(outcome.skipped_between)})")
    for step in (low, high):
        print(f"  {package} {step.version}:")
        for path, verdict in step.verdicts.items():
            mark = "" if verdict == (low.verdicts if step is high else high.verdicts).get(path) else "  <- differs"
            print(f"    {path}: {verdict}{mark}")
    _print_rows(low, high)


def _print_rows(low: Step, high: Step) -> None:
    """The two neighbours' rows side by side: the compatibility table of their results
    files (what ``report --compat`` gives for the two)."""
    from ..errors import ResultsError
    from ..render.compat import format_compat
    from ..results import load_results

    try:
        parts = [load_results(step.results_file) for step in (low, high) if step.results_file]
    except ResultsError as exc:
        err(f"bisect: cannot show the two versions' rows: {exc}")
        return
    print()
    print(format_compat(parts), end="")
