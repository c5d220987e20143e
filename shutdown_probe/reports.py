"""The report files a run asks for, each rendered and written on its own.

This module is the only one that writes report files. ``shutdown-probe run``,
``shutdown-probe report`` and the pytest plugin write theirs through
:func:`write_reports`, and ``shutdown-probe articles`` its pages through
:func:`write_each`, so one policy holds for all four: every report asked for is
attempted; one that cannot be rendered or written costs only itself and comes back
as a :class:`Written` with the reason, which the caller prints as one line and turns
into a non-zero exit; and each file is written whole or not at all
(:func:`~shutdown_probe.files.write_atomically`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UsageError
from .files import Content, write_atomically

if TYPE_CHECKING:  # pragma: no cover
    from .results import Results

# The formats in the order they are written: the JSON first, as it holds everything
# the others are rendered from.
KINDS = ("json", "markdown", "compat", "junit", "html")


@dataclass(frozen=True)
class Written:
    """One report: where it went, and why not when it could not be written."""

    kind: str  # one of KINDS, or a writer's own name for it
    target: str
    error: str | None = None  # "cannot write: Not a directory"...; None: written

    @property
    def ok(self) -> bool:
        return self.error is None


def _renderer(kind: str, results: Results, compat: list[Results] | None) -> Callable[[], Content]:
    from . import render

    if kind == "json":
        return lambda: results.write_json
    if kind == "markdown":
        return lambda: render.format_markdown(results)
    if kind == "compat":  # the files one by one (they are compared by environment), else as one
        return lambda: render.format_compat(compat if compat is not None else [results])
    if kind == "junit":
        return lambda: render.format_junit(results)
    if kind == "html":
        return lambda: render.format_html(results)
    raise AssertionError(kind)  # write_reports checked the kinds


def write_reports(results: Results, targets: Mapping[str, str | None], *,
                  compat: list[Results] | None = None) -> list[Written]:
    """Write ``results`` to each ``targets[kind]`` that is set (kinds: :data:`KINDS`).

    ``compat``: the results files one by one, for the compatibility tables
    (``report --compat``), which compare them by environment. Returns what
    happened to each report, in :data:`KINDS` order; never raises for one report's
    sake, whatever went wrong with it.
    """
    unknown = sorted(set(targets) - set(KINDS))
    if unknown:
        raise UsageError(f"unknown report kind(s) {unknown} (known: {', '.join(KINDS)})")
    return write_each([(kind, target, _renderer(kind, results, compat))
                       for kind in KINDS if (target := targets.get(kind))])


def write_each(reports: Iterable[tuple[str, str, Callable[[], Content]]]) -> list[Written]:
    """Render and write each ``(kind, target, render)`` on its own: ``render()``
    returns the text (or a function that writes it to a file). For writers with
    reports of their own (the articles' write-up); :func:`write_reports` is this for
    the results' formats."""
    return [Written(kind, target, _write(target, make)) for kind, target, make in reports]


def _write(target: str, make: Callable[[], Content]) -> str | None:
    """Why this report could not be written, in a few words; None once it is."""
    from .render.text import clean

    stage = "render"
    try:
        content = make()
        stage = "write"
        write_atomically(target, content)
    except OSError as exc:
        return f"cannot {stage}: {exc.strerror or exc}"
    except Exception as exc:  # a renderer's bug, text a file cannot hold: this report only
        return " ".join(clean(f"cannot {stage}: {type(exc).__name__}: {exc}").split())
    return None
