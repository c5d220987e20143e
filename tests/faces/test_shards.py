"""``run --shard K/N`` and ``report`` merging the shards (shutdown_probe/shards.py).

The central claim is measured with real processes: a small scenario run whole and as
three shards gives, once ``report`` merges the shards, the same cases with the same
typed results (paths, outcomes, exits, hooks seen) and the same compatibility table.
The dealing rule is checked on its own (every case in exactly one shard, sizes within
one, repeats together, independent of the order the files are given in), and every
way a set of shards can fail to make a whole run is one line and exit status 2.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from shutdown_probe.results import CaseResult, Results, load_results
from shutdown_probe.runner import expand_cases
from shutdown_probe.shards import Shard, ShardError, case_key, merge, parse_shard, select
from tests.support import TARGETS, run_cli, write_scenario
from tests.support.cases import load_text

# plain.py: one process, no handlers of its own; its cleanup prints a line per step.
# The five signals end it five different ways (SIGINT: KeyboardInterrupt, finally and
# atexit run; the others: the default action, nothing runs), so a case put in the
# wrong place, lost or doubled by the merge changes what is compared.
SCENARIO = '''
name = "{name}"
paths = {paths}
[app]
command = ["{{python}}", "{target}", "{{workdir}}"]
ready = {{ file = "{{workdir}}/ready" }}
stop_timeout = 10
[hooks.atexit]
log = "atexit ran"
[hooks.finally]
log = "finally ran"
'''
FILES = {"a.toml": ("plain-a", ["sigint", "sigterm", "sigkill", "sighup", "sigquit"]),
         "b.toml": ("plain-b", ["sigterm", "sigint"])}
REPEAT = 2
N = 3


def scenario_text(name: str, paths: list[str]) -> str:
    return SCENARIO.format(name=name, paths=json.dumps(paths), target=TARGETS / "plain.py")


def typed(case: CaseResult) -> tuple[object, ...]:
    """What a case found, without its timings, pids and ports."""
    return (case.scenario, case.path, case.attempt, case.outcome, case.exit.get("returncode"),
            case.exit.get("signal"), tuple(sorted((name, h.ran, tuple(sorted(h.roles))) for name, h in case.hooks.items())),
            tuple(sorted((p.role, p.returncode, p.signal) for p in case.processes)), len(case.orphans))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario run whole (whole.json) and as shards 1/3..3/3 (shard-K.json)."""
    folder = tmp_path_factory.mktemp("shards")
    files = [str(write_scenario(folder, scenario_text(*spec), name)) for name, spec in FILES.items()]
    whole = run_cli("run", *files, "--repeat", str(REPEAT), "--json", str(folder / "whole.json"), "-q")
    assert whole.returncode == 0, whole.stderr[-3000:]
    for k in range(1, N + 1):
        done = run_cli("run", *files, "--repeat", str(REPEAT), "--shard", f"{k}/{N}",
                       "--json", str(folder / f"shard-{k}.json"), "-q")
        assert done.returncode == 0, done.stderr[-3000:]
    return folder


def shard_files(folder: Path) -> list[str]:
    return [str(folder / f"shard-{k}.json") for k in range(1, N + 1)]


@pytest.mark.timeout(300)
def test_three_shards_merged_equal_the_whole_run_case_for_case(runs):
    whole = load_results(runs / "whole.json")
    assert len(whole.cases) == 7 * REPEAT
    parts = [load_results(f) for f in shard_files(runs)]
    # each shard ran only its own part: 7 paths dealt 3, 2, 2, with both runs of each
    assert sorted(len(p.cases) for p in parts) == [2 * REPEAT, 2 * REPEAT, 3 * REPEAT]
    for part in parts:
        keys = [case_key(c.scenario, c.path) for c in part.cases]
        assert all(keys.count(k) == REPEAT for k in keys)
    [merged] = merge(list(zip(shard_files(runs), parts)))
    assert [typed(c) for c in merged.cases] == [typed(c) for c in whole.cases]
    assert "shard" not in merged.environment and "shard" in parts[0].environment
    # the documented behaviour the comparison rests on, not only agreement: SIGINT
    # runs finally and atexit, SIGKILL runs neither
    by_path = {(c.scenario, c.path): c for c in merged.cases}
    assert by_path["plain-a", "sigint"].hooks["atexit"].ran and by_path["plain-a", "sigint"].hooks["finally"].ran
    assert not by_path["plain-a", "sigkill"].hooks["atexit"].ran
    assert by_path["plain-a", "sigkill"].exit.get("signal") == "SIGKILL"


