"""Reports through the real command line: ``report`` on results files (good, malformed,
unreadable, from a newer harness, too large for the memory) and ``run`` writing JSON
and JUnit from a real target. What the loader and the renderers make of the same data
is specified, in process, in tests/unit/ (test_results_loading.py, test_compat.py,
test_junit.py, test_claims.py); these check the face: exit status, one line on
stderr, the files written."""

from __future__ import annotations

import copy
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from shutdown_probe.errors import ResultsError
from shutdown_probe.results import CaseResult, HookResult, load_results
from tests.support import ROOT, TARGETS, run_cli, write_scenario
from tests.unit.test_compat import PLATFORM, TOOL, env, not_ran, ran, results
from tests.unit.test_junit import by_hand
from tests.unit.test_results_loading import BAD, BASE, FIXTURE, kept, mutated, write


# ---------------------------------------------------------------- results files (test_results_loading.py)

def test_the_fixture_loads_and_renders():
    results = load_results(FIXTURE)
    assert len(results.cases) == 10
    assert kept(BASE, results.to_dict())  # nothing lost or changed on the way in
    assert run_cli("report", str(FIXTURE)).returncode == 1  # stubborn::sigterm's expectation failed


@pytest.mark.parametrize(("data", "key", "phrase"), [pytest.param(d, k, p, id=i) for i, d, k, p in BAD])
def test_a_malformed_results_file_is_one_line_naming_the_key(tmp_path, data, key, phrase):
    path = tmp_path / "results.json"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        write(tmp_path, data)
    done = run_cli("report", str(path))
    assert done.returncode == 2, done.stderr[-3000:]
    [line] = done.stderr.splitlines()
    where = f"shutdown-probe: {path}: {key}: " if key else f"shutdown-probe: {path}: "
    assert line.startswith(where) and phrase in line, line
    assert done.stdout == ""
    with pytest.raises(ResultsError) as info:
        load_results(path)
    assert info.value.key == key


@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link", "directory"])
def test_a_results_path_that_is_not_a_regular_file_is_one_line(tmp_path, kind):
    path = tmp_path / "results.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero-link":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    done = run_cli("report", str(path), timeout=30)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"shutdown-probe: {path}: is ") and "not a regular file" in line, line


def test_a_file_from_a_newer_harness_loads_ignoring_what_it_does_not_know(tmp_path):
    def newer(data):
        data["written_by_v1_5"] = {"anything": [1, {"deep": True}]}
        case = data["cases"][0]
        case["new_case_key"] = [1, 2, 3]
        next(iter(case["hooks"].values()))["confidence"] = 0.9
        case["processes"][0]["cgroup"] = "/system.slice/x"
        case["traffic"]["requests"][0]["http_version"] = "1.1"
        case["trigger"]["via"] = {"kind": "pidfd"}  # a free-form table keeps new keys
        data["environment"]["container"] = {"runtime": "podman"}

    path = write(tmp_path, mutated(newer))
    results = load_results(path)
    assert results.cases[0].trigger["via"] == {"kind": "pidfd"}
    assert not hasattr(results.cases[0], "new_case_key")
    assert kept(BASE["cases"][1:], results.to_dict()["cases"][1:])
    done = run_cli("report", str(path), "--markdown", str(tmp_path / "r.md"), "--html", str(tmp_path / "r.html"))
    assert done.returncode == 1 and done.stderr == "", done.stderr


