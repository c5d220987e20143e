"""The commands: ``paths``, ``check``, ``report``, ``run``, ``init``, ``articles``, ``bisect``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .console import err, print_matrix, github_output, report_targets, said
from ..concurrency import AUTO, Jobs
from .parser import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Usage
from .running import chosen_cases, pick_shard, run_and_report

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario import Scenario
    from ..scenario.from_command import CommandOptions


def cmd_paths() -> int:
    from ..paths import BUILTIN_PATHS

    width = max(len(n) for n in BUILTIN_PATHS)
    for name, path in BUILTIN_PATHS.items():
        print(f"{name:<{width}}  {path.summary}")
        if path.profile is not None:
            print(f"{'':<{width}}  source: {path.profile.source}")
    return EXIT_OK


def load_all(files: list[str]) -> list[Scenario]:
    from ..scenario import load_scenario

    return [load_scenario(f) for f in files]


def cmd_check(args: argparse.Namespace) -> int:
    from ..render.text import clean
    from ..scenario import describe

    for scenario in load_all(args.scenarios):
        print(clean("\n".join(describe(scenario))))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from ..policy import apply_policy, parse_fail_on
    from ..render.text import clean_line
    from ..reports import write_reports
    from ..results import Results, load_results, older_results_note

    from ..shards import merge

    fail_on = parse_fail_on(args.fail_on)
    # Each file is kept whole for the compatibility tables, which compare the files'
    # environments; the matrix and the other reports read them merged. The shards of
    # one run are one run again first (a shard missing or given twice: exit 2).
    loaded = []
    for name in args.results:
        part = load_results(name)  # a ResultsError is one line naming the file and the key
        loaded.append((name, part))
        note = older_results_note(part.version)
        if note:
            print(clean_line(f"shutdown-probe: {name}: {note}"), file=sys.stderr)
    parts = merge(loaded)
    merged = Results()
    for part in parts:
        merged.cases.extend(part.cases)
        merged.scenarios.update(part.scenarios)
        merged.environment = merged.environment or part.environment
        merged.tool = part.tool
        merged.version = min(merged.version, part.version)  # a merge is as old as its oldest file
    if fail_on:  # judged again; without --fail-on a file keeps what its run's policy found
        apply_policy(merged.cases, fail_on)
    # the files first: printing the matrix must not cost them
    targets = report_targets(args)
    written = write_reports(merged, targets, compat=parts)
    reports_ok = said(written)
    for report in written:  # what was asked is the files: say where they went
        if report.ok:
            print(clean_line(f"wrote {report.target} ({report.kind})"))
    if (args.matrix or not any(targets.values())) and not print_matrix(merged, args.width):
        return EXIT_USAGE
    reports_ok &= github_output(merged)
    if not reports_ok:
        return EXIT_USAGE
    return EXIT_FAILED if merged.failed else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from ..policy import parse_fail_on

    fail_on = parse_fail_on(args.fail_on)
    if args.command_line is not None:
        if args.scenarios:
            raise Usage("run: give scenario files or -- COMMAND, not both")
        load: Callable[[], list[Scenario]] = lambda: [_command_scenario(args, "shutdown-probe run")]
        paths: list[str] = []  # --path chose the scenario's paths: any built-in one
    else:
        if not args.scenarios:
            raise Usage("run: give scenario files, or -- COMMAND to run a command with no file")
        given = [f"--{k.replace('_', '-')}" for k in _COMMAND_KEYS if getattr(args, k) not in (None, [], False)]
        if given or not args.probe:
            raise Usage(f"run: {(given or ['--no-probe'])[0]} goes with -- COMMAND; a scenario file says it in [app]")
        load, paths = (lambda: load_all(args.scenarios)), args.path
    if not args.with_specs and (args.index_url or args.find_links or args.no_index):
        raise Usage("run: --index-url, --find-links and --no-index go with --with SPEC")
    if args.with_specs:  # the files are loaded once each environment exists (its programs on PATH)
        from .versions import run_with

        return run_with(args, load, paths, fail_on, lambda scenarios: _jobs_for(args, scenarios))
    scenarios = load()
    cases = chosen_cases(scenarios, paths, grace=args.grace, repeat=args.repeat, orphan_watch=args.orphan_watch)
    cases, shard = pick_shard(cases, args.shard)
    status, _ = run_and_report(cases, jobs=_jobs_for(args, scenarios), quiet=args.quiet,
                                keep_workdirs=args.keep_workdirs, targets=report_targets(args), width=args.width,
                                source="run -- COMMAND" if args.command_line is not None else None,
                                fail_on=fail_on, shard=shard)
    return status


_COMMAND_KEYS = ("ready", "ready_timeout", "stop_timeout", "cwd", "env", "hook", "sentinel", "name", "shell")


def _command_scenario(args: argparse.Namespace, shown: str, paths: list[str] | None = None) -> Scenario:
    from ..scenario.from_command import command_scenario

    return command_scenario(_command_options(args, paths), shown=shown)


def _command_options(args: argparse.Namespace, paths: list[str] | None = None) -> CommandOptions:
    from ..scenario.from_command import CommandOptions

    return CommandOptions(
        command=list(args.command_line), ready=args.ready, ready_timeout=args.ready_timeout,
        stop_timeout=args.stop_timeout, cwd=args.cwd, env=args.env, hooks=args.hook, sentinels=args.sentinel,
        paths=args.path if paths is None else paths, name=args.name, shell=args.shell, probe=args.probe)


def _jobs_for(args: argparse.Namespace, scenarios: list[Scenario]) -> Jobs:
    """``--jobs``; by default one case at a time when an app is ready by listening on
    a port it chose itself (no ``{port}``): two of its cases would want the same port."""
    if args.jobs is not None:
        return args.jobs  # type: ignore[no-any-return]
    own = [s.name for s in scenarios if _own_port(s)]
    if own:
        if not args.quiet:
            err(f"note: {', '.join(own)}: no {{port}} in the app's command or env: a port it may listen on "
                 "is its own choice, perhaps the same for every case, so its cases run one at a time "
                 "(--jobs N to change)")
        return 1
    return AUTO


def _own_port(scenario: Scenario) -> bool:
    app = scenario.app
    if app.ready is None or app.ready.kind != "listening":
        return False
    texts = [app.command] if isinstance(app.command, str) else list(app.command)
    return not any("{port}" in t for t in texts + list(app.env.values()))


def cmd_init(args: argparse.Namespace) -> int:
    """Run the command once along sigterm, then write the scenario file for it."""
    from ..files import write_atomically
    from ..scaffold import WATCHED_PATH, scaffold
    from ..scenario.from_command import command_table

    if not args.command_line:
        raise Usage("init: give the command to watch after --, e.g. init -o app.toml -- python app.py")
    target = args.output
    if target is not None and os.path.lexists(target) and not args.force:
        raise Usage(f"init: {target} exists: --force to overwrite it")
    shown = "shutdown-probe init"
    table = command_table(_command_options(args), shown)
    scenario = _command_scenario(args, shown, paths=[WATCHED_PATH])  # checks every option
    cases = chosen_cases([scenario], [])
    status, results = run_and_report(cases, jobs=1, quiet=True, keep_workdirs=False, targets={}, width=None,
                                      show=False, source="init -- COMMAND")
    if results is None:
        return status
    case = results.cases[0]
    if args.path:
        table["paths"] = args.path
    here = os.getcwd()
    folder = os.path.dirname(os.path.abspath(target)) if target else here
    text = scaffold(table, case, file_dir=folder, app_dir=here)
    if target is None:
        sys.stdout.write(text)
    else:
        try:
            write_atomically(target, text)
        except OSError as exc:
            raise Usage(f"init: {target}: cannot write: {exc.strerror or exc}") from None
        print(f"wrote {target}: run it with `shutdown-probe run {target}`", file=sys.stderr)
    if case.outcome in ("not-ready", "error"):  # said above, in one line; the file says what was seen
        return EXIT_FAILED
    return EXIT_OK


def cmd_bisect(args: argparse.Namespace) -> int:
    from .versions import cmd_bisect as bisect

    return bisect(args)


def cmd_articles(args: argparse.Namespace) -> int:
    """Judge a write-up's experiments: on a fresh run of the cases they need (the
    ``run`` command's, quietly: the matrix, then a line per verdict), or on saved
    results; then its pages."""
    from ..render.articles import format_articles_html, format_articles_markdown
    from ..reports import write_each
    from ..results import load_results
    from ..writeup import UNTESTED, judge_all, load

    writeup = load(args.writeup)
    if args.results:
        results = load_results(args.results)  # a ResultsError is one line naming the file
    else:
        cases = chosen_cases(writeup.scenarios(), writeup.case_ids())
        status, ran = run_and_report(cases, jobs=args.jobs, quiet=True, keep_workdirs=False,
                                      targets={"json": args.json}, width=None)
        if ran is None or status not in (EXIT_OK, EXIT_FAILED):
            return status
        results = ran
    judgements = judge_all(writeup, results)
    for j in judgements:
        print(f"{j.experiment.title}: {j.verdict}")
    # each on its own: one that cannot be written is one line, status 2, and the other is still written
    written = write_each([(kind, target, make) for kind, target, make in (
        ("markdown", args.markdown, lambda: format_articles_markdown(writeup, judgements, results)),
        ("html", args.html, lambda: format_articles_html(writeup, judgements, results))) if target])
    if not said(written):
        return EXIT_USAGE
    return EXIT_OK if all(j.verdict != UNTESTED for j in judgements) else EXIT_FAILED
