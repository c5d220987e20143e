"""The pytest plugin, driven through real inner pytest sessions (``pytester``).

Scenario files become items, items run real processes, and the session's matrix,
JSON, Markdown and JUnit XML say what every case observed. Every scenario here uses
the tiny targets in tests/targets, so each inner session takes well under a second
(one with -n 2 takes a few).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import psutil
import pytest

from tests.support import SCENARIOS, SESSION, TARGETS, run_cli, wait_while_running
from shutdown_probe.processes import tagged_processes
from shutdown_probe.pytest_plugin import has_scenario_line

PLAIN = TARGETS / "plain.py"
EXIT_EARLY = TARGETS / "exit_early.py"
DOUBLE_FORK = TARGETS / "double_fork.py"

MATRIX_HEADER = "shutdown-probe matrix"
# The first line that makes a .toml file a scenario for pytest.
MARK = "# shutdown-probe scenario\n"


def q(value) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these paths)."""
    return json.dumps(str(value))


def plain_toml(paths: list[str], expect: str = "", *, ready: str = "{workdir}/ready",
               extra_app: str = "") -> str:
    """plain.py, ready on its ready file, with atexit and finally hooks; marked as a
    scenario for pytest."""
    return MARK + textwrap.dedent(f"""\
        paths = {json.dumps(paths)}
        [app]
        command = ["{{python}}", {q(PLAIN)}, "{{workdir}}"]
        ready = {{ file = "{ready}" }}
        {extra_app}
        [hooks.atexit]
        log = 'atexit ran'
        [hooks.finally]
        log = 'finally ran'
        """) + textwrap.dedent(expect)


def collected_ids(result: pytest.RunResult) -> list[str]:
    """The node ids ``--collect-only -q`` printed, up to the blank line before the count."""
    ids = []
    for line in result.stdout.lines:
        if not line.strip():
            break
        ids.append(line)
    return ids


def call_reports(result: pytest.RunResult) -> dict[str, pytest.TestReport]:
    """nodeid -> the report of its call phase (in-process runs only)."""
    return {r.nodeid: r for r in result.reprec.getreports("pytest_runtest_logreport") if r.when == "call"}


def section(result: pytest.RunResult, title: str) -> list[str]:
    """The lines under the ``____ title ____`` header, up to the next header."""
    lines = result.stdout.lines
    [start] = [i for i, line in enumerate(lines) if re.fullmatch(rf"_+ {re.escape(title)} _+", line)]
    block = []
    for line in lines[start + 1:]:
        if re.match(r"^(_{3,}|={3,}) ", line):
            break
        block.append(line)
    return block


def matrix_headers(result: pytest.RunResult) -> int:
    return sum(1 for line in result.stdout.lines if re.fullmatch(rf"=+ {MATRIX_HEADER} =+", line))


# ------------------------------------------------------------------ collection


def test_collects_one_item_per_scenario_and_path(pytester):
    pytester.makefile(".toml", scen_a=plain_toml(["sigterm", "sigint"]),
                      scen_b=plain_toml(["sigkill", "sigterm", "sigint"]),
                      other="[server]\nport = 8080\n")
    pytester.makepyprojecttoml("[tool.x]\nname = 'app'\n")

    result = pytester.runpytest("--collect-only", "-q")

    assert result.ret == pytest.ExitCode.OK
    assert collected_ids(result) == [
        "scen_a.toml::sigterm", "scen_a.toml::sigint",
        "scen_b.toml::sigkill", "scen_b.toml::sigterm", "scen_b.toml::sigint",
    ]
    result.stdout.fnmatch_lines(["5 tests collected in *"])


def test_a_folder_with_only_pyproject_collects_nothing(pytester):
    pytester.makepyprojecttoml("[tool.x]\napp = 'not a scenario'\n")
    result = pytester.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_k_selects_items_by_path_name(pytester):
    pytester.makefile(".toml", a=plain_toml(["sigterm", "sigint"]), b=plain_toml(["sigint", "sigkill"]))
    result = pytester.runpytest("--collect-only", "-q", "-k", "sigint")
    assert collected_ids(result) == ["a.toml::sigint", "b.toml::sigint"]
    result.stdout.fnmatch_lines(["2/4 tests collected (2 deselected) in *"])


def test_deselect_and_exitfirst_work_on_scenario_items(pytester):
    # a.toml::sigterm fails (SIGTERM skips atexit in plain.py); -x must stop there,
    # so b.toml never runs; --deselect drops a.toml::sigkill before anything runs.
    pytester.makefile(".toml", a=plain_toml(["sigkill", "sigterm", "sigint"], """
        [expect.sigterm]
        ran = ["atexit"]
        """), b=plain_toml(["sigint"]))

    result = pytester.runpytest("-x", "--deselect", "a.toml::sigkill")

    reports = call_reports(result)
    assert list(reports) == ["a.toml::sigterm"]
    assert reports["a.toml::sigterm"].failed
    result.assert_outcomes(failed=1, deselected=1)


def unmarked(paths: list[str]) -> str:
    """plain_toml without the marker line: a scenario only where the ini or the
    command line says so."""
    return plain_toml(paths).removeprefix(MARK)


