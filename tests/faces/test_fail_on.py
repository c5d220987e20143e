"""CI that fails for the right reasons: ``[expect.all]``, ``--fail-on`` and GitHub
Actions, through the real CLI and real inner pytest sessions, on tiny real targets.

Two ways of not ending: ``ignore_all.py`` ignores SIGTERM (outcome ``ignored``: the
kernel's SigIgn says so), and ``hang_kinds.py atexit`` hangs for real in an atexit
callable after SIGINT (outcome ``hung``). Neither ends within its 0.5 s stop timeout,
so the harness kills it: both are ``hung`` for ``--fail-on``, and ``killed``.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.support import TARGETS, run_cli

MARK = "# shutdown-probe scenario\n"


def q(value) -> str:
    return json.dumps(str(value))


def ignoring(expect: str = "") -> str:
    return MARK + textwrap.dedent(f"""\
        name = "ignoring"
        paths = ["sigterm", "sigkill"]
        [app]
        command = ["{{python}}", {q(TARGETS / "ignore_all.py")}, "{{workdir}}"]
        ready = {{ file = "{{workdir}}/ready" }}
        stop_timeout = 0.5
        """) + textwrap.dedent(expect)


def hanging(expect: str = "") -> str:
    return MARK + textwrap.dedent(f"""\
        name = "hanging"
        paths = ["sigint"]
        [app]
        command = ["{{python}}", {q(TARGETS / "hang_kinds.py")}, "{{workdir}}", "atexit"]
        ready = {{ file = "{{workdir}}/ready" }}
        stop_timeout = 0.5
        """) + textwrap.dedent(expect)


ALL = """
[expect.all]
outcome = "exited"
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cases_of(path) -> dict[str, dict]:
    return {f"{c['scenario']}::{c['path']}": c for c in json.loads(path.read_text(encoding="utf-8"))["cases"]}


def test_without_expectations_a_hang_passes_and_expect_all_fails_it(tmp_path):
    # the starting point: nothing expected, the run is green on both hangs
    quiet = [write(tmp_path, "a.toml", ignoring()), write(tmp_path, "b.toml", hanging())]
    before = run_cli("run", "-q", *map(str, quiet), "--json", str(tmp_path / "before.json"))
    assert before.returncode == 0, before.stderr
    outcomes = {k: c["outcome"] for k, c in cases_of(tmp_path / "before.json").items()}
    assert outcomes == {"ignoring::sigterm": "ignored", "ignoring::sigkill": "exited", "hanging::sigint": "hung"}

    strict = [write(tmp_path, "c.toml", ignoring(ALL)), write(tmp_path, "d.toml", hanging(ALL))]
    after = run_cli("run", "-q", *map(str, strict), "--json", str(tmp_path / "after.json"))
    assert after.returncode == 1, after.stderr
    cases = cases_of(tmp_path / "after.json")
    for key, got in (("ignoring::sigterm", "ignored"), ("hanging::sigint", "hung")):
        assert cases[key]["expect"]["failures"] == [f"expected outcome exited, got {got}"]
        assert cases[key]["expect"]["failed_keys"] == [{"table": "all", "key": "outcome"}]
        assert f"expected outcome exited, got {got}" in after.stdout
    assert cases["ignoring::sigkill"]["expect"]["passed"]  # SIGKILL ends it: all's outcome holds


def test_fail_on_fails_a_run_that_expects_nothing_and_report_judges_again(tmp_path):
    scenario = str(write(tmp_path, "a.toml", ignoring()))
    saved = tmp_path / "r.json"
    failed = run_cli("run", "-q", scenario, "--fail-on", "orphans", "--fail-on", "hung,killed", "--json", str(saved))
    assert failed.returncode == 1, failed.stderr
    assert "--fail-on hung: the root was still running at the stop timeout (outcome ignored)" in failed.stdout
    assert "--fail-on killed: the harness killed root pid" in failed.stdout
    case = cases_of(saved)["ignoring::sigterm"]
    assert [f["finding"] for f in case["fail_on"]] == ["hung", "killed"]
    assert cases_of(saved)["ignoring::sigkill"]["fail_on"] == []  # the path's own SIGKILL is no finding

    assert run_cli("run", "-q", scenario, "--fail-on", "orphans,unresponsive").returncode == 0
    ignored = run_cli("run", "-q", scenario, "--fail-on", "ignored")
    assert ignored.returncode == 1 and "--fail-on ignored: root pid" in ignored.stdout

    plain = tmp_path / "plain.json"
    assert run_cli("run", "-q", scenario, "--json", str(plain)).returncode == 0
    assert run_cli("report", str(plain)).returncode == 0
    again = run_cli("report", str(plain), "--fail-on", "HUNG")
    assert again.returncode == 1 and "--fail-on hung:" in again.stdout
    assert run_cli("report", str(saved)).returncode == 1  # the file keeps its run's verdict


