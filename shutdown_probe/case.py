"""What a case is: one scenario x one path (x one run of it), and its processes' tag.

Every process of a case carries a tag in its environment, "SESSION/RUN/CASE". RUN
identifies this harness process; SESSION is inherited from the environment (a test
session sets it for every harness it starts, CLI subprocesses included), so a leak
check can look for its own processes without touching those of another run on the
same machine.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from .paths import Path
from .scenario import Scenario

SESSION_ENV = "SHUTDOWN_PROBE_SESSION"
RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def tag_prefix() -> str:
    """The start of every tag this harness gives (the session's and this run's)."""
    return f"{os.environ.get(SESSION_ENV, '-')}/{RUN_ID}/"


def new_tag() -> str:
    """A tag for one case's processes."""
    return tag_prefix() + uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Case:
    scenario: Scenario
    path: Path
    attempt: int | None = None  # which run of a repeated case (1..N), else None

    @property
    def id(self) -> str:
        run = f" #{self.attempt}" if self.attempt is not None else ""
        return f"{self.scenario.name}::{self.path.name}{run}"
