"""Where each table and key of a TOML document is written: its line number.

``tomllib`` gives values without positions; a CI annotation needs the line of
``[expect.sigterm]`` or of its ``outcome = ...``. This is a scanner of TOML's
structure only (keys, headers, and enough of each value to step over it: strings of
the four kinds, arrays over many lines, inline tables, comments), so text that merely
looks like a header inside a multi-line string or a comment is never taken for one.

:func:`key_lines` maps every key path to the line (1-based) where it is first
written: ``("expect", "sigterm")`` for the header ``[expect.sigterm]`` (or
``[ expect . "sigterm" ]``, or the first dotted key ``expect.sigterm.outcome = ...``
that makes the table), ``("expect", "sigterm", "outcome")`` for the key, inside an
inline table too. A document it cannot follow gives an empty map: callers then have
no line to point at, never a wrong one.
"""

from __future__ import annotations

import bisect

__all__ = ["key_lines"]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_VALUE_END = frozenset(" \t\r\n,]}#")

Key = tuple[str, ...]


class _Unreadable(Exception):
    """The text is not TOML this scanner can follow."""


def key_lines(text: str) -> dict[Key, int]:
    """Every table and key path of ``text`` -> the line it is first written on."""
    try:
        return _Scanner(text).document()
    except (_Unreadable, IndexError, RecursionError):
        return {}


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text.removeprefix("\ufeff")
        self.pos = 0
        self.newlines = [i for i, ch in enumerate(self.text) if ch == "\n"]
        self.found: dict[Key, int] = {}

    # -------------------------------------------------------------- positions

    def line(self) -> int:
        return bisect.bisect_left(self.newlines, self.pos) + 1

    def at(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def end(self) -> bool:
        return self.pos >= len(self.text)

    def take(self, s: str) -> None:
        if not self.at(s):
            raise _Unreadable(f"expected {s!r} at {self.pos}")
        self.pos += len(s)

    def note(self, key: Key, line: int) -> None:
        for n in range(1, len(key) + 1):
            self.found.setdefault(key[:n], line)

    def blanks(self, newlines: bool = False) -> None:
        """Spaces and tabs; with ``newlines``, also line ends and comments."""
        while not self.end():
            ch = self.text[self.pos]
            if ch in " \t":
                self.pos += 1
            elif newlines and ch in "\r\n":
                self.pos += 1
            elif newlines and ch == "#":
                self.comment()
            else:
                return

    def comment(self) -> None:
        if self.at("#"):
            nl = self.text.find("\n", self.pos)
            self.pos = len(self.text) if nl < 0 else nl

    def line_end(self) -> None:
        self.blanks()
        self.comment()
        if self.end():
            return
        if self.at("\r\n"):
            self.pos += 2
        elif self.at("\n"):
            self.pos += 1
        else:
            raise _Unreadable(f"expected the end of the line at {self.pos}")

    # -------------------------------------------------------------- structure

    def document(self) -> dict[Key, int]:
        table: Key = ()
        while True:
            self.blanks(newlines=True)
            if self.end():
                return self.found
            line = self.line()
            if self.at("["):
                array = self.at("[[")
                self.pos += 2 if array else 1
                table = self.key()
                self.take("]]" if array else "]")
                self.note(table, line)
            else:
                key = table + self.key()
                self.note(key, line)
                self.take("=")
                self.value(key)
            self.line_end()

    def key(self) -> Key:
        parts = []
        while True:
            self.blanks()
            parts.append(self.simple_key())
            self.blanks()
            if not self.at("."):
                return tuple(parts)
            self.pos += 1

    def simple_key(self) -> str:
        if self.at('"'):
            return self.basic_string()
        if self.at("'"):
            return self.literal_string()
        start = self.pos
        while not self.end() and self.text[self.pos] in _BARE:
            self.pos += 1
        if self.pos == start:
            raise _Unreadable(f"expected a key at {self.pos}")
        return self.text[start:self.pos]

    def value(self, key: Key | None) -> None:
        """Step over one value; an inline table's keys are noted under ``key``."""
        self.blanks()
        if self.at('"""'):
            self.multiline('"""', escapes=True)
        elif self.at("'''"):
            self.multiline("'''", escapes=False)
        elif self.at('"'):
            self.basic_string()
        elif self.at("'"):
            self.literal_string()
        elif self.at("["):
            self.array()
        elif self.at("{"):
            self.inline_table(key)
        else:
            start = self.pos
            while not self.end() and self.text[self.pos] not in _VALUE_END:
                self.pos += 1
            # a date-time may hold one space between its date and its time
            if (self.pos - start == 10 and self.at(" ") and self.pos + 1 < len(self.text)
                    and self.text[self.pos + 1].isdigit()):
                self.pos += 1
                while not self.end() and self.text[self.pos] not in _VALUE_END:
                    self.pos += 1
            if self.pos == start:
                raise _Unreadable(f"expected a value at {self.pos}")

    def array(self) -> None:
        self.take("[")
        while True:
            self.blanks(newlines=True)
            if self.at("]"):
                self.pos += 1
                return
            self.value(None)  # keys inside an array's tables have no path of their own
            self.blanks(newlines=True)
            if self.at(","):
                self.pos += 1
            elif not self.at("]"):
                raise _Unreadable(f"expected ',' or ']' at {self.pos}")

    def inline_table(self, key: Key | None) -> None:
        self.take("{")
        while True:
            self.blanks(newlines=True)
            if self.at("}"):
                self.pos += 1
                return
            line = self.line()
            inner = self.key()
            if key is not None:
                self.note(key + inner, line)
            self.take("=")
            self.value(None if key is None else key + inner)
            self.blanks(newlines=True)
            if self.at(","):
                self.pos += 1
            elif not self.at("}"):
                raise _Unreadable(f"expected ',' or '}}' at {self.pos}")

    # -------------------------------------------------------------- strings

    def basic_string(self) -> str:
        self.take('"')
        out: list[str] = []
        while True:
            ch = self.text[self.pos]  # IndexError at the end: unreadable
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch in "\r\n":
                raise _Unreadable("a line break in a basic string")
            if ch == "\\":
                out.append(self._escape())
                continue
            out.append(ch)
            self.pos += 1

    def _escape(self) -> str:
        """One escape of a basic string (for keys; values only need stepping over)."""
        code = self.text[self.pos + 1]
        simple = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}
        if code in simple:
            self.pos += 2
            return simple[code]
        width = {"u": 4, "U": 8, "x": 2}.get(code)
        if width is None:
            raise _Unreadable(f"unknown escape at {self.pos}")
        digits = self.text[self.pos + 2:self.pos + 2 + width]
        self.pos += 2 + width
        try:
            return chr(int(digits, 16))
        except (ValueError, OverflowError):
            raise _Unreadable(f"bad escape at {self.pos}") from None

    def literal_string(self) -> str:
        self.take("'")
        close = self.text.find("'", self.pos)
        nl = self.text.find("\n", self.pos)
        if close < 0 or 0 <= nl < close:
            raise _Unreadable("an unterminated literal string")
        value = self.text[self.pos:close]
        self.pos = close + 1
        return value

    def multiline(self, quote: str, *, escapes: bool) -> None:
        self.take(quote)
        while True:
            if self.end():
                raise _Unreadable("an unterminated multi-line string")
            if escapes and self.at("\\"):
                self.pos += 2
            elif self.at(quote):
                self.pos += len(quote)
                for _ in range(2):  # up to two quotes of the content may touch the delimiter
                    if self.at(quote[0]):
                        self.pos += 1
                return
            else:
                self.pos += 1
