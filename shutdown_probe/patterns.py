"""Log regexes: checked and compiled once, then run on every output line with a time budget.

A scenario's log regexes (``app.ready.log``, ``hooks.*.log``) are Python ``re``
syntax, checked by ``re`` (:func:`compile_regex`), and run on the ``regex`` module
(:func:`line_matcher`), which stops a match that takes longer than
:data:`REGEX_TIMEOUT` and does not hold the GIL while it matches.

This is the regex engine the run-time readers (the pipe reader, readiness, evidence)
share with the scenario loader; it imports nothing from the scenario, so reading a
pipe does not depend on reading TOML.
"""

from __future__ import annotations

import functools
import re
import sys
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

if TYPE_CHECKING:  # pragma: no cover
    import regex

if sys.version_info >= (3, 11):
    from re import _parser as _re_parser  # re's own parser, to size a pattern (below)
else:  # pragma: no cover - exercised on 3.10 only
    import sre_parse as _re_parser

# A log regex runs on each output line with this budget; past it, the match is stopped
# and that regex is turned off for the rest of the case (a note says so). Catastrophic
# backtracking, e.g. (a+)+$ on a long line of "a"s, is the usual cause.
REGEX_TIMEOUT = 1.0
# The regex module expands counted repeats when it compiles (a{1000000} is a million
# nodes, seconds and hundreds of MB): a pattern is at most this many nodes, expanded.
REGEX_MAX_SIZE = 20_000