@pytest.mark.parametrize("command", ["run", "report"])
def test_an_unknown_finding_is_one_line_and_status_2(tmp_path, command):
    target = str(write(tmp_path, "a.toml", ignoring())) if command == "run" else str(tmp_path / "none.json")
    got = run_cli(command, target, "--fail-on", "hang")
    assert got.returncode == 2
    assert got.stderr.strip().splitlines() == [
        "shutdown-probe: --fail-on: unknown finding 'hang'; did you mean 'hung'? (expected one or more of: "
        "hung, orphans, ignored, unresponsive, killed, refuted, comma-separated)"]


def test_on_github_actions_the_summary_and_an_annotation_per_failure(tmp_path):
    repo = tmp_path / "repo"
    (repo / "ci").mkdir(parents=True)
    text = ignoring(ALL + "\n[expect.sigkill]\n# the path's own table\nexit = 'SIGTERM'\n")
    scenario = write(repo / "ci", "stop.toml", text)
    lines = text.splitlines()
    outcome_line = lines.index('outcome = "exited"') + 1  # counted here, from the text written
    exit_line = lines.index("exit = 'SIGTERM'") + 1
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(repo)}

    got = run_cli("run", "-q", str(scenario), "--fail-on", "hung", env=env)

    assert got.returncode == 1, got.stderr
    commands = [line for line in got.stdout.splitlines() if line.startswith("::")]
    assert commands == [
        f"::error file=ci/stop.toml,line={outcome_line},title=shutdown-probe ignoring%3A%3Asigterm::"
        "expected outcome exited, got ignored",
        f"::error file=ci/stop.toml,line={lines.index('[expect.all]') + 1},"
        "title=shutdown-probe ignoring%3A%3Asigterm::"
        "--fail-on hung: the root was still running at the stop timeout (outcome ignored)",
        f"::error file=ci/stop.toml,line={exit_line},title=shutdown-probe ignoring%3A%3Asigkill::"
        "expected the root to end with SIGTERM, it ended with SIGKILL",
    ]
    written = summary.read_text(encoding="utf-8")
    assert written.startswith("# shutdown-probe\n\n## ignoring\n")
    assert "| `sigterm` |" in written and "| `sigkill` |" in written
    # without the variables: no commands, no summary
    summary.unlink()
    quiet = run_cli("run", "-q", str(scenario), env={"GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": str(summary)})
    assert quiet.returncode == 1 and "::error" not in quiet.stdout and not summary.exists()


# ------------------------------------------------------------------ the pytest plugin


def test_the_plugin_fails_an_item_on_the_command_lines_findings(pytester):
    pytester.makefile(".toml", stop=ignoring())
    assert pytester.runpytest("-p", "no:cacheprovider").ret == pytest.ExitCode.OK

    result = pytester.runpytest("-p", "no:cacheprovider", "--shutdown-probe-fail-on", "hung,killed")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*--fail-on hung: the root was still running at the stop timeout (outcome ignored)*",
                                 "*--fail-on killed: the harness killed root pid*"])


def test_the_plugins_ini_setting_and_the_option_over_it(pytester):
    pytester.makefile(".toml", stop=ignoring())
    pytester.makeini("[pytest]\nshutdown_probe_fail_on = orphans ignored\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*--fail-on ignored: root pid * ignored SIGTERM*"])
    result = pytester.runpytest("-p", "no:cacheprovider", "--shutdown-probe-fail-on", "orphans")
    result.assert_outcomes(passed=2)


def test_the_readmes_pyproject_setting(pytester):
    pytester.makefile(".toml", stop=ignoring())
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nshutdown_probe_fail_on = "hung orphans"\n')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*--fail-on hung: the root was still running*"])


def test_the_plugin_refuses_an_unknown_finding_before_running(pytester):
    pytester.makefile(".toml", stop=ignoring())
    result = pytester.runpytest("-p", "no:cacheprovider", "--shutdown-probe-fail-on", "hungg")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown finding 'hungg'; did you mean 'hung'?*"])


def test_the_plugin_on_github_actions(pytester, monkeypatch, tmp_path):
    pytester.makefile(".toml", stop=ignoring(ALL))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    line = ignoring(ALL).splitlines().index('outcome = "exited"') + 1
    result.stdout.fnmatch_lines([f"::error file=stop.toml,line={line},title=shutdown-probe ignoring%3A%3Asigterm::"
                                 "expected outcome exited, got ignored"])
    assert "| `sigterm` |" in summary.read_text(encoding="utf-8")
