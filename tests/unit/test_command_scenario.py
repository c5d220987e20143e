"""A scenario from a command line (`run -- CMD`, `init -- CMD`): the options become the
mapping a TOML file holds and go through the one loader, so every value is checked as
in a file, and a mistake names the option it came from. The ready kinds `listening` and
`quiet` that the command line's default uses are scenario keys like the others.
`init`'s file (scaffold.py) is TOML that loads as it is written.

Expected values come from the TOML forms the design page documents for each option.
"""

from __future__ import annotations

import sys
from shutdown_probe.scenario.loading import tomllib  # the loader's TOML reader: tomli on 3.10

import pytest

from shutdown_probe.errors import ScenarioError
from shutdown_probe.paths import SIGNAL_PATHS
from shutdown_probe.results import CaseResult, HookResult, ProcessRecord
from shutdown_probe.scaffold import fitting_paths, scaffold, toml_string
from shutdown_probe.scenario import load_scenario, make_scenario
from shutdown_probe.scenario.from_command import (DEFAULT_QUIET, CommandOptions, command_name, command_scenario,
                                                  command_table)

CMD = [sys.executable, "-c", "pass"]


def opts(**kw) -> CommandOptions:
    return CommandOptions(command=kw.pop("command", CMD), **kw)


def error_of(**kw) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        command_scenario(opts(**kw))
    return info.value


# ------------------------------------------------------------------ ready


def test_without_ready_the_app_is_ready_on_a_listening_port_or_else_a_quiet_pause():
    ready = command_scenario(opts()).app.ready
    assert (ready.kind, ready.quiet) == ("listening", DEFAULT_QUIET)


@pytest.mark.parametrize("given, kind, value", [
    ("http://127.0.0.1:{port}/health", "http", "http://127.0.0.1:{port}/health"),
    ("8000", "tcp", "8000"),
    ("tcp:127.0.0.1:{port}", "tcp", "127.0.0.1:{port}"),
    ("log:Listening on (\\d+)", "log", "Listening on (\\d+)"),
    ("file:{workdir}/ready", "file", "{workdir}/ready"),
    ("delay:0.5", "delay", 0.5),
    ("quiet:2", "quiet", 2.0),
    ("listening", "listening", "any"),
])
def test_each_ready_form_is_the_ready_table_it_stands_for(given, kind, value):
    ready = command_scenario(opts(ready=given)).app.ready
    assert (ready.kind, ready.value) == (kind, value)
    assert ready.quiet is None  # only the default adds the quiet fallback


def test_the_ready_tables_load_from_toml_too(tmp_path):
    (tmp_path / "s.toml").write_text('[app]\ncommand = ["{python}", "-c", "pass"]\n'
                                     'ready = { listening = true, quiet = 1.5 }\n')
    ready = load_scenario(tmp_path / "s.toml").app.ready
    assert (ready.kind, ready.quiet) == ("listening", 1.5)
    (tmp_path / "s.toml").write_text('[app]\ncommand = ["{python}", "-c", "pass"]\nready = { quiet = 2 }\n')
    assert load_scenario(tmp_path / "s.toml").app.ready.value == 2.0


@pytest.mark.parametrize("ready, key", [
    ({"listening": False}, "app.ready.listening"),
    ({"listening": "yes"}, "app.ready.listening"),
    ({"listening": True, "log": "x"}, "app.ready"),
    ({"listening": True, "quiet": 0}, "app.ready.quiet"),
    ({"quiet": -1}, "app.ready.quiet"),
    ({"quiet": "3"}, "app.ready.quiet"),
])
def test_bad_listening_and_quiet_tables_name_their_key(ready, key):
    with pytest.raises(ScenarioError) as info:
        make_scenario("s", command=CMD, ready=ready)
    assert info.value.key == key


def test_a_service_cannot_be_ready_by_the_apps_own_processes_or_output():
    for kind, value in (("listening", True), ("quiet", 1)):
        with pytest.raises(ScenarioError) as info:
            make_scenario("s", command=CMD, services={"db": {"command": CMD, "ready": {kind: value}}})
        assert info.value.key == f"services.db.ready.{kind}"


# ------------------------------------------------------------------ the other options


def test_the_options_land_in_the_keys_a_file_would_use(tmp_path):
    s = command_scenario(opts(stop_timeout="2.5", ready_timeout="30", cwd=str(tmp_path), env=["A=1", "B=x=y"],
                              hooks=["flushed=flushed \\d+ rows"], sentinels=["{workdir}/done", "saved={workdir}/s"],
                              paths=["sigterm", "docker-stop"], name="mine"))
    assert (s.name, s.app.stop_timeout, s.app.ready_timeout) == ("mine", 2.5, 30.0)
    assert s.app.env == {"A": "1", "B": "x=y"}
    assert str(s.app.cwd) == str(tmp_path)
    assert s.hooks["flushed"].log.pattern == "flushed \\d+ rows"
    assert s.hooks["done"].file == "{workdir}/done"  # named after the file's stem
    assert s.hooks["saved"].file == "{workdir}/s"
    assert [p.name for p in s.paths] == ["sigterm", "docker-stop"]  # any built-in path, as a file's paths


def test_without_paths_the_default_signal_paths_run():
    assert [p.name for p in command_scenario(opts()).paths] == list(SIGNAL_PATHS)


def test_shell_runs_the_command_as_one_string():
    s = command_scenario(opts(command=["echo", "hi", "&&", "sleep", "1"], shell=True))
    assert s.app.command == "echo hi && sleep 1"


