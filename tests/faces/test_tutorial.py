"""docs/tutorial.md, replayed: its commands run on its app (docs/examples/tutorial/), and
what the page says they show holds.

Expected values come from CPython's documented behaviour, not from the page's output
blocks: SIGINT becomes KeyboardInterrupt and the interpreter shuts down normally, running
atexit hooks (signal module docs, "General rules"); atexit hooks are not called "when the
program is killed by a signal not handled by Python" (atexit docs), and Python installs no
handler for SIGTERM, SIGHUP or SIGQUIT, so those and SIGKILL end the app by the signal with
the hook not run; a SIGTERM handler that calls sys.exit(0) ends it with status 0 through a
normal shutdown, hooks included. The page's app, fix and scenario file are checked to be
the files that run.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from shutdown_probe.scenario.loading import tomllib  # the loader's TOML reader: tomli on 3.10

import pytest

from tests.support import ROOT, run_cli

EXAMPLE = ROOT / "docs" / "examples" / "tutorial"
PAGE = (ROOT / "docs" / "tutorial.md").read_text()
HOOK = "atexit:save_state"
HANDLED_BY_PYTHON = {"sigint", "ctrl-c"}  # KeyboardInterrupt: a normal shutdown
NOT_HANDLED = {"sigterm", "sighup", "sigquit", "sigkill", "sigterm-group"}  # the default action
SIGNAL_OF = {"sigint": "SIGINT", "ctrl-c": "SIGINT", "sigterm": "SIGTERM", "sigterm-group": "SIGTERM",
             "sighup": "SIGHUP", "sigquit": "SIGQUIT", "sigkill": "SIGKILL"}


@pytest.fixture
def folder(tmp_path):
    """A copy of the example folder, as a reader's working copy (the fix edits app.py)."""
    work = tmp_path / "tutorial"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__"))
    return work


def cases_of(path) -> dict[str, dict]:
    return {c["path"]: c for c in json.loads(path.read_text())["cases"]}


def test_the_page_shows_the_files_that_run():
    app = (EXAMPLE / "app.py").read_text()
    fixed = (EXAMPLE / "app_sigterm.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", PAGE, re.S)
    assert blocks[0] == app
    added = [line for line in fixed.splitlines() if line not in app.splitlines()]
    shown = [line for line in blocks[1].splitlines() if line]
    code_added = [line for line in added if not line.startswith(('"""', "docs/"))]
    assert sorted(code_added) == sorted(shown)  # the fix is exactly the lines the page shows
    [toml] = [b for b in re.findall(r"```toml\n(.*?)```", PAGE, re.S) if "[expect.all]" in b]
    assert toml == (EXAMPLE / "app.toml").read_text()


def test_run_with_no_scenario_file_shows_atexit_only_where_python_handles_the_signal(folder):
    out = folder / "r.json"
    r = run_cli("run", "--json", str(out), "--", sys.executable, "app.py", cwd=folder, timeout=110)
    assert r.returncode == 0, r.stderr
    cases = cases_of(out)
    for path in HANDLED_BY_PYTHON | NOT_HANDLED:
        case = cases[path]
        assert case["outcome"] == "exited", path
        assert case["hooks"][HOOK]["ran"] is (path in HANDLED_BY_PYTHON), path
        # no handler (or KeyboardInterrupt's re-raise of SIGINT): the root dies by the signal
        assert case["exit"] == {"returncode": None, "signal": SIGNAL_OF[path]}, path
    assert {p for p, c in cases.items() if c["outcome"] == "skipped"} == {
        "sigint-child", "sigterm-child", "sigkill-child"}  # one process: no child


def test_init_writes_a_scenario_that_runs_as_it_is(folder):
    written = folder / "app.toml"
    written.unlink()  # the edited one is the page's next step
    r = run_cli("init", "-o", str(written), "--", sys.executable, "app.py", cwd=folder)
    assert r.returncode == 0, r.stderr
    text = written.read_text()
    scenario = tomllib.loads(text)
    assert scenario["paths"] == ["sigint", "sigterm", "sighup", "sigquit", "sigkill", "ctrl-c", "sigterm-group"]
    assert "expect" not in scenario  # nothing asserted yet: the expectations are comments
    assert scenario["app"]["cwd"] == "."  # written next to the app: its folder, relative
    assert f"# not_ran = ['{HOOK}']" in text  # what the sigterm run did, to confirm
    r = run_cli("run", str(written), "--path", "sigterm", cwd=folder)
    assert r.returncode == 0, r.stderr


def test_the_edited_scenario_fails_on_sigterm_until_the_app_handles_it(folder):
    out = folder / "r.json"
    r = run_cli("run", "app.toml", "--json", str(out), cwd=folder, timeout=110)
    assert r.returncode == 1, r.stderr  # an expectation failed
    cases = cases_of(out)
    failed = {p for p, c in cases.items() if not c["expect"]["passed"]}
    assert failed == {"sigterm", "sigterm-group"}
    assert cases["sigterm"]["hooks"]["saved"]["ran"] is False
    assert cases["sigint"]["hooks"]["saved"]["ran"] is True

    shutil.copyfile(folder / "app_sigterm.py", folder / "app.py")  # the page's fix
    r = run_cli("run", "app.toml", "--json", str(out), cwd=folder, timeout=110)
    assert r.returncode == 0, r.stdout + r.stderr
    cases = cases_of(out)
    for path in ("sigterm", "sigterm-group"):
        assert cases[path]["exit"] == {"returncode": 0, "signal": None}, path  # sys.exit(0)
        assert cases[path]["hooks"][HOOK]["ran"] and cases[path]["hooks"]["saved"]["ran"], path
    assert cases["sigkill"]["exit"]["signal"] == "SIGKILL"
    assert not cases["sigkill"]["hooks"][HOOK]["ran"]
