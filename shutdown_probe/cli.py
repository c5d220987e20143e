"""The command line: parse, run, print, set the exit status.

Exit status: 0 every declared expectation held; 1 an expectation failed or a case
errored; 2 bad usage or a bad scenario file (one line on stderr); 128+N when the
harness itself was stopped by signal N (130 for SIGINT, 143 for SIGTERM), after it
killed everything it had started (:mod:`shutdown_probe.interrupts`, the policy the
pytest plugin follows too).

The commands are thin: ``run`` and ``articles`` select cases, run them through the
library and write their files through :mod:`shutdown_probe.reports`; ``report``
renders saved results; ``check`` and ``paths`` print. ``articles`` is also
``python -m shutdown_probe.articles`` (:func:`main_articles`).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .errors import ProbeError

if TYPE_CHECKING:  # pragma: no cover - the modules below are imported when a command needs them
    from rich.console import Console
    from rich.text import Text

    from .interrupts import Interruption
    from .reports import Written
    from .results import CaseResult, Results
    from .runner import Case, CaseList
    from .scenario import Scenario
    from .scenario.from_command import CommandOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Usage(Exception):
    """A usage mistake: printed as one line, exit status 2."""


class _ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, status 2, no usage dump
        raise _Usage(f"{self.prog}: {message}")


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - Linux has it
        return os.cpu_count() or 1


# Cases running at once, at most: each is an app's processes and a few harness
# threads, and a thread per case past this is a typo, not a plan.
MAX_JOBS = 1024


def _count(text: str, what: str, most: int) -> int:
    try:
        n = int(text) if len(text) <= 20 else 0
    except ValueError:
        n = 0
    if not 1 <= n <= most:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise argparse.ArgumentTypeError(f"expected {what} (1 to {most}), got {shown!r}")
    return n


def _jobs(text: str) -> int:
    if text == "auto":
        return cpu_count()
    return _count(text, "a number of cases to run at once, or auto", MAX_JOBS)


def _repeat(text: str) -> int:
    from .runner import MAX_CASES

    return _count(text, "how many times to run each case", MAX_CASES)


# The widest matrix --width lays out: past it, a number is a typo.
MAX_WIDTH = 1000

WIDTH_HELP = ("lay the matrix out for this many columns (default: the terminal's; piped, $COLUMNS or 200): "
              "long headers become keys named under the table, and a table that still does not fit "
              "becomes a list per path")


def _width(text: str) -> int:
    return _count(text, "a number of columns", MAX_WIDTH)


DESCRIPTION = ("Start an app as it really runs, end it along termination paths (Ctrl-C, SIGTERM, SIGKILL, "
               "docker stop, a Kubernetes pod delete...) and show, path by path, which cleanup hooks ran, "
               "how each process ended and what was left running. Exit status: 0 every expectation held, "
               "1 one did not, 2 a usage or scenario mistake.")


def _parser() -> argparse.ArgumentParser:
    p = _ArgParser(prog="shutdown-probe", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"shutdown-probe {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_ArgParser)
    _run_arguments(sub.add_parser(
        "run", help="run scenarios along their termination paths and print the matrix"))
    check = sub.add_parser("check", help="validate scenario files and print what would run")
    check.add_argument("scenarios", nargs="+", metavar="SCENARIO.toml", help="the scenario files to check")
    sub.add_parser("paths", help="list the built-in termination paths")
    _init_arguments(sub.add_parser("init", help=INIT_HELP, description=INIT_HELP))
    _report_arguments(sub.add_parser("report", help="render saved results JSON"))
    _articles_arguments(sub.add_parser("articles", help=ARTICLES_HELP, description=ARTICLES_HELP))
    return p


def parser() -> argparse.ArgumentParser:
    """The command line's parser, for what documents it (``docgen.py``'s reference page)."""
    return _parser()


def _run_arguments(run: argparse.ArgumentParser) -> None:
    run.usage = "%(prog)s [options] SCENARIO.toml...\n       %(prog)s [options] -- COMMAND [ARG...]"
    run.add_argument("scenarios", nargs="*", metavar="SCENARIO.toml",
                     help="scenario files; or, after --, a command to run with no file")
    run.add_argument("--path", action="append", default=[], metavar="NAME",
                     help="run only this path (repeatable); SCENARIO::PATH for one scenario's path")
    run.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                     help="cases run at once: a number, or auto (the default) for one per CPU "
                          "this process may use; 1 runs them one by one, for debugging (by default, "
                          "an app ready by listening on a port it chose runs one case at a time)")
    run.add_argument("--repeat", type=_repeat, default=1, metavar="N",
                     help="run every case N times (shutdown races show up as runs that differ)")
    run.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                     help="give every stop profile this grace period instead of its own "
                          "(quick runs; the results say the grace came from the command line)")
    run.add_argument("--orphan-watch", type=float, default=None, metavar="SECONDS",
                     help="watch processes left running after the root ended this long (after "
                          "stop_timeout) before killing them, instead of each scenario's orphan_watch")
    run.add_argument("--json", metavar="FILE", help="write results JSON (version 2)")
    run.add_argument("--markdown", metavar="FILE", help="write the matrix as Markdown")
    run.add_argument("--junit", metavar="FILE",
                     help="write JUnit XML for CI: a testcase per case, a failure for each that did not hold")
    run.add_argument("--html", metavar="FILE",
                     help="write a self-contained HTML report: the matrix and a timeline per case")
    run.add_argument("--keep-workdirs", action="store_true",
                     help="keep each case's private working folder (named in the progress lines)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    _fail_on_argument(run)
    run.add_argument("--width", type=_width, default=None, metavar="COLUMNS", help=WIDTH_HELP)
    _command_arguments(run.add_argument_group("with -- COMMAND instead of scenario files"))


READY_HELP = ("when the app is ready: http://URL, PORT or tcp:[HOST:]PORT, log:REGEX, file:PATH, delay:SECONDS, "
              "quiet:SECONDS (no output for that long), listening (a TCP port a process of it listens on and "
              "accepts on). "
              "Default: listening, or else 3 s without output")


def _command_arguments(group: argparse._ActionsContainer) -> None:
    """The [app] and [hooks] keys as options, for a command run with no scenario file."""
    group.add_argument("--ready", metavar="CHECK", help=READY_HELP)
    group.add_argument("--ready-timeout", metavar="SECONDS", help="how long it may take to get ready (default 15)")
    group.add_argument("--stop-timeout", metavar="SECONDS",
                       help="after the trigger, how long every process has to end (default 5)")
    group.add_argument("--cwd", metavar="DIR", help="the folder the app runs in (default: this one)")
    group.add_argument("--env", action="append", default=[], metavar="K=V", help="an environment variable "
                       "for the app (repeatable); {port} is a free port the harness leased for the case")
    group.add_argument("--hook", action="append", default=[], metavar="NAME=REGEX",
                       help="a hook: an output line matching REGEX proves cleanup NAME ran (repeatable)")
    group.add_argument("--sentinel", action="append", default=[], metavar="[NAME=]PATH",
                       help="a hook: the file PATH created after the trigger (repeatable; {workdir} is the "
                            "case's own folder)")
    group.add_argument("--name", metavar="NAME", help="the scenario's name (default: the script's or program's)")
    group.add_argument("--shell", action="store_true", help="run the command through /bin/sh -c")
    group.add_argument("--no-probe", dest="probe", action="store_false",
                       help="do not load the Python probe into a Python app")


INIT_HELP = ("Run a command once, watch it, and write a commented scenario file for it: "
             "`shutdown-probe init -o app.toml -- python app.py`.")


def _init_arguments(init: argparse.ArgumentParser) -> None:
    init.usage = "%(prog)s [-o FILE] [--force] [options] -- COMMAND [ARG...]"
    init.add_argument("-o", "--output", metavar="FILE", help="the scenario file to write (default: stdout)")
    init.add_argument("--force", action="store_true", help="overwrite FILE when it exists")
    init.add_argument("--path", action="append", default=[], metavar="NAME",
                      help="the paths the file lists (default: the signal paths that fit what the run saw)")
    _command_arguments(init)


def _report_arguments(report: argparse.ArgumentParser) -> None:
    report.add_argument("results", nargs="+", metavar="RESULTS.json", help="results files written by `run --json`")
    report.add_argument("--markdown", metavar="FILE",
                        help="write the Markdown report `run --markdown` writes (a matrix and the details of each case)")
    report.add_argument("--compat", metavar="FILE",
                        help="write compatibility tables for docs, in Markdown: rows = paths, columns = scenarios "
                             "(one environment) or environments (a table per scenario)")
    report.add_argument("--junit", metavar="FILE", help="write JUnit XML (as `run --junit` does)")
    report.add_argument("--html", metavar="FILE", help="write the HTML report (as `run --html` does)")
    report.add_argument("--matrix", action="store_true",
                        help="print the matrix even when writing files (without files it is always printed)")
    _fail_on_argument(report)
    report.add_argument("--width", type=_width, default=None, metavar="COLUMNS", help=WIDTH_HELP)


FAIL_ON_HELP = ("fail (exit 1) a case with this finding even where the scenario expects nothing: hung, orphans, "
                "ignored, unresponsive, killed, refuted (comma-separated or repeated; see policy.py)")


def _fail_on_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fail-on", action="append", default=[], metavar="FINDING[,FINDING]", help=FAIL_ON_HELP)


ARTICLES_HELP = "Run the cases a write-up needs and render its verdicts."


def _articles_arguments(articles: argparse.ArgumentParser) -> None:
    articles.add_argument("writeup", metavar="ARTICLES.toml", help="the write-up: its experiments and their cases")
    articles.add_argument("--markdown", metavar="FILE", help="write the write-up's pages as Markdown")
    articles.add_argument("--html", metavar="FILE", help="write them as HTML")
    articles.add_argument("--json", metavar="FILE", help="keep the results of the run")
    articles.add_argument("--results", metavar="FILE.json", help="render from a saved run instead of running")
    articles.add_argument("--jobs", "-j", type=_jobs, default="auto", metavar="N",
                          help="cases run at once, as for run (default: auto, one per CPU)")


def main(argv: list[str] | None = None) -> int:
    return _guarded(lambda: _dispatch(_parse(sys.argv[1:] if argv is None else list(argv))))


def _parse(argv: list[str]) -> argparse.Namespace:
    """The options; for ``run`` and ``init``, what follows ``--`` is the app's command
    (``args.command_line``), kept whole: its own options are not the harness's."""
    if "--" in argv:
        cut = argv.index("--")
        head = _parser().parse_args(argv[:cut])
        if head.command in ("run", "init"):
            head.command_line = argv[cut + 1:]
            return head
    args = _parser().parse_args(argv)
    args.command_line = None
    return args


