"""Markup for the HTML reports: escaping, elements, the few text formats they share.

Every text that enters a page, the target's above all, goes through :func:`esc` (one
line) or :func:`esc_block` (the output tail): made printable first
(:mod:`.text`), then escaped for element content and attribute values alike.
"""

from __future__ import annotations

import html
from typing import Any

from .text import clean, clean_line

def esc(text: Any) -> str:
    """Text for markup, element content and attribute values alike, on one line (a
    newline shows as ␤, :func:`.text.clean_line`): only the output tail is a block."""
    return html.escape(clean_line(text), quote=True)


def esc_block(text: Any) -> str:
    """Text of several lines (the output tail, in a <pre>)."""
    return html.escape(clean(text), quote=True)


def secs(t: float | None) -> str:
    """A time as recorded (4 decimals at most, trailing zeros dropped): '0.0022 s'."""
    if t is None:
        return "-"
    text = f"{round(t, 4):.4f}".rstrip("0").rstrip(".")
    return ("0" if text == "-0" else text) + " s"


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' {k}="{esc(v)}"' for k, v in attrs.items() if v is not None)


def tag(name: str, attrs: dict[str, Any], content: str = "") -> str:
    return f"<{name}{_attrs(attrs)}>{content}</{name}>"


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
