"""Renderers: pure functions from :class:`~shutdown_probe.results.Results` to text.

They never run processes and never print; the CLI and the pytest plugin print.
"""

from .markdown import format_markdown
from .terminal import build_tables, format_terminal

__all__ = ["build_tables", "format_markdown", "format_terminal"]