@pytest.mark.parametrize("command, name", [
    (["python", "app.py"], "app"),
    (["python", "-m", "uvicorn", "main:app"], "uvicorn"),
    (["/usr/bin/gunicorn", "app:app", "-w", "2"], "gunicorn"),
    (["python", "src/My App.py"], "My_App"),
])
def test_the_scenario_is_named_after_the_script_module_or_program(command, name):
    assert command_name(command) == name


@pytest.mark.parametrize("kw, flag", [
    ({"stop_timeout": "soon"}, "--stop-timeout"),
    ({"stop_timeout": "-1"}, "--stop-timeout"),
    ({"ready_timeout": "0"}, "--ready-timeout"),
    ({"ready": "bogus"}, "--ready"),
    ({"ready": "tcp:99999"}, "--ready"),
    ({"ready": "http://[::1/"}, "--ready"),
    ({"ready": "log:(unclosed"}, "--ready"),
    ({"env": ["NOEQUALS"]}, "--env"),
    ({"hooks": ["flushed=(unclosed"]}, "--hook flushed"),
    ({"hooks": ["=x"]}, "--hook"),
    ({"sentinels": ["f=relative/path"], "hooks": []}, None),  # a relative sentinel is allowed
    ({"paths": ["sigkil"]}, "--path"),
    ({"cwd": "/no/such/folder"}, "--cwd"),
    ({"command": []}, None),
])
def test_a_mistake_is_one_line_naming_the_option(kw, flag):
    if flag is None and kw.get("command") != []:
        command_scenario(opts(**kw))
        return
    exc = error_of(**kw)
    assert exc.key == flag
    assert "\n" not in str(exc) and str(exc).startswith("shutdown-probe run: ")
    if flag:
        assert f": {flag}: " in str(exc)


def test_an_option_is_checked_exactly_as_the_same_value_in_a_file():
    with pytest.raises(ScenarioError) as from_flag:
        command_scenario(opts(stop_timeout="soon"))
    with pytest.raises(ScenarioError) as from_file:
        make_scenario("s", command=CMD, stop_timeout="soon")
    assert from_flag.value.message == from_file.value.message


def test_the_mapping_is_what_a_toml_file_would_hold():
    table = command_table(opts(stop_timeout="3", hooks=["a=x"]))
    assert table == {"name": "python" if CMD[0].endswith("python") else table["name"],
                     "app": {"command": CMD, "ready": {"listening": True, "quiet": DEFAULT_QUIET}, "stop_timeout": 3},
                     "hooks": {"a": {"log": "x"}}}


# ------------------------------------------------------------------ init's file


@pytest.mark.parametrize("text", ["plain", "a'b", "back\\slash \\d+", "tab\there", "esc\x1b[31m", "del\x7f",
                                  "new\nline", 'quote"d', "surrogate\udcff", "ünï"])
def test_a_string_is_written_as_toml_that_reads_back(text):
    got = tomllib.loads(f"v = {toml_string(text)}\n")["v"]
    assert got == (text if "\udcff" not in text else got)
    if "'" not in text and text.isprintable():
        assert toml_string(text) == f"'{text}'"  # a regex reads as written


def _case(*processes: ProcessRecord, hooks: dict[str, HookResult] | None = None) -> CaseResult:
    return CaseResult(scenario="app", path="sigterm", outcome="exited", exit={"returncode": None, "signal": "SIGTERM"},
                      ready_s=0.2, processes=list(processes), hooks=hooks or {}, probe={"enabled": True})


ROOT_LISTENING = ProcessRecord(pid=10, role="root", cmdline="python app.py", listening=[5000],
                               signals_caught=["SIGINT"])


def test_child_paths_are_listed_only_when_the_root_had_a_child():
    assert not any(p.endswith("-child") for p in fitting_paths(_case(ROOT_LISTENING)))
    with_child = _case(ROOT_LISTENING, ProcessRecord(pid=11, role="child", cmdline="python app.py"))
    assert fitting_paths(with_child) == list(SIGNAL_PATHS)


def test_the_written_file_loads_as_it_is(tmp_path):
    (tmp_path / "app.py").write_text("pass\n")
    hooks = {"atexit:close's": HookResult(ran=False, evidence="", source="probe", where="app.py:3")}
    table = command_table(opts(command=["{python}", "app.py"], hooks=["flushed=flushed '\\d+'"],
                               env=["PORT={port}"]))
    text = scaffold(table, _case(ROOT_LISTENING, hooks=hooks), file_dir=str(tmp_path / "sub"),
                    app_dir=str(tmp_path))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "app.toml").write_text(text)
    s = load_scenario(tmp_path / "sub" / "app.toml")
    assert text.startswith("# shutdown-probe scenario\n")  # the plugin's mark
    assert s.app.cwd.resolve() == tmp_path.resolve()  # the way back from the file's folder
    assert s.app.ready.kind == "listening" and s.app.ready.quiet is None  # the half that worked
    assert s.hooks["flushed"].log.pattern == "flushed '\\d+'"
    assert not s.expect  # expectations are left, commented, for the user
    assert "# not_ran = [\"atexit:close's\"]" in text


def test_a_quiet_app_keeps_the_quiet_check(tmp_path):
    quiet_root = ProcessRecord(pid=10, role="root", cmdline="python worker.py")
    text = scaffold(command_table(opts()), _case(quiet_root), file_dir=str(tmp_path), app_dir=str(tmp_path))
    assert tomllib.loads(text)["app"]["ready"] == {"quiet": DEFAULT_QUIET}