@pytest.mark.timeout(300)
def test_report_gives_the_same_tables_from_the_shards_as_from_the_whole_run(runs, tmp_path):
    whole = run_cli("report", str(runs / "whole.json"), "--compat", str(tmp_path / "whole.md"))
    sharded = run_cli("report", *shard_files(runs), "--compat", str(tmp_path / "sharded.md"))
    assert whole.returncode == sharded.returncode == 0, sharded.stderr
    text = (tmp_path / "sharded.md").read_text()
    assert text == (tmp_path / "whole.md").read_text()
    assert "Columns: scenarios" in text  # one environment: the shards are not columns of their own


def test_the_record_names_the_shard_and_its_cases(runs):
    records = [json.loads(Path(f).read_text())["environment"]["shard"] for f in shard_files(runs)]
    assert [(r["index"], r["total"], r["of"]) for r in records] == [(k, N, 7) for k in range(1, N + 1)]
    assert len({r["run"] for r in records}) == 1
    dealt = [key for r in records for key in r["cases"]]
    assert sorted(dealt) == sorted(f"{name}::{p}" for name, paths in FILES.values() for p in paths)


def _hostile(runs: Path, tmp_path: Path, k: int, change) -> str:
    data = json.loads((runs / f"shard-{k}.json").read_text())
    change(data)
    path = tmp_path / f"changed-{k}.json"
    path.write_text(json.dumps(data))
    return str(path)


def _doubled_case(data: dict) -> None:
    data["cases"].append(copy.deepcopy(data["cases"][0]))


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("given", "phrase"), [
    pytest.param(lambda runs, tmp: shard_files(runs)[:2], "shard(s) 3/3 of this run missing", id="missing"),
    pytest.param(lambda runs, tmp: [*shard_files(runs), shard_files(runs)[1]], "shard 2/3 was given twice",
                 id="twice"),
    pytest.param(lambda runs, tmp: [*shard_files(runs)[:2], _hostile(runs, tmp, 3, lambda d: d["cases"].pop())],
                 "lacks 1 case(s) its record lists", id="interrupted-shard"),
    pytest.param(lambda runs, tmp: [*shard_files(runs)[:2], _hostile(runs, tmp, 3, _doubled_case)],
                 "is in the file twice", id="case-twice-in-a-shard"),
    pytest.param(lambda runs, tmp: [*shard_files(runs)[:2], _hostile(
        runs, tmp, 3, lambda d: d["cases"].append(json.loads((runs / "shard-1.json").read_text())["cases"][0]))],
                 "which another shard of the run was dealt", id="case-in-two-shards"),
    pytest.param(lambda runs, tmp: [*shard_files(runs)[:2], _hostile(
        runs, tmp, 3, lambda d: d["environment"]["shard"].update(index=7))],
                 "not a shard K/N", id="index-past-total"),
    pytest.param(lambda runs, tmp: [*shard_files(runs)[:2], _hostile(
        runs, tmp, 3, lambda d: d["environment"]["shard"].update(run="0123456789abcdef"))],
                 "shard(s) 3/3 of this run missing", id="another-run"),
    pytest.param(lambda runs, tmp: [*shard_files(runs)[:2], _hostile(
        runs, tmp, 3, lambda d: d["environment"]["shard"].update(total="3"))],
                 "environment.shard.total: expected a whole number", id="mistyped"),
])
def test_shards_that_do_not_make_a_whole_run_are_one_line_and_exit_2(runs, tmp_path, given, phrase):
    done = run_cli("report", *given(runs, tmp_path), "--compat", str(tmp_path / "out.md"))
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("shutdown-probe: ") and phrase in line, line
    assert not (tmp_path / "out.md").exists()  # nothing merged silently


@pytest.mark.parametrize("value", ["0/3", "4/3", "x", "3", "1/0", "1/3/3", "١/٣", "99999999999999/3"])
def test_a_bad_shard_value_is_one_line_and_exit_2(tmp_path, value):
    path = write_scenario(tmp_path, scenario_text("p", ["sigterm"]))
    done = run_cli("run", str(path), "--shard", value)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "--shard: expected K/N" in line and "Traceback" not in done.stderr, line
    with pytest.raises(ShardError):
        parse_shard(value)