def main_articles(argv: list[str] | None = None) -> int:
    """``python -m shutdown_probe.articles``: the ``articles`` command under its first name."""
    parser = _ArgParser(prog="python -m shutdown_probe.articles", description=ARTICLES_HELP)
    _articles_arguments(parser)
    return _guarded(lambda: _cmd_articles(parser.parse_args(argv)))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "paths":
        return _cmd_paths()
    if args.command == "check":
        return _cmd_check(args)
    if args.command == "report":
        return _cmd_report(args)
    if args.command == "articles":
        return _cmd_articles(args)
    if args.command == "init":
        return _cmd_init(args)
    return _cmd_run(args)


def _guarded(command: Callable[[], int]) -> int:
    """Run a command: a usage mistake or a library error is one line and status 2."""
    try:
        return command()
    except (_Usage, ProbeError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # `shutdown-probe paths | head`
        return EXIT_OK


def _err(line: str) -> None:
    """One error line on stderr. It may quote a scenario's values or an app's last
    output: made printable first, so no escape sequence reaches the terminal."""
    from .render.text import clean_line

    line = clean_line(line)
    print(f"shutdown-probe: {line}" if not line.startswith("shutdown-probe") else line, file=sys.stderr)


def _text(line: str, style: str = "") -> Text:
    """``line`` as inert rich text for a console: never read as markup or emoji
    codes, control characters shown as pictures (the matrix's own rule)."""
    from rich.text import Text

    from .render.text import clean_line

    return Text(clean_line(line), style=style)


def _console(stderr: bool = False, width: int | None = None) -> Console:
    from rich.console import Console

    from .render.layout import PIPED_WIDTH

    console = Console(stderr=stderr, width=width, highlight=False)
    if width is None and not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a CI log, nothing limits the width; rich's 80 columns
        # would make a list of a matrix that a log shows well as a table.
        console.width = PIPED_WIDTH
    return console


# ------------------------------------------------------------------ commands


def _cmd_paths() -> int:
    from .paths import BUILTIN_PATHS

    width = max(len(n) for n in BUILTIN_PATHS)
    for name, path in BUILTIN_PATHS.items():
        print(f"{name:<{width}}  {path.summary}")
        if path.profile is not None:
            print(f"{'':<{width}}  source: {path.profile.source}")
    return EXIT_OK


def _load_all(files: list[str]) -> list[Scenario]:
    from .scenario import load_scenario

    return [load_scenario(f) for f in files]


def _cmd_check(args: argparse.Namespace) -> int:
    from .render.text import clean
    from .scenario import describe

    for scenario in _load_all(args.scenarios):
        print(clean("\n".join(describe(scenario))))
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from .policy import apply_policy, parse_fail_on
    from .render.text import clean_line
    from .reports import write_reports
    from .results import Results, load_results, older_results_note

    fail_on = parse_fail_on(args.fail_on)
    # Each file is kept whole for the compatibility tables, which compare the files'
    # environments; the matrix and the other reports read them merged.
    parts: list[Results] = []
    merged = Results()
    for name in args.results:
        part = load_results(name)  # a ResultsError is one line naming the file and the key
        parts.append(part)
        merged.cases.extend(part.cases)
        merged.scenarios.update(part.scenarios)
        merged.environment = merged.environment or part.environment
        merged.tool = part.tool
        merged.version = min(merged.version, part.version)  # a merge is as old as its oldest file
        note = older_results_note(part.version)
        if note:
            print(clean_line(f"shutdown-probe: {name}: {note}"), file=sys.stderr)
    if fail_on:  # judged again; without --fail-on a file keeps what its run's policy found
        apply_policy(merged.cases, fail_on)
    # the files first: printing the matrix must not cost them
    targets = _targets(args)
    written = write_reports(merged, targets, compat=parts)
    reports_ok = _said(written)
    for report in written:  # what was asked is the files: say where they went
        if report.ok:
            print(clean_line(f"wrote {report.target} ({report.kind})"))
    if (args.matrix or not any(targets.values())) and not _print_matrix(merged, args.width):
        return EXIT_USAGE
    reports_ok &= _github(merged)
    if not reports_ok:
        return EXIT_USAGE
    return EXIT_FAILED if merged.failed else EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from .policy import parse_fail_on

    fail_on = parse_fail_on(args.fail_on)
    if args.command_line is not None:
        if args.scenarios:
            raise _Usage("run: give scenario files or -- COMMAND, not both")
        scenarios = [_command_scenario(args, "shutdown-probe run")]
        paths: list[str] = []  # --path chose the scenario's paths: any built-in one
    else:
        if not args.scenarios:
            raise _Usage("run: give scenario files, or -- COMMAND to run a command with no file")
        given = [f"--{k.replace('_', '-')}" for k in _COMMAND_KEYS if getattr(args, k) not in (None, [], False)]
        if given or not args.probe:
            raise _Usage(f"run: {(given or ['--no-probe'])[0]} goes with -- COMMAND; a scenario file says it in [app]")
        scenarios, paths = _load_all(args.scenarios), args.path
    cases = _chosen_cases(scenarios, paths, grace=args.grace, repeat=args.repeat, orphan_watch=args.orphan_watch)
    status, _ = _run_and_report(cases, jobs=_jobs_for(args, scenarios), quiet=args.quiet,
                                keep_workdirs=args.keep_workdirs, targets=_targets(args), width=args.width,
                                source="run -- COMMAND" if args.command_line is not None else None,
                                fail_on=fail_on)
    return status


_COMMAND_KEYS = ("ready", "ready_timeout", "stop_timeout", "cwd", "env", "hook", "sentinel", "name", "shell")


def _command_scenario(args: argparse.Namespace, shown: str, paths: list[str] | None = None) -> Scenario:
    from .scenario.from_command import CommandOptions, command_scenario

    return command_scenario(_command_options(args, paths), shown=shown)


def _command_options(args: argparse.Namespace, paths: list[str] | None = None) -> CommandOptions:
    from .scenario.from_command import CommandOptions

    return CommandOptions(
        command=list(args.command_line), ready=args.ready, ready_timeout=args.ready_timeout,
        stop_timeout=args.stop_timeout, cwd=args.cwd, env=args.env, hooks=args.hook, sentinels=args.sentinel,
        paths=args.path if paths is None else paths, name=args.name, shell=args.shell, probe=args.probe)


def _jobs_for(args: argparse.Namespace, scenarios: list[Scenario]) -> int:
    """``--jobs``; by default one case at a time when an app is ready by listening on
    a port it chose itself (no ``{port}``): two of its cases would want the same port."""
    if args.jobs is not None:
        return int(args.jobs)
    own = [s.name for s in scenarios if _own_port(s)]
    if own:
        if not args.quiet:
            _err(f"note: {', '.join(own)}: no {{port}} in the app's command or env: a port it listens on is "
                 "its own choice, the same for every case, so its cases run one at a time (--jobs N to change)")
        return 1
    return cpu_count()


def _own_port(scenario: Scenario) -> bool:
    app = scenario.app
    if app.ready is None or app.ready.kind != "listening":
        return False
    texts = [app.command] if isinstance(app.command, str) else list(app.command)
    return not any("{port}" in t for t in texts + list(app.env.values()))


def _cmd_init(args: argparse.Namespace) -> int:
    """Run the command once along sigterm, then write the scenario file for it."""
    from .files import write_atomically
    from .scaffold import WATCHED_PATH, scaffold
    from .scenario.from_command import command_table

    if not args.command_line:
        raise _Usage("init: give the command to watch after --, e.g. init -o app.toml -- python app.py")
    target = args.output
    if target is not None and os.path.lexists(target) and not args.force:
        raise _Usage(f"init: {target} exists: --force to overwrite it")
    shown = "shutdown-probe init"
    table = command_table(_command_options(args), shown)
    scenario = _command_scenario(args, shown, paths=[WATCHED_PATH])  # checks every option
    cases = _chosen_cases([scenario], [])
    status, results = _run_and_report(cases, jobs=1, quiet=True, keep_workdirs=False, targets={}, width=None,
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
            raise _Usage(f"init: {target}: cannot write: {exc.strerror or exc}") from None
        print(f"wrote {target}: run it with `shutdown-probe run {target}`", file=sys.stderr)
    if case.outcome in ("not-ready", "error"):  # said above, in one line; the file says what was seen
        return EXIT_FAILED
    return EXIT_OK


def _cmd_articles(args: argparse.Namespace) -> int:
    """Judge a write-up's experiments: on a fresh run of the cases they need (the
    ``run`` command's, quietly: the matrix, then a line per verdict), or on saved
    results; then its pages."""
    from .render.articles import format_articles_html, format_articles_markdown
    from .reports import write_each
    from .results import load_results
    from .writeup import UNTESTED, judge_all, load

    writeup = load(args.writeup)
    if args.results:
        results = load_results(args.results)  # a ResultsError is one line naming the file
    else:
        cases = _chosen_cases(writeup.scenarios(), writeup.case_ids())
        status, ran = _run_and_report(cases, jobs=args.jobs, quiet=True, keep_workdirs=False,
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
    if not _said(written):
        return EXIT_USAGE
    return EXIT_OK if all(j.verdict != UNTESTED for j in judgements) else EXIT_FAILED


# ------------------------------------------------------------------ running cases


def _chosen_cases(scenarios: list[Scenario], paths: list[str], *, grace: float | None = None,
                  repeat: int = 1, orphan_watch: float | None = None) -> CaseList:
    """The cases ``--path`` (``paths``), ``--grace``, ``--orphan-watch`` and ``--repeat`` ask for; a name
    that is no path of ``scenarios``, or a bad number, is a usage mistake."""
    from .runner import TooManyCases, expand_cases

    scenarios = [s.with_paths(_asked_of(s, scenarios, paths)) for s in scenarios]
    if grace is not None:
        from .scenario import MAX_SECONDS

        if not 0 <= grace <= MAX_SECONDS:  # also refuses nan; past ~24 days poll() overflows
            raise _Usage(f"--grace: expected 0 to {MAX_SECONDS:g} seconds, got {grace:g}")
        scenarios = [s.with_grace(grace, "command line") for s in scenarios]
    if orphan_watch is not None:
        from .scenario import MAX_SECONDS

        if not 0 <= orphan_watch <= MAX_SECONDS:
            raise _Usage(f"--orphan-watch: expected 0 to {MAX_SECONDS:g} seconds, got {orphan_watch:g}")
        scenarios = [s.with_orphan_watch(orphan_watch) for s in scenarios]
    try:
        return expand_cases(scenarios, paths, repeat=repeat)
    except TooManyCases as exc:
        raise _Usage(f"--repeat {repeat}: {exc}") from None


def _asked_of(scenario: Scenario, scenarios: list[Scenario], paths: list[str]) -> list[str]:
    """The paths ``--path`` asks ``scenario`` to run (``NAME`` every scenario, ``S::NAME``
    one): each one it lists, or any built-in path, named explicitly (the fixture's rule);
    a name that is neither is a usage mistake, with the closest name."""
    from .paths import BUILTIN_PATHS
    from .scenario import did_you_mean

    names = {s.name for s in scenarios}
    asked = []
    for name in paths:
        who, _, path = name.rpartition("::")
        if who and who not in names:
            raise _Usage(f"--path: '{name}' is not SCENARIO::PATH of the given scenarios"
                         f"{did_you_mean(who, names)} (scenarios: {', '.join(sorted(names))})")
        if who and who != scenario.name:
            continue
        try:
            scenario.path_named(path)
        except ProbeError:
            if who or not any(path in {p.name for p in s.paths} for s in scenarios):
                known = sorted({p.name for s in scenarios for p in s.paths}
                               | {n for n, p in BUILTIN_PATHS.items() if not p.needs_trigger})
                raise _Usage(f"--path: '{path}' is no path of {who or 'the given scenarios'} nor a built-in "
                             f"one{did_you_mean(path, known)} (`shutdown-probe paths` lists the built-in "
                             "paths)") from None
            continue  # another scenario's own trigger path
        asked.append(path)
    return asked


def _run_and_report(cases: CaseList, *, jobs: int, quiet: bool, keep_workdirs: bool,
                    targets: Mapping[str, str | None], width: int | None,
                    show: bool = True, source: str | None = None,
                    fail_on: tuple[str, ...] = ()) -> tuple[int, Results | None]:
    """Run ``cases``, write the reports, print the matrix: the exit status, and the
    results (None when a signal interrupted the run; the status is then 128 + N, and
    the reports hold what was gathered). The signals follow the one policy of
    :mod:`shutdown_probe.interrupts`; the CLI's main thread only waits, so a second
    signal stops the waiting and no signal ever gives up on the reports."""
    from .interrupts import Interruption
    from .runner import run_cases

    progress = _Progress(cases, quiet=quiet, fail_on=fail_on)
    stop = Interruption(give_up_after=None, take_ignored=True)
    stop.install()
    try:
        results = stop.wait_on_thread(lambda cancel: run_cases(
            cases, jobs=jobs, cancel=cancel, on_start=progress.start, on_done=progress.done,
            keep_workdirs=keep_workdirs))
        if results is None:
            stop.finishing = True  # from now on signals are only counted
            return _report_interrupted(stop, cases, progress, jobs, targets), None
    finally:
        stop.uninstall()
    return _report_run(results, targets, width, progress, show, source), results


def _report_interrupted(stop: Interruption, cases: CaseList, progress: _Progress, jobs: int,
                        targets: Mapping[str, str | None]) -> int:
    """Every report asked for, with the cases that finished (those cut short end as
    "interrupted"); the status 128 + N."""
    from .environment import environment_info
    from .results import Results

    assert stop.signum is not None and stop.name is not None
    _err(f"interrupted by {stop.name}: stopped every case, killed {stop.killed} process(es) still running")
    partial = Results(cases=progress.finished(),
                      environment=environment_info(jobs=jobs, interrupted_by=stop.name),
                      scenarios={c.scenario.name: c.scenario.description for c in cases.distinct()})
    _write_reports(targets, partial)
    return 128 + stop.signum


def _report_run(results: Results, targets: Mapping[str, str | None], width: int | None,
                progress: _Progress, show: bool = True, source: str | None = None) -> int:
    """The reports, the matrix, the machine's missing capabilities; the exit status."""
    from .results import Results

    reports_ok = _write_reports(targets, results)
    broken = _never_started(results, source)
    shown = Results(cases=[c for c in results.cases if c.scenario not in broken],
                    environment=results.environment, scenarios=results.scenarios)
    if shown.cases and show:
        reports_ok &= _print_matrix(shown, width)
        reports_ok &= _github(shown)
        for what, how in results.environment.get("capabilities", {}).items():
            if how != "yes" and not progress.quiet:  # the machine lacks it: say what that costs
                progress.console.print(_text(f"note: {what}: {how}", style="dim"))
    for line in broken.values():
        _err(line)
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


# ------------------------------------------------------------------ reports and the matrix


def _targets(args: argparse.Namespace) -> dict[str, str | None]:
    """The report files a command's options ask for, by kind (--json, --markdown...)."""
    from .reports import KINDS

    return {kind: getattr(args, kind, None) for kind in KINDS}


def _write_reports(targets: Mapping[str, str | None], results: Results) -> bool:
    """The report files asked for, each on its own (:func:`~shutdown_probe.reports.write_reports`):
    one that cannot be written is one line on stderr, and the others are still
    written. False when one could not be."""
    from .reports import write_reports

    return _said(write_reports(results, targets))


def _said(written: list[Written]) -> bool:
    """One line on stderr per report that could not be written; whether all were."""
    for report in written:
        if not report.ok:
            _err(f"--{report.kind} {report.target}: {report.error}")
    return all(report.ok for report in written)


def _print_matrix(results: Results, width: int | None) -> bool:
    """Print the matrix; a renderer's failure is one line on stderr (False), as a
    report file's is (reports.write_each), not a traceback."""
    from .render import build_tables

    console = _console(width=width)
    try:
        tables = list(build_tables(results, console.width))
    except Exception as exc:  # a renderer's bug: the report files are already written
        _err(f"the matrix could not be printed: {type(exc).__name__}: {exc}")
        return False
    for n, table in enumerate(tables):
        if n:
            console.print()
        console.print(table)
    return True


def _github(results: Results) -> bool:
    """On GitHub Actions: the matrix appended to the job summary, and an error
    annotation per failure on stdout (:mod:`shutdown_probe.github`). False when the
    summary could not be written (one line on stderr, as a report file's)."""
    from . import github

    if not github.on_github():
        return True
    for line in github.error_commands(results):
        print(line, flush=True)
    problem = github.write_summary(results)
    if problem:
        _err(problem)
    return problem is None


class _Progress:
    """The cases as they finish: one line each on stderr, with how many are done,
    running and left, so a long run shows it is alive and how far it got; and their
    results, kept for the reports of a run that is interrupted."""

    def __init__(self, cases: CaseList, quiet: bool, fail_on: tuple[str, ...] = ()) -> None:
        self.cases = cases
        self.fail_on = fail_on
        self.total = len(cases)
        self.quiet = quiet
        self.n = 0
        self.running = 0
        self.lock = threading.Lock()
        self.console = _console(stderr=True)
        self._finished: dict[int, CaseResult] = {}  # case index -> its result

    def start(self, case: Case) -> None:
        with self.lock:
            self.running += 1

    def done(self, case: Case, result: CaseResult) -> None:
        from .policy import apply_policy
        from .render.cells import exit_cell, time_cell

        apply_policy([result], self.fail_on)  # before its mark, and before any report
        index = self.cases.index(case)
        with self.lock:
            self._finished[index] = result
            self.n += 1
            self.running -= 1
            if self.quiet:
                return
            mark = "✗" if result.failed else "✓"
            kept = f" (kept {result.workdir})" if result.workdir else ""
            exit_text = exit_cell(result)
            parts = [result.outcome] + ([exit_text] if exit_text != result.outcome else []) + [time_cell(result)]
            counts = f"{self.n}/{self.total} done, {self.running} running, {self.total - self.n - self.running} left"
            self.console.print(_text(f"[{counts}] {mark} {case.id}: {', '.join(parts)}{kept}"), soft_wrap=True)

    def finished(self) -> list[CaseResult]:
        """The results so far, in case order (a case hurried past may still be ending)."""
        with self.lock:
            return [self._finished[i] for i in sorted(self._finished)]
