"""``run --with SPEC`` and ``bisect``, end to end, against an offline package index:
tiny wheels of ``sp_fixture_pkg`` written in a temp folder (tests/support/wheels.py:
1.x registers an atexit hook that prints "fixture flushed", 2.x does not), installed
by the real installers with ``--find-links DIR --no-index``."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from shutdown_probe.envs import BuiltEnv, IndexOptions, build_env, env_key, installer
from tests.support.cli import run_cli
from tests.support.wheels import write_fixture_scenario, write_wheel

pytestmark = pytest.mark.skipif(installer()[0] != "uv", reason="uv is not installed (the pip path has its own test)")


@pytest.fixture
def index(tmp_path: Path) -> Path:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0", "1.1", "1.2", "2.0", "2.1"):
        write_wheel(wheels, version)
    return wheels


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, str]:
    return {"SHUTDOWN_PROBE_CACHE": str(tmp_path / "cache")}


def _offline(index: Path) -> list[str]:
    return ["--find-links", str(index), "--no-index"]


def test_two_versions_give_one_table_with_a_column_each(tmp_path: Path, index: Path, cache: dict[str, str]) -> None:
    scenario = write_fixture_scenario(tmp_path)
    done = run_cli("run", str(scenario), "--with", "sp_fixture_pkg==1.0", "--with", "sp_fixture_pkg==2.0",
                   *_offline(index), "--json", str(tmp_path / "out.json"), "--compat", str(tmp_path / "compat.md"),
                   cwd=tmp_path, env=cache, timeout=180)
    # 2.0 registers no hook: the scenario's expectation (the hook ran) fails there
    assert done.returncode == 1, done.stderr
    table = (tmp_path / "compat.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| path"))
    assert header == "| path | sp-fixture-pkg 1.0 | sp-fixture-pkg 2.0 |"
    row = next(line for line in table.splitlines() if line.startswith("| `sigint`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert "`flushed`" in cells[1] and "nothing ran" in cells[2]
    assert table in done.stdout  # printed too
    # report --compat makes the same table again from the files, one per spec
    again = run_cli("report", str(tmp_path / "out.sp-fixture-pkg-1.0.json"), str(tmp_path / "out.sp-fixture-pkg-2.0.json"),
                    "--compat", str(tmp_path / "again.md"), cwd=tmp_path)
    assert again.returncode == 1 and (tmp_path / "again.md").read_text() == table
    for version in ("1.0", "2.0"):
        data = json.loads((tmp_path / f"out.sp-fixture-pkg-{version}.json").read_text())
        env = data["environment"]
        assert env["spec"] == f"sp_fixture_pkg=={version}"
        assert env["packages"] == {"sp-fixture-pkg": version}  # read from the environment itself
        assert env["interpreter"].startswith(cache["SHUTDOWN_PROBE_CACHE"])
    # the second run builds nothing
    again = run_cli("run", str(scenario), "--with", "sp_fixture_pkg==1.0", *_offline(index), cwd=tmp_path,
                    env=cache, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "'sp_fixture_pkg==1.0': cached" in again.stderr


def test_a_spec_that_cannot_be_installed_is_a_column_that_says_why(tmp_path: Path, index: Path,
                                                                   cache: dict[str, str]) -> None:
    scenario = write_fixture_scenario(tmp_path)
    done = run_cli("run", str(scenario), "--with", "sp_fixture_pkg==1.0", "--with", "sp_fixture_pkg==9.9",
                   *_offline(index), "--json", str(tmp_path / "out.json"), cwd=tmp_path, env=cache, timeout=180)
    assert done.returncode == 2, done.stderr  # the docs' policy: a spec not installed is exit 2
    assert "Traceback" not in done.stderr
    assert "--with 'sp_fixture_pkg==9.9': cannot install it:" in done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("| path"))
    assert header.startswith("| path | sp-fixture-pkg 1.0 | sp_fixture_pkg==9.9: not installed (")
    assert "9.9" in header.split("not installed (", 1)[1]  # the installer's own words name the version
    row = next(line for line in done.stdout.splitlines() if line.startswith("| `sigint`"))
    assert row.rstrip().endswith("| not installed |")
    failed = json.loads((tmp_path / "out.sp-fixture-pkg-9.9.json").read_text())
    assert failed["environment"]["unavailable"] and [c["outcome"] for c in failed["cases"]] == ["skipped"]


def test_bisect_finds_the_first_version_without_the_hook(tmp_path: Path, index: Path, cache: dict[str, str]) -> None:
    write_wheel(index, "1.5", requires_python=">=4")  # listed in the folder, refused by the installer
    scenario = write_fixture_scenario(tmp_path)
    out = tmp_path / "bisect"
    done = run_cli("bisect", str(scenario), "--package", "sp_fixture_pkg", *_offline(index),
                   "--results", str(out), cwd=tmp_path, env=cache, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "the verdicts change between 1.2 and 2.0" in done.stdout
    assert "1.5: skipped: cannot install it:" in done.stderr
    # each neighbour's row, side by side: a column per version, the hook in 1.2's only
    header = next(line for line in done.stdout.splitlines() if line.startswith("| path"))
    assert header.split("|")[2:4] == [" sp-fixture-pkg 1.2 ", " sp-fixture-pkg 2.0 "], header
    summary = json.loads((out / "bisect.json").read_text())
    assert summary["versions"] == ["1.0", "1.1", "1.2", "1.5", "2.0", "2.1"]
    assert (summary["last_same"], summary["first_changed"]) == ("1.2", "2.0")
    assert summary["skipped_between"] == ["1.5"]
    states = {s["version"]: s["state"] for s in summary["steps"]}
    assert states["1.5"] == "skipped" and states["1.0"] == states["2.1"] == "decided"
    for step in summary["steps"]:
        if step["state"] == "decided":  # each step's cases are kept: the run can be checked again
            data = json.loads(Path(step["results_file"]).read_text())
            assert data["environment"]["packages"] == {"sp-fixture-pkg": step["version"]}


def test_bisect_between_versions_that_agree_finds_no_flip(tmp_path: Path, index: Path,
                                                         cache: dict[str, str]) -> None:
    scenario = write_fixture_scenario(tmp_path)
    done = run_cli("bisect", str(scenario), "--package", "sp_fixture_pkg", "--from", "1.0", "--to", "1.2",
                   *_offline(index), "--results", str(tmp_path / "b"), cwd=tmp_path, env=cache, timeout=180)
    assert done.returncode == 1, done.stderr
    assert "no flip: 1.0 and 1.2 have the same verdicts" in done.stdout


def test_bisect_says_a_flaky_step_and_skips_it(tmp_path: Path, index: Path, cache: dict[str, str]) -> None:
    # 1.1 here registers its hook on the first run only (a marker file): its two runs disagree
    marker = tmp_path / "seen"
    source = (f"import atexit, os\nMARK = {str(marker)!r}\n\ndef install():\n"
              "    if not os.path.exists(MARK):\n        open(MARK, 'w').close()\n"
              "        atexit.register(lambda: print('fixture flushed', flush=True))\n")
    (index / "sp_fixture_pkg-1.1-py3-none-any.whl").unlink()
    (index / "sp_fixture_pkg-1.2-py3-none-any.whl").unlink()  # 1.1 is then the one version between the ends
    write_wheel(index, "1.1", source=source)
    scenario = write_fixture_scenario(tmp_path)
    done = run_cli("bisect", str(scenario), "--package", "sp_fixture_pkg", "--from", "1.0", "--to", "2.0",
                   "--repeat", "2", "--jobs", "1", *_offline(index), "--results", str(tmp_path / "b"),
                   cwd=tmp_path, env=cache, timeout=240)
    assert "1.1: flaky, skipped: its 2 runs disagree" in done.stderr, done.stderr
    summary = json.loads((tmp_path / "b" / "bisect.json").read_text())
    assert {s["version"]: s["state"] for s in summary["steps"]}["1.1"] == "flaky"
    # the flip is then known only to lie between 1.0 and 2.0, and the output says 1.1 was skipped
    assert (summary["last_same"], summary["first_changed"], summary["skipped_between"]) == ("1.0", "2.0", ["1.1"])
    assert done.returncode == 0 and "skipped: 1.1" in done.stdout


def test_bisect_without_the_index_is_one_line_and_status_2(tmp_path: Path, cache: dict[str, str]) -> None:
    scenario = write_fixture_scenario(tmp_path)
    # port 9 (discard) on the loopback: nothing listens, the connection is refused at once
    done = run_cli("bisect", str(scenario), "--package", "sp_fixture_pkg", "--index-url", "http://127.0.0.1:9/simple",
                   cwd=tmp_path, env=cache)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "the index did not answer" in done.stderr
    assert "Traceback" not in done.stderr


def test_concurrent_builds_of_one_spec_share_one_environment(tmp_path: Path, index: Path) -> None:
    root = tmp_path / "cache"
    options = IndexOptions(find_links=(str(index),), no_index=True)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(build_env("sp_fixture_pkg==1.1", options, root)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(e, BuiltEnv) for e in got) and len(got) == 3
    envs = [e for e in got if isinstance(e, BuiltEnv)]
    assert sorted(e.cached for e in envs) == [False, True, True]  # the lock: one built it
    assert len({e.folder for e in envs}) == 1


def test_an_interrupted_build_is_never_reused(tmp_path: Path, index: Path) -> None:
    root = tmp_path / "cache"
    options = IndexOptions(find_links=(str(index),), no_index=True)
    # what a build killed half-way leaves: the folder, without ready.json
    half = root / env_key("sp_fixture_pkg==1.0", options, installer()[0])
    (half / "bin").mkdir(parents=True)
    (half / "bin" / "python").write_text("not a python")
    env = build_env("sp_fixture_pkg==1.0", options, root)
    assert isinstance(env, BuiltEnv) and not env.cached
    assert env.packages == {"sp-fixture-pkg": "1.0"}
    again = build_env("sp_fixture_pkg==1.0", options, root)
    assert isinstance(again, BuiltEnv) and again.cached


def test_without_uv_venv_and_pip_build_it(tmp_path: Path, index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUTDOWN_PROBE_INSTALLER", "pip")
    options = IndexOptions(find_links=(str(index),), no_index=True)
    env = build_env("sp_fixture_pkg==2.0", options, tmp_path / "cache")
    assert isinstance(env, BuiltEnv), env
    assert env.installer == "pip" and env.packages == {"sp-fixture-pkg": "2.0"}
    missing = build_env("sp_fixture_pkg==7.0", options, tmp_path / "cache")
    assert not isinstance(missing, BuiltEnv) and "7.0" in missing.reason


def test_the_plugin_runs_every_item_once_per_spec(pytester: pytest.Pytester, index: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = write_fixture_scenario(pytester.path)
    env = {"SHUTDOWN_PROBE_CACHE": str(tmp_path / "cache"), "SHUTDOWN_PROBE_FIND_LINKS": str(index),
           "SHUTDOWN_PROBE_NO_INDEX": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = pytester.runpytest_subprocess(str(scenario), "-v", "-p", "no:cacheprovider",
                                           "--shutdown-probe-with", "sp_fixture_pkg==1.0",
                                           "--shutdown-probe-with", "sp_fixture_pkg==2.0",
                                           "--shutdown-probe-with", "sp_fixture_pkg==9.9")
    result.stdout.fnmatch_lines(["*sigint?sp_fixture_pkg==1.0? PASSED*", "*sigint?sp_fixture_pkg==2.0? FAILED*",
                                 "*sigint?sp_fixture_pkg==9.9? FAILED*"])
    result.stdout.fnmatch_lines(["*--shutdown-probe-with 'sp_fixture_pkg==9.9': cannot install it:*"])
    assert result.ret == 1


def test_the_environment_s_console_scripts_come_first_on_path(tmp_path: Path, index: Path,
                                                              cache: dict[str, str]) -> None:
    # the app is the environment's console script, named bare: the file is checked, and
    # the app started, with that environment's bin/ first on PATH; it prints its version
    scenario = tmp_path / "script.toml"
    scenario.write_text('name = "script"\npaths = ["sigterm"]\n\n[app]\ncommand = ["sp-fixture-version"]\n'
                        "ready = { log = 'sp_fixture_pkg 1\\.1' }\n")
    done = run_cli("run", str(scenario), "--with", "sp_fixture_pkg==1.1", *_offline(index),
                   "--json", str(tmp_path / "o.json"), cwd=tmp_path, env=cache, timeout=120)
    assert done.returncode == 0, done.stderr
    case = json.loads((tmp_path / "o.sp-fixture-pkg-1.1.json").read_text())["cases"][0]
    assert case["outcome"] != "not-ready" and case["ready_s"] is not None  # its line was seen


@pytest.mark.parametrize("spec, said", [("", "an empty spec"), ("'uvicorn", "No closing quotation")])
def test_a_spec_that_is_no_requirement_list_is_one_line_and_status_2(tmp_path: Path, spec: str, said: str,
                                                                     cache: dict[str, str]) -> None:
    scenario = write_fixture_scenario(tmp_path)
    done = run_cli("run", str(scenario), "--with", spec, cwd=tmp_path, env=cache)
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr
