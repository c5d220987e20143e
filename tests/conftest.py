"""Shared fixtures. The autouse leak check makes every test prove it left nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from shutdown_probe.processes import tagged_processes
from shutdown_probe.runner import SESSION_ENV

# pytester drives real inner pytest sessions for the plugin's tests.
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "tests" / "targets"
SCENARIOS = ROOT / "scenarios"


# Every harness this test session starts (in process or as a CLI subprocess) tags its
# targets with this session id, so the leak check sees exactly this session's
# processes and never another run's on the same machine.
SESSION = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
os.environ[SESSION_ENV] = SESSION


def _leftovers() -> list[psutil.Process]:
    me = os.getpid()
    return [p for p in tagged_processes(f"{SESSION}/") if p.pid != me]


def _describe(procs: list[psutil.Process]) -> str:
    out = []
    for p in procs:
        try:
            out.append(f"pid {p.pid}: {' '.join(p.cmdline())}")
        except psutil.Error:
            out.append(f"pid {p.pid}")
    return "; ".join(out)


@pytest.fixture(autouse=True)
def no_leaked_processes():
    """Fail the test if any process started by the harness is still alive after it."""
    yield
    left = _leftovers()
    if left:
        text = _describe(left)
        for p in left:  # do not let one leak poison the next tests
            try:
                p.kill()
            except psutil.Error:
                pass
        pytest.fail(f"processes started by the harness were left alive: {text}", pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    left = _leftovers()
    if left:
        session.config.stash[_leak_key] = _describe(left)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_leak_key = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = config.stash.get(_leak_key, None)
    if text:
        terminalreporter.write_line(f"LEAK: harness processes alive at the end of the session: {text}", red=True)


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not); straight from /proc, for a
    process no tag can find (an untagged daemon whose PID a target wrote down)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def write_scenario(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 90, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m shutdown_probe ARGS`` as a real subprocess."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "shutdown_probe", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def wait_while_running(proc: subprocess.Popen | None, condition, what: str, timeout: float = 30.0) -> None:
    """Poll ``condition()`` until it holds; fail if ``proc`` (if any) ends first or
    ``timeout`` passes.

    For a harness started as a subprocess: there is no event to wait on for "its
    target wrote a file", so this looks every 10 ms.
    """
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            out = proc.communicate()
            pytest.fail(f"the harness ended before {what}: {out}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def tie_of(rec) -> str | None:
    """What tied a process to its case: ``attributed_by`` for one re-parented to the
    harness (role "adopted"), "parent" for one first seen below a process of the case;
    None when the record claims no tie."""
    if rec.role == "adopted":
        ties = ("tag", "output pipe", "session", "process group")
        ok = rec.attributed_by in ties or (rec.attributed_by or "").startswith("start time")
        return rec.attributed_by if ok else None
    return "parent" if rec.role in ("grandchild", "descendant") and rec.attributed_by is None else None
