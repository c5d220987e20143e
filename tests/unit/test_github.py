"""github.py: the workflow commands and the job summary, from results built by hand.

The escaping rules are GitHub's for workflow commands (actions/toolkit, command.ts:
``escapeData`` turns ``%``, CR, LF into ``%25``, ``%0D``, ``%0A``; ``escapeProperty``
does that and ``:`` -> ``%3A``, ``,`` -> ``%2C``). The lines come from the scenario
file's text, written here, counted by hand."""

from __future__ import annotations

import textwrap

from shutdown_probe.github import error_commands, escape_data, escape_property, on_github, write_summary
from shutdown_probe.results import CaseResult, ExpectResult, FailedKey, PolicyFailure, Results

SCENARIO = """\
# shutdown-probe scenario
paths = ["sigterm", "sigkill", "sigint"]
[app]
command = ["true"]

[expect.all]
outcome = "exited"

[ expect . "sigkill" ]
exit = "SIGKILL"
"""


def test_escaping_follows_the_runner():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_it_is_github_only_when_it_says_so():
    assert on_github({"GITHUB_ACTIONS": "true"})
    assert not on_github({}) and not on_github({"GITHUB_ACTIONS": "false"})


def results_for(tmp_path) -> Results:
    folder = tmp_path / "repo" / "scenarios"
    folder.mkdir(parents=True)
    file = folder / "app.toml"
    file.write_text(SCENARIO, encoding="utf-8")
    expect = ExpectResult(False, ["expected outcome exited, got hung", "expected the root to end with SIGKILL\n%x"],
                          declared=True, failed_keys=[FailedKey("all", "outcome"), FailedKey("sigkill", "exit")])
    return Results(cases=[
        CaseResult("app", "sigkill", "hung", expect=expect, scenario_file=str(file),
                   fail_on=[PolicyFailure("hung", "the root was still running")]),
        CaseResult("app", "sigterm", "exited", scenario_file=str(file)),  # passed: nothing
        CaseResult("app", "sigint", "error", error="boom", scenario_file=str(file)),
    ], scenarios={"app": ""})


def test_one_error_per_failure_at_the_key_that_stated_it(tmp_path):
    env = {"GITHUB_WORKSPACE": str(tmp_path / "repo")}
    got = error_commands(results_for(tmp_path), env)
    title = "title=shutdown-probe app%3A%3Asigkill"
    assert got == [
        f"::error file=scenarios/app.toml,line=7,{title}::expected outcome exited, got hung",
        f"::error file=scenarios/app.toml,line=10,{title}::expected the root to end with SIGKILL%0A%25x",
        f"::error file=scenarios/app.toml,line=9,{title}::--fail-on hung: the root was still running",
        "::error file=scenarios/app.toml,line=6,title=shutdown-probe app%3A%3Asigint::"
        "the case did not run to the end: error: boom",
    ]


def test_outside_the_workspace_the_path_stays_as_recorded(tmp_path):
    got = error_commands(results_for(tmp_path), {"GITHUB_WORKSPACE": "/elsewhere"})
    file = escape_property(str(tmp_path / "repo" / "scenarios" / "app.toml"))
    assert got[0].startswith(f"::error file={file},line=7,")


def test_a_file_that_is_gone_or_changed_gives_no_wrong_line(tmp_path):
    results = results_for(tmp_path)
    file = tmp_path / "repo" / "scenarios" / "app.toml"
    file.write_text(textwrap.dedent("""\
        [app]
        command = ["true"]
        """), encoding="utf-8")
    got = error_commands(results, {})
    assert all(",line=" not in line for line in got)  # no [expect] table: the file, no line
    file.unlink()
    got = error_commands(results, {})
    assert got[0] == "::error title=shutdown-probe app%3A%3Asigkill::expected outcome exited, got hung"


def test_the_summary_is_appended(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    assert write_summary(results_for(tmp_path), {"GITHUB_STEP_SUMMARY": str(summary)}) is None
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n# shutdown-probe\n")
    assert "| `sigkill` |" in text and "--fail-on hung: the root was still running" in text
    assert write_summary(results_for(tmp_path / "b"), {}) is None  # not asked for
    problem = write_summary(results_for(tmp_path / "c"), {"GITHUB_STEP_SUMMARY": str(tmp_path)})
    assert problem is not None and problem.startswith("GITHUB_STEP_SUMMARY ") and "\n" not in problem
