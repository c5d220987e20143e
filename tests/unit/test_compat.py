"""Compatibility tables for docs against exact output, from results built by hand (no
process runs here, except the one CLI test): the layout rule, labels that show only
what differs, repeated runs that disagree, missing paths, order independence, hostile
text, and the framework versions the results record."""

from __future__ import annotations

import copy
import importlib.metadata
import random

from markdown_it import MarkdownIt

from shutdown_probe.render import format_compat
from shutdown_probe.environment import FRAMEWORKS, environment_info
from shutdown_probe.results import CaseResult, ExpectResult, HookResult, Orphan, ProcessRecord, Results

PLATFORM = "Linux-6.1.0-x86_64-with-glibc2.36"
TOOL = "shutdown-probe 0.1.0"


def env(python: str = "3.12.1", **packages: str) -> dict:
    """An environment as environment_info records it, with timings-free extras a run adds."""
    return {"python": python, "implementation": "cpython", "platform": PLATFORM, "kernel": "6.1.0",
            "packages": dict(sorted(packages.items())), "jobs": 2, "capabilities": {"pidfd": "yes"}}


def ran(*roles: str, pids: tuple[int, ...] = (), **kw) -> HookResult:
    return HookResult(True, "stdout line 3: bye", pids=list(pids or range(4100, 4100 + len(roles))),
                      roles=list(roles), at_s=0.123, **kw)


def not_ran() -> HookResult:
    return HookResult(False, "no output line matched 'bye'")


def two_processes() -> list[ProcessRecord]:
    return [ProcessRecord(4100, "root", "python app.py", returncode=0, exit_known=True, ended_after_s=0.31),
            ProcessRecord(4101, "child", "python app.py", signal="SIGKILL", exit_known=True, ended_after_s=0.02)]


def one_process() -> list[ProcessRecord]:
    return [ProcessRecord(4200, "root", "python plain.py", returncode=0, exit_known=True, ended_after_s=0.05)]


def flask_cases() -> list[CaseResult]:
    """A Flask reloader scenario: two processes, a log hook, a file hook, a probe hook."""
    def case(path: str, hooks: dict[str, HookResult], **kw) -> CaseResult:
        base = {"atexit": not_ran(), "released": not_ran()}
        return CaseResult("flask-atexit", path, kw.pop("outcome", "exited"), hooks={**base, **hooks},
                          processes=two_processes(), duration_s=0.314, root_exit_s=0.3,
                          scenario_file="/ci/a/scenarios/flask_atexit.toml", **kw)
    return [
        case("sigterm", {"atexit": ran("root", "child"), "released": ran("root")}),
        case("sigkill-child", {"atexit": ran("root")}),
        case("ctrl-c", {"atexit:shutdown": HookResult(True, "probe", pids=[4100], roles=["root"], source="probe",
                                                      interrupted_pids=[4101], interrupted_roles=["child"])}),
    ]


def plain_cases() -> list[CaseResult]:
    """A one-process scenario: a hook on SIGTERM, nothing on SIGKILL."""
    return [
        CaseResult("plain", "sigterm", "exited", hooks={"bye": ran("root")}, processes=one_process(),
                   duration_s=0.052, scenario_file="/ci/a/scenarios/plain.toml"),
        CaseResult("plain", "sigkill", "exited", hooks={"bye": not_ran()}, processes=one_process(),
                   duration_s=0.011, scenario_file="/ci/a/scenarios/plain.toml"),
    ]


def results(cases: list[CaseResult], environment: dict, **kw) -> Results:
    return Results(cases=cases, environment=environment, tool=TOOL,
                   scenarios=kw.pop("scenarios", {"flask-atexit": "Flask debug server with atexit hooks"}), **kw)


# ---------------------------------------------------------------- one environment

EXPECTED_ONE_ENVIRONMENT = """\
| path | flask-atexit | plain |
|---|---|---|
| `sigterm` | `atexit` (both), `released` (parent) | `bye` |
| `sigkill` | — | nothing ran |
| `sigkill-child` | `atexit` (parent) | — |
| `ctrl-c` | `atexit:shutdown` (parent, ◐ child) | — |

Legend: cells name the hooks that ran; parent = the launched process, child = its working child, \
both = the two; ◐ = started but never finished (the process died inside the hook); \
— = the path was not run in this column.

Columns: scenarios; environment: Python 3.12.1, Flask 3.0.3, Werkzeug 3.0.1, \
Linux-6.1.0-x86_64-with-glibc2.36, shutdown-probe 0.1.0.

- flask-atexit: Flask debug server with atexit hooks
"""