@pytest.mark.parametrize("setting", ["wanted", "wanted/", "./wanted", "wanted/*.toml", "**/w.toml", "wanted/**"])
def test_ini_scenarios_option_names_scenario_files_without_the_marker(pytester, setting):
    pytester.mkdir("wanted")
    pytester.mkdir("unwanted")
    (pytester.path / "wanted" / "w.toml").write_text(unmarked(["sigterm"]))
    (pytester.path / "unwanted" / "u.toml").write_text(unmarked(["sigint"]))
    (pytester.path / "top.toml").write_text(unmarked(["sigkill"]))
    pytester.makeini(f"[pytest]\nshutdown_probe_scenarios = {setting}\n")

    result = pytester.runpytest("--collect-only", "-q")

    assert collected_ids(result) == ["wanted/w.toml::sigterm"]


def test_ini_globs_star_stays_in_one_folder_double_star_crosses(pytester):
    pytester.mkdir("wanted")
    (pytester.path / "wanted" / "deep").mkdir()
    (pytester.path / "wanted" / "w.toml").write_text(unmarked(["sigterm"]))
    (pytester.path / "wanted" / "deep" / "d.toml").write_text(unmarked(["sigint"]))
    pytester.makeini("[pytest]\nshutdown_probe_scenarios = wanted/*.toml\n")
    assert collected_ids(pytester.runpytest("--collect-only", "-q")) == ["wanted/w.toml::sigterm"]
    pytester.makeini("[pytest]\nshutdown_probe_scenarios = wanted/**/*.toml\n")
    assert sorted(collected_ids(pytester.runpytest("--collect-only", "-q"))) == [
        "wanted/deep/d.toml::sigint", "wanted/w.toml::sigterm"]


@pytest.mark.parametrize("ini", [None, "elsewhere/*.toml"], ids=["no-ini-setting", "ini-names-another-folder"])
def test_a_marked_file_is_collected_in_any_folder(pytester, ini):
    pytester.mkdir("wanted")
    pytester.mkdir("unwanted")
    (pytester.path / "wanted" / "w.toml").write_text(plain_toml(["sigterm"]))
    (pytester.path / "unwanted" / "u.toml").write_text(plain_toml(["sigint"]))
    if ini:
        pytester.makeini(f"[pytest]\nshutdown_probe_scenarios = {ini}\n")
    result = pytester.runpytest("--collect-only", "-q")
    assert sorted(collected_ids(result)) == ["unwanted/u.toml::sigint", "wanted/w.toml::sigterm"]


@pytest.mark.parametrize(("first_line", "is_scenario"), [
    ("# shutdown-probe scenario", True),
    ("# shutdown-probe scenario: see README.md", True),
    ("# shutdown-probe scenario (Flask, reloader on)", True),
    ("\ufeff# shutdown-probe scenario", True),  # a byte order mark, as the loader accepts
    ("# shutdown-probe scenario\r", True),  # CRLF line ends
    ("# shutdown-probe scenarios live in ./scenarios", False),  # another word
    ("# shutdown-probe scenario-runner settings", False),
    ("#shutdown-probe scenario", False),
    (" # shutdown-probe scenario", False),
    ("# Shutdown-probe scenario", False),
    ("# a comment first", False),  # the marker on the second line (below) does not count
])
def test_the_first_line_marks_a_scenario_file(pytester, first_line, is_scenario):
    body = unmarked(["sigterm"])
    if first_line == "# a comment first":
        body = MARK + body
    (pytester.path / "s.toml").write_text(first_line + "\n" + body, encoding="utf-8")

    result = pytester.runpytest("--collect-only", "-q")

    assert collected_ids(result) == (["s.toml::sigterm"] if is_scenario else [])
    assert has_scenario_line(pytester.path / "s.toml") is is_scenario


def test_a_toml_named_on_the_command_line_is_a_scenario_without_the_marker(pytester):
    pytester.makefile(".toml", named=unmarked(["sigterm", "sigint"]), other=unmarked(["sigkill"]))

    assert collected_ids(pytester.runpytest("--collect-only", "-q")) == []
    assert collected_ids(pytester.runpytest("--collect-only", "-q", "named.toml")) == [
        "named.toml::sigterm", "named.toml::sigint"]
    result = pytester.runpytest("named.toml::sigint")
    result.assert_outcomes(passed=1)


def test_an_application_config_with_an_app_table_is_left_alone(pytester):
    # The README's first complaint: an ordinary config.toml with an [app] table made
    # plain `pytest` exit 2 once shutdown-probe was installed.
    pytester.makefile(".toml", config='[app]\nname = "shop"\nport = 8080\n\n[app.db]\nurl = "sqlite://"\n')
    pytester.makepyprojecttoml('[project]\nname = "shop"\nversion = "1.0"\n[tool.shop.app]\ndebug = true\n')
    pytester.makepyfile(test_shop="def test_ok():\n    assert True\n")

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    assert "config.toml" not in result.stdout.str()


