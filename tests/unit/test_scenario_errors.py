"""ScenarioError carries its parts apart (file, key, value, allowed), and the
library's caller mistakes are UsageErrors (which are still ValueErrors)."""

import sys

import pytest

from shutdown_probe.errors import ProbeError, ScenarioError, UsageError
from shutdown_probe.paths import BUILTIN_PATHS
from shutdown_probe.scenario import APP_KEYS, HTTP_METHODS, OUTCOMES, READY_KINDS, load_scenario, make_scenario
from tests.support import load_text_error

APP = '[app]\ncommand = ["{python}", "-c", "pass"]\n'


def test_unknown_key_names_the_key_and_the_keys_allowed(tmp_path):
    err = load_text_error(tmp_path, APP + 'stop_timeot = 3\n')
    assert (err.file, err.key, err.value, err.allowed) == ("s.toml", "app.stop_timeot", "stop_timeot", APP_KEYS)
    # the message is the one line it always was; the attributes only add to it
    assert str(err) == ("s.toml: app.stop_timeot: unknown key; did you mean 'stop_timeout'? (allowed here: "
                        + ", ".join(APP_KEYS) + ")")


def test_a_value_outside_a_fixed_set_names_the_set(tmp_path):
    err = load_text_error(tmp_path, 'paths = ["sigterm"]\n' + APP + '[expect.sigterm]\noutcome = "exitted"\n')
    assert (err.key, err.value, err.allowed) == ("expect.sigterm.outcome", "exitted", OUTCOMES)
    err = load_text_error(tmp_path, APP + '[triggers.poke]\nhttp = "http://127.0.0.1:{port}/"\nmethod = "fetch"\n')
    assert (err.key, err.value, err.allowed) == ("triggers.poke.method", "FETCH", HTTP_METHODS)
    err = load_text_error(tmp_path, APP.replace("[app]\n", "[app]\nready = {}\n"))
    assert (err.key, err.value, err.allowed) == ("app.ready", None, READY_KINDS)


def test_an_unknown_name_lists_the_names_defined(tmp_path):
    err = load_text_error(tmp_path, 'paths = ["sigterm"]\n' + APP + '[hooks.bye]\nlog = "bye"\n[hooks.flushed]\nlog = "f"\n'
                               '[expect.sigterm]\nran = ["by"]\n')
    assert (err.key, err.value, err.allowed) == ("expect.sigterm.ran", "by", ("bye", "flushed"))
    assert "did you mean 'bye'?" in err.message

    err = load_text_error(tmp_path, 'paths = ["sigterms"]\n' + APP)
    assert (err.key, err.value) == ("paths", "sigterms")
    assert err.allowed == tuple(BUILTIN_PATHS)


def test_a_placeholder_error_lists_the_placeholders(tmp_path):
    err = load_text_error(tmp_path, '[app]\ncommand = ["{python}", "{prot}"]\n')
    assert err.value == "{prot}"
    assert err.allowed == ("{python}", "{port}", "{workdir}", "{scenario_dir}")


def test_a_wrong_type_gives_the_value_and_no_allowed_set(tmp_path):
    err = load_text_error(tmp_path, APP + 'stop_timeout = "5"\n')
    assert (err.key, err.value, err.allowed) == ("app.stop_timeout", "5", None)
    assert err.message == "expected a number of seconds, got a string ('5')"


def test_a_mistake_that_is_no_single_value_has_neither(tmp_path):
    err = load_text_error(tmp_path, 'name = "x"\n')
    assert (err.key, err.value, err.allowed) == ("app", None, None)
    err = load_text_error(tmp_path, "[app\n")  # not TOML at all
    assert (err.key, err.value, err.allowed) == (None, None, None)


def test_caller_mistakes_are_usage_errors_and_still_value_errors():
    scenario = make_scenario("one", command=[sys.executable, "-c", "pass"], paths=["sigterm"])
    with pytest.raises(UsageError, match="'sigterm' is not a stop profile path") as excinfo:
        scenario.profile_settings("sigterm")
    assert isinstance(excinfo.value, ProbeError) and isinstance(excinfo.value, ValueError)
    with pytest.raises(ValueError, match="unknown hook 'nope'"):  # code written before UsageError
        scenario.hook_kind("nope")
    with pytest.raises(UsageError, match="name must be a string, got int 5"):
        make_scenario(5, command=[sys.executable, "-c", "pass"])  # type: ignore[arg-type]


def test_make_scenario_reports_a_bad_table_as_a_file_would():
    with pytest.raises(ScenarioError) as excinfo:
        make_scenario("one", command=[sys.executable, "-c", "pass"], hooks=["bye"])  # type: ignore[arg-type]
    assert str(excinfo.value) == "scenario 'one': hooks: expected a table, got a list"
    assert excinfo.value.value == ["bye"]


# tomllib (3.11) reaches the recursion limit at about 400 levels of inline tables:
# deep files are refused before it recurses, so nothing runs with no stack left.
@pytest.mark.parametrize("text", [
    "[app]\nx = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
    "[app]\nx = " + "[" * 65 + "]" * 65 + "\n",
])
def test_arrays_or_tables_nested_too_deep_are_one_line_before_tomllib_recurses(tmp_path, text, monkeypatch):
    import shutdown_probe.scenario.loading as loading

    def never(_text: str) -> None:
        raise AssertionError("tomllib was called")

    monkeypatch.setattr(loading.tomllib, "loads", never)
    (tmp_path / "deep.toml").write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "deep.toml", shown="deep.toml")
    assert str(err.value) == "deep.toml: TOML: arrays or inline tables nested more than 64 deep"


@pytest.mark.parametrize("text", [
    'x = "' + "[" * 200 + '"',          # brackets in strings are text
    "x = '" + "{" * 200 + "'",
    'x = """\n' + "[" * 200 + '\n"""',
    "x = '''\n" + "[" * 200 + "\n'''",
    "# " + "[" * 200 + "\nx = 1",       # and in comments
    'x = "\\"' + "[" * 200 + '"',         # an escaped quote does not end the string
    "x = " + "[" * 64 + "]" * 64,       # the limit itself is fine
])
def test_brackets_in_strings_and_comments_do_not_count_as_nesting(text):
    import shutdown_probe.scenario.loading as loading

    assert loading._nesting(text) <= 64
    loading.tomllib.loads(text)  # and each is TOML
