"""``check`` (and ``run``) on a bad scenario file, through the real command line: exit 2,
one line on stderr that names the file, no traceback. What the loader says about each
mistake is specified in tests/unit/test_scenario.py; this is the face that shows it."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import run_cli, write_scenario
from tests.unit.test_scenario import APP, profiles


# Issue 18, item 6: a scenario path the harness cannot read safely. A FIFO blocks a
# plain open() until a writer comes (never, here), so these run the real CLI with a
# timeout: on a harness that blocks, the test fails instead of hanging the suite.
@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link", "too-large"])
def test_a_file_that_is_not_a_readable_scenario_is_one_line_exit_2(tmp_path, command, kind):
    path = tmp_path / "scenario.toml"
    if kind == "fifo":
        os.mkfifo(path)
        phrase = "FIFO"
    elif kind == "dev-zero-link":
        path.symlink_to("/dev/zero")  # read without a bound, it never ends
        phrase = "character device"
    else:  # a real, valid scenario padded with a comment past the 1 MiB a scenario may be
        path.write_text(APP + "# " + "x" * (1 << 20) + "\n")
        phrase = "larger than 1 MiB"
    try:
        done = run_cli(command, str(path), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{command}` on a {kind} did not end within 30 s")
    assert done.returncode == 2, done
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"shutdown-probe: {path}: ") and phrase in lines[0], lines[0]
    assert done.stdout == ""


CLI_BAD = [
    pytest.param('name "x"\n' + APP, id="syntax-error"),
    pytest.param('pathz = ["sigterm"]\n' + APP, id="unknown-key"),
    pytest.param('paths = ["sigtrem"]\n' + APP, id="unknown-path"),
    pytest.param('[app]\ncommand = ["no-such-program-4f2a"]\n', id="executable-missing"),
    pytest.param(APP + "[hooks.a]\nlog = '('\n", id="invalid-regex"),
    pytest.param(APP + '[hooks."a\\nb"]\nlog = "x("\n', id="newline-in-key"),
]


def _assert_cli_one_line_exit_2(proc, shown: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert shown in lines[0], lines[0]


@pytest.mark.parametrize("text", CLI_BAD)
def test_cli_check_bad_file(tmp_path, text):
    path = write_scenario(tmp_path, text)
    proc = run_cli("check", str(path))
    _assert_cli_one_line_exit_2(proc, str(path))


@pytest.mark.parametrize("kind", ["missing", "directory", "not-utf8"])
def test_cli_check_bad_file_itself(tmp_path, kind):
    path = tmp_path / "bad.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b'name = "\xff"\n' + APP.encode())
    proc = run_cli("check", str(path))
    _assert_cli_one_line_exit_2(proc, str(path))


def test_cli_check_good_file(tmp_path):
    path = write_scenario(tmp_path, APP)
    proc = run_cli("check", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_check_shows_profile_grace(tmp_path):
    path = write_scenario(tmp_path, profiles("docker-stop", "heroku-stop") + '[profiles.heroku-stop]\ngrace = 4\n')
    proc = run_cli("check", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "[grace 10 s]" in proc.stdout and "[grace 4 s, scenario]" in proc.stdout, proc.stdout
