"""Text for reports: whatever the target wrote, made printable, and lists in words.

Every renderer passes the strings it did not write itself (hook names, evidence,
output, errors) through :func:`clean` or :func:`clean_line` before they reach a
terminal, a Markdown table, XML or HTML.
"""

from __future__ import annotations

import re
from typing import Any


_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")  # terminal colour and cursor codes
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ␁ ... ␛ ...: the control picture
    if code == 0x7F:
        return "\u2421"  # ␡
    if code <= 0x9F:
        return f"\\x{code:02x}"
    return "\ufffd"  # a lone surrogate or a non-character: not text


# Characters that reorder the text around them when displayed (the bidirectional
# embeddings, overrides, isolates and marks): a target's name holding U+202E would show
# an order line reversed. Shown as a visible escape instead, as are the Unicode line
# and paragraph separators.
_INVISIBLE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group()):04X}>"


def clean(text: Any) -> str:
    """``text`` made printable and legal in XML and HTML: terminal escape sequences
    (colours) dropped, CRLF turned into LF, every other control character (NUL, a lone
    CR, ESC...) shown as its control picture (``␀``, ``␍``, ``␛``) or ``\\xNN``, and
    the characters that reorder text (bidi controls) as ``<U+202E>``. Newlines stay:
    see :func:`clean_line` for text that must stay on one line."""
    line = str(text)
    if line.isascii() and line.isprintable():  # most text: nothing to drop, picture or escape
        return line
    line = _CSI.sub("", line).replace("\r\n", "\n")
    return _INVISIBLE.sub(_escape, _UNPRINTABLE.sub(_picture, line))


NEWLINE = "\u2424"  # ␤


def clean_line(text: Any) -> str:
    """:func:`clean`, for a line of a report (a cell, a header, an order, repeat, claim
    or note line, an error line): a newline in the target's text is shown as ``␤``,
    so it cannot start a line of its own that looks like the harness's."""
    line = clean(text)
    return line if "\n" not in line else line.replace("\n", NEWLINE)


def names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
