"""Markup for the HTML reports: escaping, elements, the few text formats they share.

Every text that enters a page, the target's above all, goes through :func:`esc` (one
line) or :func:`esc_block` (the output tail): made printable first
(:mod:`.text`), then escaped for element content and attribute values alike.
"""

from __future__ import annotations

import html
from typing import Any

from .text import clean, clean_line

# What html.escape(quote=True) replaces: text without any of them is left as it is.
_MARKUP = frozenset("&<>\"'")


def esc(text: Any) -> str:
    """Text for markup, element content and attribute values alike, on one line (a
    newline shows as ␤, :func:`.text.clean_line`): only the output tail is a block."""
    if type(text) is str and text.isascii() and text.isprintable():  # most text: clean_line keeps it
        line = text
    elif type(text) in (int, float):  # a coordinate or a count: its digits need nothing
        return str(text)
    else:
        line = clean_line(text)
    return line if _MARKUP.isdisjoint(line) else html.escape(line, quote=True)


def esc_block(text: Any) -> str:
    """Text of several lines (the output tail, in a <pre>)."""
    block = clean(text)
    return block if _MARKUP.isdisjoint(block) else html.escape(block, quote=True)


def secs(t: float | None) -> str:
    """A time as recorded (4 decimals at most, trailing zeros dropped): '0.0022 s'."""
    if t is None:
        return "-"
    text = f"{round(t, 4):.4f}".rstrip("0").rstrip(".")
    return ("0" if text == "-0" else text) + " s"


def tag(name: str, attrs: dict[str, Any], content: str = "") -> str:
    """An element; its attribute values escaped (:func:`esc`), a None value left out.
    A page of thousands of cases has hundreds of thousands of them: one loop, no
    generator, no call for the plain values most of them are."""
    parts = [f"<{name}"]
    for key, value in attrs.items():
        if value is None:
            continue
        if type(value) is str and value.isascii() and value.isprintable() and _MARKUP.isdisjoint(value):
            parts.append(f' {key}="{value}"')
        else:
            parts.append(f' {key}="{esc(value)}"')
    parts.append(f">{content}</{name}>")
    return "".join(parts)


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