def test_one_environment_gives_one_table_with_a_column_per_scenario():
    # two files from one environment are one environment: the scenarios are the columns,
    # the paths the rows in the catalogue's order (sigterm, sigkill, sigkill-child, ctrl-c)
    a = results(flask_cases(), env(flask="3.0.3", werkzeug="3.0.1"))
    b = results(plain_cases(), env(flask="3.0.3", werkzeug="3.0.1"), scenarios={"plain": ""})
    assert format_compat([a, b]) == EXPECTED_ONE_ENVIRONMENT


# ---------------------------------------------------------------- environments


def by_flask(version: str, *paths: str) -> Results:
    cases = {
        "sigterm": CaseResult("flask-atexit", "sigterm", "exited", hooks={"atexit": ran("root")},
                              processes=two_processes(), duration_s=0.2),
        "sigkill": CaseResult("flask-atexit", "sigkill", "exited", hooks={"atexit": not_ran()},
                              processes=two_processes(), duration_s=0.01,
                              orphans=[Orphan(4101, "python app.py", "child", [5000], True)]),
        "sigkill-child": CaseResult("flask-atexit", "sigkill-child", "exited", hooks={"atexit": ran("root")},
                                    processes=two_processes(), duration_s=0.3),
    }
    return results([cases[p] for p in paths], env(flask=version, werkzeug="3.0.1"))


EXPECTED_TWO_FLASKS = """\
## flask-atexit

Flask debug server with atexit hooks

| path | Flask 2.9.1 | Flask 2.10.0 |
|---|---|---|
| `sigterm` | `atexit` (parent) | `atexit` (parent) |
| `sigkill` | nothing ran; orphan left | nothing ran; orphan left |
| `sigkill-child` | — | `atexit` (parent) |

Legend: cells name the hooks that ran; parent = the launched process, child = its working child, \
both = the two; orphan left = a process outlived the root and the stop timeout (the harness killed it); \
— = the path was not run in this column.

Columns: environments; every column: Python 3.12.1, Werkzeug 3.0.1, Linux-6.1.0-x86_64-with-glibc2.36, \
shutdown-probe 0.1.0.
"""


def test_one_scenario_in_two_environments_gives_a_column_per_environment_labelled_by_the_difference():
    # Python, Werkzeug and the platform are the same: only Flask labels the columns,
    # and 2.9.1 comes before 2.10.0 (versions sort as numbers, not as text)
    newer = by_flask("2.10.0", "sigterm", "sigkill", "sigkill-child")
    older = by_flask("2.9.1", "sigterm", "sigkill")
    assert format_compat([newer, older]) == EXPECTED_TWO_FLASKS


def test_a_column_that_lacks_a_path_shows_a_dash_and_the_legend_says_so():
    text = format_compat([by_flask("3.0.3", "sigterm"), by_flask("2.3.3", "sigkill-child")])
    assert "| `sigterm` | — | `atexit` (parent) |" in text.splitlines()
    assert "| `sigkill-child` | `atexit` (parent) | — |" in text.splitlines()
    assert "— = the path was not run in this column" in text


def test_label_of_python_versions_and_of_json_that_recorded_no_packages():
    # JSON written before "packages" existed still renders; its column says so
    old = results([CaseResult("flask-atexit", "sigterm", "exited", hooks={"atexit": ran("root")})],
                  {"python": "3.11.7", "platform": PLATFORM})
    new = results([CaseResult("flask-atexit", "sigterm", "exited", hooks={"atexit": not_ran()})],
                  env("3.11.7", flask="3.0.3"))
    other_python = results([CaseResult("flask-atexit", "sigterm", "exited", hooks={"atexit": not_ran()})],
                           env("3.9.18", flask="3.0.3"))
    lines = format_compat([new, old, other_python]).splitlines()
    assert lines[4:7] == [
        "| path | Python 3.9.18 · Flask 3.0.3 | Python 3.11.7 · Flask 3.0.3 | Python 3.11.7 · Flask not recorded |",
        "|---|---|---|---|",
        "| `sigterm` | nothing ran | nothing ran | `atexit` |",
    ]
    # what every column shares: no Python (it differs), the platform, the tool
    assert lines[-1] == "Columns: environments; every column: Linux-6.1.0-x86_64-with-glibc2.36, shutdown-probe 0.1.0."


