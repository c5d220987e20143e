"""The probe inside other interpreters than the harness's (issue 25): a scenario whose
command runs the oldest (3.8) or the newest installed CPython gets the same atexit
hooks, attributed to the same processes, and the same injected exits. A Python older
than 3.8 cannot load the probe, and the case says so (a ``not-loaded`` note).

The interpreters are looked for where pyenv installs them and on PATH; a version that
is not installed skips its test and says which.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shutdown_probe import CaseResult
from tests.support import TARGETS, exit_of, proc, run_path
from shutdown_probe.render import format_terminal
from shutdown_probe.results import Results
from shutdown_probe.scenario import make_scenario

OLDEST, NEWEST_KNOWN = (3, 8), (3, 13)


def _installed() -> dict[tuple[int, int], str]:
    """Every CPython found, by (major, minor): pyenv's versions, then python3.X on PATH."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found: dict[tuple[int, int], str] = {}
    candidates = [str(p) for p in sorted(root.glob("versions/3.*/bin/python"))]
    candidates += [w for m in range(6, 20) if (w := shutil.which(f"python3.{m}"))]
    for exe in candidates:
        done = subprocess.run([exe, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)
        words = done.stdout.split()
        if done.returncode == 0 and len(words) == 3 and words[0] == "cpython":
            found.setdefault((int(words[1]), int(words[2])), exe)
    return found


INSTALLED = _installed()
NEWEST = max(INSTALLED, default=NEWEST_KNOWN)


def python(version: tuple[int, int]) -> str:
    exe = INSTALLED.get(version)
    if exe is None:
        pytest.skip(f"CPython {version[0]}.{version[1]} is not installed (not in pyenv's versions, "
                    f"no python{version[0]}.{version[1]} on PATH)")
    return exe


def family_case(exe: str, path: str, *args: str) -> CaseResult:
    sc = make_scenario("family", command=[exe, str(TARGETS / "probe_family.py"), "{workdir}", *args],
                       ready={"file": "{workdir}/ready"}, paths=[path], stop_timeout=10, ready_timeout=20)
    return run_path(sc, path)


def printed_pid(result: CaseResult, name: str) -> int:
    m = re.search(rf"^{name} (\d+)$", result.output_tail, re.M)
    assert m, f"no '{name} PID' line in {result.output_tail!r}"
    return int(m.group(1))


def ran_in(result: CaseResult) -> dict[str, list[int]]:
    return {name: hook.pids for name, hook in result.hooks.items() if name.startswith("atexit:") and hook.ran}


VERSIONS = [pytest.param(OLDEST, id="oldest-3.8"), pytest.param(NEWEST, id="newest")]


@pytest.mark.parametrize("version", VERSIONS)
def test_each_process_s_atexit_hook_is_found_in_that_process(version):
    exe = python(version)
    result = family_case(exe, "sigterm", "fork")
    assert result.outcome == "exited", (result.error, result.output_tail)
    assert result.exit == exit_of(0)
    assert result.probe_notes == []
    root = proc(result, "root")
    assert root.cmdline.split()[0] == exe  # the case really ran that interpreter
    parent, spawned, forked = (printed_pid(result, name) for name in ("parent", "spawned", "forked"))
    assert root.pid == parent
    assert ran_in(result) == {"atexit:parent_hook": [parent], "atexit:spawned_hook": [spawned],
                              "atexit:forked_hook": [forked]}
    assert result.hooks["atexit:parent_hook"].roles == ["root"]
    children = {p.pid: p.role for p in result.processes if p.role != "root"}
    for name, pid in (("spawned", spawned), ("forked", forked)):
        assert result.hooks[f"atexit:{name}_hook"].roles == [children[pid]], (name, result.processes)
        assert result.hooks[f"atexit:{name}_hook"].registered_pids == [pid]
        assert f"{name}_hook ran in {pid}" in result.output_tail
    assert result.hooks["atexit:forked_hook"].kinds == ["fork-child"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path, child_hook_runs", [("inject-sys-exit", True), ("inject-os-exit", False)])
def test_an_injected_exit_ends_the_child_from_inside(version, path, child_hook_runs):
    """SystemExit in the child's main thread runs its hook; os._exit skips it (the atexit
    docs). Either way the parent's wait returns and it ends normally, running its own."""
    exe = python(version)
    result = family_case(exe, path)
    assert result.outcome == "exited", (result.error, result.output_tail)
    assert result.probe_notes == []
    parent, spawned = printed_pid(result, "parent"), printed_pid(result, "spawned")
    expected = {"atexit:parent_hook": [parent]}
    if child_hook_runs:
        expected["atexit:spawned_hook"] = [spawned]
    assert ran_in(result) == expected
    assert result.hooks["atexit:spawned_hook"].registered_pids == [spawned]
    assert [p.returncode for p in result.processes if p.pid == spawned] == [0]


def test_a_python_older_than_3_8_is_a_not_loaded_note():
    """3.7 cannot run the probe (it needs 3.8): its hooks are unknown, and the case says
    so in one note instead of reporting none ran."""
    exe = python((3, 7))
    result = family_case(exe, "sigterm")
    assert result.outcome == "exited", (result.error, result.output_tail)
    assert "spawned_hook ran in" in result.output_tail  # the hooks did run...
    assert not any(name.startswith("atexit:") for name in result.hooks)  # ...unseen
    assert [n.kind for n in result.probe_notes] == ["not-loaded"]
    assert "older than 3.8" in result.probe_notes[0].detail
    # and the matrix prints it (the note's sentence, under the table)
    assert result.probe_notes[0].detail in format_terminal(Results(cases=[result]), width=400)
