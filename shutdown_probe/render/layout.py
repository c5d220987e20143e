"""How a matrix fits a width: the column widths, or that it does not fit.

A cell may wrap between words, never inside one: a column is never narrower than its
longest word (header included). The terminal matrix tries its full headers, then short
keys with a legend, then gives up on the table for a list per path (:mod:`.terminal`).
"""

from __future__ import annotations

# Output that is not a terminal (a pipe, a file, a CI log) and names no width
# (``--width``, ``COLUMNS``): wide enough for a real matrix on one line per row, and
# a matrix wider still is a list per path rather than a table nobody can read.
PIPED_WIDTH = 200

# Below this a table is not tried at all: the list per path reads better.
NARROWEST_TABLE = 30


def fit(minimums: list[int], maximums: list[int], width: int, *, wrap: bool = True) -> list[int] | None:
    """Each column's width (padding included) so that their sum is at most ``width``:
    its widest line when all fit, else (``wrap``) its longest word plus a share of
    what is left, in proportion to how much more it would take. None when that does
    not fit (even the longest words, or without ``wrap`` the widest lines)."""
    if sum(maximums) <= width:
        return list(maximums)
    if not wrap or sum(minimums) > width or width < NARROWEST_TABLE:
        return None
    widths = list(minimums)
    spare = width - sum(minimums)
    wants = [mx - mn for mn, mx in zip(minimums, maximums)]
    total = sum(wants)
    for i, want in enumerate(wants):
        share = min(want, spare * want // total) if total else 0
        widths[i] += share
    left = width - sum(widths)
    for i in sorted(range(len(wants)), key=lambda i: wants[i] - (widths[i] - minimums[i]), reverse=True):
        if left <= 0:
            break
        more = min(left, maximums[i] - widths[i])
        widths[i] += more
        left -= more
    return widths


def keys(names: list[str], prefix: str) -> dict[str, str]:
    """Short headers for long ones: ``h1``, ``h2``... in order."""
    return {name: f"{prefix}{n}" for n, name in enumerate(names, 1)}
