"""tomllines.key_lines: the line each table and key of a TOML file is written on,
for the CI annotations. Hostile layouts: headers spelled with spaces and quotes,
dotted keys, inline tables, text that looks like a header inside strings, comments
and arrays over many lines. Every document here is valid TOML (tomllib reads it), and
every line the scanner names is checked against tomllib's keys and the line's text."""

from __future__ import annotations

import textwrap
from shutdown_probe.scenario.loading import tomllib  # the loader's TOML reader: tomli on 3.10

import pytest

from shutdown_probe.tomllines import key_lines


def lines_of(text: str) -> dict[tuple[str, ...], int]:
    text = textwrap.dedent(text)
    data = tomllib.loads(text)  # valid TOML, or the test itself is wrong
    found = key_lines(text)
    for key in found:  # every path found is one tomllib has
        assert _has(data, key), (key, data)
    return found


def _has(node: object, key: tuple[str, ...]) -> bool:
    if not key:
        return True
    if isinstance(node, list):  # an array of tables: in one of them
        return any(_has(item, key) for item in node)
    return isinstance(node, dict) and key[0] in node and _has(node[key[0]], key[1:])


def test_plain_headers_and_keys():
    found = lines_of("""\
        name = "x"
        paths = ["sigterm"]

        [app]
        command = ["true"]

        [expect.sigterm]
        outcome = "exited"
        """)
    assert found[("expect", "sigterm")] == 7
    assert found[("expect", "sigterm", "outcome")] == 8
    assert found[("expect",)] == 7 and found[("app", "command")] == 5


def test_headers_with_spaces_quotes_and_comments():
    found = lines_of("""\
        [app]
        command = ["true"]
        [ expect . "sigterm" ]   # a comment ] [expect.sigint]
        outcome = "exited"
        [expect.'sigint']
          exit   =   2
        [expect."docker.stop"]
        orphans = false
        [expect."a\\u0062c"]
        orphans = true
        """)
    assert found[("expect", "sigterm")] == 3
    assert found[("expect", "sigint")] == 5 and found[("expect", "sigint", "exit")] == 6
    assert found[("expect", "docker.stop")] == 7  # a quoted key with a dot is one key
    assert found[("expect", "abc")] == 9  # an escape in a quoted key


def test_text_that_looks_like_a_header_inside_strings_is_not_one():
    found = lines_of('''\
        description = """
        [expect.sigterm]
        outcome = "hung"
        """
        note = \'\'\'
        [expect.sigkill]
        \'\'\'
        quote = "[expect.sigint] \\" still a string"
        tricky = """ends with quotes"""""
        # [expect.sighup]
        [app]
        command = ["true"]
        [expect.sigterm]
        outcome = "exited"
        ''')
    assert found[("expect", "sigterm")] == 13
    assert ("expect", "sigkill") not in found and ("expect", "sigint") not in found
    assert ("expect", "sighup") not in found


def test_dotted_keys_and_inline_tables_make_tables_too():
    top = lines_of("""\
        name = "x"
        expect.sigint.outcome = "exited"
        expect . 'sigkill' . exit = 9
        """)
    assert top[("expect", "sigint")] == 2 and top[("expect", "sigint", "outcome")] == 2
    assert top[("expect", "sigkill", "exit")] == 3
    found = lines_of("""\
        [app]
        command = [
            "python3",   # a comment inside an array
            "app.py",    # with ] and [expect.x] in it
        ]
        ready = { file = "{workdir}/ready" }
        [expect]
        sigterm.outcome = "exited"
        sigkill = { exit = "SIGKILL", not_ran = ["atexit", "x"] }
        "sighup" . orphans = false
        """)
    assert found[("app", "ready", "file")] == 6
    assert found[("expect",)] == 7
    assert found[("expect", "sigterm")] == 8 and found[("expect", "sigterm", "outcome")] == 8
    assert found[("expect", "sigkill", "exit")] == 9 and found[("expect", "sigkill", "not_ran")] == 9
    assert found[("expect", "sighup", "orphans")] == 10


def test_crlf_a_byte_order_mark_and_dates():
    text = "\ufeff[app]\r\ncommand = ['true']\r\nwhen = 1979-05-27 07:32:00Z\r\n[expect.sigterm]\r\nexit = 0\r\n"
    assert tomllib.loads(text.removeprefix("\ufeff"))
    found = key_lines(text)
    assert found[("expect", "sigterm")] == 4 and found[("expect", "sigterm", "exit")] == 5


def test_arrays_of_tables_and_nested_arrays():
    found = lines_of("""\
        [[services]]
        name = "a"
        matrix = [[1, 2], [3, [4]], { x = 1 }]
        [[services]]
        name = "b"
        [expect.sigterm]
        ran = []
        """)
    assert found[("services",)] == 1 and found[("expect", "sigterm", "ran")] == 7


@pytest.mark.parametrize("text", [
    "[expect.sigterm\noutcome = 1\n",       # an unclosed header
    'a = "unterminated\n[expect.x]\n',      # a string that never ends
    "a = '''never closed\n[expect.x]\n",
    "= 3\n",
    "",
])
def test_what_it_cannot_follow_gives_no_lines_never_wrong_ones(text):
    found = key_lines(text)
    assert found == {} or ("expect", "x") not in found


def test_the_bundled_scenarios_lines_hold_their_keys():
    from tests.support import SCENARIOS

    checked = 0
    for path in sorted(SCENARIOS.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        found = key_lines(text)
        data = tomllib.loads(text)
        lines = text.splitlines()
        for name, table in data.get("expect", {}).items():
            assert ("expect", name) in found, (path.name, name)
            for key in table:
                line = lines[found[("expect", name, key)] - 1]
                assert key in line, (path.name, name, key, line)
                checked += 1
    assert checked > 20
