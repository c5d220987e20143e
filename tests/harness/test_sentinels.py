"""A file hook's sentinel is the app's to replace (issue 18, item 12).

Only a regular file counts as proof that the hook ran. A symbolic link (here to
/etc/passwd, a file that existed anyway) is reported as a link, with its own time and
target, never read through; a FIFO is never opened, so it cannot block the harness.
Neither counts as "ran", nor as "did not run": the hook could not be observed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support import target_toml, write_scenario
from shutdown_probe import expand_cases, load_scenario, run_case
from shutdown_probe.evidence import FileHookDetector
from shutdown_probe.render import format_terminal
from shutdown_probe.results import UNOBSERVED, Results
from shutdown_probe.scenario import HookSpec


def run_swap(tmp_path: Path, mode: str, expect: str = ""):
    sentinel = tmp_path / "released"
    path = write_scenario(tmp_path, target_toml(
        "sentinel_swap.py", str(sentinel), mode, name="swap", paths=["sigterm"], ready_timeout=20,
        stop_timeout=10, app_extra="probe = false", hooks={"released": f"file = {json.dumps(str(sentinel))}"},
        tables=expect))
    result = run_case(expand_cases([load_scenario(path)])[0])
    assert result.outcome == "exited", (result.outcome, result.error, result.output_tail)
    assert result.exit == {"returncode": 0, "signal": None}
    return result, sentinel


def test_a_regular_sentinel_counts(tmp_path):
    result, sentinel = run_swap(tmp_path, "file")
    hook = result.hooks["released"]
    assert hook.ran is True
    size = len("released\n")  # what the target writes
    assert hook.evidence == f"sentinel {sentinel} ({size} bytes)"


def test_a_sentinel_that_is_a_link_is_reported_as_a_link_and_not_counted(tmp_path):
    result, sentinel = run_swap(tmp_path, "link", expect='[expect.sigterm]\nnot_ran = ["released"]')
    assert os.path.islink(sentinel)  # what the target made
    hook = result.hooks["released"]
    assert hook.ran is False
    assert hook.evidence.startswith(f"{UNOBSERVED}: sentinel {sentinel} is a symbolic link to '/etc/passwd' ")
    # the link's own time, not /etc/passwd's; and never /etc/passwd's size
    assert "s after the trigger" in hook.evidence
    assert f"{os.path.getsize('/etc/passwd')} bytes" not in hook.evidence
    # neither "ran" nor "did not run" is claimed on a link
    assert not result.expect.passed
    assert "could not be watched to the end" in result.expect.failures[0]
    text = format_terminal(Results(cases=[result]), width=200)
    assert "│ sigterm │    ?     │" in text, text
    assert "? = not known whether it ran" in text


def test_a_sentinel_that_is_a_fifo_does_not_block_and_is_not_counted(tmp_path):
    result, sentinel = run_swap(tmp_path, "fifo")
    hook = result.hooks["released"]
    assert hook.ran is False
    assert hook.evidence.startswith(f"{UNOBSERVED}: sentinel {sentinel} is a FIFO")


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_a_non_regular_sentinel_there_before_the_trigger_and_untouched_did_not_run(tmp_path, kind):
    """The app did nothing to it during the shutdown: the hook did not run, plainly."""
    path = tmp_path / "released"
    if kind == "link":
        path.symlink_to("/etc/passwd")
    else:
        os.mkfifo(path)
    det = FileHookDetector(HookSpec(name="released", file=str(path)), str(path))
    det.arm(time.monotonic())
    hook = det.result({})
    assert hook.ran is False and not hook.evidence.startswith(UNOBSERVED)
    assert "there before the trigger and not changed" in hook.evidence
