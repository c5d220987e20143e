"""The type checker passes on the library: mypy, configured in pyproject.toml (strict on
the library; the scripts that run inside targets are checked without demanding an
annotation on every function, since they must also run on older interpreters)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT


@pytest.mark.timeout(600)
def test_mypy_passes_on_the_package(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is in the test extra: pip install -e '.[test]'")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("needs the source tree (pyproject.toml holds mypy's configuration)")
    # a cache of its own, so a run never writes into the source tree
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
                          cwd=ROOT, capture_output=True, text=True, timeout=580)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
