"""[verify.NAME] and the expectations on it (verified, not_verified): the table's
checks, its placeholders filled per case, and every mistake one ScenarioError on the
key that holds it."""

from __future__ import annotations

import sys

import pytest

from shutdown_probe.scenario import VERIFY_KEYS
from tests.support import load_text, load_text_error

PY = sys.executable
APP = 'paths = ["sigterm", "sigkill"]\n[app]\ncommand = ["{python}", "-c", "pass"]\n'
CHECK = '[verify.rows]\ncommand = ["{python}", "-c", "pass", "{workdir}/app.db"]\n'


def test_a_check_loads_with_its_defaults_and_the_cases_placeholders_fill_it(tmp_path):
    sc = load_text(tmp_path, APP + '[verify.rows]\n'
                              'command = ["{python}", "-c", "pass", "{workdir}/app.db", "{port}", '
                              '"{services.redis.port}", "{scenario_dir}", "{{literal}}"]\n'
                              'env = { DB = "{workdir}/app.db" }\n'
                              '[verify.second]\ncommand = "true --flag {port}"\ntimeout = 2.5\n'
                              '[services.redis]\ncommand = ["' + PY + '"]\n')
    assert list(sc.verify) == ["rows", "second"]  # file order
    assert sc.verify["rows"].timeout == 10.0
    assert sc.verify["second"].timeout == 2.5
    assert sc.verify["rows"].cwd == tmp_path.resolve()
    rows, second = sc.resolve_verify(port=4100, workdir="/w/case", services={"redis": 4242})
    assert rows.argv == [PY, "-c", "pass", "/w/case/app.db", "4100", "4242", str(tmp_path.resolve()), "{literal}"]
    assert rows.env == {"DB": "/w/case/app.db"}
    assert second.argv == ["true", "--flag", "4100"]  # a string is split as a shell would, never run by one


def test_the_expectations_name_checks(tmp_path):
    sc = load_text(tmp_path, APP + CHECK + '[verify.intact]\ncommand = ["true"]\n'
                              '[expect.sigkill]\nclaim = "SIGKILL loses the batch"\n'
                              'verified = ["intact"]\nnot_verified = ["rows"]\n')
    exp = sc.expect["sigkill"]
    assert (exp.verified, exp.not_verified) == (("intact",), ("rows",))
    assert exp.checks  # a claim may rest on checks alone


@pytest.mark.parametrize("key, text, words", [
    ("verify.rows.command", '[verify.rows]\ntimeout = 3\n', "missing"),
    ("verify.rows.command", '[verify.rows]\ncommand = 3\n', "expected a list of strings or a string"),
    ("verify.rows.command", '[verify.rows]\ncommand = []\n', "is empty"),
    ("verify.rows.command", '[verify.rows]\ncommand = ["{python}", "{prot}"]\n', "unknown placeholder {prot}"),
    ("verify.rows.command", '[verify.rows]\ncommand = ["{python}", "{services.redis.port}"]\n',
     "unknown service 'redis'"),
    ("verify.rows.command", '[verify.rows]\ncommand = ["no-such-program-here-x"]\n', "not found on PATH"),
    ("verify.rows.command", '[verify.rows]\ncommand = ["{python}", "missing_check.py"]\n', "does not exist"),
    ("verify.rows.command", '[verify.rows]\ncommand = ["true", "a\\u0000b"]\n', "NUL"),
    ("verify.rows.command", '[verify.rows]\ncommand = "true \'unclosed"\n', "cannot split"),
    ("verify.rows.timeout", CHECK + 'timeout = -1\n', "positive number of seconds"),
    ("verify.rows.timeout", CHECK + 'timeout = 0\n', "positive number of seconds"),
    ("verify.rows.timeout", CHECK + 'timeout = true\n', "number of seconds"),
    ("verify.rows.timeout", CHECK + 'timeout = "10"\n', "number of seconds"),
    ("verify.rows.timeout", CHECK + 'timeout = 1e9\n', "at most 86400"),
    ("verify.rows.timeout", CHECK + 'timeout = nan\n', "finite"),
    ("verify.rows.env.A=B", CHECK + 'env = { "A=B" = "x" }\n', "environment variable name"),
    ("verify.rows.env.DB", CHECK + 'env = { DB = ["x"] }\n', "expected a string"),
    ("verify.rows.cwd", CHECK + 'cwd = "no/such/folder"\n', "does not exist"),
    ("verify.rows.comand", CHECK + 'comand = ["true"]\n', "did you mean 'command'"),
    ("verify.rows", '[verify]\nrows = 3\n', "expected a table"),
    ("verify.a.b", '[verify."a.b"]\ncommand = ["true"]\n', "check name"),
    ("verify." + "x" * 51, f'[verify.{"x" * 51}]\ncommand = ["true"]\n', "check name"),
])
def test_a_bad_check_is_an_error_on_its_key(tmp_path, key, text, words):
    err = load_text_error(tmp_path, APP + text)
    assert err.key == key, err
    assert words in err.message, err


@pytest.mark.parametrize("key, text, words", [
    ("expect.sigkill.verified", '[expect.sigkill]\nverified = ["rwos"]\n', "unknown check ([verify.NAME]) 'rwos'; "
                                                                            "did you mean 'rows'?"),
    ("expect.sigkill.not_verified", '[expect.sigkill]\nnot_verified = ["nope"]\n', "unknown check"),
    ("expect.sigkill.verified", '[expect.sigkill]\nverified = "rows"\n', "expected a list of strings"),
    ("expect.sigkill.verified", '[expect.sigkill]\nverified = [1]\n', "item 1 is an integer"),
    ("expect.sigkill", '[expect.sigkill]\nverified = ["rows"]\nnot_verified = ["rows"]\n',
     "in both verified and not_verified"),
])
def test_a_bad_expectation_on_checks_is_an_error_on_its_key(tmp_path, key, text, words):
    err = load_text_error(tmp_path, APP + CHECK + text)
    assert err.key == key, err
    assert words in err.message, err


def test_a_verify_key_that_is_not_a_table_is_an_error_on_it(tmp_path):
    err = load_text_error(tmp_path, 'verify = "true"\n' + APP)
    assert err.key == "verify"
    assert "expected a table" in err.message


def test_naming_a_check_without_any_says_there_are_none(tmp_path):
    err = load_text_error(tmp_path, APP + '[expect.sigterm]\nverified = ["rows"]\n')
    assert err.key == "expect.sigterm.verified"
    assert "(defined: none)" in err.message


def test_the_keys_are_the_documented_ones():
    assert VERIFY_KEYS == ("command", "cwd", "env", "timeout")
