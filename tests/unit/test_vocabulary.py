"""One vocabulary for the CLI, the scenario file and the fixture, and messages that
say what the user wrote (issue 22, items 6 and 7). No process starts here: scenarios
are loaded and expanded into cases, never run."""

from __future__ import annotations

import contextlib
import io

import pytest

from shutdown_probe import cli
from shutdown_probe.cli import running
from shutdown_probe.cli.parser import Usage
from shutdown_probe.errors import ScenarioError, UsageError
from shutdown_probe.evidence import LogHookDetector
from shutdown_probe.patterns import quoted, shown
from shutdown_probe.scenario import load_scenario, make_scenario
from tests.support import SCENARIOS

MINIMAL = '''
paths = ["sigterm"]
[app]
command = ["true"]
ready = { delay = 0.1 }
'''


def from_toml(tmp_path, text: str):
    path = tmp_path / "s.toml"
    path.write_text(MINIMAL + text)
    return load_scenario(path)


# ---------------------------------------------------------------- the plain-string hook


def test_a_plain_string_hook_is_a_log_regex_in_a_file_as_in_code(tmp_path):
    in_file = from_toml(tmp_path, "[hooks]\nbye = '^\\d+ bye$'\nkept.log = 'kept'\n")
    in_code = make_scenario("s", command=["true"], ready={"delay": 0.1}, paths=["sigterm"],
                            hooks={"bye": r"^\d+ bye$", "kept": {"log": "kept"}})
    for name in ("bye", "kept"):
        assert in_file.hooks[name].log is not None and in_code.hooks[name].log is not None
        assert in_file.hooks[name].log.pattern == in_code.hooks[name].log.pattern
    assert in_file.hooks["bye"].log.pattern == r"^\d+ bye$"


@pytest.mark.parametrize("value", ["3", "true", "['x']"])
def test_a_hook_that_is_neither_a_string_nor_a_table_is_one_line(tmp_path, value):
    with pytest.raises(ScenarioError) as excinfo:
        from_toml(tmp_path, f"[hooks]\nbye = {value}\n")
    assert "hooks.bye: expected a log regex (a string) or a table with log or file, got " in str(excinfo.value)


def test_a_bad_regex_in_the_shorthand_names_its_key(tmp_path):
    with pytest.raises(ScenarioError) as excinfo:
        from_toml(tmp_path, "[hooks]\nbye = '(open'\n")
    assert ": hooks.bye: invalid regex '(open'" in str(excinfo.value)


# ---------------------------------------------------------------- messages


def test_a_quoted_number_for_exit_says_to_write_the_number():
    with pytest.raises(ScenarioError) as excinfo:
        make_scenario("s", command=["true"], ready={"delay": 0.1}, paths=["sigterm"],
                      expect={"sigterm": {"exit": "0"}})
    message = str(excinfo.value)
    assert "expect.sigterm.exit: unknown signal name '0'; for the number, write it without quotes: 0" in message
    assert "SIGIO" not in message


def test_regexes_are_quoted_as_written():
    assert quoted(r"\d+ bye") == r"'\d+ bye'"
    assert quoted("it's") == '"it\'s"'
    assert quoted("a\nb") == r"'a\nb'"  # what cannot be printed is still escaped
    assert shown("x" * 100).endswith("... (100 characters)")
    spec = make_scenario("s", command=["true"], ready={"delay": 0.1}, paths=["sigterm"],
                         hooks={"bye": r"\[pid (?P<pid>\d+)\] bye"}).hooks["bye"]
    evidence = LogHookDetector(spec).result({}).evidence
    assert evidence == r"no output line matched '\[pid (?P<pid>\d+)\] bye'"


def test_help_describes_the_tool_for_its_users():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        cli.main(["--help"])
    text = out.getvalue()
    assert "The command line" not in text and "parse, run, print" not in text
    assert "termination paths" in text and "cleanup hooks ran" in text


# ---------------------------------------------------------------- --path and the fixture's rule


def scenarios():
    return [load_scenario(SCENARIOS / "flask_atexit.toml"), load_scenario(SCENARIOS / "sqlite_batch.toml")]


def test_any_built_in_path_may_be_named_though_the_scenario_does_not_list_it():
    both = scenarios()
    assert all("docker-stop" not in {p.name for p in s.paths} for s in both)
    cases = running.chosen_cases(both, ["docker-stop"])
    assert [(c.scenario.name, c.path.name) for c in cases] == [(s.name, "docker-stop") for s in both]
    one = running.chosen_cases(both, ["sqlite-batch::k8s-delete"])
    assert [(c.scenario.name, c.path.name) for c in one] == [("sqlite-batch", "k8s-delete")]
    # the fixture's rule is the same method
    assert both[0].path_named("docker-stop").name == "docker-stop"


def test_a_grace_override_reaches_a_built_in_path_named_on_the_command_line():
    cases = running.chosen_cases(scenarios(), ["docker-stop"], grace=0.5)
    settings = [c.scenario.profile_settings("docker-stop") for c in cases]
    assert [(s.grace, s.grace_from) for s in settings] == [(0.5, "command line")] * 2


@pytest.mark.parametrize(("asked", "said"), [
    ("sigkil", "--path: 'sigkil' is no path of the given scenarios nor a built-in one; did you mean 'sigkill'?"),
    ("flask-atexit::sigkil", "--path: 'sigkil' is no path of flask-atexit nor a built-in one; "
                             "did you mean 'sigkill'?"),
    ("flask-atexi::sigkill", "--path: 'flask-atexi::sigkill' is not SCENARIO::PATH of the given scenarios; "
                             "did you mean 'flask-atexit'?"),
])
def test_an_unknown_path_suggests_the_closest_name(asked, said):
    with pytest.raises(Usage) as excinfo:
        running.chosen_cases(scenarios(), [asked])
    assert str(excinfo.value).startswith(said)


def test_a_trigger_path_of_one_scenario_is_not_asked_of_the_others():
    """os-exit is flask-atexit's own trigger: sqlite-batch has none, so only
    flask-atexit runs it; named for sigterm-finally alone it is a mistake."""
    both = scenarios()
    assert [c.scenario.name for c in running.chosen_cases(both, ["os-exit"])] == ["flask-atexit"]
    with pytest.raises(UsageError, match="has no path 'os-exit'"):
        both[1].path_named("os-exit")
