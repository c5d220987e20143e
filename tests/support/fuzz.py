"""Hypothesis settings shared by the fuzz tests: reproducible in CI (fixed examples,
nothing stored), twenty times wider with ``SHUTDOWN_PROBE_FUZZ=explore``."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

EXPLORE = os.environ.get("SHUTDOWN_PROBE_FUZZ") == "explore"


def fuzz_settings(examples: int, **kw: Any) -> settings:
    """Reproducible in CI (fixed examples, nothing stored); wide when exploring."""
    if EXPLORE:
        return settings(max_examples=examples * 20, deadline=None, database=None,
                        suppress_health_check=list(HealthCheck), **kw)
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), **kw)
