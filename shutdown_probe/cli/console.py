"""What the commands print: error lines, inert text, the matrix, and the report files
and GitHub Actions output that go with it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from rich.console import Console
    from rich.text import Text

    from ..reports import Written
    from ..results import Results


def err(line: str) -> None:
    """One error line on stderr. It may quote a scenario's values or an app's last
    output: made printable first, so no escape sequence reaches the terminal."""
    from ..render.text import clean_line

    line = clean_line(line)
    print(f"shutdown-probe: {line}" if not line.startswith("shutdown-probe") else line, file=sys.stderr)


def inert_text(line: str, style: str = "") -> Text:
    """``line`` as inert rich text for a console: never read as markup or emoji
    codes, control characters shown as pictures (the matrix's own rule)."""
    from rich.text import Text

    from ..render.text import clean_line

    return Text(clean_line(line), style=style)


def make_console(stderr: bool = False, width: int | None = None) -> Console:
    from rich.console import Console

    from ..render.layout import PIPED_WIDTH

    console = Console(stderr=stderr, width=width, highlight=False)
    if width is None and not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a CI log, nothing limits the width; rich's 80 columns
        # would make a list of a matrix that a log shows well as a table.
        console.width = PIPED_WIDTH
    return console



def report_targets(args: argparse.Namespace) -> dict[str, str | None]:
    """The report files a command's options ask for, by kind (--json, --markdown...)."""
    from ..reports import KINDS

    return {kind: getattr(args, kind, None) for kind in KINDS}


def write_report_files(targets: Mapping[str, str | None], results: Results) -> bool:
    """The report files asked for, each on its own (:func:`~shutdown_probe.reports.write_reports`):
    one that cannot be written is one line on stderr, and the others are still
    written. False when one could not be."""
    from ..reports import write_reports

    return said(write_reports(results, targets))


def said(written: list[Written]) -> bool:
    """One line on stderr per report that could not be written; whether all were."""
    for report in written:
        if not report.ok:
            err(f"--{report.kind} {report.target}: {report.error}")
    return all(report.ok for report in written)


def print_matrix(results: Results, width: int | None) -> bool:
    """Print the matrix; a renderer's failure is one line on stderr (False), as a
    report file's is (reports.write_each), not a traceback."""
    from ..render import build_tables

    console = make_console(width=width)
    try:
        tables = list(build_tables(results, console.width))
    except Exception as exc:  # a renderer's bug: the report files are already written
        err(f"the matrix could not be printed: {type(exc).__name__}: {exc}")
        return False
    for n, table in enumerate(tables):
        if n:
            console.print()
        console.print(table)
    return True


def github_output(results: Results) -> bool:
    """On GitHub Actions: the matrix appended to the job summary, and an error
    annotation per failure on stdout (:mod:`shutdown_probe.github`). False when the
    summary could not be written (one line on stderr, as a report file's)."""
    from .. import github

    if not github.on_github():
        return True
    for line in github.error_commands(results):
        print(line, flush=True)
    problem = github.write_summary(results)
    if problem:
        err(problem)
    return problem is None
