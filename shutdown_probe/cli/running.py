"""Choosing the cases a command line asks for, running them under the interrupt
policy, and reporting them: the exit status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..concurrency import Jobs, most_at_once
from ..errors import ProbeError
from .console import err, github_output, inert_text, print_matrix, write_report_files
from .parser import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Usage
from .progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from ..interrupts import Interruption
    from ..results import CaseResult, EnvironmentInfo, Results, ShardInfo
    from ..runner import CaseList
    from ..shards import Shard
    from ..scenario import Scenario


def chosen_cases(scenarios: list[Scenario], paths: list[str], *, grace: float | None = None,
                  repeat: int = 1, orphan_watch: float | None = None) -> CaseList:
    """The cases ``--path`` (``paths``), ``--grace``, ``--orphan-watch`` and ``--repeat`` ask for; a name
    that is no path of ``scenarios``, or a bad number, is a usage mistake."""
    from ..runner import TooManyCases, expand_cases

    scenarios = [s.with_paths(_asked_of(s, scenarios, paths)) for s in scenarios]
    if grace is not None:
        from ..scenario import MAX_SECONDS

        if not 0 <= grace <= MAX_SECONDS:  # also refuses nan; past ~24 days poll() overflows
            raise Usage(f"--grace: expected 0 to {MAX_SECONDS:g} seconds, got {grace:g}")
        scenarios = [s.with_grace(grace, "command line") for s in scenarios]
    if orphan_watch is not None:
        from ..scenario import MAX_SECONDS

        if not 0 <= orphan_watch <= MAX_SECONDS:
            raise Usage(f"--orphan-watch: expected 0 to {MAX_SECONDS:g} seconds, got {orphan_watch:g}")
        scenarios = [s.with_orphan_watch(orphan_watch) for s in scenarios]
    try:
        return expand_cases(scenarios, paths, repeat=repeat)
    except TooManyCases as exc:
        raise Usage(f"--repeat {repeat}: {exc}") from None


def _asked_of(scenario: Scenario, scenarios: list[Scenario], paths: list[str]) -> list[str]:
    """The paths ``--path`` asks ``scenario`` to run (``NAME`` every scenario, ``S::NAME``
    one): each one it lists, or any built-in path, named explicitly (the fixture's rule);
    a name that is neither is a usage mistake, with the closest name."""
    from ..paths import BUILTIN_PATHS
    from ..scenario import did_you_mean

    names = {s.name for s in scenarios}
    asked = []
    for name in paths:
        who, _, path = name.rpartition("::")
        if who and who not in names:
            raise Usage(f"--path: '{name}' is not SCENARIO::PATH of the given scenarios"
                         f"{did_you_mean(who, names)} (scenarios: {', '.join(sorted(names))})")
        if who and who != scenario.name:
            continue
        try:
            scenario.path_named(path)
        except ProbeError:
            if who or not any(path in {p.name for p in s.paths} for s in scenarios):
                known = sorted({p.name for s in scenarios for p in s.paths}
                               | {n for n, p in BUILTIN_PATHS.items() if not p.needs_trigger})
                raise Usage(f"--path: '{path}' is no path of {who or 'the given scenarios'} nor a built-in "
                             f"one{did_you_mean(path, known)} (`shutdown-probe paths` lists the built-in "
                             "paths)") from None
            continue  # another scenario's own trigger path
        asked.append(path)
    return asked


def pick_shard(cases: CaseList, given: Shard | None) -> tuple[CaseList, ShardInfo | None]:
    """``run --shard K/N``: the part of ``cases`` it picks and its record for the results
    (``cases`` unchanged and no record without the option); an empty part is said on stderr."""
    if given is None:
        return cases, None
    from ..shards import select

    part, shard = select(cases, given)
    if not part:
        err(f"run: shard {given} has no cases (the run has {shard['of']} path(s) in all)")
    return part, shard


def run_facts(environment: EnvironmentInfo | None, shard: ShardInfo | None) -> EnvironmentInfo:
    """What a caller adds to a run's environment block: ``environment`` (``run --with``:
    the environment the cases ran in) and the shard the run is (``run --shard``)."""
    facts: EnvironmentInfo = {**(environment or {})}
    if shard is not None:
        facts["shard"] = shard
    return facts


def run_and_report(cases: CaseList, *, jobs: Jobs, quiet: bool, keep_workdirs: bool,
                    targets: Mapping[str, str | None], width: int | None,
                    show: bool = True, source: str | None = None,
                    fail_on: tuple[str, ...] = (),
                    environment: EnvironmentInfo | None = None,
                    shard: ShardInfo | None = None) -> tuple[int, Results | None]:
    """Run ``cases``, write the reports, print the matrix: the exit status, and the
    results (None when a signal interrupted the run; the status is then 128 + N, and
    the reports hold what was gathered). ``environment``: facts the caller adds to the
    results' environment block (``run --with``: the environment the cases ran in).
    ``shard``: the part of a run ``cases`` are (``run --shard``), recorded there too.
    The signals follow the one policy of :mod:`shutdown_probe.interrupts`; the CLI's
    main thread only waits, so a second signal stops the waiting and no signal ever
    gives up on the reports."""
    from ..interrupts import Interruption
    from ..runner import run_cases

    progress = Progress(cases, quiet=quiet, fail_on=fail_on)
    stop = Interruption(give_up_after=None, take_ignored=True)
    stop.install()
    try:
        results = stop.wait_on_thread(lambda cancel: run_cases(
            cases, jobs=jobs, cancel=cancel, on_start=progress.start, on_done=progress.done,
            keep_workdirs=keep_workdirs))
        if results is None:
            stop.finishing = True  # from now on signals are only counted
            return _report_interrupted(stop, cases, progress, jobs, targets, run_facts(environment, shard)), None
    finally:
        stop.uninstall()
    results.environment.update(run_facts(environment, shard))
    return _report_run(results, targets, width, progress, show, source), results


def _report_interrupted(stop: Interruption, cases: CaseList, progress: Progress, jobs: Jobs,
                        targets: Mapping[str, str | None], facts: EnvironmentInfo) -> int:
    """Every report asked for, with the cases that finished (those cut short end as
    "interrupted"), ``facts`` (:func:`run_facts`) in their environment; the status 128 + N."""
    from ..environment import environment_info
    from ..results import Results

    assert stop.signum is not None and stop.name is not None
    err(f"interrupted by {stop.name}: stopped every case, killed {stop.killed} process(es) still running")
    partial = Results(cases=progress.finished(),
                      environment={**environment_info(jobs=most_at_once(jobs, len(cases)), interrupted_by=stop.name),
                                   **facts},
                      scenarios={c.scenario.name: c.scenario.description for c in cases.distinct()})
    write_report_files(targets, partial)
    return 128 + stop.signum


def _report_run(results: Results, targets: Mapping[str, str | None], width: int | None,
                progress: Progress, show: bool = True, source: str | None = None) -> int:
    """The reports, the matrix, the machine's missing capabilities; the exit status."""
    from ..results import Results

    reports_ok = write_report_files(targets, results)
    broken = _never_started(results, source)
    shown = Results(cases=[c for c in results.cases if c.scenario not in broken],
                    environment=results.environment, scenarios=results.scenarios)
    if shown.cases and show:
        reports_ok &= print_matrix(shown, width)
        reports_ok &= github_output(shown)
        from ..capabilities import lacking

        for what, how in lacking(results.environment.get("capabilities", {})).items():
            if not progress.quiet:  # the machine lacks it: say what that costs
                progress.console.print(inert_text(f"note: {what}: {how}", style="dim"))
    for line in broken.values():
        err(line)
    if broken or not reports_ok:
        return EXIT_USAGE
    return EXIT_FAILED if results.failed else EXIT_OK


