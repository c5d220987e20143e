"""What the tests share that is not a fixture: where things live, this session's tag,
running the CLI, building and running a case around a tiny target, reading /proc.

Import from here (``from tests.support import TARGETS, proc, run_cli``); fixtures live
in the conftest.py files. A helper belongs here once two test files need it.
"""

from .cases import (READY_FILE, exit_of, load_text, load_text_error, proc, run_path, target_command,
                    target_scenario, target_toml, write_scenario)
from .cli import run_cli, wait_while_running
from .fuzz import EXPLORE, fuzz_settings
from .folders import DATA, ROOT, SCENARIOS, TARGETS, TESTS
from .processes import running, tie_of, wait_gone
from .session import SESSION

__all__ = [
    "DATA",
    "EXPLORE",
    "READY_FILE",
    "ROOT",
    "SCENARIOS",
    "SESSION",
    "TARGETS",
    "TESTS",
    "exit_of",
    "fuzz_settings",
    "load_text",
    "load_text_error",
    "proc",
    "run_cli",
    "run_path",
    "running",
    "target_command",
    "target_scenario",
    "target_toml",
    "tie_of",
    "wait_gone",
    "wait_while_running",
    "write_scenario",
]
