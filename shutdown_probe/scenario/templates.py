"""Placeholders: ``{python}``, ``{port}``, ``{workdir}``, ``{scenario_dir}`` and
``{services.NAME.port}`` (the port leased for the scenario's service NAME) in a
scenario's strings, filled per case; and, for ``shell = true``, quoted so that no value
can run as shell code.

``{{`` and ``}}`` are literal braces. Log regexes are never templated, so ``\\d{3}`` in
a regex means what it says.
"""

from __future__ import annotations

import re
import shlex
from typing import Iterable

PLACEHOLDERS = ("python", "port", "workdir", "scenario_dir")
# {services.NAME.port}: what a service's placeholder looks like, and the form of a
# service's name (a placeholder must be able to hold it: no dot, no brace)
SERVICE_PORT = "services.{}.port"
SERVICE_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,50}")
_SERVICE_PLACEHOLDER_RE = re.compile(r"services\.([^{}]*)\.port")


def service_port(name: str) -> str:
    """The placeholder name (without braces) of service ``name``'s port."""
    return SERVICE_PORT.format(name)


def service_of(placeholder: str) -> str | None:
    """The service a placeholder name (``services.redis.port``) names, or None when it
    does not have that form."""
    m = _SERVICE_PLACEHOLDER_RE.fullmatch(placeholder)
    return m.group(1) if m else None


def service_refs(template: str) -> list[str]:
    """The services whose ports ``template`` names, in order."""
    out = []
    for m in _PLACEHOLDER_RE.finditer(template):
        if m.group(1) is not None:
            name = service_of(m.group(1))
            if name is not None:
                out.append(name)
    return out


def sample_values(services: Iterable[str] = ()) -> dict[str, str]:
    """A value for every placeholder, for checking a template's shape at load time."""
    values = {"python": "python", "port": "1", "workdir": "/w", "scenario_dir": "/s"}
    values.update({service_port(name): "1" for name in services})
    return values

_PLACEHOLDER_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def substitute(template: str, values: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders; ``{{`` and ``}}`` are literal braces."""

    def repl(m: re.Match[str]) -> str:
        text = m.group(0)
        if text in ("{{", "}}"):
            return text[0]
        return values[m.group(1)]

    return _PLACEHOLDER_RE.sub(repl, template)


# With shell = true the command is one /bin/sh script, and a placeholder's value (a
# folder name, the interpreter's path) is text the user did not write: a scenario folder
# named  x';touch $MARK;'y  must not run touch. Each value is quoted for the place in the
# script where it lands: outside quotes as a single-quoted word, inside '...' by closing
# the quote around an escaped one, inside "..." with \ before $ ` " and \. Where the
# shell's rules are too rich to follow here (command substitution, ${...} with an
# operator, here-documents, $'...', comments), no placeholder may follow: the file is
# refused and says to pass the value through app.env instead.
_SHELL_SIMPLE_PARAM = re.compile(r"\$\{(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])\}")


class ShellQuoting(ValueError):  # the loader turns it into a ScenarioError
    """Why a placeholder cannot be quoted where it stands in a shell command."""


def _shell_pieces(template: str) -> list[tuple[str, str | None]]:
    """``template`` as (literal shell text, placeholder name or None) pairs: the text
    before each placeholder with {{ and }} already made single braces."""
    out: list[tuple[str, str | None]] = []
    text: list[str] = []
    last = 0
    for m in _PLACEHOLDER_RE.finditer(template):
        text.append(template[last:m.start()])
        last = m.end()
        if m.group(0) in ("{{", "}}"):
            text.append(m.group(0)[0])
        else:
            out.append(("".join(text), m.group(1)))
            text = []
    text.append(template[last:])
    out.append(("".join(text), None))
    return out


def shell_contexts(template: str) -> list[str]:
    """Where each placeholder of shell command ``template`` stands: ``"plain"``,
    ``"single"`` (inside '...') or ``"double"`` (inside "..."), in order; raises
    :class:`ShellQuoting` for a placeholder this cannot quote safely."""
    state = "plain"
    word_start = True
    unsafe: str | None = None  # the construct after which no placeholder is safe
    contexts: list[str] = []
    for text, name in _shell_pieces(template):
        i = 0
        escaped = False
        # the last character was an unescaped $ outside '...': the value would start an
        # expansion ($name, ${...}) or, in bash, a $'...' string whose backslash
        # escapes make any quoting of it run as code
        bare_dollar = False
        while i < len(text):
            ch = text[i]
            nxt = text[i:i + 2]
            bare_dollar = ch == "$" and not escaped and state in ("plain", "double")
            if state == "single":
                if ch == "'":
                    state = "plain"
            elif state == "comment":
                if ch == "\n":
                    state, word_start = "plain", True
            elif escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif state == "double":
                if ch == '"':
                    state = "plain"
                elif ch == "`" or nxt == "$(":
                    unsafe = unsafe or "a command substitution"
                elif nxt == "${" and not _SHELL_SIMPLE_PARAM.match(text, i):
                    unsafe = unsafe or "a ${...} expansion"
            else:  # plain
                if ch == "'":
                    state = "single"
                elif ch == '"':
                    state = "double"
                elif nxt == "$'":
                    unsafe = unsafe or "a $'...' string"
                elif ch == "`" or nxt == "$(":
                    unsafe = unsafe or "a command substitution"
                elif nxt == "${" and not _SHELL_SIMPLE_PARAM.match(text, i):
                    unsafe = unsafe or "a ${...} expansion"
                elif nxt == "<<":
                    unsafe = unsafe or "a here-document"
                elif ch == "#" and word_start:
                    state = "comment"
            word_start = state == "plain" and not escaped and (ch.isspace() or ch in ";&|()<>")
            i += 1
        if name is None:
            break
        where = f"{{{name}}}"
        if state == "comment":
            raise ShellQuoting(f"{where} stands in a shell comment")
        if escaped:
            raise ShellQuoting(f"{where} follows a backslash")
        if bare_dollar:
            raise ShellQuoting(f"{where} follows a bare $, which would make it part of an expansion "
                               f"(or, in bash, of a $'...' string)")
        if unsafe:
            raise ShellQuoting(f"{where} comes after {unsafe}, where the shell's quoting rules are "
                               f"too rich to quote it safely")
        contexts.append(state)
        word_start = False
    return contexts


def shell_quote(value: str, context: str) -> str:
    """``value`` written so that the shell reads it back exactly, in ``context``."""
    if context == "single":
        return value.replace("'", "'\\''")
    if context == "double":
        return re.sub(r'([\\$`"])', r"\\\1", value)
    return shlex.quote(value)


def substitute_shell(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders of shell command ``template``, each value quoted for where
    it stands (:func:`shell_contexts`), so no value can run as shell code."""
    pieces = _shell_pieces(template)
    contexts = shell_contexts(template)
    out = []
    for (text, name), context in zip(pieces, contexts + [""]):
        out.append(text)
        if name is not None:
            out.append(shell_quote(values[name], context))
    return "".join(out)


def unknown_placeholder(template: str, services: Iterable[str] = ()) -> str | None:
    """The first placeholder of ``template`` that is not one of :data:`PLACEHOLDERS`
    nor the port of one of ``services`` (``"{prot}"``, ``"{services.redsi.port}"``), or None."""
    known = set(services)
    for m in _PLACEHOLDER_RE.finditer(template):
        if m.group(0) in ("{{", "}}") or m.group(1) in PLACEHOLDERS:
            continue
        if service_of(m.group(1)) not in known:
            return m.group(0)
    return None
