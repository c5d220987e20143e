"""The terminal matrix, built with rich: one table per scenario.

Every string here becomes a rich ``Text`` through :func:`_text`, never a str that rich
would read as markup: a hook named ``[/]`` (an atexit callable's qualified name is the
target's to choose) would otherwise raise MarkupError, and ``[link=...]`` would become
a live link. :func:`_text` also makes the string printable and one line
(:func:`.text.clean_line`), so no escape sequence or newline the target wrote reaches
the terminal.
"""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..results import Results
from . import claims, legend, notes, order, repeats, rows, services, traffic
from .cells import NOT_RAN, RAN, verify_column
from .text import clean_line


def _text(value: object, style: str = "") -> Text:
    """``value`` as inert, printable rich text: the one way a string enters the matrix.
    Everything here is one line (a cell, a title, a line under the table)."""
    return Text(clean_line(value), style=style)


def _mark_style(text: str) -> str:
    """Green for ✓, red for ✗, yellow when repeated runs split, dim for the rest."""
    if " ×" in text:
        return "yellow"
    return {RAN: "green", NOT_RAN: "red"}.get(text[:1], "dim")


def build_tables(results: Results) -> list[RenderableType]:
    """One renderable per scenario: title, matrix, failures, summary."""
    out: list[RenderableType] = []
    for scenario, cases in rows.by_scenario(results).items():
        hooks = rows.hook_names(cases)
        checks = rows.check_names(cases)
        description = results.scenarios.get(cases[0].scenario, "")
        title = f"{scenario} — {description}" if description else scenario
        table = Table(title=_text(title), title_justify="left", show_lines=False)
        table.add_column(_text("path"), no_wrap=True)
        for name in hooks:
            table.add_column(_text(name), justify="center", overflow="fold")
        for name in checks:
            table.add_column(_text(verify_column(name)), overflow="fold")
        has_traffic = traffic.has_traffic(cases)
        if has_traffic:
            table.add_column(_text("drained"), justify="center")
            table.add_column(_text("new requests"))
            table.add_column(_text("port"))
        table.add_column(_text("exit"), no_wrap=True)
        table.add_column(_text("time"), justify="right", no_wrap=True)
        table.add_column(_text("orphans"))
        has_services = services.has_services(cases)
        if has_services:
            table.add_column(_text("services"))
        for row in rows.rows(cases, hooks, has_traffic, checks, has_services):
            cells = [_text(row.label, style="red" if row.failed else "")]
            for text in [*row.hooks, *row.checks]:
                cells.append(_text(text, style=_mark_style(text)))
            if has_traffic:
                drained, new_requests, port = row.traffic
                cells.append(_text(drained, style=_mark_style(drained)))
                cells.append(_text(new_requests, style="dim" if new_requests == "-" else ""))
                cells.append(_text(port, style="dim" if port == "-" else ""))
            cells.append(_text(row.exit))
            cells.append(_text(row.time))
            cells.append(_text(row.orphans, style="yellow" if row.orphans != "-" else ""))
            if row.services is not None:
                cells.append(_text(row.services, style="red" if NOT_RAN in row.services else "dim"))
            table.add_row(*cells)
        parts: list[RenderableType] = [table]
        for key in (legend.legend(cases), legend.traffic_legend(cases)):
            if key:
                parts.append(_text(key, style="dim"))
        for line in order.order_lines(cases):
            parts.append(_text(line, style="dim"))
        for line in notes.probe_note_lines(cases):
            parts.append(_text(line, style="yellow"))
        for line in notes.hang_lines(cases):
            parts.append(_text(line, style="yellow"))
        for repeat in repeats.repeat_lines(cases):
            parts.append(_text(repeat.text, style="yellow" if repeat.kind == "differ" else "dim"))
        for line in notes.failure_lines(cases):
            parts.append(_text(f"✗ {line}", style="red"))
        for claim in claims.claims(cases):
            style = {"confirmed": "green", "refuted": "red"}.get(claim.verdict, "dim")
            parts.append(_text(f"claim {claims.claim_line(claim)}", style=style))
        parts.append(_text(notes.summary_line(cases)))
        out.append(Group(*parts))
    return out


def format_terminal(results: Results, width: int = 120) -> str:
    """The matrix as plain text (no colour), exactly as a terminal of ``width`` shows it."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False,
                      legacy_windows=False, emoji=False, highlight=False)
    for n, renderable in enumerate(build_tables(results)):
        if n:
            console.print()
        console.print(renderable)
    return buf.getvalue()
