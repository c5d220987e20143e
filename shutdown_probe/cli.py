"""The command line: parse, run, print, set the exit status.

Exit status: 0 every declared expectation held; 1 an expectation failed or a case
errored; 2 bad usage or a bad scenario file (one line on stderr); 128+N when the
harness itself was stopped by signal N (130 for SIGINT, 143 for SIGTERM), after it
killed everything it had started.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from . import __version__
from .errors import ProbeError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Usage(Exception):
    """A usage mistake: printed as one line, exit status 2."""


class _ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2, no usage dump
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


def _parser() -> argparse.ArgumentParser:
    p = _ArgParser(prog="shutdown-probe", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"shutdown-probe {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_ArgParser)

    run = sub.add_parser("run", help="run scenarios along their termination paths and print the matrix")
    run.add_argument("scenarios", nargs="+", metavar="SCENARIO.toml")
    run.add_argument("--path", action="append", default=[], metavar="NAME",
                     help="run only this path (repeatable); SCENARIO::PATH for one scenario's path")
    run.add_argument("--jobs", "-j", type=_jobs, default="auto", metavar="N",
                     help="cases run at once: a number, or auto (the default) for one per CPU "
                          "this process may use; 1 runs them one by one, for debugging")
    run.add_argument("--repeat", type=_repeat, default=1, metavar="N",
                     help="run every case N times (shutdown races show up as runs that differ)")
    run.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                     help="give every stop profile this grace period instead of its own "
                          "(quick runs; the results say the grace came from the command line)")
    run.add_argument("--json", metavar="FILE", help="write results JSON (version 1)")
    run.add_argument("--markdown", metavar="FILE", help="write the matrix as Markdown")
    run.add_argument("--junit", metavar="FILE",
                     help="write JUnit XML for CI: a testcase per case, a failure for each that did not hold")
    run.add_argument("--html", metavar="FILE",
                     help="write a self-contained HTML report: the matrix and a timeline per case")
    run.add_argument("--keep-workdirs", action="store_true",
                     help="keep each case's private working folder (named in the progress lines)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    run.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)

    check = sub.add_parser("check", help="validate scenario files and print what would run")
    check.add_argument("scenarios", nargs="+", metavar="SCENARIO.toml")

    sub.add_parser("paths", help="list the built-in termination paths")

    report = sub.add_parser("report", help="render saved results JSON")
    report.add_argument("results", nargs="+", metavar="RESULTS.json")
    report.add_argument("--markdown", metavar="FILE",
                        help="write compatibility tables for docs: rows = paths, columns = scenarios "
                             "(one environment) or environments (a table per scenario)")
    report.add_argument("--details", action="store_true",
                        help="with --markdown: write the full per-case report that `run --markdown` writes")
    report.add_argument("--junit", metavar="FILE", help="write JUnit XML (as `run --junit` does)")
    report.add_argument("--html", metavar="FILE")
    report.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "paths":
            return _cmd_paths()
        if args.command == "check":
            return _cmd_check(args)
        if args.command == "report":
            return _cmd_report(args)
        return _cmd_run(args)
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


def _text(line: str, style: str = ""):
    """``line`` as inert rich text for a console: never read as markup or emoji
    codes, control characters shown as pictures (the matrix's own rule)."""
    from rich.text import Text

    from .render.text import clean_line

    return Text(clean_line(line), style=style)


def _console(stderr: bool = False, width: int | None = None):
    from rich.console import Console

    console = Console(stderr=stderr, width=width, highlight=False)
    if width is None and not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a CI log, nothing limits the width; rich's 80 columns
        # would fold the matrix's cells.
        console.width = 140
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


def _load_all(files: list[str]):
    from .scenario import load_scenario

    return [load_scenario(f) for f in files]


def _cmd_check(args) -> int:
    from .render.text import clean
    from .scenario import describe

    for scenario in _load_all(args.scenarios):
        print(clean("\n".join(describe(scenario))))
    return EXIT_OK


def _cmd_report(args) -> int:
    from .results import Results, load_results

    if args.details and not args.markdown:
        raise _Usage("report: --details changes what --markdown FILE writes; give --markdown FILE too")
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
    # the files first: printing the matrix must not cost them
    reports_ok = _write_reports(args, merged, parts=None if args.details else parts)
    if not _print_matrix(merged, args.width) or not reports_ok:
        return EXIT_USAGE
    return EXIT_FAILED if merged.failed else EXIT_OK


def _write_reports(args, results, parts=None) -> bool:
    """The report files asked for (--json, --markdown, --junit, --html), each on its
    own: one that cannot be written is one line on stderr, and the others are still
    written. False when one could not be. ``parts``: each results file on its own,
    for ``report``: its --markdown is the compatibility tables for docs (without
    ``parts``, the per-case report that ``run`` writes)."""
    from .reports import KINDS, write_reports

    targets = {kind: getattr(args, kind, None) for kind in KINDS}
    written = write_reports(results, targets, compat=parts)
    for report in written:
        if not report.ok:
            _err(f"--{report.kind} {report.target}: {report.error}")
    return all(report.ok for report in written)


def _print_matrix(results, width: int | None) -> bool:
    """Print the matrix; a renderer's failure is one line on stderr (False), as a
    report file's is (reports.write_each), not a traceback."""
    from .render import build_tables

    console = _console(width=width)
    try:
        tables = list(build_tables(results))
    except Exception as exc:  # a renderer's bug: the report files are already written
        _err(f"the matrix could not be printed: {type(exc).__name__}: {exc}")
        return False
    for n, table in enumerate(tables):
        if n:
            console.print()
        console.print(table)
    return True


class _Stopped(BaseException):
    """The harness received SIGINT or SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _cmd_run(args) -> int:
    scenarios = _load_all(args.scenarios)
    from .runner import TooManyCases, abort_all, expand_cases, run_cases
    from .waiting import Flag

    known = {p.name for s in scenarios for p in s.paths}
    qualified = {f"{s.name}::{p.name}" for s in scenarios for p in s.paths}
    for name in args.path:
        if "::" in name and name not in qualified:
            raise _Usage(f"--path: '{name}' is not SCENARIO::PATH of the given scenarios "
                         f"(scenarios: {', '.join(sorted({s.name for s in scenarios}))})")
        if "::" not in name and name not in known:
            raise _Usage(f"--path: '{name}' is not a path of the given scenarios "
                         f"(they have: {', '.join(sorted(known))})")
    if args.grace is not None:
        from .scenario import MAX_SECONDS

        if not 0 <= args.grace <= MAX_SECONDS:  # also refuses nan; past ~24 days poll() overflows
            raise _Usage(f"--grace: expected 0 to {MAX_SECONDS:g} seconds, got {args.grace:g}")
        scenarios = [s.with_grace(args.grace, "command line") for s in scenarios]
    jobs = args.jobs
    try:
        cases = expand_cases(scenarios, args.path, repeat=args.repeat)
    except TooManyCases as exc:
        raise _Usage(f"--repeat {args.repeat}: {exc}") from None
    progress = _Progress(len(cases), quiet=args.quiet)

    cancel = Flag()
    box: dict[str, object] = {}
    finished: dict[int, object] = {}  # case index -> its result, as each case ends
    finished_lock = threading.Lock()
    over = threading.Event()  # the run ended, or a second signal said not to wait

    def done(case, result) -> None:
        with finished_lock:
            finished[cases.index(case)] = result
        progress.done(case, result)

    def work() -> None:
        try:
            box["results"] = run_cases(cases, jobs=jobs, cancel=cancel, on_start=progress.start,
                                       on_done=done, keep_workdirs=args.keep_workdirs)
        except BaseException as exc:  # reported by the main thread
            box["error"] = exc
        finally:
            over.set()

    stopping: list[int] = []

    def on_signal(signum, frame):
        if stopping:  # a second signal, whenever it comes: stop waiting, kill all the same
            over.set()
            return
        stopping.append(signum)
        raise _Stopped(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    worker = threading.Thread(target=work, name="shutdown-probe-run")
    try:
        worker.start()
        over.wait()
        worker.join()
    except _Stopped as stop:
        # Stop scheduling and end every case's processes; the cases still running end
        # as "interrupted". A second signal skips waiting for them to say so, but the
        # targets are killed all the same.
        cancel.set()
        killed = abort_all()
        over.wait(30)
        killed += abort_all()
        name = signal.Signals(stop.signum).name
        _err(f"interrupted by {name}: stopped every case, killed {killed} process(es) still running")
        from .results import Results, environment_info

        with finished_lock:  # a case hurried past may still be ending
            gathered = [finished[i] for i in sorted(finished)]
        partial = Results(cases=gathered,  # type: ignore[arg-type]
                          environment=environment_info(jobs=jobs, interrupted_by=name),
                          scenarios={c.scenario.name: c.scenario.description for c in cases.distinct()})
        _write_reports(args, partial)
        return 128 + stop.signum
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if not worker.is_alive():  # a case still ending may yet look at it
            cancel.close()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    results = box["results"]
    reports_ok = _write_reports(args, results)
    broken = _never_started(results)
    shown = type(results)(cases=[c for c in results.cases if c.scenario not in broken],
                          environment=results.environment, scenarios=results.scenarios)
    if shown.cases:
        reports_ok &= _print_matrix(shown, args.width)
        for what, how in results.environment.get("capabilities", {}).items():
            if how != "yes" and not args.quiet:  # the machine lacks it: say what that costs
                progress.console.print(_text(f"note: {what}: {how}", style="dim"))
    for line in broken.values():
        _err(line)
    if broken or not reports_ok:
        return EXIT_USAGE
    return EXIT_FAILED if results.failed else EXIT_OK


def _never_started(results) -> dict[str, str]:
    """Scenarios none of whose cases got the app running: a setup mistake, one line each.

    A case that is not ready once in a while is a finding (exit 1); an app that never
    gets ready on any path is a bad scenario or a missing dependency (exit 2).
    """
    by_name: dict[str, list] = {}
    for case in results.cases:
        if case.outcome != "skipped":
            by_name.setdefault(case.scenario, []).append(case)
    broken = {}
    for name, cases in by_name.items():
        if not all(c.outcome in ("not-ready", "error") for c in cases):  # not "interrupted"
            continue
        first = cases[0]
        key = "app.ready" if first.outcome == "not-ready" else "app.command"
        last = next((ln.strip() for ln in reversed(first.output_tail.splitlines()) if ln.strip()), "")
        said = f"; its last output: {last[:160]}" if last else "; it printed nothing"
        broken[name] = (f"{first.scenario_file}: {key}: the app never got ready on any of "
                        f"{len(cases)} path(s): {first.error}{said}")
    return broken


class _Progress:
    """One line per case on stderr as it finishes, with how many are done, running
    and left, so a long run shows it is alive and how far it got."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.quiet = quiet
        self.n = 0
        self.running = 0
        self.lock = threading.Lock()
        self.console = _console(stderr=True)

    def start(self, case) -> None:
        with self.lock:
            self.running += 1

    def done(self, case, result) -> None:
        from .render.cells import exit_cell, time_cell

        with self.lock:
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