@pytest.mark.timeout(120)
def test_a_shard_with_no_cases_says_so_and_still_records_itself(tmp_path):
    path = write_scenario(tmp_path, scenario_text("p", ["sigterm", "sigkill"]))
    out = tmp_path / "s.json"
    done = run_cli("run", str(path), "--shard", "3/3", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "shard 3/3 has no cases (the run has 2 path(s) in all)" in done.stderr
    results = load_results(out)
    assert results.cases == [] and results.environment["shard"]["cases"] == []


# ---------------------------------------------------------------- the dealing rule, on its own


def _cases(tmp_path: Path, order: list[str], repeat: int = 1):
    scenarios = [load_text(tmp_path, scenario_text(*FILES[name])) for name in order]
    return expand_cases(scenarios, repeat=repeat)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 13])
def test_every_case_is_in_exactly_one_shard_with_all_its_repeats(tmp_path, n):
    cases = _cases(tmp_path, ["a.toml", "b.toml"], repeat=3)
    seen: list[str] = []
    sizes = []
    for k in range(1, n + 1):
        part, info = select(cases, Shard(k, n))
        ids = [c.id for c in part]
        seen += ids
        sizes.append(len(info["cases"]))
        assert len(ids) == 3 * len(info["cases"])  # every repeat of a path is in its shard
        assert [case_key(c.scenario.name, c.path.name) for c in part.distinct()] == info["cases"]
    assert sorted(seen) == sorted(c.id for c in cases)
    assert max(sizes) - min(sizes) <= 1


def test_the_dealing_does_not_depend_on_the_order_of_the_files(tmp_path):
    one = _cases(tmp_path, ["a.toml", "b.toml"])
    other = _cases(tmp_path, ["b.toml", "a.toml"])
    for k in (1, 2, 3):
        assert sorted(c.id for c in select(one, Shard(k, 3))[0]) == sorted(c.id for c in select(other, Shard(k, 3))[0])


def test_whole_runs_pass_through_the_merge_untouched():
    whole = Results()
    assert merge([("a.json", whole)]) == [whole]


# ---------------------------------------------------------------- the pytest plugin's --shutdown-probe-shard


@pytest.mark.timeout(300)
def test_plugin_shards_merged_equal_the_whole_session(pytester):
    from tests.faces.test_pytest_plugin import plain_toml

    pytester.makefile(".toml", a=plain_toml(["sigint", "sigterm", "sigkill", "sighup"]),
                      b=plain_toml(["sigterm", "sigint"]))
    pytester.makepyfile(test_other="def test_not_a_scenario():\n    pass\n")
    whole = pytester.runpytest_subprocess("--shutdown-probe-json", "whole.json", timeout=120)
    whole.assert_outcomes(passed=7)
    for k in (1, 2, 3):
        # shard 2 through two xdist workers: the record comes back with their output
        extra = ["-n", "2"] if k == 2 else []
        done = pytester.runpytest_subprocess("--shutdown-probe-shard", f"{k}/3", "--shutdown-probe-json",
                                             f"s{k}.json", *extra, timeout=120)
        # 6 scenario items dealt 2 + 2 + 2; the other test runs in shard 1 only
        done.assert_outcomes(passed=3 if k == 1 else 2, deselected=None if k == 2 else (4 if k == 1 else 5))
    files = [str(pytester.path / f"s{k}.json") for k in (1, 2, 3)]
    [merged] = merge([(f, load_results(f)) for f in files])
    expected = load_results(pytester.path / "whole.json")
    assert sorted(typed(c) for c in merged.cases) == sorted(typed(c) for c in expected.cases)
    assert [(c.scenario, c.path) for c in merged.cases] == [(c.scenario, c.path) for c in expected.cases]
    missing = run_cli("report", *files[:2])
    assert missing.returncode == 2 and "shard(s) 3/3 of this run missing" in missing.stderr


def test_plugin_bad_shard_value_is_a_usage_error(pytester):
    result = pytester.runpytest_subprocess("--shutdown-probe-shard", "4/3", timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--shutdown-probe-shard: expected K/N" in result.stderr.str()
