"""Renderers: pure functions from :class:`~shutdown_probe.results.Results` to text.

They never run processes and never print; the CLI and the pytest plugin print.
"""

from .compat import format_compat
from .failure import format_case_failure, row_properties
from .html import format_html
from .junit import format_junit
from .markdown import format_markdown
from .terminal import build_tables, format_terminal

__all__ = ["build_tables", "format_case_failure", "format_compat", "format_html", "format_junit",
           "format_markdown", "format_terminal", "row_properties"]
