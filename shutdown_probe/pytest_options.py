"""The names the pytest plugin's two halves share: its marker and its report options.

:mod:`shutdown_probe.pytest_plugin` (the light entry point) declares them to pytest;
:mod:`shutdown_probe.pytest_cases` (the working part, imported on demand) marks its
items and writes the reports they ask for. Both import them from here, so neither
imports the other at its top.
"""

from __future__ import annotations

__all__ = ["MARKER", "REPORT_OPTIONS"]

MARKER = "shutdown_probe"

# option -> the report (a kind of shutdown_probe.reports.KINDS) it writes at the end
# of the session
REPORT_OPTIONS = {"shutdown_probe_json": "json", "shutdown_probe_markdown": "markdown",
                  "shutdown_probe_html": "html"}
