"""The validation toolkit the parsers share: a :class:`Checker` whose checks all fail
with one :class:`~shutdown_probe.errors.ScenarioError` format, "did you mean", and the
checks several tables need (URLs, host names, HTTP methods, signal names).

The write-up loader (``articles.py``) validates its own files with the same toolkit.
"""

from __future__ import annotations

import datetime
import difflib
import math
import signal
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import urlsplit

if TYPE_CHECKING:  # pragma: no cover - regex is imported by the first log regex (patterns.py)
    from regex import Pattern

from ..errors import ScenarioError
from ..patterns import RegexProblem, compile_regex, shown
from .specs import HTTP_METHODS, MAX_SECONDS, TOP_KEYS
from .templates import PLACEHOLDERS, sample_values, service_of, service_port, substitute, unknown_placeholder


class Checker:
    """Type and key checks of one file, all reporting through one ScenarioError format.

    ``services`` are the names of the scenario's [services] tables: their ports are
    placeholders every template may use (``{services.NAME.port}``)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.services: tuple[str, ...] = ()

    def fail(self, key: str | None, message: str, *, value: object = None,
             allowed: Iterable[str] | None = None) -> ScenarioError:
        """The error to raise: ``value`` is the offending value, ``allowed`` what would
        have been accepted (see :class:`~shutdown_probe.errors.ScenarioError`)."""
        return ScenarioError(self.file, one_line(key) if key else key, one_line(message), value=value,
                             allowed=tuple(allowed) if allowed is not None else None)

    def keys(self, table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                full = f"{where}.{seg(key)}" if where else seg(key)
                hint = did_you_mean(key, allowed)
                if where and key in TOP_KEYS:
                    # `paths = [...]` written below `[app]` lands in the app table.
                    hint = (f"; '{key}' is a top-level key: TOML puts every key after a "
                            f"[table] header into that table, so move it above the first [table]")
                raise self.fail(full, f"unknown key{hint} (allowed here: {', '.join(allowed)})",
                                value=key, allowed=allowed)

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {value_kind(value)}", value=value)
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {value_kind(value)}", value=value)
        return value

    def template(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if "\0" in text:  # argv, environment, paths and URLs cannot hold one
            raise self.fail(key, "contains a NUL character", value=text)
        bad = unknown_placeholder(text, self.services)
        if bad is not None:
            names = [*PLACEHOLDERS, *(service_port(s) for s in self.services)]
            allowed = ["{" + p + "}" for p in names]
            service = service_of(bad[1:-1])
            if service is not None:
                hint = did_you_mean(service, self.services)
                have = ", ".join(self.services) if self.services else "none"
                raise self.fail(key, f"unknown service '{service}' in {bad}{hint} (services: {have}; "
                                     "a [services.NAME] table declares one)", value=bad, allowed=allowed)
            hint = did_you_mean(bad[1:-1], names, form="{{{}}}")
            raise self.fail(key, f"unknown placeholder {bad}{hint} (allowed: {', '.join(allowed)}"
                                 "; write {{ and }} for literal braces)", value=bad, allowed=allowed)
        return text

    def seconds(self, value: Any, key: str, *, zero_ok: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number of seconds, got {value_kind(value)}", value=value)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(key, f"expected a finite number of seconds, got {value}", value=value)
        if value < 0 or (value == 0 and not zero_ok):
            wanted = "zero or more seconds" if zero_ok else "a positive number of seconds"
            raise self.fail(key, f"expected {wanted}, got {number(value)}", value=value)
        if value > MAX_SECONDS:
            raise self.fail(key, f"expected at most {MAX_SECONDS:g} seconds (a day), got {number(value)}",
                            value=value)
        return float(value)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value_kind(value)}", value=value)
        return value

    def string_list(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, got {value_kind(value)}", value=value)
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(key, f"expected a list of strings, but item {i + 1} is {value_kind(item)}",
                                value=value)
        return value

    def regex(self, value: Any, key: str) -> Pattern[str]:
        text = self.string(value, key)
        try:
            return compile_regex(text)
        except RegexProblem as exc:
            raise self.fail(key, f"invalid regex {shown(text)}: {exc}", value=text) from None

    def name_in(self, value: str, known: Iterable[str], key: str, what: str) -> None:
        known = list(known)
        if value not in known:
            hint = did_you_mean(value, known)
            have = ", ".join(known) if known else "none"
            raise self.fail(key, f"unknown {what} '{value}'{hint} (defined: {have})", value=value, allowed=known)

    def one_of(self, value: Any, allowed: tuple[str, ...], key: str, *, hint: bool = False) -> str:
        """``value``, a string that must be one of ``allowed``."""
        text = self.string(value, key)
        if text not in allowed:
            guess = did_you_mean(text, allowed) if hint else ""
            raise self.fail(key, f"expected one of {', '.join(allowed)}, got {text!r}{guess}",
                            value=text, allowed=allowed)
        return text

    def url(self, text: str, key: str) -> None:
        """A URL template the harness can take apart, whatever its placeholders become."""
        probe = substitute(text, sample_values(self.services))
        try:
            parts = urlsplit(probe)
            parts.port  # noqa: B018 - raises ValueError for a port that is not one
        except ValueError as exc:
            raise self.fail(key, f"not a usable URL {shown(text)}: {exc}", value=text) from None
        if not parts.hostname:
            raise self.fail(key, f"expected a host name after the scheme, got {shown(text)}", value=text)
        self.host(parts.hostname, key)

    def host(self, host: str, key: str) -> None:
        """A host name the socket layer accepts (it encodes names with IDNA)."""
        try:
            host.encode("idna")
        except UnicodeError:
            raise self.fail(key, f"invalid host name {shown(host)} (each dot-separated part 1 to 63 "
                                 "characters, no empty part)", value=host) from None

    def method(self, table: dict[str, Any], where: str) -> str:
        """``where.method``: an HTTP method, GET when not given; any case."""
        key = f"{where}.method"
        method = self.string(table.get("method", "GET"), key).upper()
        if method not in HTTP_METHODS:
            raise self.fail(key, f"expected one of {', '.join(HTTP_METHODS)}, got {method!r}",
                            value=method, allowed=HTTP_METHODS)
        return method


def did_you_mean(word: str, choices: Iterable[str], *, form: str = "'{}'") -> str:
    """"; did you mean 'X'?" for the closest of ``choices``, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {form.format(close[0])}?" if close else ""


