"""Renderers: pure functions from :class:`~shutdown_probe.results.Results` to text.

They never run processes and never print; the CLI and the pytest plugin print.

The names below are imported on first use, not with the package: ``render.text``
(printable target text) is needed by every command's error line, and importing it
must not import rich and every renderer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS = {
    "build_tables": ".terminal",
    "format_case_failure": ".failure",
    "format_compat": ".compat",
    "format_html": ".html",
    "format_junit": ".junit",
    "format_markdown": ".markdown",
    "format_terminal": ".terminal",
    "row_properties": ".failure",
}

__all__ = ["build_tables", "format_case_failure", "format_compat", "format_html", "format_junit",
           "format_markdown", "format_terminal", "row_properties"]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:  # also how `from .render import rows` finds a submodule
        raise AttributeError(f"module 'shutdown_probe.render' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .compat import format_compat
    from .failure import format_case_failure, row_properties
    from .html import format_html
    from .junit import format_junit
    from .markdown import format_markdown
    from .terminal import build_tables, format_terminal
