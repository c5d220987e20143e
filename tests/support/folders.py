"""Where the tests find what they need: the repository, the tiny targets, the data
files and the bundled scenarios. Every test file asks here instead of walking up from
its own ``__file__``, so a test file can move between folders without a path change."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
# Tiny purpose-built apps, one behaviour each (ignores SIGTERM, double-forks, floods...).
TARGETS = TESTS / "targets"
# Files written once by a real run and checked in (see tests/README.md).
DATA = TESTS / "data"
# The repository's bundled scenarios (and their apps in scenarios/apps/).
SCENARIOS = ROOT / "scenarios"
