"""[services.NAME]: the table's checks, and {services.NAME.port} in every templated
string of a scenario. Each mistake is one ScenarioError on the key that holds it."""

from __future__ import annotations

import sys

import pytest

from shutdown_probe.scenario import SERVICE_KEYS, SERVICE_SCOPES
from tests.support import load_text, load_text_error

PY = sys.executable
ECHO = f'[services.echo]\ncommand = ["{PY}", "-c", "pass", "{{port}}"]\nready = {{ tcp = "127.0.0.1:{{port}}" }}\n'
APP = '[app]\ncommand = ["{python}", "-c", "pass"]\n'


def test_a_service_loads_with_its_defaults_and_its_port_fills_every_template(tmp_path):
    sc = load_text(tmp_path, 'paths = ["sigterm", "poke"]\n'
                        '[app]\ncommand = ["{python}", "-c", "pass", "{services.echo.port}"]\n'
                        'env = { URL = "redis://127.0.0.1:{services.echo.port}/0" }\n'
                        'ready = { tcp = "{services.echo.port}" }\n'
                        '[hooks.done]\nfile = "{workdir}/{services.echo.port}"\n'
                        '[triggers.poke]\nhttp = "http://127.0.0.1:{services.echo.port}/x"\n'
                        '[traffic]\nurl = "http://127.0.0.1:{services.echo.port}/slow"\n' + ECHO)
    svc = sc.services["echo"]
    assert (svc.scope, svc.ready_timeout, svc.stop_timeout) == ("run", 15.0, 5.0)
    r = sc.resolve(port=1000, workdir="/w", services={"echo": 4242})
    assert r.argv[-1] == "4242"
    assert r.env["URL"] == "redis://127.0.0.1:4242/0"
    assert r.ready is not None and r.ready.value == "4242"
    assert r.hook_files["done"] == "/w/4242"
    assert r.triggers["poke"].http == "http://127.0.0.1:4242/x"
    assert r.traffic is not None and r.traffic.url == "http://127.0.0.1:4242/slow"
    # in its own table {port} is its own port and {workdir} its own folder
    own = sc.resolve_service("echo", workdir="/svc", services={"echo": 4242})
    assert own.argv == [PY, "-c", "pass", "4242"]
    assert own.ready is not None and own.ready.value == "127.0.0.1:4242"


@pytest.mark.parametrize("where, text", [
    ("app.env.URL", APP + 'env = { URL = "redis://127.0.0.1:{services.reddis.port}/0" }\n'),
    ("app.command", '[app]\ncommand = ["{python}", "{services.reddis.port}"]\n'),
    ("hooks.done.file", APP + '[hooks.done]\nfile = "{workdir}/{services.reddis.port}"\n'),
    ("triggers.poke.http", APP + '[triggers.poke]\nhttp = "http://127.0.0.1:{services.reddis.port}/"\n'),
    ("traffic.url", APP + '[traffic]\nurl = "http://127.0.0.1:{services.reddis.port}/"\n'),
    ("services.echo.env.TO", APP + ECHO + 'env = { TO = "{services.reddis.port}" }\n'),
])
def test_an_unknown_service_in_a_placeholder_is_an_error_on_its_key(tmp_path, where, text):
    err = load_text_error(tmp_path, text + '[services.redis]\ncommand = ["' + PY + '"]\n')
    assert err.key == where
    assert err.value == "{services.reddis.port}"
    assert "unknown service 'reddis'" in err.message and "did you mean 'redis'?" in err.message
    assert "{services.redis.port}" in (err.allowed or ())


def test_a_service_placeholder_without_any_service_says_there_are_none(tmp_path):
    err = load_text_error(tmp_path, APP + 'env = { URL = "{services.redis.port}" }\n')
    assert err.key == "app.env.URL"
    assert "unknown service 'redis'" in err.message and "services: none" in err.message


def test_a_misspelt_port_placeholder_of_a_known_service_is_an_unknown_placeholder(tmp_path):
    err = load_text_error(tmp_path, APP + 'env = { URL = "{services.echo.prot}" }\n' + ECHO)
    assert err.key == "app.env.URL"
    assert "unknown placeholder {services.echo.prot}; did you mean {services.echo.port}?" in err.message


@pytest.mark.parametrize("name", ["re.dis", "", "a b", "x" * 51, "{x}"])
def test_a_service_name_a_placeholder_cannot_hold_is_refused(tmp_path, name):
    err = load_text_error(tmp_path, APP + f'[services."{name}"]\ncommand = ["{PY}"]\n')
    assert err.key == f"services.{name or chr(34) * 2}"
    assert "1 to 50 letters, digits" in err.message


@pytest.mark.parametrize("extra, key, words", [
    ('scope = "forever"\n', "services.echo.scope", "expected one of run, case"),
    ('scop = "run"\n', "services.echo.scop", "did you mean 'scope'?"),
    ('stop_timeout = -1\n', "services.echo.stop_timeout", "positive number of seconds"),
    ('ready_timeout = "5"\n', "services.echo.ready_timeout", "expected a number of seconds"),
    ('cwd = "no/such/folder"\n', "services.echo.cwd", "does not exist"),
])
def test_a_bad_service_key_is_an_error_on_it(tmp_path, extra, key, words):
    err = load_text_error(tmp_path, APP + ECHO + extra)
    assert err.key == key
    assert words in err.message


def test_a_service_needs_a_command_that_exists(tmp_path):
    err = load_text_error(tmp_path, APP + '[services.echo]\nready = { tcp = "{port}" }\n')
    assert err.key == "services.echo.command" and err.message.startswith("missing")
    err = load_text_error(tmp_path, APP + '[services.echo]\ncommand = ["no-such-program-x9"]\n')
    assert err.key == "services.echo.command" and "not found on PATH" in err.message
    err = load_text_error(tmp_path, APP + '[services.echo]\ncommand = []\n')
    assert err.key == "services.echo.command" and "is empty" in err.message
    err = load_text_error(tmp_path, APP + '[services.echo]\ncommand = 5\n')
    assert err.key == "services.echo.command" and "got an integer (5)" in err.message


def test_a_bad_ready_check_names_the_service_key(tmp_path):
    err = load_text_error(tmp_path, APP + '[services.echo]\ncommand = ["' + PY + '"]\nready = { tcp = "{workdir}" }\n')
    assert err.key == "services.echo.ready.tcp"
    err = load_text_error(tmp_path, APP + '[services.echo]\ncommand = ["' + PY + '"]\nready = { htp = "x" }\n')
    assert err.key == "services.echo.ready.htp"


def test_a_run_scoped_service_cannot_name_a_case_scoped_one(tmp_path):
    err = load_text_error(tmp_path, APP + f'[services.db]\ncommand = ["{PY}"]\nscope = "case"\n'
                                     f'[services.web]\ncommand = ["{PY}", "{{services.db.port}}"]\n')
    assert err.key == "services.web.command"
    assert 'scope "case"' in err.message and "give db scope \"run\" too" in err.message
    # the other way round is fine: a case's own service may use the run's
    sc = load_text(tmp_path, APP + f'[services.db]\ncommand = ["{PY}"]\n'
                              f'[services.web]\ncommand = ["{PY}", "{{services.db.port}}"]\nscope = "case"\n')
    assert [s.scope for s in sc.services.values()] == ["run", "case"]


def test_the_keys_and_scopes_are_the_documented_ones():
    assert SERVICE_KEYS == ("command", "cwd", "env", "ready", "ready_timeout", "stop_timeout", "scope")
    assert SERVICE_SCOPES == ("run", "case")