def value_kind(value: Any) -> str:
    """What a value from the file is, for "expected X, got Y": ``an integer (3)``."""
    if type(value) is bool:
        return f"a boolean ({str(value).lower()})"
    if type(value) is int:
        return f"an integer ({number(value)})"
    if type(value) is float:
        return f"a number ({number(value)})"
    if type(value) is str:
        return f"a string ({value!r})" if len(value) <= 40 else "a string"
    if type(value) is list:
        return "a list"
    if type(value) is dict:
        return "a table"
    if isinstance(value, (datetime.date, datetime.time)):
        return f"a date/time ({value.isoformat()})"
    return type(value).__name__


def number(value: int | float) -> str:
    """A number from the file for a message; an integer too long to be useful (or,
    past 4300 digits, to be turned into text at all) is described instead."""
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return f"{'-' if value < 0 else ''}an integer of {value.bit_length()} bits"
    return repr(value)


def seg(name: str) -> str:
    """A user's key name as one segment of a dotted key in a message: "" is shown as
    TOML writes it, so an empty name still names something."""
    return name if name else '""'


def one_line(text: str) -> str:
    """Escape line breaks and other control characters: an error is always one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


def is_signal_name(name: str) -> bool:
    return name in signal.Signals.__members__


def signal_hint(name: str) -> str:
    """"; did you mean 'SIGTERM'?" for a misspelt signal name (``term``, ``SIGTREM``);
    for a number in quotes (``exit = "0"``), to write it without them."""
    digits = name.strip()
    if digits.lstrip("+-").isdigit() and len(digits) <= 20:
        return f"; for the number, write it without quotes: {int(digits)}"
    names = list(signal.Signals.__members__)
    guess = name.upper()
    if not guess.startswith("SIG"):
        guess = "SIG" + guess
    if guess in names:
        return f"; did you mean '{guess}'?"
    return did_you_mean(guess, names)

