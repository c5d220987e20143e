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
import sys
from collections.abc import Callable

from ..errors import ProbeError
from .commands import cmd_articles, cmd_bisect, cmd_check, cmd_init, cmd_paths, cmd_report, cmd_run
from .console import err
from .parser import ARTICLES_HELP, EXIT_OK, EXIT_USAGE, ArgParser, Usage, articles_arguments, build_parser

__all__ = ["build_parser", "main", "main_articles"]


def main(argv: list[str] | None = None) -> int:
    return _guarded(lambda: _dispatch(_parse(sys.argv[1:] if argv is None else list(argv))))


def _parse(argv: list[str]) -> argparse.Namespace:
    """The options; for ``run`` and ``init``, what follows ``--`` is the app's command
    (``args.command_line``), kept whole: its own options are not the harness's."""
    if "--" in argv:
        cut = argv.index("--")
        head = build_parser().parse_args(argv[:cut])
        if head.command in ("run", "init"):
            head.command_line = argv[cut + 1:]
            return head
    args = build_parser().parse_args(argv)
    args.command_line = None
    return args


def main_articles(argv: list[str] | None = None) -> int:
    """``python -m shutdown_probe.articles``: the ``articles`` command under its first name."""
    parser = ArgParser(prog="python -m shutdown_probe.articles", description=ARTICLES_HELP)
    articles_arguments(parser)
    return _guarded(lambda: cmd_articles(parser.parse_args(argv)))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "paths":
        return cmd_paths()
    if args.command == "check":
        return cmd_check(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "articles":
        return cmd_articles(args)
    if args.command == "init":
        return cmd_init(args)
    if args.command == "bisect":
        return cmd_bisect(args)
    return cmd_run(args)


def _guarded(command: Callable[[], int]) -> int:
    """Run a command: a usage mistake or a library error is one line and status 2."""
    try:
        return command()
    except (Usage, ProbeError) as exc:
        err(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # `shutdown-probe paths | head`
        return EXIT_OK
