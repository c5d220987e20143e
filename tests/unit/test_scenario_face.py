"""shutdown_probe.scenario is a package behind one face: its __all__ is sorted and
complete, and the regex engine below it imports nothing of the scenario."""

import ast
import importlib
import pkgutil
from pathlib import Path

import shutdown_probe.scenario as face
from shutdown_probe import patterns


def test_the_face_exports_a_sorted_list_of_names_that_resolve():
    assert face.__all__ == sorted(face.__all__)
    for name in face.__all__:
        assert getattr(face, name) is not None, name


# Every public name scenario.py had when it was one module: code importing them from
# shutdown_probe.scenario keeps working.
ONE_MODULE_NAMES = (
    "ANY_ATEXIT APP_KEYS AppSpec DEFAULT_READY_TIMEOUT DEFAULT_STOP_TIMEOUT DEFAULT_SURVIVE_AFTER EXPECT_KEYS "
    "Expectation HOOK_KEYS HTTP_METHODS HookSpec INIT_KINDS MAX_FILE_BYTES MAX_SECONDS OUTCOMES PLACEHOLDERS "
    "PRE_STOP_KEYS PROBE_HOOK_PREFIX PROFILE_COMMON_KEYS PROFILE_OWN_KEYS ProfileSettings READY_KINDS "
    "REGEX_MAX_SIZE REGEX_TIMEOUT ReadyCheck RegexProblem Resolved Scenario ShellQuoting TOP_KEYS TRAFFIC_KEYS "
    "TRIGGER_KEYS TrafficPlan TrafficSpec TriggerSpec compile_regex describe line_matcher load_scenario "
    "make_scenario parse_expectation parse_scenario read_scenario_bytes read_toml regex_timeout_note "
    "shell_contexts shell_quote substitute substitute_shell"
).split()


def test_every_name_the_single_module_had_is_still_on_the_face():
    assert set(ONE_MODULE_NAMES) <= set(face.__all__)


def test_every_module_behind_the_face_imports():
    for info in pkgutil.iter_modules(face.__path__):
        importlib.import_module(f"{face.__name__}.{info.name}")


def test_the_regex_engine_imports_nothing_from_the_scenario():
    tree = ast.parse(Path(patterns.__file__).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [m for m in imported if "scenario" in m], imported
    assert face.line_matcher is patterns.line_matcher and face.compile_regex is patterns.compile_regex