class OutputLine(Protocol):
    """What :func:`regex_timeout_note` needs of an output line (``output.Line``)."""

    @property
    def stream(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def text(self) -> str: ...


class RegexProblem(ValueError):
    """Why a log regex cannot be used; the message is one phrase."""


@functools.lru_cache(maxsize=1024)
def compile_regex(text: str) -> regex.Pattern[str]:
    """A scenario's log regex, checked and compiled once; raises :class:`RegexProblem`.

    The syntax is Python's ``re``: ``re`` checks it, so the errors and what is accepted
    are ``re``'s, and a pattern ``re`` only warns about (``[[``, ``--``, ``&&`` in a set,
    whose meaning Python says will change) is refused, since the engines disagree on
    it. It then runs on the ``regex`` module (VERSION0, ``re``'s semantics), which can
    stop a match (:func:`line_matcher`); ``re`` holds the GIL for a whole match, so a
    catastrophic one would freeze every thread of the harness, timeouts included.
    Cached: the runner's detectors get the object compiled when the file loaded.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            tree = _re_parser.parse(text)
            re.compile(text)  # what only compiling finds (e.g. a look-behind's width)
        except re.error as exc:
            raise RegexProblem(str(exc)) from None
        except FutureWarning as exc:
            raise RegexProblem(f"{exc}: Python's re warns that the meaning of this will change, and the "
                               "engines read it differently; escape the character (e.g. \\[ or \\-)") from None
        except Warning as exc:  # pragma: no cover - re warns with FutureWarning only today
            raise RegexProblem(f"{type(exc).__name__}: {exc}") from None
        except OverflowError:  # a{4294967296}
            raise RegexProblem("a repeat count is too large") from None
        except RecursionError:
            raise RegexProblem("groups nested too deeply") from None
    try:
        size = _expanded_size(tree, REGEX_MAX_SIZE)
    except RecursionError:
        raise RegexProblem("groups nested too deeply") from None
    if size > REGEX_MAX_SIZE:
        raise RegexProblem(f"too large: it compiles to more than {REGEX_MAX_SIZE} elements, a counted repeat "
                           "counting as its minimum number of copies (a{30000} is 30000); a log line "
                           "pattern needs far fewer")
    import regex  # a large pure-Python module: imported by the first log regex, not with the package

    try:
        return regex.compile(text, regex.VERSION0)
    except (regex.error, OverflowError, RecursionError, ValueError) as exc:
        raise RegexProblem(str(exc)) from None


_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
# The functions below walk re's parse tree: (opcode, argument) pairs whose argument is,
# by opcode, an int, a tuple, or nested SubPatterns. The stubs type it no closer than
# that, so the tree is Any here and each branch checks what it reads.


def _expanded_size(items: Any, limit: int) -> int:
    """How many nodes re's parse tree ``items`` is with every counted repeat written out
    as the regex module compiles it (its minimum count times); stops once past ``limit``."""
    total = 0
    for op, av in items:
        if getattr(op, "name", None) in _REPEATS:
            low, _high, sub = av
            total += max(low, 1) * _expanded_size(sub, limit)
        else:
            total += 1 + sum(_expanded_size(sub, limit) for sub in _subpatterns(av))
        if total > limit:
            break
    return total


def _subpatterns(av: Any) -> Iterator[Any]:
    if isinstance(av, _re_parser.SubPattern):
        yield av
    elif isinstance(av, (tuple, list)):
        for item in av:
            yield from _subpatterns(item)


def line_matcher(pattern: regex.Pattern[str]) -> Callable[[str], list[regex.Match[str]]]:
    """A function giving every match of log regex ``pattern`` in one output line.

    It raises TimeoutError when matching takes longer than :data:`REGEX_TIMEOUT`; the
    GIL is released meanwhile, so the harness's other threads keep time. A line that
    lacks text every match contains is not searched at all: a timed match costs about
    a microsecond more than ``re``'s, and most lines of a flood match no hook. Make
    one per detector: it is called for every line.
    """
    import regex  # loaded already: compile_regex made ``pattern``

    need = _required_text(pattern.pattern) if not pattern.flags & regex.IGNORECASE else ""
    finditer = pattern.finditer

    def match(text: str) -> list[regex.Match[str]]:
        if need and need not in text:
            return []
        return list(finditer(text, timeout=REGEX_TIMEOUT, concurrent=True))

    return match


@functools.lru_cache(maxsize=1024)
def _required_text(text: str) -> str:
    """The longest run of plain characters that every match of regex ``text`` contains,
    or "" when there is none (or the pattern ignores case): from re's parse tree, its
    top-level literals and those of the plain groups among them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = _re_parser.parse(text)
    except (re.error, OverflowError, RecursionError):  # compile_regex says what is wrong
        return ""
    if tree.state.flags & re.IGNORECASE:
        return ""
    best, run = "", []

    def walk(items: Any) -> None:
        nonlocal best
        for op, av in items:
            name = getattr(op, "name", None)
            if name == "LITERAL":
                run.append(chr(av))
            elif name == "SUBPATTERN" and not av[1] and not av[2]:  # a group without flags
                walk(av[3])  # matched exactly once, in place: the run goes on through it
            else:
                best = max(best, "".join(run), key=len)
                run.clear()

    try:
        walk(tree)
    except RecursionError:
        return ""
    return max(best, "".join(run), key=len)


def regex_timeout_note(key: str, pattern: regex.Pattern[str], line: OutputLine) -> str:
    """The one line a case records when ``key``'s regex gave up on output ``line``."""
    return (f"{key}: the regex {shown(pattern.pattern)} took longer than {REGEX_TIMEOUT:g} s on "
            f"{line.stream} line {line.number} ({len(line.text)} characters) and was turned off for the rest "
            "of the case (catastrophic backtracking? nested repeats such as (a+)+ cause it; make the "
            "regex more specific)")


def quoted(text: str) -> str:
    r"""``text`` in quotes as its author wrote it: ``'\d+'``, not Python's repr
    ``'\\d+'``; in single quotes unless it holds one; only characters that cannot be
    printed are escaped (a newline as ``\n``)."""
    mark = "'" if "'" not in text else '"'
    return mark + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text) + mark


def shown(text: str, limit: int = 80) -> str:
    """``text`` quoted as written (:func:`quoted`), cut to about ``limit`` characters: a
    message quoting a pattern (or any text from a scenario file) stays readable."""
    if len(text) <= limit:
        return quoted(text)
    return quoted(text[:limit]) + f"... ({len(text)} characters)"
