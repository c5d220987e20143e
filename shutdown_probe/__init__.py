"""shutdown-probe: prove which cleanup hooks run on each way a program is stopped.

The public names below are imported on first use, not with the package: the pytest
plugin lives in this package, and a pytest session that never touches a scenario
should not pay for importing requests, psutil and rich.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> the private module that defines it
_EXPORTS = {
    "BUILTIN_PATHS": ".paths",
    "Case": ".runner",
    "CaseResult": ".results",
    "HarnessError": ".errors",
    "HookResult": ".results",
    "Path": ".paths",
    "ProbeError": ".errors",
    "Results": ".results",
    "ResultsError": ".errors",
    "Scenario": ".scenario",
    "ScenarioError": ".errors",
    "expand_cases": ".runner",
    "load_results": ".results",
    "load_scenario": ".scenario",
    "make_scenario": ".scenario",
    "parse_scenario": ".scenario",
    "run_case": ".runner",
    "run_cases": ".runner",
}

__all__ = [
    "BUILTIN_PATHS",
    "Case",
    "CaseResult",
    "HarnessError",
    "HookResult",
    "Path",
    "ProbeError",
    "Results",
    "ResultsError",
    "Scenario",
    "ScenarioError",
    "__version__",
    "expand_cases",
    "load_results",
    "load_scenario",
    "make_scenario",
    "parse_scenario",
    "run_case",
    "run_cases",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'shutdown_probe' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .errors import HarnessError, ProbeError, ResultsError, ScenarioError
    from .paths import BUILTIN_PATHS, Path
    from .results import CaseResult, HookResult, Results, load_results
    from .runner import Case, expand_cases, run_case, run_cases
    from .scenario import Scenario, load_scenario, make_scenario, parse_scenario
