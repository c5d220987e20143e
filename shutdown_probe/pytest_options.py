"""The names the pytest plugin's two halves share: its marker, its report options, --fail-on.

:mod:`shutdown_probe.pytest_plugin` (the light entry point) declares them to pytest;
:mod:`shutdown_probe.pytest_cases` (the working part, imported on demand) marks its
items and writes the reports they ask for. Both import them from here, so neither
imports the other at its top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from .shards import Shard

__all__ = ["FAIL_ON", "MARKER", "REPORT_OPTIONS", "SHARD", "SHARD_KEY", "WITH", "fail_on_words", "with_specs"]

MARKER = "shutdown_probe"

# option -> the report (a kind of shutdown_probe.reports.KINDS) it writes at the end
# of the session
REPORT_OPTIONS = {"shutdown_probe_json": "json", "shutdown_probe_markdown": "markdown",
                  "shutdown_probe_html": "html"}

# --shutdown-probe-fail-on (the option's dest) and the ini setting of the same name:
# the findings (policy.FINDINGS) that fail a scenario item; the option wins over the ini
FAIL_ON = "shutdown_probe_fail_on"


def fail_on_words(config: pytest.Config) -> list[str]:
    """What --shutdown-probe-fail-on says, else the ini setting (not yet parsed:
    :func:`shutdown_probe.policy.parse_fail_on` does that)."""
    given: list[str] = config.getoption(FAIL_ON) or []
    return given or list(config.getini(FAIL_ON))


# --shutdown-probe-with SPEC (the option's dest) and the ini setting of the same name
# (one spec a line): every scenario item runs once per spec, in the environment built
# from it (shutdown_probe.envs); the option wins over the ini
WITH = "shutdown_probe_with"


def with_specs(config: pytest.Config) -> list[str]:
    """The specs --shutdown-probe-with gives, else the ini setting's lines."""
    given: list[str] = config.getoption(WITH) or []
    return list(dict.fromkeys(given or [s for s in config.getini(WITH) if s.strip()]))


# --shutdown-probe-shard K/N (the option's dest), and the parsed value on the config
SHARD = "shutdown_probe_shard"
SHARD_KEY = pytest.StashKey["Shard"]()
