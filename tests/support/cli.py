"""Driving the command line as a user does: ``python -m shutdown_probe`` in a real
subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from .folders import ROOT


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 90,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m shutdown_probe ARGS`` as a real subprocess, piped. $COLUMNS and
    $LINES are not inherited (pytest-xdist's workers have them set to 80 and 24), so
    the matrix is laid out as in a CI log unless ``env`` sets them."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    full_env = dict(inherited, **(env or {}))
    return subprocess.run([sys.executable, "-m", "shutdown_probe", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def wait_while_running(proc: subprocess.Popen[str] | subprocess.Popen[bytes] | None,
                       condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition()`` until it holds; fail if ``proc`` (if any) ends first or
    ``timeout`` passes.

    For a harness started as a subprocess: there is no event to wait on for "its
    target wrote a file", so this looks every 10 ms.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            out = proc.communicate()
            pytest.fail(f"the harness ended before {what}: {out}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