def _never_started(results: Results, source: str | None = None) -> dict[str, str]:
    """Scenarios none of whose cases got the app running: a setup mistake, one line each.

    A case that is not ready once in a while is a finding (exit 1); an app that never
    gets ready on any path is a bad scenario or a missing dependency (exit 2).
    """
    by_name: dict[str, list[CaseResult]] = {}
    for case in results.cases:
        if case.outcome != "skipped":
            by_name.setdefault(case.scenario, []).append(case)
    broken = {}
    for name, cases in by_name.items():
        if not all(c.outcome in ("not-ready", "error") for c in cases):  # not "interrupted"
            continue
        first = cases[0]
        failed = next((svc for svc in first.services if svc.state in ("not-ready", "not-started")), None)
        if failed is not None:  # a service the app needs, not the app, is what never started
            broken[name] = (f"{first.scenario_file}: services.{failed.name}: the service failed on every one of "
                            f"{len(cases)} path(s): {first.error}")
            continue
        key = "app.ready" if first.outcome == "not-ready" else "app.command"
        where = first.scenario_file
        if source is not None:  # a command line, not a file: name the option
            where, key = source, "--ready" if key == "app.ready" else "the command"
        last = next((ln.strip() for ln in reversed(first.output_tail.splitlines()) if ln.strip()), "")
        said = f"; its last output: {last[:160]}" if last else "; it printed nothing"
        broken[name] = (f"{where}: {key}: the app never got ready on any of "
                        f"{len(cases)} path(s): {first.error}{said}")
    return broken