def test_a_file_too_large_for_the_memory_available_is_one_line(tmp_path):
    """Reading takes about five times the file's size. `report` under an address-space
    limit (RLIMIT_AS) that its start-up fits in, and a 40 MB file's parse does not:
    the kernel refuses the memory, Python raises MemoryError, the user gets one line."""
    import resource
    import subprocess
    import sys

    data = copy.deepcopy(BASE)
    data["cases"] = data["cases"] * 500  # 5,000 cases, about 40 MB
    path = write(tmp_path, json.dumps(data, indent=2))
    del data

    def run_with_limit(limit: int | None, file: Path) -> subprocess.CompletedProcess:
        def cap() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        script = "import sys; from shutdown_probe import cli; sys.exit(cli.main(sys.argv[1:]))"
        return subprocess.run([sys.executable, "-c", script, "report", str(file)], capture_output=True, text=True,
                              timeout=120, preexec_fn=cap, cwd=ROOT, stdin=subprocess.DEVNULL)

    # what the process needs to report the small fixture, measured: its peak virtual size
    probe = subprocess.run([sys.executable, "-c", "import sys; from shutdown_probe import cli; "
                            "cli.main(['report', sys.argv[1]]); "
                            "print([l for l in open('/proc/self/status') if l.startswith('VmPeak')][0].split()[1])",
                            str(FIXTURE)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    small_peak = int(probe.stdout.split()[-1]) * 1024
    assert run_with_limit(small_peak + (64 << 20), FIXTURE).returncode == 1  # the fixture fits
    done = run_with_limit(small_peak + (64 << 20), path)
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.splitlines() == [f"shutdown-probe: {path}: too large to read in the memory available"]


# ---------------------------------------------------------------- compatibility tables (test_compat.py)

def test_report_compat_writes_the_compat_tables_of_files_from_two_pythons(tmp_path):
    def case(hooks: dict[str, HookResult]) -> CaseResult:
        return CaseResult("demo", "sigterm", "exited", hooks=hooks, duration_s=0.2)
    files = []
    for python, hook in (("3.12.1", not_ran()), ("3.11.7", ran("root"))):
        part = results([case({"bye": hook})], env(python, uvicorn="0.30.1"), scenarios={"demo": "A demo"})
        files.append(tmp_path / f"py{python}.json")
        files[-1].write_text(json.dumps(part.to_dict()))
    md = tmp_path / "docs" / "compat.md"
    done = run_cli("report", *map(str, files), "--compat", str(md), "--matrix")
    assert done.returncode == 0, done.stderr
    assert "sigterm" in done.stdout  # --matrix: the matrix is printed too
    assert md.read_text() == (
        "## demo\n\nA demo\n\n"
        "| path | Python 3.11.7 | Python 3.12.1 |\n|---|---|---|\n| `sigterm` | `bye` | nothing ran |\n\n"
        "Legend: cells name the hooks that ran.\n\n"
        f"Columns: environments; every column: Uvicorn 0.30.1, {PLATFORM}, {TOOL}.\n")


# ---------------------------------------------------------------- JUnit from a real run (test_junit.py)

# plain.py registers an atexit hook that prints "atexit ran". SIGINT raises
# KeyboardInterrupt, so the interpreter exits normally and runs it; SIGTERM's default
# action ends the process in the kernel, so it cannot run (CPython's atexit docs).
PLAIN = f'''
paths = ["sigint", "sigterm"]
[app]
command = ["{{python}}", "{TARGETS / "plain.py"}", "{{workdir}}"]
ready = {{ file = "{{workdir}}/ready" }}
stop_timeout = 10
[hooks.atexit]
log = "atexit ran"
[expect.sigint]
ran = ["atexit"]
[expect.sigterm]
ran = ["atexit"]
'''


@pytest.mark.timeout(90)
def test_run_junit_matches_the_runs_results_and_report_renders_the_same(tmp_path):
    scenario = write_scenario(tmp_path, PLAIN, "plain.toml")
    saved, junit = tmp_path / "r.json", tmp_path / "r.xml"
    done = run_cli("run", str(scenario), "--json", str(saved), "--junit", str(junit))
    assert done.returncode == 1, done.stderr  # the SIGTERM expectation cannot hold
    data = json.loads(saved.read_text())
    root = ET.parse(junit).getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "plain" and suite.get("tests") == "2"
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("1", "0", "0")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == [c["path"] for c in data["cases"]] == ["sigint", "sigterm"]
    for record in data["cases"]:
        assert cases[record["path"]].get("time") == f"{record['wall_s']:.3f}"
        props = {p.get("name"): p.get("value") for p in cases[record["path"]].find("properties")}
        assert props["shutdown_probe.hook.atexit"] == ("✓" if record["hooks"]["atexit"]["ran"] else "✗")
    assert not cases["sigint"].findall("failure")
    (failure,) = cases["sigterm"].findall("failure")
    assert failure.get("message").startswith("expected hook 'atexit' to run, it did not")
    assert "atexit ran" in cases["sigint"].find("system-out").text

    again = tmp_path / "again.xml"
    done = run_cli("report", str(saved), "--junit", str(again))
    assert done.returncode == 1, done.stderr
    assert again.read_text() == junit.read_text()  # a pure function of the results


def test_report_junit_that_cannot_be_written_is_one_line_and_exit_2(tmp_path):
    saved = tmp_path / "r.json"
    saved.write_text(by_hand().to_json())
    (tmp_path / "a-file").write_text("")
    bad, html = tmp_path / "a-file" / "r.xml", tmp_path / "r.html"
    done = run_cli("report", str(saved), "--junit", str(bad), "--html", str(html))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"shutdown-probe: --junit {bad}: cannot write: ")
    assert html.read_text().startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------- claims from a real target (test_claims.py)

TARGET = r'''
import os, signal, sys
def bye(*_):
    print("[pid %d] bye" % os.getpid(), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
while True:
    signal.pause()
'''


def test_run_shows_a_confirmed_and_a_refuted_claim_from_a_real_target(tmp_path):
    (tmp_path / "target.py").write_text(TARGET)
    path = write_scenario(tmp_path, '''
paths = ["sigterm", "sigkill"]
[app]
command = ["{python}", "target.py"]
ready = { log = "^ready$" }
stop_timeout = 3
[hooks.bye]
log = '\\[pid (?P<pid>\\d+)\\] bye'
[expect.sigterm]
claim = "a SIGTERM handler that calls sys.exit lets cleanup run"
ran = ["bye"]
exit = 0
[expect.sigkill]
claim = "cleanup runs even on SIGKILL"
ran = ["bye"]
''')
    out = tmp_path / "out.json"
    done = run_cli("run", str(path), "--json", str(out), "--jobs", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    text = " ".join(done.stdout.split())
    assert "claim ✓ sigterm: a SIGTERM handler that calls sys.exit lets cleanup run — confirmed" in text
    assert "claim ✗ sigkill: cleanup runs even on SIGKILL — refuted" in text
    cases = {c["path"]: c["expect"] for c in json.loads(out.read_text())["cases"]}
    assert cases["sigterm"]["verdict"] == "confirmed"
    assert cases["sigterm"]["evidence"][0].startswith("hook 'bye' ran in root: stdout line ")
    assert cases["sigkill"]["verdict"] == "refuted"
    assert cases["sigkill"]["failures"] == ["expected hook 'bye' to run, it did not (no output line matched "
                                            r"'\[pid (?P<pid>\d+)\] bye')"]  # the regex as written
