"""shutdown-probe: prove which cleanup hooks run on each way a program is stopped."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import HarnessError, ProbeError, ScenarioError  # noqa: E402
from .paths import BUILTIN_PATHS, Path  # noqa: E402
from .results import CaseResult, HookResult, Results  # noqa: E402
from .runner import Case, expand_cases, run_case, run_cases  # noqa: E402
from .scenario import Scenario, load_scenario, parse_scenario  # noqa: E402

__all__ = [
    "BUILTIN_PATHS",
    "Case",
    "CaseResult",
    "HarnessError",
    "HookResult",
    "Path",
    "ProbeError",
    "Results",
    "Scenario",
    "ScenarioError",
    "__version__",
    "expand_cases",
    "load_scenario",
    "parse_scenario",
    "run_case",
    "run_cases",
]
