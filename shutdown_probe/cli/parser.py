"""The options of each command, and the checks of their values (a bad one is one
line, status 2)."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .. import __version__
from ..concurrency import AUTO, PER_CPU, Jobs

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Usage(Exception):
    """A usage mistake: printed as one line, exit status 2."""


class ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, status 2, no usage dump
        raise Usage(f"{self.prog}: {message}")



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


def _jobs(text: str) -> Jobs:
    if text == AUTO:
        return AUTO  # sized by shutdown_probe.concurrency, which knows the cases
    return _count(text, "a number of cases to run at once, or auto", MAX_JOBS)


def _repeat(text: str) -> int:
    from ..runner import MAX_CASES

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


def build_parser() -> argparse.ArgumentParser:
    p = ArgParser(prog="shutdown-probe", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"shutdown-probe {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgParser)
    _run_arguments(sub.add_parser(
        "run", help="run scenarios along their termination paths and print the matrix"))
    check = sub.add_parser("check", help="validate scenario files and print what would run")
    check.add_argument("scenarios", nargs="+", metavar="SCENARIO.toml", help="the scenario files to check")
    sub.add_parser("paths", help="list the built-in termination paths")
    _init_arguments(sub.add_parser("init", help=INIT_HELP, description=INIT_HELP))
    _report_arguments(sub.add_parser("report", help="render saved results JSON"))
    articles_arguments(sub.add_parser("articles", help=ARTICLES_HELP, description=ARTICLES_HELP))
    bisect_arguments(sub.add_parser("bisect", help=BISECT_HELP, description=BISECT_HELP))
    return p


def _run_arguments(run: argparse.ArgumentParser) -> None:
    run.usage = "%(prog)s [options] SCENARIO.toml...\n       %(prog)s [options] -- COMMAND [ARG...]"
    run.add_argument("scenarios", nargs="*", metavar="SCENARIO.toml",
                     help="scenario files; or, after --, a command to run with no file")
    run.add_argument("--path", action="append", default=[], metavar="NAME",
                     help="run only this path (repeatable); SCENARIO::PATH for one scenario's path")
    run.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                     help=f"cases run at once: a number, or auto (the default): up to {PER_CPU} per CPU "
                          "this process may use, each started while the CPUs have room (cases "
                          "mostly wait); 1 runs them one by one, for debugging (by default, "
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
    _versions_arguments(run.add_argument_group("versions: the same cases in environments built from specs"))
    _shard_argument(run)
    _command_arguments(run.add_argument_group("with -- COMMAND instead of scenario files"))


SHARD_HELP = ("run only part K of N of the cases (1 <= K <= N), for spreading a run over machines: "
              "every SCENARIO::PATH is in exactly one part, with all its --repeat runs, and the same on every "
              "machine; `report` merges the parts' --json files into the tables one run gives")


def _shard(text: str) -> object:
    from ..shards import ShardError, parse_shard

    try:
        return parse_shard(text)
    except ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shard_argument(run: argparse.ArgumentParser) -> None:
    run.add_argument("--shard", type=_shard, default=None, metavar="K/N", help=SHARD_HELP)


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


def articles_arguments(articles: argparse.ArgumentParser) -> None:
    articles.add_argument("writeup", metavar="ARTICLES.toml", help="the write-up: its experiments and their cases")
    articles.add_argument("--markdown", metavar="FILE", help="write the write-up's pages as Markdown")
    articles.add_argument("--html", metavar="FILE", help="write them as HTML")
    articles.add_argument("--json", metavar="FILE", help="keep the results of the run")
    articles.add_argument("--results", metavar="FILE.json", help="render from a saved run instead of running")
    articles.add_argument("--jobs", "-j", type=_jobs, default="auto", metavar="N",
                          help="cases run at once, as for run (default: auto)")


WITH_HELP = ("run the cases in an environment built from SPEC, requirements separated by spaces (repeatable: a "
             "compatibility table gets a column per spec), e.g. --with 'uvicorn==0.30.0'; the spec is the whole "
             "environment, so it names what the app imports too. Built with uv when installed, else venv + pip; "
             "cached under $XDG_CACHE_HOME/shutdown-probe/envs. Report files get the spec in their names")


def _index_arguments(group: argparse._ActionsContainer) -> None:
    group.add_argument("--index-url", metavar="URL",
                       help="the package index to install from (and, for bisect, to list versions from)")
    group.add_argument("--find-links", action="append", default=[], metavar="DIR|URL",
                       help="also install from the wheels and sdists in this folder (repeatable); bisect lists "
                            "the versions found there")
    group.add_argument("--no-index", action="store_true",
                       help="install only from --find-links, never from an index (offline)")


def _versions_arguments(group: argparse._ActionsContainer) -> None:
    group.add_argument("--with", dest="with_specs", action="append", default=[], metavar="SPEC", help=WITH_HELP)
    group.add_argument("--compat", metavar="FILE",
                       help="write the compatibility table (Markdown; with --with, a column per spec)")
    _index_arguments(group)


BISECT_HELP = ("Find the first released version of a package where a scenario's verdicts change: list the "
               "versions from the index, run the cases at both ends, then binary-search between them.")


def bisect_arguments(bisect: argparse.ArgumentParser) -> None:
    bisect.add_argument("scenario", metavar="SCENARIO.toml", help="the scenario whose verdicts are compared")
    bisect.add_argument("--package", required=True, metavar="NAME", help="the package whose versions are searched")
    bisect.add_argument("--from", dest="from_version", metavar="VERSION",
                        help="the good end (default: the oldest release that installs)")
    bisect.add_argument("--to", dest="to_version", metavar="VERSION", help="the other end (default: the newest)")
    bisect.add_argument("--also", action="append", default=[], metavar="REQ",
                        help="another requirement installed with every version (repeatable), e.g. the app's "
                             "framework")
    bisect.add_argument("--path", action="append", default=[], metavar="NAME",
                        help="compare only this path (repeatable; default: the scenario's paths)")
    bisect.add_argument("--repeat", type=_repeat, default=1, metavar="N",
                        help="run every case N times at each step: a step whose runs disagree is flaky")
    bisect.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                        help="give every stop profile this grace period (as for run)")
    bisect.add_argument("--results", metavar="DIR", default="bisect-results",
                        help="where each step's results JSON and bisect.json go (default: bisect-results)")
    bisect.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N", help="cases run at once, as for run")
    _index_arguments(bisect)