def test_a_scenario_seen_in_one_environment_of_several_is_labelled_by_what_differs_in_the_whole_report():
    a = results([CaseResult("only-here", "sigterm", "exited", hooks={})], env(flask="3.0.3"),
                scenarios={})
    b = results([CaseResult("flask-atexit", "sigterm", "exited", hooks={})], env(flask="2.3.3"), scenarios={})
    text = format_compat([a, b])
    assert "## only-here\n\n| path | Flask 3.0.3 |\n|---|---|\n| `sigterm` | nothing ran |\n" in text
    assert "## flask-atexit\n\n| path | Flask 2.3.3 |\n" in text


# ---------------------------------------------------------------- repeated runs


def racy(attempt: int | None, banner: HookResult, **kw) -> CaseResult:
    return CaseResult("racy", kw.pop("path", "sigterm"), kw.pop("outcome", "exited"), attempt=attempt,
                      hooks={"banner": banner, "flush": ran("root", pids=(4300 + (attempt or 0),))},
                      processes=[ProcessRecord(4300 + (attempt or 0), "root", returncode=0)],
                      duration_s=0.1 * (attempt or 1), **kw)


EXPECTED_REPEATS = """\
| path | racy |
|---|---|
| `sigterm` | `banner` (2/3 runs), `flush`; hung (1/3 runs) |
| `sigkill` | `banner` (both, 1/2 runs), `banner` (parent, 1/2 runs); orphan left |

Legend: cells name the hooks that ran; parent = the launched process, child = its working child, \
both = the two; k/n runs = in k of the column's n runs of the path; hung = still running after the stop \
timeout (the harness killed it); orphan left = a process outlived the root and the stop timeout \
(the harness killed it).

Columns: scenarios; environment: Python 3.12.1, Flask 3.0.3, Linux-6.1.0-x86_64-with-glibc2.36, \
shutdown-probe 0.1.0.

Expectations that did not hold (`report --markdown` says why): `sigterm` in racy (1/3 runs).
"""


def repeated() -> list[Results]:
    """`--repeat 3` of sigterm in one file; sigkill once in each of two files of the
    same environment, which makes them two runs of one column."""
    orphan = [Orphan(4401, "python racy.py", "child", [5001], True)]
    sigterm = [
        racy(1, ran("root")),
        racy(2, not_ran(), outcome="hung", expect=ExpectResult(False, ["expected hook 'banner' to run"], True)),
        racy(3, ran("root")),
    ]
    first = racy(None, ran("root", "child", pids=(4400, 4401)), path="sigkill", orphans=orphan)
    second = racy(None, ran("root", pids=(4500,)), path="sigkill", orphans=orphan)
    for case in (first, second):
        case.hooks["flush"] = not_ran()
        case.processes = two_processes()
    return [results(sigterm + [first], env(flask="3.0.3"), scenarios={}),
            results([second], env(flask="3.0.3"), scenarios={})]


def test_repeated_runs_that_disagree_say_how_many_runs_had_each_hook():
    # sigterm: banner in runs 1 and 3, flush in all three, run 2 hung;
    # sigkill: banner in the parent in one file's run, in both processes in the other's
    assert format_compat(repeated()) == EXPECTED_REPEATS


# ---------------------------------------------------------------- stability


def probe_order() -> Results:
    """Two atexit hooks the probe saw start in one order on sigterm, in the other on
    sigkill-child: the cells list them in one order, whichever case comes first."""
    def case(path: str, names: tuple[str, str]) -> CaseResult:
        return CaseResult("probe", path, "exited", hooks={n: ran("root", source="probe") for n in names},
                          probe_order=list(names))
    return results([case("sigkill-child", ("atexit:two", "atexit:one")), case("sigterm", ("atexit:one", "atexit:two"))],
                   env(flask="3.0.3"), scenarios={})


def every_input() -> list[Results]:
    return [results(flask_cases(), env(flask="3.0.3", werkzeug="3.0.1")),
            results(plain_cases(), env(flask="3.0.3", werkzeug="3.0.1"), scenarios={"plain": ""}),
            by_flask("2.10.0", "sigterm", "sigkill", "sigkill-child"),
            by_flask("2.9.1", "sigterm", "sigkill"), *repeated(), probe_order()]


