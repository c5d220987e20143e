"""The watchdog removes a case's folder without following a link out of it, on every
Python the harness supports: ``shutil.rmtree`` takes ``dir_fd`` only from 3.11, so 3.10
walks with ``os.fwalk`` instead (mypy, checking for 3.10, found the call that would have
raised TypeError there)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

import shutdown_probe

WATCHDOG = Path(shutdown_probe.__file__).parent / "_watchdog.py"
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))


def interpreter(version: str) -> str | None:
    if sys.version_info[:2] == tuple(int(x) for x in version.split(".")):
        return sys.executable
    found = sorted(glob.glob(str(PYENV / "versions" / f"{version}.*" / "bin" / "python")))
    return found[-1] if found else None


@pytest.mark.parametrize("version", ["3.10", "3.11"])
def test_the_folder_goes_and_what_its_links_point_at_stays(tmp_path: Path, version: str) -> None:
    python = interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} here (looked in {PYENV}/versions)")
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "keep").write_text("x")
    victim = tmp_path / "base" / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "sub" / "file").write_text("x")
    (victim / "to-folder").symlink_to(outside)
    (victim / "sub" / "to-file").symlink_to(outside / "deep" / "keep")
    code = ("import os, sys; sys.path.insert(0, sys.argv[1]); import _watchdog as w;"
            "fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY); w._remove_tree('victim', fd)")
    subprocess.run([python, "-I", "-c", code, str(WATCHDOG.parent), str(tmp_path / "base")],
                   check=True, timeout=60)
    assert os.listdir(tmp_path / "base") == []
    assert (outside / "deep" / "keep").read_text() == "x"
