"""The terminal matrix, built with rich: one table per scenario."""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..results import Results
from . import common


def _mark_style(text: str) -> str:
    """Green for ✓, red for ✗, yellow when repeated runs split, dim for the rest."""
    if " ×" in text:
        return "yellow"
    return {common.RAN: "green", common.NOT_RAN: "red"}.get(text[:1], "dim")


def build_tables(results: Results) -> list[RenderableType]:
    """One renderable per scenario: title, matrix, failures, summary."""
    out: list[RenderableType] = []
    for scenario, cases in common.by_scenario(results).items():
        hooks = common.hook_names(cases)
        description = results.scenarios.get(cases[0].scenario, "")
        title = f"{scenario} — {description}" if description else scenario
        table = Table(title=title, title_justify="left", show_lines=False)
        table.add_column("path", no_wrap=True)
        for name in hooks:
            table.add_column(name, justify="center", overflow="fold")
        traffic = common.has_traffic(cases)
        if traffic:
            table.add_column("drained", justify="center")
            table.add_column("new requests")
            table.add_column("port")
        table.add_column("exit", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("orphans")
        for row in common.rows(cases, hooks, traffic):
            cells = [Text(row.label, style="red" if row.failed else "")]
            for text in row.hooks:
                cells.append(Text(text, style=_mark_style(text)))
            if traffic:
                drained, new_requests, port = row.traffic
                cells.append(Text(drained, style=_mark_style(drained)))
                cells.append(Text(new_requests, style="dim" if new_requests == "-" else ""))
                cells.append(Text(port, style="dim" if port == "-" else ""))
            cells.append(Text(row.exit))
            cells.append(Text(row.time))
            cells.append(Text(row.orphans, style="yellow" if row.orphans != "-" else ""))
            table.add_row(*cells)
        parts: list[RenderableType] = [table]
        for legend in (common.legend(cases), common.traffic_legend(cases)):
            if legend:
                parts.append(Text(legend, style="dim"))
        for line in common.order_lines(cases):
            parts.append(Text(line, style="dim"))
        for line in common.probe_note_lines(cases):
            parts.append(Text(line, style="yellow"))
        for line in common.repeat_lines(cases):
            parts.append(Text(line, style="yellow" if " differ: " in line else "dim"))
        for line in common.failure_lines(cases):
            parts.append(Text(f"✗ {line}", style="red"))
        for claim in common.claims(cases):
            style = {"confirmed": "green", "refuted": "red"}.get(claim.verdict, "dim")
            parts.append(Text(f"claim {common.claim_line(claim)}", style=style))
        parts.append(Text(common.summary_line(cases)))
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