def test_has_scenario_line_never_waits_on_a_fifo_or_reads_a_device(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # no writer: a plain open() for reading would block for good
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")  # never ends
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert [has_scenario_line(p) for p in (fifo, zero, folder, tmp_path / "missing.toml")] == [False] * 4
    # a scenario behind a link to a regular file is still one
    (tmp_path / "real.toml").write_text(plain_toml(["sigterm"]))
    (tmp_path / "link.toml").symlink_to(tmp_path / "real.toml")
    assert has_scenario_line(tmp_path / "link.toml")


# Inline tables nested 5,000 deep make tomllib recurse past Python's limit; a decimal
# integer of 5,000 digits is past int()'s limit (sys.get_int_max_str_digits(), 4,300).
DEEP_TOML = "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n"
LONG_INT_TOML = "x = " + "7" * 5000 + "\n"


def test_a_hostile_toml_that_is_no_scenario_is_never_parsed(pytester):
    pytester.makefile(".toml", deep="[app]\n" + DEEP_TOML, long_int="[app]\n" + LONG_INT_TOML)
    pytester.makepyfile(test_ok="def test_ok():\n    assert True\n")

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    assert "Traceback" not in result.stdout.str()


def test_a_hostile_scenario_file_is_one_collection_error_and_the_rest_still_runs(pytester):
    pytester.makefile(".toml", deep=MARK + "[app]\n" + DEEP_TOML, long_int=MARK + "[app]\n" + LONG_INT_TOML,
                      good=plain_toml(["sigkill"]))
    pytester.makepyfile(test_ok="def test_ok():\n    assert True\n")
    # the CLI's one line for each file, in its own process
    expected = {}
    for name in ("deep.toml", "long_int.toml"):
        cli = run_cli("check", name, cwd=pytester.path)
        assert cli.returncode == 2, cli.stderr
        [line] = cli.stderr.splitlines()
        expected[name] = line.removeprefix("shutdown-probe: ")
        assert expected[name].startswith(f"{name}: "), line

    # pytest's rule for any broken file: collection goes on, the session stops before
    # running anything (unless told to go on); every other file is collected either way
    stopped = pytester.runpytest()
    result = pytester.runpytest("--continue-on-collection-errors")

    assert stopped.ret == pytest.ExitCode.INTERRUPTED
    stopped.assert_outcomes(errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, errors=2)
    assert set(call_reports(result)) == {"good.toml::sigkill", "test_ok.py::test_ok"}
    for run in (stopped, result):
        for name, message in expected.items():
            assert section(run, f"ERROR collecting {name}") == [message]
        assert "Traceback" not in run.stdout.str()
        assert "RecursionError" not in run.stdout.str()


def test_the_bundled_scenarios_are_collected(pytester):
    from shutdown_probe.scenario import load_scenario

    files = sorted(SCENARIOS.glob("*.toml"))
    assert files and all(has_scenario_line(f) for f in files)
    expected = [f"{f.name}::{p.name}" for f in files for p in load_scenario(f).paths]

    result = pytester.runpytest("--collect-only", "-q", "--rootdir", str(SCENARIOS), "-p", "no:cacheprovider",
                                str(SCENARIOS))

    assert collected_ids(result) == expected


# ------------------------------------------------------------------ running items


def test_an_expectation_that_does_not_hold_fails_with_a_readable_diff(pytester):
    pytester.makefile(".toml", plain_expect=plain_toml(["sigterm", "sigint", "sigkill"], """
        [expect.sigterm]
        ran = ["atexit"]
        [expect.sigint]
        ran = ["atexit"]
        """))

    result = pytester.runpytest()

    result.assert_outcomes(passed=2, failed=1)
    reports = call_reports(result)
    assert {n for n, r in reports.items() if r.passed} == {"plain_expect.toml::sigint", "plain_expect.toml::sigkill"}
    text = reports["plain_expect.toml::sigterm"].longreprtext
    lines = text.splitlines()
    assert lines[0] == "plain_expect::sigterm: expectations do not hold"
    assert re.search(r"^  expected ran: +atexit$", text, re.M), text
    assert re.search(r"^  observed ran: +\(none\)$", text, re.M), text
    assert "✗ expected hook 'atexit' to run, it did not" in text
    tail = lines.index(next(line for line in lines if line.startswith("  output tail")))
    assert re.fullmatch(r" +\| \[pid \d+\] ready", lines[tail + 1]), text
    for word in ("Traceback", "pytest_plugin.py", "pytest_cases.py"):
        assert word not in text
        assert word not in result.stdout.str()
    # the terminal shows the same block under the item's header
    assert section(result, "plain_expect::sigterm") == lines
    result.stdout.fnmatch_lines(["FAILED plain_expect.toml::sigterm - plain_expect::sigterm: expectations*"])


@pytest.mark.parametrize("kind", ["exits-at-once", "never-ready"])
def test_a_case_that_cannot_run_fails_with_its_reason_in_one_block(pytester, kind):
    if kind == "exits-at-once":
        toml = MARK + textwrap.dedent(f"""\
            paths = ["sigterm"]
            [app]
            command = ["{{python}}", {q(EXIT_EARLY)}, "{{workdir}}"]
            ready = {{ file = "{{workdir}}/ready" }}
            """)
        reason = "the app exited before it was ready"
        tail = "[stderr] fatal: cannot read config.ini: no such file"
    else:
        toml = plain_toml(["sigterm"], ready="{workdir}/never-created", extra_app="ready_timeout = 1")
        reason = None  # names the file and the timeout; checked below
        tail = None  # what plain.py printed in its 1 s, if Python started in time
    pytester.makefile(".toml", broken=toml)

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    block = section(result, "broken::sigterm")
    assert block[0] == "broken::sigterm: the case did not run to the end (not-ready)"
    assert block[1].startswith("  reason: ")
    if reason is not None:
        assert block[1] == f"  reason: {reason}"
    else:
        assert re.fullmatch(r"  reason: file /\S+/never-created not ready within 1 s \(missing\)", block[1]), block
    tail_lines = block[block.index(next(b for b in block if b.startswith("  output tail"))) + 1:]
    if tail is not None:
        assert tail_lines == [f"    | {tail}"]
    else:
        assert any(re.fullmatch(r"  harness sent SIGKILL to the root \(pid \d+\): the app never got ready", b)
                   for b in block), block
    assert "Traceback" not in result.stdout.str()
    assert "pytest_plugin.py" not in result.stdout.str() and "pytest_cases.py" not in result.stdout.str()


@pytest.mark.parametrize("kind", ["unknown-key", "toml-syntax"])
def test_a_broken_scenario_file_is_one_collection_error_worded_like_the_cli(pytester, kind):
    if kind == "unknown-key":
        text = MARK + f'paths = ["sigterm"]\n[app]\ncomand = ["{{python}}", {q(PLAIN)}, "{{workdir}}"]\n'
        starts = "bad.toml: app.comand: unknown key; did you mean 'command'?"
    else:
        text = MARK + f'paths = ["sigterm"]\n[app]\ncommand = ["{{python}}", {q(PLAIN)}\n'
        starts = "bad.toml: TOML syntax error: "
    pytester.makefile(".toml", bad=text, good=plain_toml(["sigkill"]))

    result = pytester.runpytest()
    cli = run_cli("check", "bad.toml", cwd=pytester.path)

    assert cli.returncode == 2
    [cli_line] = cli.stderr.splitlines()
    message = cli_line.removeprefix("shutdown-probe: ")
    assert message.startswith(starts), cli_line
    result.assert_outcomes(errors=1)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert section(result, "ERROR collecting bad.toml") == [message]
    assert "Traceback" not in result.stdout.str()


# ------------------------------------------------------------------ reports


def test_xdist_workers_report_one_matrix_in_collection_order(pytester):
    pytester.makefile(".toml", a=plain_toml(["sigterm", "sigint"]), b=plain_toml(["sigkill", "sigint"]))
    declared = [("a", "sigterm"), ("a", "sigint"), ("b", "sigkill"), ("b", "sigint")]

    # xdist's load scheduling hands 4 items to 2 workers as 2 + 2, whichever is faster.
    result = pytester.runpytest_subprocess(
        "-n", "2", "-v", "--shutdown-probe-json", "out.json", "--shutdown-probe-markdown", "out.md",
        "--shutdown-probe-html", "out.html", timeout=120)

    result.assert_outcomes(passed=4)
    data = json.loads((pytester.path / "out.json").read_text())
    assert [(c["scenario"], c["path"]) for c in data["cases"]] == declared
    assert data["environment"]["workers"] == 2
    ran_on = {}
    for line in result.stdout.lines:
        m = re.match(r"\[(gw\d+)\] .*PASSED (\S+)", line)
        if m:
            ran_on.setdefault(m.group(2), []).append(m.group(1))
    assert sorted(ran_on) == sorted(f"{s}.toml::{p}" for s, p in declared)
    assert all(len(w) == 1 for w in ran_on.values())
    assert {w for [w] in ran_on.values()} == {"gw0", "gw1"}
    assert matrix_headers(result) == 1
    assert result.stdout.str().count("shutdown-probe: wrote 4 cases to out.json") == 1
    markdown = (pytester.path / "out.md").read_text()
    for scenario in ("a", "b"):
        assert f"## {scenario}\n" in markdown
    for path in ("sigterm", "sigkill"):
        assert markdown.count(f"| `{path}` |") == 1
    assert markdown.count("| `sigint` |") == 2
    html = (pytester.path / "out.html").read_text()
    assert result.stdout.str().count("shutdown-probe: wrote 4 cases to out.html") == 1
    assert html.count("<svg") >= 4 and all(p in html for p in ("sigterm", "sigkill", "sigint"))


def test_junit_properties_carry_each_cases_row(pytester):
    pytester.makefile(".toml", junit=plain_toml(["sigterm", "sigint"]))

    result = pytester.runpytest("--junitxml=out.xml")

    result.assert_outcomes(passed=2)
    cases = ET.parse(pytester.path / "out.xml").getroot().iter("testcase")
    props = {(c.get("classname"), c.get("name")): {p.get("name"): p.get("value") for p in c.iter("property")}
             for c in cases}
    assert set(props) == {("junit.toml", "sigterm"), ("junit.toml", "sigint")}
    for path, signal, hook in (("sigterm", "SIGTERM", "✗"), ("sigint", "SIGINT", "✓")):
        row = props[("junit.toml", path)]
        assert row["shutdown_probe.scenario"] == "junit"
        assert row["shutdown_probe.path"] == path
        assert row["shutdown_probe.outcome"] == "exited"
        assert row["shutdown_probe.exit"] == signal
        assert row["shutdown_probe.hook.atexit"] == hook
        assert row["shutdown_probe.hook.finally"] == hook


@pytest.mark.parametrize("how, shown", [
    ("default", True),
    ("flag", False),
    ("ini-false", False),
    ("ini-true", True),
])
def test_the_matrix_can_be_turned_off(pytester, how, shown):
    pytester.makefile(".toml", quiet=plain_toml(["sigkill"]))
    args = []
    if how == "flag":
        args.append("--shutdown-probe-no-matrix")
    elif how.startswith("ini-"):
        pytester.makeini(f"[pytest]\nshutdown_probe_matrix = {how.removeprefix('ini-')}\n")

    result = pytester.runpytest(*args)

    result.assert_outcomes(passed=1)
    assert matrix_headers(result) == (1 if shown else 0)
    assert ("│ sigkill │" in result.stdout.str()) is shown


def test_p_no_shutdown_probe_turns_the_plugin_off(pytester):
    pytester.makefile(".toml", scen=plain_toml(["sigterm", "sigint"]))
    assert collected_ids(pytester.runpytest("--collect-only", "-q")) == ["scen.toml::sigterm", "scen.toml::sigint"]

    result = pytester.runpytest("--collect-only", "-q", "-p", "no:shutdown_probe")

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "scen.toml" not in result.stdout.str()


# ------------------------------------------------------------------ the fixture


FIXTURE_TESTS = '''
import pytest

PLAIN = @PLAIN@


def in_code(sp):
    return sp.scenario(command=["{python}", PLAIN, "{workdir}"], ready={"file": "{workdir}/ready"},
                       hooks={"atexit": "atexit ran", "finally": "finally ran"},
                       paths=["sigterm", "sigint"])


def test_one_path(shutdown_probe):
    r = shutdown_probe.run(in_code(shutdown_probe), path="sigint")
    assert r.outcome == "exited"
    assert r.hooks["atexit"].ran and r.hooks["finally"].ran
    assert r.scenario == "test_fixture::test_one_path" and r.path == "sigint"
    assert shutdown_probe.results == [r]


def test_every_path(shutdown_probe):
    by_path = shutdown_probe.run_paths(in_code(shutdown_probe), jobs="auto")  # the CLI's policy
    assert list(by_path) == ["sigterm", "sigint"]  # in path order, whichever finished first
    assert [r.outcome for r in by_path.values()] == ["exited", "exited"]
    assert not by_path["sigterm"].hooks["atexit"].ran
    assert by_path["sigint"].hooks["atexit"].ran


def test_the_path_must_be_named(shutdown_probe):
    s = in_code(shutdown_probe)
    with pytest.raises(ValueError) as excinfo:
        shutdown_probe.run(s)
    assert "sigterm" in str(excinfo.value) and "sigint" in str(excinfo.value)
    with pytest.raises(ValueError, match="did you mean 'sigterm'"):
        shutdown_probe.run(s, path="sigtrem")
    assert shutdown_probe.results == []
'''


def test_fixture_runs_an_in_code_scenario_and_reports_it(pytester):
    pytester.makepyfile(test_fixture=FIXTURE_TESTS.replace("@PLAIN@", repr(str(PLAIN))))

    result = pytester.runpytest("--shutdown-probe-json", "out.json")

    result.assert_outcomes(passed=3)
    data = json.loads((pytester.path / "out.json").read_text())
    assert [(c["scenario"], c["path"], c["hooks"]["atexit"]["ran"]) for c in data["cases"]] == [
        ("test_fixture::test_one_path", "sigint", True),
        ("test_fixture::test_every_path", "sigterm", False),
        ("test_fixture::test_every_path", "sigint", True),
    ]
    # each row of a fixture test is named in its JUnit properties
    props = dict(call_reports(result)["test_fixture.py::test_one_path"].user_properties)
    assert props["shutdown_probe[test_fixture::test_one_path::sigint].hook.atexit"] == "✓"
    assert matrix_headers(result) == 1


def test_fixture_asked_for_at_run_time_still_reports_its_cases(pytester):
    # getfixturevalue: no item carries the marker when collection ends, so the plugin's
    # working part starts only when the fixture is first asked for, inside the test
    pytester.makepyfile(test_late=f'''
        PLAIN = {str(PLAIN)!r}

        def test_first_plain():
            pass

        def test_asks_late(request):
            sp = request.getfixturevalue("shutdown_probe")
            s = sp.scenario(command=["{{python}}", PLAIN, "{{workdir}}"], ready={{"file": "{{workdir}}/ready"}},
                            hooks={{"atexit": "atexit ran"}}, paths=["sigint"])
            assert sp.run(s, path="sigint").hooks["atexit"].ran

        def test_asks_late_again(request):
            sp = request.getfixturevalue("shutdown_probe")
            s = sp.scenario(command=["{{python}}", PLAIN, "{{workdir}}"], ready={{"file": "{{workdir}}/ready"}},
                            hooks={{"atexit": "atexit ran"}}, paths=["sigterm"])
            assert not sp.run(s, path="sigterm").hooks["atexit"].ran
        ''')

    result = pytester.runpytest("--shutdown-probe-json", "out.json", "--junitxml", "out.xml")

    result.assert_outcomes(passed=3)
    data = json.loads((pytester.path / "out.json").read_text())
    assert [(c["scenario"], c["path"]) for c in data["cases"]] == [
        ("test_late::test_asks_late", "sigint"), ("test_late::test_asks_late_again", "sigterm")]
    assert call_reports(result)["test_late.py::test_asks_late"].shutdown_probe  # on the report, as usual
    assert matrix_headers(result) == 1


def test_fixture_loads_scenario_files_by_relative_path(pytester):
    # "data/plain.toml" exists only next to the test file; "sub/data/plain.toml" only
    # from the working folder.
    (pytester.path / "sub" / "data").mkdir(parents=True)
    (pytester.path / "sub" / "data" / "plain.toml").write_text(plain_toml(["sigterm", "sigint"]))
    (pytester.path / "sub" / "test_load.py").write_text(textwrap.dedent('''
        def test_next_to_the_test_file(shutdown_probe):
            r = shutdown_probe.run("data/plain.toml", path="sigint")
            assert (r.scenario, r.path, r.outcome) == ("plain", "sigint", "exited")
            assert r.hooks["atexit"].ran

        def test_from_the_working_folder(shutdown_probe):
            s = shutdown_probe.load("sub/data/plain.toml")
            assert [p.name for p in s.paths] == ["sigterm", "sigint"]
            assert s.file.parent.name == "data"
        '''))

    result = pytester.runpytest("sub/test_load.py")

    result.assert_outcomes(passed=2)


# ------------------------------------------------------------------ imports


# What a session without scenarios must never import: the runner and what it pulls in
# (requests, psutil), the renderers (rich), the scenario loader (regex), the results
# model, and the plugin's working part.
HEAVY = ["requests", "psutil", "rich", "regex", "shutdown_probe.runner", "shutdown_probe.scenario",
         "shutdown_probe.results", "shutdown_probe.render", "shutdown_probe.pytest_cases"]


@pytest.mark.parametrize("module", ["shutdown_probe.pytest_plugin", "shutdown_probe"])
def test_importing_the_plugin_or_package_stays_light(module):
    code = (f"import sys, json, {module}\n"
            f"print(json.dumps([{module!r} in sys.modules, [m for m in {HEAVY!r} if m in sys.modules]]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [True, []]


def test_a_session_without_scenarios_imports_nothing_heavy(pytester):
    # TOML files of every kind, none of them a scenario: not one is parsed
    pytester.makepyprojecttoml('[project]\nname = "shop"\nversion = "1.0"\n')
    pytester.makefile(".toml", config='[app]\nname = "shop"\n', other='[server]\nport = 8080\n')
    pytester.makepyfile(test_light=f'''
        import sys

        def test_light():
            assert "shutdown_probe.pytest_plugin" in sys.modules  # the plugin is loaded...
            assert [m for m in {HEAVY!r} if m in sys.modules] == []  # ...and nothing heavy
        ''')
    # pytest-xprocess (the benchmarks' extra) imports psutil itself: keep it out
    result = pytester.runpytest_subprocess("-p", "no:xprocess", timeout=60)
    result.assert_outcomes(passed=1)


def test_public_names_are_sorted_and_resolve():
    import shutdown_probe

    assert shutdown_probe.__all__ == sorted(shutdown_probe.__all__)
    for name in shutdown_probe.__all__:
        assert getattr(shutdown_probe, name) is not None, name


# ------------------------------------------------------------------ processes


def test_a_double_forked_daemon_is_killed_and_nothing_is_left(pytester):
    pytester.makefile(".toml", daemon=MARK + textwrap.dedent(f"""\
        paths = ["sigterm"]
        [app]
        command = ["{{python}}", {q(DOUBLE_FORK)}, "{{workdir}}", "{{port}}"]
        ready = {{ file = "{{workdir}}/ready" }}
        stop_timeout = 0.5
        """))

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
    [entry] = call_reports(result)["daemon.toml::sigterm"].shutdown_probe
    [orphan] = entry["case"]["orphans"]
    assert orphan["killed_by_harness"] is True
    assert tagged_processes(f"{SESSION}/") == []
    [port] = orphan["listening"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


LEAKY_TEST = '''
import os, subprocess, sys
from shutdown_probe import runner
from shutdown_probe.processes import TAG_ENV

def test_leaves_a_tagged_process():
    # what a bug in run_case would leave: a process carrying this run's tag
    env = dict(os.environ, **{TAG_ENV: runner.tag_prefix() + "fake-case"})
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env,
                            start_new_session=True)
    print("LEAKED", proc.pid)
'''


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_the_session_sweeps_what_a_case_left_behind_and_fails(pytester, workers):
    pytester.makepyfile(test_leaky=LEAKY_TEST)
    result = pytester.runpytest_subprocess("-s", *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the test itself passed
    [line] = [ln for ln in result.outlines if "killed processes a case left behind" in ln]
    leaked = [int(ln.split()[-1]) for ln in result.outlines if ln.startswith("LEAKED")]
    if leaked:  # xdist hides the worker's stdout; in-process shows it
        assert str(leaked[0]) in line
    assert tagged_processes(f"{SESSION}/") == []


# ------------------------------------------------------------------ an interrupted session

STUBBORN = textwrap.dedent("""\
    import os, signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(os.environ["MARK"], "w").close()
    while True:
        signal.pause()
    """)


def stubborn_toml(mark) -> str:
    return MARK + textwrap.dedent(f"""\
        paths = ["sigterm"]
        [app]
        command = ["{{python}}", "stubborn.py"]
        env = {{ MARK = {q(mark)} }}
        ready = {{ file = {q(mark)} }}
        stop_timeout = 60
        """)


AGAIN = "again"  # the same signal once more, when the first one's kills are done

# SIGINT then SIGTERM: two distinct signals are never merged into one (the same one
# twice may be, if it is still pending), and Python runs pending handlers lowest
# number first, so the first taken is SIGINT either way.
@pytest.mark.parametrize(("signals", "xdist"), [
    ([signal.SIGINT], False), ([signal.SIGTERM], False),
    ([signal.SIGINT, signal.SIGTERM], False), ([signal.SIGTERM, AGAIN], False),
    ([signal.SIGINT], True), ([signal.SIGTERM], True), ([signal.SIGKILL], True),
], ids=["SIGINT", "SIGTERM", "SIGINT-then-SIGTERM-during-the-case", "SIGTERM-again-as-the-case-ends",
        "xdist-Ctrl-C-to-the-group", "xdist-SIGTERM-to-the-controller", "xdist-controller-SIGKILLed"])
@pytest.mark.timeout(60)
def test_an_interrupted_session_kills_the_case_writes_the_reports_and_exits_128_plus_signal(
        pytester, signals, xdist):
    sig = signals[0]
    # The stubborn targets ignore SIGTERM and the stop timeout is long: the session is
    # inside those cases when the signal comes. The plain item must never start.
    pytester.makepyfile(stubborn=STUBBORN)
    stubborn = ["a_stubborn", "b_stubborn"] if xdist else ["a_stubborn"]
    marks = [pytester.path / f"mark-{name}" for name in stubborn]
    for name, mark in zip(stubborn, marks):
        pytester.makefile(".toml", **{name: stubborn_toml(mark)})
    pytester.makefile(".toml", c_plain=plain_toml(["sigterm"]))
    files = [f"{name}.toml" for name in stubborn] + ["c_plain.toml"]
    # -n 2 with --dist loadfile: each worker takes one stubborn file first.
    dist = ["-n", "2", "--dist", "loadfile"] if xdist else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", *dist, "--shutdown-probe-json",
         "out.json", "--shutdown-probe-markdown", "out.md", *files],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own group, as a terminal gives a foreground job
        # and SIGINT as a terminal gives it, even where this run inherited SIG_IGN (a
        # job started with & from a script), which pytest and the plugin respect
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_while_running(proc, lambda: all(m.exists() for m in marks), "the targets started")
        assert len(tagged_processes(f"{SESSION}/")) == len(marks), "the targets should be running"
        for send in signals:
            if send == AGAIN:  # the case is ending, or recorded, or the session finishing
                wait_while_running(proc, lambda: not tagged_processes(f"{SESSION}/"), "the targets killed")
                send = sig
            if xdist and send == signal.SIGINT:
                os.killpg(proc.pid, send)  # Ctrl-C: the whole foreground group
            else:
                proc.send_signal(send)
        if sig == signal.SIGKILL:  # no reports: the workers end their cases, at once
            proc.wait(timeout=10)
            wait_while_running(None, lambda: not tagged_processes(f"{SESSION}/"), "the cases ended", timeout=3)
            return
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # the xdist workers too: they have groups of their own
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == 128 + sig, out
    assert tagged_processes(f"{SESSION}/") == []
    assert "c_plain.toml::sigterm" not in out  # scheduling stopped
    assert f"shutdown-probe: interrupted by {signal.Signals(sig).name}" in out
    data = json.loads((pytester.path / "out.json").read_text())
    got = sorted((c["scenario"], c["path"], c["outcome"]) for c in data["cases"])
    # every cut case is recorded as such, however many signals came
    assert got == [(name, "sigterm", "interrupted") for name in stubborn], got
    assert "interrupted" in (pytester.path / "out.md").read_text()
    assert data["environment"]["interrupted_by"] == signal.Signals(sig).name


@pytest.mark.parametrize("xdist", [False, True], ids=["plain", "xdist"])
@pytest.mark.timeout(60)
def test_a_signal_in_a_tests_own_code_stops_the_session_and_keeps_the_case_it_ran(pytester, xdist):
    # Between cases the signal is pytest's KeyboardInterrupt: the test stops where it
    # is, before its reports are made. What it recorded must still reach the reports.
    mark = pytester.path / "mark-waiting"
    never = pytester.path / "mark-never"
    pytester.makefile(".toml", c_plain=plain_toml(["sigterm"]))
    pytester.makepyfile(test_waits=f"""
        import pathlib, time

        def test_runs_a_case_then_waits(shutdown_probe):
            result = shutdown_probe.run("c_plain.toml", path="sigterm")
            assert result.outcome == "exited"
            pathlib.Path({str(mark)!r}).touch()
            time.sleep(60)  # the signal comes here

        def test_never_starts():
            pathlib.Path({str(never)!r}).touch()
        """)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "--shutdown-probe-json", "out.json",
         *(["-n", "1"] if xdist else []), "test_waits.py"], cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        wait_while_running(proc, mark.exists, "the test past its case")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert not never.exists(), out
    assert "shutdown-probe: interrupted by SIGTERM" in out
    data = json.loads((pytester.path / "out.json").read_text())
    assert [(c["scenario"], c["path"], c["outcome"]) for c in data["cases"]] == [("c_plain", "sigterm", "exited")]
    assert tagged_processes(f"{SESSION}/") == []


@pytest.fixture
def interruption():
    """The plugin's signal handling installed in this process, and taken back after."""
    from shutdown_probe.interrupts import Interruption as _Interruption

    before = signal.getsignal(signal.SIGTERM)
    if before in (signal.SIG_IGN, None):
        pytest.skip("SIGTERM is ignored in this test process: the plugin would leave it so")
    stop = _Interruption()
    stop.install()
    try:
        yield stop
    finally:
        stop.running = 0
        stop.uninstall()
    assert signal.getsignal(signal.SIGTERM) is before


def test_signals_during_a_case_cancel_it_a_third_raises_and_a_finishing_session_only_counts(interruption):
    stop = interruption
    stop.running = 1  # as _Interruption.run has it while a case runs
    signal.raise_signal(signal.SIGTERM)
    assert (stop.signum, stop.cancel.is_set()) == (signal.SIGTERM, True)
    signal.raise_signal(signal.SIGTERM)  # the stop is under way: nothing to hurry
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)  # insisted on
    stop.running = 0
    stop.finishing = True
    signal.raise_signal(signal.SIGTERM)  # the reports are being written
    assert stop.count == 4


def test_a_first_signal_between_cases_is_a_keyboard_interrupt(interruption):
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)
    assert interruption.signum == signal.SIGTERM and not interruption.cancel.is_set()
    signal.raise_signal(signal.SIGTERM)  # pytest is on its way out already


