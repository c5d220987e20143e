"""The terminal matrix, built with rich: one table per scenario, laid out for a width.

Every string here becomes a rich ``Text`` through :func:`_text`, never a str that rich
would read as markup: a hook named ``[/]`` (an atexit callable's qualified name is the
target's to choose) would otherwise raise MarkupError, and ``[link=...]`` would become
a live link. :func:`_text` also makes the string printable and one line
(:func:`.text.clean_line`), so no escape sequence or newline the target wrote reaches
the terminal.

A cell wraps between words, never inside one. When the table does not fit the width
with its full headers, the long ones become short keys (``h1``, ``v1``) named in a
line under it; when it does not fit even so, each path becomes a list of its cells
(:mod:`.layout`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from ..results import CaseResult, Results
from . import claims, layout, legend, notes, order, repeats, rows, services, traffic
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


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


@dataclass
class _Column:
    """One column of the matrix: its header, its cells, and its short header (``key``)
    for when the full one makes the table too wide (None: it keeps its header)."""

    header: str
    justify: JustifyMethod = "left"
    key: str | None = None
    cells: list[Text] = field(default_factory=list)
    no_wrap: bool = False  # a path, an exit, a time: one line each

    def header_for(self, keyed: bool) -> str:
        if keyed and self.key is not None and _longest_word(self.header) > max(
                cell_len(self.key), max((_longest_word(c.plain) for c in self.cells), default=0)):
            return self.key
        return self.header

    def measure(self, keyed: bool) -> tuple[int, int]:
        """Its narrowest (the longest word) and widest (the longest line), padding included."""
        texts = [clean_line(self.header_for(keyed)), *(c.plain for c in self.cells)]
        widest = max(cell_len(t) for t in texts) + 2
        return (widest if self.no_wrap else max(_longest_word(t) for t in texts) + 2), widest


def _columns(cases: list[CaseResult]) -> list[_Column]:
    """The matrix of these cases as columns, the path's first."""
    hooks, checks = rows.hook_names(cases), rows.check_names(cases)
    has_traffic, has_services = traffic.has_traffic(cases), services.has_services(cases)
    hook_keys, check_keys = layout.keys(hooks, "h"), layout.keys(checks, "v")
    cols = [_Column("path", no_wrap=True)]
    cols += [_Column(name, "center", hook_keys[name]) for name in hooks]
    cols += [_Column(verify_column(name), "left", check_keys[name]) for name in checks]
    if has_traffic:
        cols += [_Column("drained", "center"), _Column("new requests", key="new"), _Column("port")]
    cols += [_Column("exit", no_wrap=True), _Column("time", "right", no_wrap=True), _Column("orphans")]
    if has_services:
        cols.append(_Column("services"))
    for row in rows.rows(cases, hooks, has_traffic, checks, has_services):
        cells = [_text(row.label, style="red" if row.failed else "")]
        cells += [_text(text, style=_mark_style(text)) for text in [*row.hooks, *row.checks]]
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
        for col, cell in zip(cols, cells):
            col.cells.append(cell)
    return cols


def _table(title: str, cols: list[_Column], width: int) -> tuple[Table, list[str]] | None:
    """The table at ``width``, and the keys its headers use; None when it cannot fit
    without cutting a word. Tried in this order: every cell on one line with the full
    headers, then with short keys; then cells wrapped between words, the same way."""
    for wrap, keyed in ((False, False), (False, True), (True, False), (True, True)):
        measured = [c.measure(keyed) for c in cols]
        borders = len(cols) + 1
        widths = layout.fit([m for m, _ in measured], [m for _, m in measured], width - borders, wrap=wrap)
        if widths is None:
            continue
        table = Table(title=_text(title), title_justify="left", show_lines=False)
        for col, w in zip(cols, widths):
            table.add_column(_text(col.header_for(keyed)), justify=col.justify, width=w - 2,
                             no_wrap=col.no_wrap)
        for cells in zip(*(c.cells for c in cols)):
            table.add_row(*cells)
        used = [f"{c.key} = {c.header}" for c in cols if keyed and c.header_for(keyed) != c.header]
        return table, used
    return None


def _listed(title: str, cols: list[_Column], width: int) -> RenderableType:
    """Each path as a list of its cells, for a width no table fits: the path, then a
    line per column, its header and its cell (which wraps between words)."""
    headers = [f"  {clean_line(c.header)}" for c in cols[1:]]
    key_width = min(max(cell_len(h) for h in headers), max(width // 2, width - 24))
    grid = Table.grid(padding=(0, 0, 0, 2))
    grid.add_column(width=key_width, overflow="fold")
    grid.add_column(width=max(width - key_width - 2, 1))
    for n, label in enumerate(cols[0].cells):
        grid.add_row(Text(label.plain, style=f"{label.style} bold".strip()), Text(""))
        for header, col in zip(headers, cols[1:]):
            grid.add_row(Text(header), col.cells[n])
    return Group(_text(title), grid)


def _scenario(title: str, cases: list[CaseResult], width: int) -> RenderableType:
    """One scenario: its matrix (a table, or a list per path), then the lines under it."""
    cols = _columns(cases)
    fitted = _table(title, cols, width)
    parts: list[RenderableType] = [fitted[0] if fitted else _listed(title, cols, width)]
    if fitted and fitted[1]:
        parts.append(_text("; ".join(fitted[1]), style="dim"))
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
    return Group(*parts)


def build_tables(results: Results, width: int = layout.PIPED_WIDTH) -> list[RenderableType]:
    """One renderable per scenario, laid out for ``width`` columns: title, matrix,
    legends, failures, summary."""
    out: list[RenderableType] = []
    for scenario, cases in rows.by_scenario(results).items():
        description = results.scenarios.get(cases[0].scenario, "")
        title = f"{scenario} — {description}" if description else scenario
        out.append(_scenario(title, cases, width))
    return out


def format_terminal(results: Results, width: int = 120) -> str:
    """The matrix as plain text (no colour), exactly as a terminal of ``width`` shows it."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False,
                      legacy_windows=False, emoji=False, highlight=False)
    for n, renderable in enumerate(build_tables(results, width)):
        if n:
            console.print()
        console.print(renderable)
    return buf.getvalue()