def test_the_same_cases_in_any_order_and_any_files_give_the_same_bytes():
    expected = format_compat(every_input())
    # hooks in the order of the first case in catalogue order (sigterm's), whatever the input order
    assert "| `sigkill-child` | `atexit:one`, `atexit:two` |" in expected.splitlines()
    rng = random.Random(20240611)
    for _ in range(20):
        parts = every_input()
        rng.shuffle(parts)
        for part in parts:
            rng.shuffle(part.cases)
        # the same cases spread over more files of the same environments
        split: list[Results] = []
        for part in parts:
            cut = rng.randint(0, len(part.cases))
            split += [Results(cases=cases, environment=part.environment, tool=part.tool, scenarios=part.scenarios)
                      for cases in (part.cases[:cut], part.cases[cut:])]
        assert format_compat(split) == expected


def test_no_timings_pids_or_ports_reach_the_tables():
    text = format_compat(every_input())
    for number in ("0.31", "0.314", "0.123", "0.05", "0.011", "4100", "4101", "4300", "5000", "5001"):
        assert number not in text, number
    assert "jobs" not in text and "pidfd" not in text  # the harness's settings are no environment


# ---------------------------------------------------------------- hostile text

HOSTILE = "a|b`c`\n<script>alert(1)</script> *x* [l](http://e) &amp; \\|"


def unescaped_pipes(line: str) -> int:
    """Cell separators as GitHub (and markdown-it) split a row: a pipe not right after a backslash."""
    return sum(1 for i, ch in enumerate(line) if ch == "|" and (i == 0 or line[i - 1] != "\\"))


def test_hostile_names_and_evidence_cannot_break_the_table():
    case = CaseResult(HOSTILE, HOSTILE, "exited",
                      hooks={HOSTILE: HookResult(True, HOSTILE, pids=[1], roles=["root"]),
                             "ok": HookResult(False, HOSTILE)},
                      expect=ExpectResult(False, [HOSTILE], True), output_tail=HOSTILE, error=HOSTILE)
    other = CaseResult(HOSTILE, "sigterm", "exited", hooks={HOSTILE: HookResult(False, HOSTILE)})
    for envs in ([env(flask=HOSTILE)], [env(flask=HOSTILE), env(flask="1.0")]):
        parts = [Results([copy.deepcopy(case), copy.deepcopy(other)], e, tool=HOSTILE,
                         scenarios={HOSTILE: HOSTILE}) for e in envs]
        text = format_compat(parts)
        rows = [line for line in text.splitlines() if line.startswith("|")]
        assert len(rows) == 4  # header, alignment, two paths
        assert {unescaped_pipes(row) for row in rows} == {unescaped_pipes(rows[0])}
        assert unescaped_pipes(rows[0]) == len(envs) + 2
        # a Markdown parser agrees: every row has the header's cells, and no HTML
        tokens = MarkdownIt("commonmark").enable("table").parse(text)
        cells: list[int] = []
        for token in tokens:
            if token.type == "tr_open":
                cells.append(0)
            elif token.type in ("th_open", "td_open"):
                cells[-1] += 1
        assert cells == [len(envs) + 1] * 3
        inline = [c for t in tokens for c in t.children or ()]
        kinds = {t.type for t in tokens} | {c.type for c in inline}
        assert not kinds & {"html_inline", "html_block", "link_open", "em_open", "strong_open", "s_open"}
        # the path (once in the table, once per column in the line of failed
        # expectations) and the hook name (once per column) come through whole, as
        # code; a newline became a space
        spans = [c.content for c in inline if c.type == "code_inline"]
        assert spans.count(HOSTILE.replace("\n", " ")) == 1 + 2 * len(envs)


# ---------------------------------------------------------------- the recorded environment


def test_environment_records_the_installed_frameworks_as_importlib_metadata_sees_them():
    expected = {}
    for name in sorted(FRAMEWORKS):
        try:
            expected[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    packages = environment_info()["packages"]
    assert packages == expected
    assert list(packages) == sorted(packages)
    assert "flask" in packages and "werkzeug" in packages  # the test environment installs Flask


# ---------------------------------------------------------------- the command line


def test_an_interrupted_case_has_words_in_the_compatibility_table():
    """`run` writes "interrupted" for the cases a SIGINT stopped; the table has no
    column for it, it says so in words (it raised ValueError)."""
    text = format_compat([Results(cases=[CaseResult("s", "sigterm", "interrupted")])])
    assert "interrupted" in text
    assert "interrupted = the harness was stopped" in text