def test_a_case_that_does_not_read_back_is_an_error_row_not_a_lost_session(pytester):
    """The plugin hands each case on as a dict and reads it back to write the reports.
    A case the reader refuses (here a duration past its 1e15 bound, built directly:
    the probe's events can no longer produce one) must cost that row only, not every
    report of the session."""
    pytester.makepyfile(test_rows="""
        from shutdown_probe.pytest_cases import record
        from shutdown_probe.results import CaseResult

        def test_bad(request, shutdown_probe):
            record(request.node, CaseResult("s", "sigterm", "exited", duration_s=1e300))

        def test_good(request, shutdown_probe):
            record(request.node, CaseResult("s", "sigint", "exited", duration_s=0.5))
    """)
    out, md = pytester.path / "out.json", pytester.path / "out.md"
    result = pytester.runpytest("--shutdown-probe-json", str(out), "--shutdown-probe-markdown", str(md))
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    cases = json.loads(out.read_text())["cases"]
    assert [(c["path"], c["outcome"]) for c in cases] == [("sigterm", "error"), ("sigint", "exited")]
    assert "could not be read back" in cases[0]["error"] and "duration_s" in cases[0]["error"]
    assert cases[1]["duration_s"] == 0.5
    assert md.is_file()


@pytest.mark.parametrize("setting, wanted", [
    ("**/scenarios", ["services/x/scenarios/b.toml::sigkill", "svc/scenarios/a.toml::sigterm",
                      "svc/scenarios/deep/d.toml::sigint"]),
    ("services/*/scenarios", ["services/x/scenarios/b.toml::sigkill"]),
])
def test_ini_globs_naming_folders_collect_what_is_below_them(pytester, setting, wanted):
    """A glob can name folders as a plain entry does: every file below a matching folder."""
    for rel, path in [("svc/scenarios/a.toml", "sigterm"), ("svc/scenarios/deep/d.toml", "sigint"),
                      ("services/x/scenarios/b.toml", "sigkill"), ("services/x/other/c.toml", "sigterm"),
                      ("scenarios-not/e.toml", "sigint")]:
        file = pytester.path / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(unmarked([path]))
    pytester.makeini(f"[pytest]\nshutdown_probe_scenarios = {setting}\n")
    assert sorted(collected_ids(pytester.runpytest("--collect-only", "-q"))) == wanted
